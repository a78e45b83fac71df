//! What the running application has done, as Spark's monitoring REST API (`/api/v1`) shows it: the
//! application, its jobs, stage attempts with their tasks and summed metrics, executors, and the
//! environment. Kept up to date from the same listener events the event log writes (so the live API
//! and a History Server replaying the log agree), and rendered as Spark 4.3's JSON shapes. Pure:
//! events in, JSON values out; the web port (`ui.rs`) serves them.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use weft_executor::context::TaskMetrics;

use crate::events::{SparkEvent, StageInfo, TaskEndReason, TaskInfo, SPARK_VERSION};

/// Tasks kept per stage attempt for `taskList` (Spark's `spark.ui.retainedTasks` is 100,000).
const RETAINED_TASKS_PER_STAGE: usize = 100_000;
/// Ended jobs and stage attempts kept (Spark's `spark.ui.retainedJobs` and `retainedStages`, 1000
/// each): a driver that runs for days keeps a bounded store, the oldest ended ones going first.
const RETAINED_JOBS: usize = 1000;
const RETAINED_STAGES: usize = 1000;

/// Spark's API dates: `2026-11-23T05:42:11.020GMT`.
pub(crate) fn api_date(epoch_ms: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]GMT");
    let nanos = i128::from(epoch_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok().and_then(|t| t.format(format).ok()).unwrap_or_default()
}

/// Spark's date for "not yet": the epoch minus one millisecond.
const NOT_YET: &str = "1969-12-31T23:59:59.999GMT";

#[derive(Debug, Clone, Default)]
struct App {
    id: String,
    name: String,
    attempt_id: Option<String>,
    user: String,
    start: u64,
    end: Option<u64>,
    spark_properties: Vec<(String, String)>,
    system_properties: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
struct Counts {
    active: u64,
    completed: u64,
    failed: u64,
    killed: u64,
}

#[derive(Debug, Clone)]
struct Job {
    name: String,
    submission: u64,
    completion: Option<u64>,
    stage_ids: Vec<u32>,
    /// Tasks of all its stages, as Spark counts `numTasks` at job start.
    num_tasks: usize,
    failed: bool,
    tasks: Counts,
    completed_stages: u64,
    failed_stages: u64,
}

#[derive(Debug, Clone)]
struct Task {
    info: TaskInfo,
    status: &'static str,
    metrics: Option<TaskMetrics>,
    error: Option<String>,
}

#[derive(Debug, Clone)]
struct Stage {
    info: StageInfo,
    jobs: Vec<u32>,
    /// `ACTIVE`, `COMPLETE`, `FAILED`, `PENDING`, `SKIPPED`.
    status: &'static str,
    first_task_launched: Option<u64>,
    tasks: BTreeMap<u64, Task>,
    counts: Counts,
    completed_indices: std::collections::BTreeSet<usize>,
    metrics: TaskMetrics,
}

#[derive(Debug, Clone)]
struct Executor {
    host: String,
    port: u16,
    cores: usize,
    add_time: u64,
    remove: Option<(u64, String)>,
    counts: Counts,
    total_duration: u64,
    input_bytes: u64,
    shuffle_read: u64,
    shuffle_write: u64,
}

/// The store behind `/api/v1`.
#[derive(Debug, Default)]
pub(crate) struct AppStatus {
    app: App,
    jobs: BTreeMap<u32, Job>,
    stages: BTreeMap<(u32, u32), Stage>,
    executors: BTreeMap<String, Executor>,
}

fn add_metrics(total: &mut TaskMetrics, m: &TaskMetrics) {
    total.executor_run_time_ms += m.executor_run_time_ms;
    total.executor_cpu_time_ns += m.executor_cpu_time_ns;
    total.result_size += m.result_size;
    total.input_bytes += m.input_bytes;
    total.input_records += m.input_records;
    total.output_bytes += m.output_bytes;
    total.output_records += m.output_records;
    total.shuffle_read_bytes += m.shuffle_read_bytes;
    total.shuffle_read_records += m.shuffle_read_records;
    total.shuffle_remote_bytes += m.shuffle_remote_bytes;
    total.shuffle_write_bytes += m.shuffle_write_bytes;
    total.shuffle_write_records += m.shuffle_write_records;
    total.memory_bytes_spilled += m.memory_bytes_spilled;
    total.disk_bytes_spilled += m.disk_bytes_spilled;
}

impl AppStatus {
    /// Takes in one event.
    pub(crate) fn apply(&mut self, event: &SparkEvent) {
        self.take(event);
        if matches!(event, SparkEvent::JobEnd { .. } | SparkEvent::StageCompleted { .. }) {
            self.forget_oldest_ended();
        }
    }

    /// Drops the oldest ended jobs and stage attempts past what is retained; running ones stay.
    fn forget_oldest_ended(&mut self) {
        while self.jobs.len() > RETAINED_JOBS {
            let Some(id) = self.jobs.iter().find(|(_, j)| j.completion.is_some()).map(|(id, _)| *id) else { break };
            self.jobs.remove(&id);
        }
        while self.stages.len() > RETAINED_STAGES {
            let ended = |s: &Stage| matches!(s.status, "COMPLETE" | "FAILED" | "SKIPPED");
            let Some(key) = self.stages.iter().find(|(_, s)| ended(s)).map(|(key, _)| *key) else { break };
            self.stages.remove(&key);
        }
    }

    fn take(&mut self, event: &SparkEvent) {
        match event {
            SparkEvent::EnvironmentUpdate { spark_properties, system_properties } => {
                self.app.spark_properties = spark_properties.clone();
                self.app.system_properties = system_properties.clone();
            }
            SparkEvent::ApplicationStart { name, app_id, attempt_id, time, user } => {
                self.app.id = app_id.clone();
                self.app.name = name.clone();
                self.app.attempt_id = attempt_id.clone();
                self.app.user = user.clone();
                self.app.start = *time;
            }
            SparkEvent::ApplicationEnd { time, .. } => self.app.end = Some(*time),
            SparkEvent::ExecutorAdded { time, executor_id, host, cores } => {
                let executor = Executor {
                    host: host.clone(),
                    port: 0,
                    cores: *cores,
                    add_time: *time,
                    remove: None,
                    counts: Counts::default(),
                    total_duration: 0,
                    input_bytes: 0,
                    shuffle_read: 0,
                    shuffle_write: 0,
                };
                self.executors.insert(executor_id.clone(), executor);
            }
            SparkEvent::BlockManagerAdded { executor_id, port, .. } => {
                if let Some(e) = self.executors.get_mut(executor_id) {
                    e.port = *port;
                }
            }
            SparkEvent::ExecutorRemoved { time, executor_id, reason } => {
                if let Some(e) = self.executors.get_mut(executor_id) {
                    e.remove = Some((*time, reason.clone()));
                }
            }
            SparkEvent::JobStart { job_id, time, stages, properties } => {
                let name = properties
                    .iter()
                    .find(|(k, _)| k == "spark.job.description")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let job = Job {
                    name,
                    submission: *time,
                    completion: None,
                    stage_ids: stages.iter().map(|s| s.stage_id).collect(),
                    num_tasks: stages.iter().map(|s| s.num_tasks).sum(),
                    failed: false,
                    tasks: Counts::default(),
                    completed_stages: 0,
                    failed_stages: 0,
                };
                self.jobs.insert(*job_id, job);
                for info in stages {
                    let key = (info.stage_id, info.attempt);
                    let stage = self.stages.entry(key).or_insert_with(|| Stage::pending(info.clone()));
                    stage.jobs.push(*job_id);
                }
            }
            SparkEvent::StageSubmitted { stage: info, .. } => {
                let jobs = self.jobs_of_stage(info.stage_id);
                let stage =
                    self.stages.entry((info.stage_id, info.attempt)).or_insert_with(|| Stage::pending(info.clone()));
                stage.info = info.clone();
                stage.status = "ACTIVE";
                if stage.jobs.is_empty() {
                    stage.jobs = jobs;
                }
            }
            SparkEvent::TaskStart { stage_id, stage_attempt, task } => {
                let Some(stage) = self.stages.get_mut(&(*stage_id, *stage_attempt)) else { return };
                stage.first_task_launched.get_or_insert(task.launch_time);
                stage.counts.active += 1;
                if stage.tasks.len() < RETAINED_TASKS_PER_STAGE {
                    let entry = Task { info: task.clone(), status: "RUNNING", metrics: None, error: None };
                    stage.tasks.insert(task.task_id, entry);
                }
                let jobs = stage.jobs.clone();
                for job in jobs {
                    if let Some(j) = self.jobs.get_mut(&job) {
                        j.tasks.active += 1;
                    }
                }
                if let Some(e) = self.executors.get_mut(&task.executor_id) {
                    e.counts.active += 1;
                }
            }
            SparkEvent::TaskEnd { stage_id, stage_attempt, reason, task, metrics, .. } => {
                self.task_ended(*stage_id, *stage_attempt, reason, task, metrics);
            }
            SparkEvent::StageCompleted { stage: info } => {
                let Some(stage) = self.stages.get_mut(&(info.stage_id, info.attempt)) else { return };
                let failed = info.failure_reason.is_some();
                stage.status = if failed { "FAILED" } else { "COMPLETE" };
                stage.info.completion_time = info.completion_time;
                stage.info.failure_reason = info.failure_reason.clone();
                for job in stage.jobs.clone() {
                    if let Some(j) = self.jobs.get_mut(&job) {
                        if failed {
                            j.failed_stages += 1;
                        } else {
                            j.completed_stages += 1;
                        }
                    }
                }
            }
            SparkEvent::JobEnd { job_id, time, failure } => {
                if let Some(job) = self.jobs.get_mut(job_id) {
                    job.completion = Some(*time);
                    job.failed = failure.is_some();
                }
                // Stages of the job that never ran were skipped (their output existed).
                let stage_ids = self.jobs.get(job_id).map(|j| j.stage_ids.clone()).unwrap_or_default();
                for ((id, _), stage) in self.stages.iter_mut() {
                    if stage_ids.contains(id) && stage.status == "PENDING" {
                        stage.status = "SKIPPED";
                    }
                }
            }
            SparkEvent::LogStart | SparkEvent::ResourceProfileAdded { .. } => {}
        }
    }

    fn jobs_of_stage(&self, stage_id: u32) -> Vec<u32> {
        self.jobs.iter().filter(|(_, j)| j.stage_ids.contains(&stage_id)).map(|(id, _)| *id).collect()
    }

    fn task_ended(
        &mut self,
        stage_id: u32,
        attempt: u32,
        reason: &TaskEndReason,
        task: &TaskInfo,
        metrics: &TaskMetrics,
    ) {
        let (status, counts_as): (&'static str, fn(&mut Counts)) = match reason {
            TaskEndReason::Success => ("SUCCESS", |c| c.completed += 1),
            TaskEndReason::Killed { .. } => ("KILLED", |c| c.killed += 1),
            _ => ("FAILED", |c| c.failed += 1),
        };
        let error = match reason {
            TaskEndReason::Success => None,
            TaskEndReason::Exception { description } => Some(description.clone()),
            TaskEndReason::FetchFailed { message, .. } => Some(message.clone()),
            TaskEndReason::ExecutorLost { reason, .. } | TaskEndReason::Killed { reason } => Some(reason.clone()),
        };
        let Some(stage) = self.stages.get_mut(&(stage_id, attempt)) else { return };
        stage.counts.active = stage.counts.active.saturating_sub(1);
        counts_as(&mut stage.counts);
        if status == "SUCCESS" {
            stage.completed_indices.insert(task.index);
            add_metrics(&mut stage.metrics, metrics);
        }
        if let Some(t) = stage.tasks.get_mut(&task.task_id) {
            t.info = task.clone();
            t.status = status;
            t.metrics = Some(metrics.clone());
            t.error = error;
        }
        for job in stage.jobs.clone() {
            if let Some(j) = self.jobs.get_mut(&job) {
                j.tasks.active = j.tasks.active.saturating_sub(1);
                counts_as(&mut j.tasks);
            }
        }
        if let Some(e) = self.executors.get_mut(&task.executor_id) {
            e.counts.active = e.counts.active.saturating_sub(1);
            counts_as(&mut e.counts);
            e.total_duration += task.finish_time.saturating_sub(task.launch_time);
            e.input_bytes += metrics.input_bytes;
            e.shuffle_read += metrics.shuffle_read_bytes;
            e.shuffle_write += metrics.shuffle_write_bytes;
        }
    }

    /// The application's id (empty before it started).
    pub(crate) fn app_id(&self) -> &str {
        &self.app.id
    }

    /// `/applications`: this one application.
    pub(crate) fn applications(&self) -> Value {
        json!([self.application()])
    }

    pub(crate) fn application(&self) -> Value {
        let a = &self.app;
        let last = a.end.unwrap_or_else(|| a.start.max(self.last_event_time()));
        let mut attempt = json!({});
        if let Some(id) = &a.attempt_id {
            attempt["attemptId"] = json!(id);
        }
        attempt["startTime"] = json!(api_date(a.start));
        attempt["endTime"] = json!(a.end.map_or_else(|| NOT_YET.to_owned(), api_date));
        attempt["lastUpdated"] = json!(api_date(last));
        attempt["duration"] = json!(a.end.map_or(0, |end| end.saturating_sub(a.start)));
        attempt["sparkUser"] = json!(a.user);
        attempt["completed"] = json!(a.end.is_some());
        attempt["appSparkVersion"] = json!(SPARK_VERSION);
        attempt["startTimeEpoch"] = json!(a.start);
        attempt["endTimeEpoch"] = json!(a.end.map_or(-1, |e| e as i64));
        attempt["lastUpdatedEpoch"] = json!(last);
        json!({"id": a.id, "name": a.name, "attempts": [attempt]})
    }

    fn last_event_time(&self) -> u64 {
        let jobs = self.jobs.values().map(|j| j.completion.unwrap_or(j.submission));
        jobs.max().unwrap_or(0)
    }

    fn job_status(job: &Job) -> &'static str {
        match (job.completion, job.failed) {
            (None, _) => "RUNNING",
            (Some(_), false) => "SUCCEEDED",
            (Some(_), true) => "FAILED",
        }
    }

    fn job_json(&self, id: u32, job: &Job) -> Value {
        let stages: Vec<&Stage> =
            self.stages.iter().filter(|((s, _), _)| job.stage_ids.contains(s)).map(|(_, st)| st).collect();
        let skipped_stages = stages.iter().filter(|s| s.status == "SKIPPED").count();
        let skipped_tasks: usize = stages.iter().filter(|s| s.status == "SKIPPED").map(|s| s.info.num_tasks).sum();
        let active_stages = stages.iter().filter(|s| s.status == "ACTIVE").count();
        let completed_indices: usize = stages.iter().map(|s| s.completed_indices.len()).sum();
        let mut value = json!({
            "jobId": id,
            "name": job.name,
            "submissionTime": api_date(job.submission),
        });
        if let Some(done) = job.completion {
            value["completionTime"] = json!(api_date(done));
        }
        let rest = json!({
            "stageIds": job.stage_ids,
            "jobTags": [],
            "status": Self::job_status(job),
            "numTasks": job.num_tasks,
            "numActiveTasks": job.tasks.active,
            "numCompletedTasks": job.tasks.completed,
            "numSkippedTasks": skipped_tasks,
            "numFailedTasks": job.tasks.failed,
            "numKilledTasks": job.tasks.killed,
            "numCompletedIndices": completed_indices,
            "numActiveStages": active_stages,
            "numCompletedStages": job.completed_stages,
            "numSkippedStages": skipped_stages,
            "numFailedStages": job.failed_stages,
            "killedTasksSummary": {},
        });
        merge(&mut value, rest);
        value
    }

    /// `/jobs`, newest first, optionally only those with `status` (`running`, `succeeded`, `failed`).
    pub(crate) fn jobs(&self, status: Option<&str>) -> Value {
        let jobs: Vec<Value> = self
            .jobs
            .iter()
            .rev()
            .filter(|(_, j)| status.is_none_or(|s| Self::job_status(j).eq_ignore_ascii_case(s)))
            .map(|(id, j)| self.job_json(*id, j))
            .collect();
        Value::Array(jobs)
    }

    pub(crate) fn job(&self, id: u32) -> Option<Value> {
        self.jobs.get(&id).map(|j| self.job_json(id, j))
    }

    fn stage_json(&self, stage: &Stage, with_tasks: bool) -> Value {
        let info = &stage.info;
        let m = &stage.metrics;
        let mut value = json!({
            "status": stage.status,
            "stageId": info.stage_id,
            "attemptId": info.attempt,
            "numTasks": info.num_tasks,
            "numActiveTasks": stage.counts.active,
            "numCompleteTasks": stage.counts.completed,
            "numFailedTasks": stage.counts.failed,
            "numKilledTasks": stage.counts.killed,
            "numCompletedIndices": stage.completed_indices.len(),
        });
        if let Some(t) = info.submission_time {
            value["submissionTime"] = json!(api_date(t));
        }
        if let Some(t) = stage.first_task_launched {
            value["firstTaskLaunchedTime"] = json!(api_date(t));
        }
        if let Some(t) = info.completion_time {
            value["completionTime"] = json!(api_date(t));
        }
        if let Some(reason) = &info.failure_reason {
            value["failureReason"] = json!(reason);
        }
        let local_read = m.shuffle_read_bytes.saturating_sub(m.shuffle_remote_bytes);
        let mut rest = time_and_spill(m);
        merge(
            &mut rest,
            json!({
                "inputBytes": m.input_bytes,
                "inputRecords": m.input_records,
                "outputBytes": m.output_bytes,
                "outputRecords": m.output_records,
                "shuffleRemoteBlocksFetched": 0,
                "shuffleLocalBlocksFetched": 0,
                "shuffleFetchWaitTime": 0,
                "shuffleRemoteBytesRead": m.shuffle_remote_bytes,
                "shuffleRemoteBytesReadToDisk": 0,
                "shuffleLocalBytesRead": local_read,
                "shuffleReadBytes": m.shuffle_read_bytes,
                "shuffleReadRecords": m.shuffle_read_records,
                "shuffleWriteBytes": m.shuffle_write_bytes,
                "shuffleWriteTime": 0,
                "shuffleWriteRecords": m.shuffle_write_records,
                "name": info.name,
                "details": info.name,
                "schedulingPool": "default",
                "rddIds": info.rdds.iter().map(|r| r.id).collect::<Vec<_>>(),
                "accumulatorUpdates": [],
                "killedTasksSummary": {},
                "resourceProfileId": 0,
                "isShufflePushEnabled": false,
                "shuffleMergersCount": 0,
            }),
        );
        merge(&mut value, rest);
        if with_tasks {
            let tasks: serde_json::Map<String, Value> =
                stage.tasks.values().map(|t| (t.info.task_id.to_string(), task_json(t))).collect();
            value["tasks"] = Value::Object(tasks);
        }
        value
    }

    /// `/stages`: every stage attempt, newest first, optionally only those with `status` (`active`,
    /// `complete`, `pending`, `failed`, `skipped`).
    pub(crate) fn stages(&self, status: Option<&str>) -> Value {
        let stages: Vec<Value> = self
            .stages
            .values()
            .rev()
            .filter(|s| status.is_none_or(|wanted| s.status.eq_ignore_ascii_case(wanted)))
            .map(|s| self.stage_json(s, false))
            .collect();
        Value::Array(stages)
    }

    /// `/stages/{id}`: its attempts, with their tasks; `None` for an unknown stage.
    pub(crate) fn stage(&self, id: u32) -> Option<Value> {
        let attempts: Vec<Value> =
            self.stages.iter().filter(|((s, _), _)| *s == id).map(|(_, st)| self.stage_json(st, true)).collect();
        (!attempts.is_empty()).then_some(Value::Array(attempts))
    }

    /// `/stages/{id}/{attempt}`.
    pub(crate) fn stage_attempt(&self, id: u32, attempt: u32) -> Option<Value> {
        self.stages.get(&(id, attempt)).map(|s| self.stage_json(s, true))
    }

    /// `/stages/{id}/{attempt}/taskList`: `length` tasks from `offset`, by task id or by run time
    /// (`runtime`, `-runtime`), optionally only those with `status`.
    pub(crate) fn task_list(
        &self,
        id: u32,
        attempt: u32,
        offset: usize,
        length: usize,
        sort_by: Option<&str>,
        status: Option<&str>,
    ) -> Option<Value> {
        let stage = self.stages.get(&(id, attempt))?;
        let mut tasks: Vec<&Task> =
            stage.tasks.values().filter(|t| status.is_none_or(|s| t.status.eq_ignore_ascii_case(s))).collect();
        let runtime = |t: &&Task| t.metrics.as_ref().map_or(0, |m| m.executor_run_time_ms);
        match sort_by {
            Some("runtime") => tasks.sort_by_key(runtime),
            Some("-runtime") => tasks.sort_by_key(|t| std::cmp::Reverse(runtime(t))),
            _ => {}
        }
        Some(Value::Array(tasks.into_iter().skip(offset).take(length).map(task_json).collect()))
    }

    /// `/executors` (active ones) or `/allexecutors`.
    pub(crate) fn executors(&self, all: bool) -> Value {
        let executors: Vec<Value> = self
            .executors
            .iter()
            .filter(|(_, e)| all || e.remove.is_none())
            .map(|(id, e)| {
                let mut value = json!({
                    "id": id,
                    "hostPort": format!("{}:{}", e.host, e.port),
                    "isActive": e.remove.is_none(),
                    "rddBlocks": 0,
                    "memoryUsed": 0,
                    "diskUsed": 0,
                    "totalCores": e.cores,
                    "maxTasks": e.cores,
                    "activeTasks": e.counts.active,
                    "failedTasks": e.counts.failed,
                    "completedTasks": e.counts.completed,
                    "totalTasks": e.counts.active + e.counts.failed + e.counts.completed,
                    "totalDuration": e.total_duration,
                    "totalGCTime": 0,
                    "totalInputBytes": e.input_bytes,
                    "totalShuffleRead": e.shuffle_read,
                    "totalShuffleWrite": e.shuffle_write,
                    "isBlacklisted": false,
                    "maxMemory": 0,
                    "addTime": api_date(e.add_time),
                });
                if let Some((time, reason)) = &e.remove {
                    value["removeTime"] = json!(api_date(*time));
                    value["removeReason"] = json!(reason);
                }
                let rest = json!({
                    "executorLogs": {},
                    "blacklistedInStages": [],
                    "attributes": {},
                    "resources": {},
                    "resourceProfileId": 0,
                    "isExcluded": false,
                    "excludedInStages": [],
                });
                merge(&mut value, rest);
                value
            })
            .collect();
        Value::Array(executors)
    }

    /// `/environment`.
    pub(crate) fn environment(&self) -> Value {
        let pairs = |p: &[(String, String)]| p.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>();
        json!({
            "runtime": {"javaVersion": "", "javaHome": "", "scalaVersion": ""},
            "sparkProperties": pairs(&self.app.spark_properties),
            "hadoopProperties": [],
            "systemProperties": pairs(&self.app.system_properties),
            "metricsProperties": [],
            "classpathEntries": [],
            "resourceProfiles": [],
        })
    }
}

impl Stage {
    fn pending(info: StageInfo) -> Stage {
        Stage {
            info,
            jobs: Vec::new(),
            status: "PENDING",
            first_task_launched: None,
            tasks: BTreeMap::new(),
            counts: Counts::default(),
            completed_indices: Default::default(),
            metrics: TaskMetrics::default(),
        }
    }
}

/// The times, result size and spills both Spark shapes (a stage's totals, a task's `taskMetrics`)
/// open with; what Weft does not measure is 0.
fn time_and_spill(m: &TaskMetrics) -> Value {
    json!({
        "executorDeserializeTime": 0,
        "executorDeserializeCpuTime": 0,
        "executorRunTime": m.executor_run_time_ms,
        "executorCpuTime": m.executor_cpu_time_ns,
        "resultSize": m.result_size,
        "jvmGcTime": 0,
        "resultSerializationTime": 0,
        "memoryBytesSpilled": m.memory_bytes_spilled,
        "diskBytesSpilled": m.disk_bytes_spilled,
        "peakExecutionMemory": 0,
    })
}

/// Appends `rest`'s fields to `value` in order.
fn merge(value: &mut Value, rest: Value) {
    if let (Value::Object(target), Value::Object(fields)) = (value, rest) {
        target.extend(fields);
    }
}

fn task_json(t: &Task) -> Value {
    let info = &t.info;
    let duration = if info.finish_time > 0 { info.finish_time.saturating_sub(info.launch_time) } else { 0 };
    let mut value = json!({
        "taskId": info.task_id,
        "index": info.index,
        "attempt": info.attempt,
        "partitionId": info.partition,
        "launchTime": api_date(info.launch_time),
    });
    if info.finish_time > 0 {
        value["duration"] = json!(duration);
    }
    let rest = json!({
        "executorId": info.executor_id,
        "host": info.host,
        "status": t.status,
        "taskLocality": info.locality,
        "speculative": info.speculative,
        "accumulatorUpdates": [],
    });
    merge(&mut value, rest);
    if let Some(error) = &t.error {
        value["errorMessage"] = json!(error);
    }
    if let Some(m) = &t.metrics {
        let local_read = m.shuffle_read_bytes.saturating_sub(m.shuffle_remote_bytes);
        let mut metrics = time_and_spill(m);
        merge(
            &mut metrics,
            json!({
                "inputMetrics": {"bytesRead": m.input_bytes, "recordsRead": m.input_records},
                "outputMetrics": {"bytesWritten": m.output_bytes, "recordsWritten": m.output_records},
                "shuffleReadMetrics": {
                    "remoteBlocksFetched": 0,
                    "localBlocksFetched": 0,
                    "fetchWaitTime": 0,
                    "remoteBytesRead": m.shuffle_remote_bytes,
                    "remoteBytesReadToDisk": 0,
                    "localBytesRead": local_read,
                    "recordsRead": m.shuffle_read_records,
                    "remoteReqsDuration": 0,
                },
                "shuffleWriteMetrics": {
                    "bytesWritten": m.shuffle_write_bytes,
                    "writeTime": 0,
                    "recordsWritten": m.shuffle_write_records,
                },
            }),
        );
        value["taskMetrics"] = metrics;
    }
    value["executorLogs"] = json!({});
    value["schedulerDelay"] = json!(0);
    value["gettingResultTime"] = json!(0);
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RddInfo;

    fn stage(id: u32, tasks: usize) -> StageInfo {
        StageInfo {
            stage_id: id,
            attempt: 0,
            name: format!("stage {id} at app.rs:{id}"),
            num_tasks: tasks,
            rdds: vec![RddInfo {
                id,
                name: "MapPartitionsRDD".into(),
                callsite: String::new(),
                parent_ids: vec![],
                num_partitions: tasks,
            }],
            parent_ids: vec![],
            submission_time: None,
            completion_time: None,
            failure_reason: None,
        }
    }

    fn task(id: u64, index: usize, launch: u64, finish: u64) -> TaskInfo {
        TaskInfo {
            task_id: id,
            index,
            attempt: 0,
            partition: index,
            launch_time: launch,
            executor_id: "1".into(),
            host: "node1".into(),
            locality: "PROCESS_LOCAL",
            speculative: false,
            finish_time: finish,
            failed: false,
            killed: false,
        }
    }

    /// One job of two stages; stage 0's two tasks succeed (one after a failure), stage 1 runs one.
    fn replay() -> AppStatus {
        let mut status = AppStatus::default();
        let start = 1_700_000_000_000;
        let events = vec![
            SparkEvent::ApplicationStart {
                name: "wc".into(),
                app_id: "local-1".into(),
                attempt_id: None,
                time: start,
                user: "alice".into(),
            },
            SparkEvent::ExecutorAdded { time: start, executor_id: "1".into(), host: "node1".into(), cores: 2 },
            SparkEvent::JobStart {
                job_id: 0,
                time: start + 1,
                stages: vec![stage(0, 2), stage(1, 2)],
                properties: vec![("spark.job.description".into(), "count at app.rs:9".into())],
            },
            SparkEvent::StageSubmitted {
                stage: StageInfo { submission_time: Some(start + 2), ..stage(0, 2) },
                properties: vec![],
            },
            SparkEvent::TaskStart { stage_id: 0, stage_attempt: 0, task: task(0, 0, start + 3, 0) },
            SparkEvent::TaskStart { stage_id: 0, stage_attempt: 0, task: task(1, 1, start + 3, 0) },
            SparkEvent::TaskEnd {
                stage_id: 0,
                stage_attempt: 0,
                task_type: "ShuffleMapTask",
                reason: TaskEndReason::Success,
                task: task(0, 0, start + 3, start + 13),
                metrics: TaskMetrics {
                    executor_run_time_ms: 10,
                    shuffle_write_bytes: 100,
                    memory_bytes_spilled: 7,
                    ..Default::default()
                },
            },
            SparkEvent::TaskEnd {
                stage_id: 0,
                stage_attempt: 0,
                task_type: "ShuffleMapTask",
                reason: TaskEndReason::Exception { description: "boom".into() },
                task: task(1, 1, start + 3, start + 5),
                metrics: TaskMetrics::default(),
            },
            SparkEvent::TaskStart { stage_id: 0, stage_attempt: 0, task: task(2, 1, start + 6, 0) },
            SparkEvent::TaskEnd {
                stage_id: 0,
                stage_attempt: 0,
                task_type: "ShuffleMapTask",
                reason: TaskEndReason::Success,
                task: task(2, 1, start + 6, start + 26),
                metrics: TaskMetrics { executor_run_time_ms: 20, shuffle_write_bytes: 50, ..Default::default() },
            },
            SparkEvent::StageCompleted { stage: StageInfo { completion_time: Some(start + 27), ..stage(0, 2) } },
            SparkEvent::StageSubmitted {
                stage: StageInfo { submission_time: Some(start + 28), ..stage(1, 2) },
                properties: vec![],
            },
            SparkEvent::TaskStart { stage_id: 1, stage_attempt: 0, task: task(3, 0, start + 29, 0) },
        ];
        for e in &events {
            status.apply(e);
        }
        status
    }

    #[test]
    fn a_running_job_and_its_stages_count_as_spark_counts_them() {
        let status = replay();
        let job = status.job(0).unwrap();
        assert_eq!(job["status"], "RUNNING");
        assert_eq!(job["name"], "count at app.rs:9");
        assert_eq!(job["numTasks"], 4);
        assert_eq!((job["numCompletedTasks"].as_u64(), job["numFailedTasks"].as_u64()), (Some(2), Some(1)));
        assert_eq!((job["numActiveTasks"].as_u64(), job["numActiveStages"].as_u64()), (Some(1), Some(1)));
        assert_eq!(job["numCompletedStages"], 1);
        assert!(job.get("completionTime").is_none());
        let stages = status.stages(Some("complete"));
        let done = &stages[0];
        assert_eq!((done["stageId"].as_u64(), done["status"].as_str()), (Some(0), Some("COMPLETE")));
        assert_eq!((done["numCompleteTasks"].as_u64(), done["numFailedTasks"].as_u64()), (Some(2), Some(1)));
        assert_eq!(done["numCompletedIndices"], 2);
        assert_eq!(done["executorRunTime"], 30);
        assert_eq!(done["shuffleWriteBytes"], 150);
        assert_eq!(done["memoryBytesSpilled"], 7);
        assert_eq!(done["submissionTime"], "2023-11-14T22:13:20.002GMT");
        assert_eq!(status.stages(Some("active"))[0]["numActiveTasks"], 1);
    }

    #[test]
    fn task_lists_page_sort_and_filter() {
        let status = replay();
        let all = status.task_list(0, 0, 0, 20, None, None).unwrap();
        assert_eq!(all.as_array().unwrap().len(), 3);
        let slowest = status.task_list(0, 0, 0, 1, Some("-runtime"), None).unwrap();
        assert_eq!(slowest[0]["taskId"], 2);
        assert_eq!(slowest[0]["duration"], 20);
        assert_eq!(slowest[0]["taskMetrics"]["shuffleWriteMetrics"]["bytesWritten"], 50);
        let failed = status.task_list(0, 0, 0, 20, None, Some("failed")).unwrap();
        assert_eq!(failed[0]["errorMessage"], "boom");
        assert_eq!(status.task_list(0, 0, 1, 20, None, None).unwrap().as_array().unwrap().len(), 2);
        assert!(status.task_list(9, 0, 0, 20, None, None).is_none());
        let running = status.task_list(1, 0, 0, 20, None, Some("running")).unwrap();
        assert!(running[0].get("duration").is_none() && running[0].get("taskMetrics").is_none(), "{running}");
    }

    #[test]
    fn the_application_and_executors_read_as_spark_writes_them() {
        let mut status = replay();
        let app = status.application();
        assert_eq!(app["id"], "local-1");
        assert_eq!(app["attempts"][0]["completed"], false);
        assert_eq!(app["attempts"][0]["endTime"], NOT_YET);
        assert_eq!(app["attempts"][0]["endTimeEpoch"], -1);
        let executors = status.executors(false);
        assert_eq!(executors[0]["completedTasks"], 2);
        assert_eq!(executors[0]["failedTasks"], 1);
        assert_eq!(executors[0]["activeTasks"], 1);
        assert_eq!(executors[0]["totalShuffleWrite"], 150);
        status.apply(&SparkEvent::ExecutorRemoved {
            time: 1_700_000_000_100,
            executor_id: "1".into(),
            reason: "gone".into(),
        });
        assert_eq!(status.executors(false).as_array().unwrap().len(), 0);
        assert_eq!(status.executors(true)[0]["removeReason"], "gone");
        status.apply(&SparkEvent::ApplicationEnd { time: 1_700_000_001_000, exit_code: 0 });
        let app = status.application();
        assert_eq!(
            (app["attempts"][0]["completed"].as_bool(), app["attempts"][0]["duration"].as_u64()),
            (Some(true), Some(1000))
        );
    }

    #[test]
    fn a_long_running_driver_keeps_a_bounded_store() {
        let mut status = AppStatus::default();
        for job in 0..(RETAINED_JOBS as u32 + 50) {
            let info = StageInfo { submission_time: Some(1), ..stage(job, 1) };
            status.apply(&SparkEvent::JobStart {
                job_id: job,
                time: 1,
                stages: vec![info.clone()],
                properties: vec![],
            });
            status.apply(&SparkEvent::StageSubmitted { stage: info.clone(), properties: vec![] });
            status.apply(&SparkEvent::StageCompleted { stage: StageInfo { completion_time: Some(2), ..info } });
            status.apply(&SparkEvent::JobEnd { job_id: job, time: 2, failure: None });
        }
        assert_eq!((status.jobs.len(), status.stages.len()), (RETAINED_JOBS, RETAINED_STAGES));
        assert!(status.job(0).is_none() && status.job(RETAINED_JOBS as u32 + 49).is_some(), "the oldest went first");
    }

    #[test]
    fn dates_are_sparks() {
        assert_eq!(api_date(1_700_000_000_020), "2023-11-14T22:13:20.020GMT");
    }
}
