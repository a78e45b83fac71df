//! Carrying out the schedulers' decisions: launching the offered tasks on their executors, killing
//! attempts, stopping executors, and turning a task set's abort into failed jobs.

use std::time::Duration;

use weft_executor::plan::{Sink, TaskDescription, CHUNK};
use weft_proto::spark_pb::{self as pb};

use super::{Core, Event};
use crate::tasks::Effect;

impl Core {
    /// Carries out what the task scheduler decided; an abort may cancel stages, which may kill more.
    pub(super) fn apply_effects(&mut self) {
        loop {
            let effects = self.tasks.take_effects();
            if effects.is_empty() {
                return;
            }
            for effect in effects {
                match effect {
                    Effect::KillTask { task_id, executor, reason } => self.kill_task(task_id, &executor, reason),
                    Effect::Abort { stage, message } => {
                        let events = self.dag.stage_aborted(stage, &message);
                        self.dag_events(events);
                    }
                    Effect::KillExecutor { executor } => self.stop_executor(&executor),
                }
            }
        }
    }

    fn kill_task(&self, task_id: u64, executor: &str, reason: String) {
        let Some(e) = self.executors.get(executor) else { return };
        let mut client = e.client.clone();
        tokio::spawn(async move {
            let request = client.kill_task(pb::KillTaskRequest { task_id, reason });
            if let Ok(Err(status)) = tokio::time::timeout(Duration::from_secs(10), request).await {
                tracing::debug!(task = task_id, error = %status.message(), "a kill did not reach its executor");
            }
        });
    }

    fn stop_executor(&self, executor: &str) {
        let Some(e) = self.executors.get(executor) else { return };
        let mut client = e.client.clone();
        tokio::spawn(async move {
            let _ =
                tokio::time::timeout(Duration::from_secs(5), client.stop_executor(pb::StopExecutorRequest {})).await;
        });
    }

    pub(super) fn launch(&mut self) {
        let now = self.now_ms();
        for launch in self.tasks.offer(now) {
            let Some(stage) = self.dag.stages.get(&launch.stage) else { continue };
            let partition = stage.partitions[launch.index];
            let root = stage.rdd.plan(self, partition);
            let sink = match (&stage.shuffle, &stage.result) {
                (Some(dep), _) => Sink::Shuffle {
                    shuffle_id: dep.shuffle_id,
                    num_reduce: dep.num_reduce as u32,
                    ctor: dep.writer,
                    env: dep.env.clone(),
                },
                (None, Some(spec)) => Sink::Result { ctor: spec.ctor, env: spec.env.clone() },
                (None, None) => continue,
            };
            let job_id = stage.jobs.iter().next().copied().unwrap_or(0);
            let task = TaskDescription {
                task_id: launch.task_id,
                attempt: launch.attempt,
                job_id,
                stage_id: launch.stage,
                stage_attempt: launch.stage_attempt,
                partition: partition as u32,
                root,
                sink,
            };
            let Some(executor) = self.executors.get(&launch.executor) else { continue };
            let host = executor.host.clone();
            let line = format!(
                "Starting task {}.{} in stage {}.{} (TID {}) ({}, executor {}, partition {partition}, {})",
                launch.index,
                launch.attempt,
                launch.stage,
                launch.stage_attempt,
                launch.task_id,
                executor.host,
                launch.executor,
                launch.locality.name()
            );
            if launch.speculative {
                tracing::info!("{line}, a speculative copy");
            } else {
                tracing::debug!("{line}");
            }
            let frame = weft_executor::frame::encode_task(&task);
            let mut client = executor.client.clone();
            let tx = self.tx.clone();
            let task_id = launch.task_id;
            let executor_id = launch.executor.clone();
            tokio::spawn(async move {
                let chunks: Vec<pb::Chunk> = frame.chunks(CHUNK).map(|c| pb::Chunk { data: c.to_vec() }).collect();
                if let Err(status) = client.launch_task(futures::stream::iter(chunks)).await {
                    // The executor answered and would not run it (another build, a bad frame), or it
                    // could not be reached at all: only the first is the task's failure.
                    let refused = status.code() == tonic::Code::FailedPrecondition;
                    let message = status.message().to_owned();
                    let _ = tx.send(Event::LaunchFailed { task_id, executor_id, refused, message });
                }
            });
            self.listen_task_started(&launch, partition, &host);
        }
    }
}
