//! Why a task attempt failed, as the driver's schedulers tell the kinds apart: an ordinary failure
//! (counts toward `spark.task.maxFailures`), a shuffle fetch failure (does not: the map output is
//! regenerated), a task refused by the executor, a kill, a lost executor (counts only when its tasks
//! caused the loss), or a result dropped for its size. Also
//! Spark's way of printing a byte count (`Utils.bytesToString`), which those texts use.

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
    /// The executor running the attempt was lost (Spark's `ExecutorLostFailure`); the driver makes
    /// this end itself. It counts toward `spark.task.maxFailures` only when the attempt's tasks
    /// caused the loss (a container killed for memory), not when the executor was lost for another
    /// reason (preemption, a node lost, a heartbeat timeout).
    #[error(
        "ExecutorLostFailure (executor {executor_id} exited {}) Reason: {reason}",
        if *caused_by_app { "caused by one of the running tasks" } else { "unrelated to the running tasks" }
    )]
    ExecutorLost { executor_id: String, caused_by_app: bool, reason: String },
    /// The serialized result was larger than `spark.driver.maxResultSize` (`max`), so the executor
    /// dropped it and reports only its `size`; the driver aborts the stage, as Spark does.
    #[error("Result is larger than maxResultSize ({} > {}), dropping it", bytes_to_string(*size), bytes_to_string(*max))]
    ResultTooLarge { size: u64, max: u64 },
}

impl TaskError {
    pub fn failed(message: impl Into<String>) -> TaskError {
        TaskError::Failed { message: message.into() }
    }

    /// Whether the failure counts toward `spark.task.maxFailures` (fetch failures and kills do not;
    /// a dropped result counts as Spark's `TaskResultLost` does when the driver does not abort).
    pub fn counts_toward_task_failures(&self) -> bool {
        match self {
            TaskError::Failed { .. } | TaskError::Refused { .. } | TaskError::ResultTooLarge { .. } => true,
            TaskError::ExecutorLost { caused_by_app, .. } => *caused_by_app,
            TaskError::FetchFailed { .. } | TaskError::Killed { .. } => false,
        }
    }
}

/// A byte count as Spark prints it (`Utils.bytesToString`): the largest binary unit the count is at
/// least twice of, one decimal rounded half up (`100 B`→`100.0 B`, `2048`→`2.0 KiB`, `1.5 GiB`).
pub fn bytes_to_string(bytes: u64) -> String {
    const UNITS: [(&str, u32); 6] = [("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    let (unit, shift) = UNITS.into_iter().find(|&(_, shift)| bytes >= 2u64 << shift).unwrap_or(("B", 0));
    let divisor = 1u128 << shift;
    let tenths = (u128::from(bytes) * 10 + divisor / 2) / divisor;
    format!("{}.{} {unit}", tenths / 10, tenths % 10)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_as_sparks_utils_bytes_to_string() {
        for (bytes, text) in [
            (0, "0.0 B"),
            (100, "100.0 B"),
            (2047, "2047.0 B"),
            (2048, "2.0 KiB"),
            (2304, "2.3 KiB"),
            (1536 << 10, "1536.0 KiB"),
            (3 << 20, "3.0 MiB"),
            (1 << 30, "1024.0 MiB"),
            ((5 << 30) + (1 << 29), "5.5 GiB"),
            (u64::MAX, "16.0 EiB"),
        ] {
            assert_eq!(bytes_to_string(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn a_dropped_result_names_both_sizes_and_counts_as_a_failure() {
        let error = TaskError::ResultTooLarge { size: 3 << 20, max: 1 << 20 };
        assert_eq!(error.to_string(), "Result is larger than maxResultSize (3.0 MiB > 1024.0 KiB), dropping it");
        assert!(error.counts_toward_task_failures());
        assert!(!TaskError::Killed { reason: "another attempt succeeded".into() }.counts_toward_task_failures());
    }

    #[test]
    fn a_lost_executor_counts_only_when_its_tasks_caused_the_loss() {
        let lost = |caused_by_app| TaskError::ExecutorLost {
            executor_id: "3".into(),
            caused_by_app,
            reason: "Container killed by YARN for exceeding physical memory limits.".into(),
        };
        assert_eq!(
            lost(true).to_string(),
            "ExecutorLostFailure (executor 3 exited caused by one of the running tasks) Reason: Container killed by \
             YARN for exceeding physical memory limits."
        );
        assert!(lost(true).counts_toward_task_failures());
        assert!(lost(false)
            .to_string()
            .starts_with("ExecutorLostFailure (executor 3 exited unrelated to the running tasks)"));
        assert!(!lost(false).counts_toward_task_failures());
    }
}
