//! Failed attempts and lost executors, in one place: each failure is logged in Spark's words, then
//! the task scheduler decides (retry, ignore, abort) and, for a fetch failure, the DAG scheduler
//! regenerates the lost map output. A lost executor's running tasks fail with
//! `ExecutorLostFailure`, counted only when the loss was the application's doing.

use weft_executor::TaskError;

use super::Core;
use crate::loss::ExecutorLoss;
use crate::tasks::Running;

impl Core {
    /// Spark's `Lost task 1.0 in stage 0.0 (TID 1) (host executor 1): reason`.
    fn lost_text(task_id: u64, r: &Running, error: &TaskError) -> String {
        format!(
            "Lost task {}.{} in stage {}.{} (TID {task_id}) ({} executor {}): {error}",
            r.index, r.attempt, r.stage, r.stage_attempt, r.host, r.executor
        )
    }

    /// One place for every failed attempt: it is logged, then the task scheduler decides (retry,
    /// ignore, abort) and, for a fetch failure, the DAG scheduler regenerates the lost output.
    pub(super) fn task_failed(&mut self, task_id: u64, error: TaskError) {
        let Some(r) = self.tasks.describe(task_id).cloned() else { return };
        self.listen_task_ended(task_id, &r, Some(&error), &Default::default());
        let lost = Self::lost_text(task_id, &r, &error);
        let now = self.now_ms();
        match &error {
            TaskError::FetchFailed { shuffle_id, map_index, executor_id, .. } => {
                tracing::warn!("{lost}");
                self.tasks.failed(task_id, false, &lost, now);
                let message = error.to_string();
                let events =
                    self.dag.fetch_failed(r.stage, r.stage_attempt, *shuffle_id, *map_index, executor_id, &message);
                self.dag_events(events);
            }
            TaskError::ResultTooLarge { size, .. } => {
                // Spark's driver checks the dropped result's size as if it fetched it.
                let counts = self.tasks.can_fetch_result(task_id, *size);
                if counts {
                    tracing::warn!("{lost}");
                }
                self.tasks.failed(task_id, counts, &lost, now);
            }
            TaskError::ExecutorLost { caused_by_app: false, .. } => {
                tracing::warn!("{lost}");
                tracing::info!(
                    "Task {task_id} failed because while it was being computed, its executor exited for a reason \
                     unrelated to the task. Not counting this failure towards the maximum number of failures for the \
                     task."
                );
                self.tasks.failed(task_id, false, &lost, now);
            }
            _ => {
                tracing::warn!("{lost}");
                self.tasks.failed(task_id, error.counts_toward_task_failures(), &lost, now);
            }
        }
    }

    /// An executor is gone: its running tasks fail (counted only when the loss was the
    /// application's doing), its map outputs and cached blocks are forgotten.
    pub(super) fn executor_gone(&mut self, id: &str, loss: &ExecutorLoss) {
        if !self.lost.insert(id.to_owned()) {
            return;
        }
        let host = self.executors.get(id).map(|e| e.host.clone()).unwrap_or_default();
        tracing::error!("Lost executor {id} on {host}: {}", loss.message);
        self.listen_executor_removed(id, &loss.message);
        if self.executors.remove(id).is_some() {
            self.shared.registered.removed();
        }
        self.shared.heartbeats.lock().expect("heartbeat lock").remove(id);
        for task_id in self.tasks.running_on(id) {
            let error = TaskError::ExecutorLost {
                executor_id: id.to_owned(),
                caused_by_app: loss.caused_by_app,
                reason: loss.message.clone(),
            };
            self.task_failed(task_id, error);
        }
        self.tasks.remove_executor(id);
        let events = self.dag.executor_lost(id);
        self.dag_events(events);
    }
}
