//! The scheduler loop's listener: what happened (an executor added, a job or stage submitted, a task
//! launched or ended, a job done) as Spark's listener events, applied to `/api/v1`'s store and
//! written to the event log when `spark.eventLog.enabled`. It remembers what later events repeat (a
//! task's info from its launch, a stage's submission time).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use weft_executor::context::TaskMetrics;
use weft_executor::TaskError;

use super::{Core, Shared};
use crate::dag::Stage;
use crate::event_log::EventLog;
use crate::events::{RddInfo, SparkEvent, StageInfo, TaskEndReason, TaskInfo};
use crate::lineage::{Dep, RddNode};
use crate::tasks::{Launch, Running};

/// Wall-clock milliseconds, as every time in the log.
pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// What the log's first events say about the application.
pub(crate) struct AppStart {
    pub(crate) name: String,
    pub(crate) app_id: String,
    pub(crate) attempt_id: Option<String>,
    pub(crate) user: String,
    pub(crate) spark_properties: Vec<(String, String)>,
    pub(crate) executor_cores: u32,
    pub(crate) executor_memory_mb: u64,
    pub(crate) overhead_mb: u64,
}

/// The store and the event log, and what their events need to remember.
pub(crate) struct Listener {
    shared: Arc<Shared>,
    log: Option<EventLog>,
    /// Task infos from launch to end.
    tasks: HashMap<u64, TaskInfo>,
    /// Stage attempts submitted and not completed: their info as submitted, and their jobs.
    open_stages: HashMap<(u32, u32), StageInfo>,
}

impl Listener {
    /// Starts with Spark's opening events.
    pub(crate) fn start(log: Option<EventLog>, app: AppStart, shared: Arc<Shared>) -> Listener {
        let time = epoch_ms();
        let system_properties = vec![
            ("os.name".to_owned(), std::env::consts::OS.to_owned()),
            ("os.arch".to_owned(), std::env::consts::ARCH.to_owned()),
            ("user.name".to_owned(), app.user.clone()),
        ];
        let opening = [
            SparkEvent::LogStart,
            SparkEvent::ResourceProfileAdded {
                executor_cores: app.executor_cores,
                executor_memory_mb: app.executor_memory_mb,
                overhead_mb: app.overhead_mb,
                task_cpus: 1,
            },
            SparkEvent::EnvironmentUpdate { spark_properties: app.spark_properties, system_properties },
            SparkEvent::ApplicationStart {
                name: app.name,
                app_id: app.app_id,
                attempt_id: app.attempt_id,
                time,
                user: app.user,
            },
        ];
        let mut listener = Listener { shared, log, tasks: HashMap::new(), open_stages: HashMap::new() };
        let last = opening.len() - 1;
        for (i, event) in opening.into_iter().enumerate() {
            listener.post(event, i == last);
        }
        listener
    }

    fn post(&mut self, event: SparkEvent, flush: bool) {
        self.shared.status.lock().expect("status lock").apply(&event);
        if let Some(log) = self.log.as_mut() {
            log.post(&event, flush);
        }
    }

    /// The application's end: the last event, and the log marked complete.
    pub(crate) fn stop(mut self, exit_code: i32) {
        self.post(SparkEvent::ApplicationEnd { time: epoch_ms(), exit_code }, true);
        if let Some(log) = self.log.take() {
            log.stop();
        }
    }
}

/// The RDDs a stage runs: its last RDD and the narrow ancestors pipelined into it.
fn stage_rdds(last: &Arc<RddNode>) -> Vec<RddInfo> {
    let mut rdds = Vec::new();
    let mut stack = vec![last.clone()];
    while let Some(rdd) = stack.pop() {
        if rdds.iter().any(|r: &RddInfo| r.id == rdd.id) {
            continue;
        }
        let mut parent_ids = Vec::new();
        for dep in &rdd.deps {
            match dep {
                Dep::Narrow(parent) => {
                    parent_ids.push(parent.id);
                    stack.push(parent.clone());
                }
                Dep::Shuffle(shuffle) => parent_ids.push(shuffle.parent.id),
            }
        }
        rdds.push(RddInfo {
            id: rdd.id,
            name: rdd.kind.to_owned(),
            callsite: rdd.scope.clone(),
            parent_ids,
            num_partitions: rdd.num_partitions,
        });
    }
    rdds
}

fn stage_info(stage: &Stage, attempt: u32) -> StageInfo {
    StageInfo {
        stage_id: stage.id,
        attempt,
        name: stage.name.clone(),
        num_tasks: stage.partitions.len(),
        rdds: stage_rdds(&stage.rdd),
        parent_ids: stage.parents.clone(),
        submission_time: None,
        completion_time: None,
        failure_reason: None,
    }
}

fn end_reason(error: &TaskError, executors: &HashMap<String, super::Executor>) -> TaskEndReason {
    match error {
        TaskError::FetchFailed { executor_id, address, shuffle_id, map_index, reduce_id, message } => {
            let (host, port) =
                address.rsplit_once(':').map_or((address.clone(), 0), |(h, p)| (h.to_owned(), p.parse().unwrap_or(0)));
            let host = executors.get(executor_id).map_or(host, |e| e.host.clone());
            TaskEndReason::FetchFailed {
                executor_id: executor_id.clone(),
                host,
                port,
                shuffle_id: *shuffle_id,
                map_index: *map_index,
                reduce_id: *reduce_id,
                message: message.clone(),
            }
        }
        TaskError::ExecutorLost { executor_id, caused_by_app, reason } => TaskEndReason::ExecutorLost {
            executor_id: executor_id.clone(),
            caused_by_app: *caused_by_app,
            reason: reason.clone(),
        },
        TaskError::Killed { reason } => TaskEndReason::Killed { reason: reason.clone() },
        other => TaskEndReason::Exception { description: other.to_string() },
    }
}

/// The hooks the scheduler loop calls; each does nothing when the event log is off.
impl Core {
    pub(super) fn listen_executor_added(&mut self, id: &str, address: &str, host: &str, cores: usize) {
        let Some(listener) = self.listener.as_mut() else { return };
        let time = epoch_ms();
        let port = address.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(0);
        listener
            .post(SparkEvent::ExecutorAdded { time, executor_id: id.to_owned(), host: host.to_owned(), cores }, false);
        let block_manager = SparkEvent::BlockManagerAdded {
            time,
            executor_id: id.to_owned(),
            host: host.to_owned(),
            port,
            max_memory: 0,
        };
        listener.post(block_manager, true);
    }

    pub(super) fn listen_executor_removed(&mut self, id: &str, reason: &str) {
        let Some(listener) = self.listener.as_mut() else { return };
        let event =
            SparkEvent::ExecutorRemoved { time: epoch_ms(), executor_id: id.to_owned(), reason: reason.to_owned() };
        listener.post(event, true);
    }

    pub(super) fn listen_job_started(&mut self, job: u32) {
        let Some(listener) = self.listener.as_mut() else { return };
        let Some(j) = self.dag.jobs.get(&job) else { return };
        let mut stages: Vec<StageInfo> =
            j.stage_ids.iter().filter_map(|id| self.dag.stages.get(id)).map(|s| stage_info(s, 0)).collect();
        stages.sort_by_key(|s| s.stage_id);
        let properties =
            vec![("spark.job.description".to_owned(), self.jobs.get(&job).map(|i| i.name.clone()).unwrap_or_default())];
        listener.post(SparkEvent::JobStart { job_id: job, time: epoch_ms(), stages, properties }, true);
    }

    pub(super) fn listen_stage_submitted(&mut self, stage: u32, attempt: u32) {
        let Some(listener) = self.listener.as_mut() else { return };
        let Some(s) = self.dag.stages.get(&stage) else { return };
        let mut info = stage_info(s, attempt);
        info.submission_time = Some(epoch_ms());
        listener.open_stages.insert((stage, attempt), info.clone());
        listener.post(SparkEvent::StageSubmitted { stage: info, properties: Vec::new() }, true);
    }

    pub(super) fn listen_task_started(&mut self, launch: &Launch, partition: usize, host: &str) {
        let Some(listener) = self.listener.as_mut() else { return };
        let task = TaskInfo {
            task_id: launch.task_id,
            index: launch.index,
            attempt: launch.attempt,
            partition,
            launch_time: epoch_ms(),
            executor_id: launch.executor.clone(),
            host: host.to_owned(),
            locality: launch.locality.name(),
            speculative: launch.speculative,
            finish_time: 0,
            failed: false,
            killed: false,
        };
        listener.tasks.insert(launch.task_id, task.clone());
        let event = SparkEvent::TaskStart { stage_id: launch.stage, stage_attempt: launch.stage_attempt, task };
        listener.post(event, false);
    }

    /// A task attempt's end: `error` is `None` for a success.
    pub(super) fn listen_task_ended(
        &mut self,
        task_id: u64,
        r: &Running,
        error: Option<&TaskError>,
        metrics: &TaskMetrics,
    ) {
        let reason = error.map_or(TaskEndReason::Success, |e| end_reason(e, &self.executors));
        let task_type = match self.dag.stages.get(&r.stage) {
            Some(s) if s.result.is_some() => "ResultTask",
            _ => "ShuffleMapTask",
        };
        let Some(listener) = self.listener.as_mut() else { return };
        let Some(mut task) = listener.tasks.remove(&task_id) else { return };
        task.finish_time = epoch_ms();
        task.failed = !matches!(reason, TaskEndReason::Success | TaskEndReason::Killed { .. });
        task.killed = matches!(reason, TaskEndReason::Killed { .. });
        let event = SparkEvent::TaskEnd {
            stage_id: r.stage,
            stage_attempt: r.stage_attempt,
            task_type,
            reason,
            task,
            metrics: metrics.clone(),
        };
        listener.post(event, false);
    }

    /// A stage's attempts that are open end: completed, or failed with `failure`.
    pub(super) fn listen_stage_ended(&mut self, stage: u32, failure: Option<&str>) {
        let Some(listener) = self.listener.as_mut() else { return };
        let mut ended: Vec<(u32, u32)> = listener.open_stages.keys().filter(|(s, _)| *s == stage).copied().collect();
        ended.sort_unstable();
        for key in ended {
            let Some(mut info) = listener.open_stages.remove(&key) else { continue };
            info.completion_time = Some(epoch_ms());
            info.failure_reason = failure.map(str::to_owned);
            listener.post(SparkEvent::StageCompleted { stage: info }, true);
        }
    }

    /// A job's end; a failed job's stages that are still open end failed with its message.
    pub(super) fn listen_job_ended(&mut self, job: u32, failure: Option<&str>) {
        if self.listener.is_none() {
            return;
        }
        if let Some(message) = failure {
            let open: Vec<u32> =
                self.listener.as_ref().map(|l| l.open_stages.keys().map(|(s, _)| *s).collect()).unwrap_or_default();
            for stage in open {
                let of_job = self.dag.stages.get(&stage).is_none_or(|s| s.jobs.contains(&job) || s.jobs.is_empty());
                if of_job {
                    self.listen_stage_ended(stage, Some(message));
                }
            }
        }
        let Some(listener) = self.listener.as_mut() else { return };
        let event = SparkEvent::JobEnd { job_id: job, time: epoch_ms(), failure: failure.map(str::to_owned) };
        listener.post(event, true);
    }
}
