//! The one map from core errors to gRPC status codes.

use tonic::{Code, Status};

use crate::core::RmError;

pub(crate) fn to_status(error: RmError) -> Status {
    if let RmError::NotRegistered(_) = error {
        // Told apart from other refusals by name, as Hadoop's client tells the exception apart.
        let mut status = Status::failed_precondition(error.to_string());
        let name = tonic::metadata::MetadataValue::from_static(weft_proto::AM_NOT_REGISTERED);
        status.metadata_mut().insert(weft_proto::EXCEPTION_METADATA, name);
        return status;
    }
    let code = match &error {
        RmError::UnknownApplication(_)
        | RmError::UnknownAttempt(_)
        | RmError::UnknownContainer(_)
        | RmError::UnknownNode(_) => Code::NotFound,
        RmError::AlreadySubmitted(_) => Code::AlreadyExists,
        RmError::AccessDenied { .. } => Code::PermissionDenied,
        RmError::AlreadyFinished { .. }
        | RmError::NotCurrentAttempt { .. }
        | RmError::AttemptState { .. }
        | RmError::NotRegistered(_) => Code::FailedPrecondition,
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
