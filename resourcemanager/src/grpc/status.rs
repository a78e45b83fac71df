//! The one map from core errors to gRPC status codes.

use tonic::{Code, Status};

use crate::core::RmError;

pub(crate) fn to_status(error: RmError) -> Status {
    let code = match &error {
        RmError::UnknownApplication(_)
        | RmError::UnknownAttempt(_)
        | RmError::UnknownContainer(_)
        | RmError::UnknownNode(_) => Code::NotFound,
        RmError::AlreadySubmitted(_) => Code::AlreadyExists,
        RmError::AccessDenied { .. } => Code::PermissionDenied,
        RmError::AlreadyFinished { .. } | RmError::NotCurrentAttempt { .. } | RmError::AttemptState { .. } => {
            Code::FailedPrecondition
        }
        RmError::NotIssued { .. }
        | RmError::UnknownQueue(_)
        | RmError::InvalidSubmission(_)
        | RmError::Allocation(_)
        | RmError::NegativeContainerCount(_)
        | RmError::InvalidFinalStatus(_) => Code::InvalidArgument,
    };
    Status::new(code, error.to_string())
}

/// A request field that does not parse.
pub(crate) fn invalid(what: impl std::fmt::Display) -> Status {
    Status::invalid_argument(what.to_string())
}
