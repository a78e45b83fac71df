//! Why a task attempt failed, as the driver's schedulers tell the kinds apart: an ordinary failure
//! (counts toward `spark.task.maxFailures`), a shuffle fetch failure (does not: the map output is
//! regenerated), a task refused by the executor, or a kill.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TaskError {
    /// The user's code panicked or returned an error, or a read or write failed.
    #[error("{message}")]
    Failed { message: String },
    /// A shuffle block could not be fetched; Spark's `FetchFailed` shape.
    #[error(
        "FetchFailed(BlockManagerId({executor_id}, {address}), shuffleId={shuffle_id}, mapIndex={map_index}, \
         reduceId={reduce_id}, message=\n{message})"
    )]
    FetchFailed {
        executor_id: String,
        address: String,
        shuffle_id: u32,
        map_index: u32,
        reduce_id: u32,
        message: String,
    },
    /// The executor would not run the task at all (another build of the binary, an undecodable frame).
    #[error("{message}")]
    Refused { message: String },
    /// The driver killed the attempt.
    #[error("TaskKilled ({reason})")]
    Killed { reason: String },
}

impl TaskError {
    pub fn failed(message: impl Into<String>) -> TaskError {
        TaskError::Failed { message: message.into() }
    }

    /// Whether the failure counts toward `spark.task.maxFailures` (fetch failures and kills do not).
    pub fn counts_toward_task_failures(&self) -> bool {
        matches!(self, TaskError::Failed { .. } | TaskError::Refused { .. })
    }
}

impl From<std::io::Error> for TaskError {
    fn from(e: std::io::Error) -> TaskError {
        TaskError::failed(e.to_string())
    }
}

impl From<bincode::Error> for TaskError {
    fn from(e: bincode::Error) -> TaskError {
        TaskError::failed(format!("cannot decode a record: {e}"))
    }
}
