//! REST errors in YARN's RemoteException shape (the shared type of `weft-daemon`), and the one map
//! from core errors to HTTP statuses.

pub(crate) use weft_daemon::rest::RemoteException as RestError;

use crate::core::RmError;

impl From<RmError> for RestError {
    fn from(error: RmError) -> Self {
        match &error {
            RmError::UnknownApplication(id) => {
                RestError::not_found(format!("java.lang.Exception: app with id: {id} not found"))
            }
            RmError::UnknownNode(id) => {
                RestError::not_found(format!("java.lang.Exception: nodeId, {id}, is not found"))
            }
            RmError::UnknownAttempt(_) | RmError::UnknownContainer(_) => RestError::not_found(error.to_string()),
            RmError::AccessDenied { .. } => RestError::forbidden(error.to_string()),
            _ => RestError::bad_request(error.to_string()),
        }
    }
}
