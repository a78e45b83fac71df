//! Errors the core returns to callers; each names what was wrong. `grpc::status` and `rest::error`
//! map them to tonic codes and HTTP statuses in one place each.

use weft_proto::states::AppState;
use weft_proto::{ApplicationAttemptId, ApplicationId, ContainerId, NodeId};

use crate::scheduler::AllocationError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RmError {
    /// YARN's ApplicationNotFoundException, word for word (`weft` and `yarn` clients print it).
    #[error("Application with id '{0}' doesn't exist in RM. Please check that the job submission was successful.")]
    UnknownApplication(ApplicationId),
    #[error("application attempt {0} doesn't exist in RM")]
    UnknownAttempt(ApplicationAttemptId),
    #[error("container {0} doesn't exist in RM")]
    UnknownContainer(ContainerId),
    #[error("node {0} is not known to the ResourceManager")]
    UnknownNode(NodeId),
    #[error("application {id} was not issued by this ResourceManager (cluster timestamp {cluster_timestamp}); ask for a new application first")]
    NotIssued { id: ApplicationId, cluster_timestamp: u64 },
    #[error("application with id {0} is already present, cannot submit it again")]
    AlreadySubmitted(ApplicationId),
    #[error("application {id} has already finished with state {state}")]
    AlreadyFinished { id: ApplicationId, state: AppState },
    #[error("queue {0:?} does not exist; the FIFO scheduler has one queue: default")]
    UnknownQueue(String),
    #[error("invalid submission: {0}")]
    InvalidSubmission(String),
    #[error(transparent)]
    Allocation(#[from] AllocationError),
    #[error("invalid resource request: number of containers must be at least 0, got {0}")]
    NegativeContainerCount(i64),
    #[error("application attempt {attempt} is not the current attempt of its application (current: {current})")]
    NotCurrentAttempt { attempt: ApplicationAttemptId, current: ApplicationAttemptId },
    /// YARN's ApplicationMasterNotRegisteredException, word for word: AMRMClient re-registers and
    /// sends its asks again when it reads it (after a ResourceManager restart, say).
    #[error("AM is not registered for known application attempt: {0} or RM had restarted after AM registered. AM should re-register.")]
    NotRegistered(ApplicationAttemptId),
    #[error("application attempt {attempt} is {state}; {what}")]
    AttemptState { attempt: ApplicationAttemptId, state: weft_proto::states::AttemptState, what: &'static str },
    /// YARN's words (ClientRMService): `User {user} cannot perform operation MODIFY_APP on {app}`.
    #[error("User {user} cannot perform operation {access} on {app}")]
    AccessDenied { user: String, access: crate::core::AccessType, app: ApplicationId },
    #[error("invalid final status {0:?}: an application master finishes with SUCCEEDED, FAILED or KILLED")]
    InvalidFinalStatus(String),
}
