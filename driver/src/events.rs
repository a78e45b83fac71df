//! Spark's listener events as its event log writes them: one compact JSON object per line, the
//! `"Event"` key first, field names and nesting as Spark's `JsonProtocol` writes them, so that an
//! unmodified Spark History Server replays a Weft application's log. Plain data in, one line out;
//! the writer (`event_log.rs`) and the scheduler loop's hooks (`backend/listen.rs`) are the adapters.
//!
//! A History Server lists an application only if its lines begin exactly `{"Event":"SparkListener`,
//! and replays a task only with a complete `Task Metrics` object (every nested object present), so
//! every field Spark writes is written, zero where Weft has no such figure (GC time, deserialize
//! time).

use serde_json::{json, Map, Value};
use weft_executor::context::TaskMetrics;

/// The Spark version the log says wrote it: the API Weft matches.
pub(crate) const SPARK_VERSION: &str = "4.3.0";

/// A stage as the log describes it (`Stage Info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StageInfo {
    pub(crate) stage_id: u32,
    pub(crate) attempt: u32,
    /// `reduceByKey at wordcount.rs:33`.
    pub(crate) name: String,
    pub(crate) num_tasks: usize,
    /// The stage's last RDD and the ones pipelined into it, each with its parents.
    pub(crate) rdds: Vec<RddInfo>,
    pub(crate) parent_ids: Vec<u32>,
    pub(crate) submission_time: Option<u64>,
    pub(crate) completion_time: Option<u64>,
    pub(crate) failure_reason: Option<String>,
}

/// An RDD of a stage (`RDD Info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RddInfo {
    pub(crate) id: u32,
    pub(crate) name: String,
    pub(crate) callsite: String,
    pub(crate) parent_ids: Vec<u32>,
    pub(crate) num_partitions: usize,
}

/// A task attempt (`Task Info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskInfo {
    pub(crate) task_id: u64,
    pub(crate) index: usize,
    pub(crate) attempt: u32,
    pub(crate) partition: usize,
    pub(crate) launch_time: u64,
    pub(crate) executor_id: String,
    pub(crate) host: String,
    /// `PROCESS_LOCAL`, `NODE_LOCAL`, `ANY`, …
    pub(crate) locality: &'static str,
    pub(crate) speculative: bool,
    /// 0 while it runs.
    pub(crate) finish_time: u64,
    pub(crate) failed: bool,
    pub(crate) killed: bool,
}

/// How a task attempt ended (`Task End Reason`), in Spark's class names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskEndReason {
    Success,
    /// `ExceptionFailure`: the user's code failed; the message is Spark's description.
    Exception {
        description: String,
    },
    FetchFailed {
        executor_id: String,
        host: String,
        port: u16,
        shuffle_id: u32,
        map_index: u32,
        reduce_id: u32,
        message: String,
    },
    ExecutorLost {
        executor_id: String,
        caused_by_app: bool,
        reason: String,
    },
    Killed {
        reason: String,
    },
}

/// One listener event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SparkEvent {
    LogStart,
    ResourceProfileAdded {
        executor_cores: u32,
        executor_memory_mb: u64,
        overhead_mb: u64,
        task_cpus: u32,
    },
    EnvironmentUpdate {
        spark_properties: Vec<(String, String)>,
        system_properties: Vec<(String, String)>,
    },
    ApplicationStart {
        name: String,
        app_id: String,
        attempt_id: Option<String>,
        time: u64,
        user: String,
    },
    ExecutorAdded {
        time: u64,
        executor_id: String,
        host: String,
        cores: usize,
    },
    BlockManagerAdded {
        time: u64,
        executor_id: String,
        host: String,
        port: u16,
        max_memory: u64,
    },
    ExecutorRemoved {
        time: u64,
        executor_id: String,
        reason: String,
    },
    JobStart {
        job_id: u32,
        time: u64,
        stages: Vec<StageInfo>,
        properties: Vec<(String, String)>,
    },
    StageSubmitted {
        stage: StageInfo,
        properties: Vec<(String, String)>,
    },
    TaskStart {
        stage_id: u32,
        stage_attempt: u32,
        task: TaskInfo,
    },
    TaskEnd {
        stage_id: u32,
        stage_attempt: u32,
        /// `ShuffleMapTask` or `ResultTask`.
        task_type: &'static str,
        reason: TaskEndReason,
        task: TaskInfo,
        metrics: TaskMetrics,
    },
    StageCompleted {
        stage: StageInfo,
    },
    JobEnd {
        job_id: u32,
        time: u64,
        /// `None` when it succeeded, else the message of its failure.
        failure: Option<String>,
    },
    ApplicationEnd {
        time: u64,
        exit_code: i32,
    },
}

impl SparkEvent {
    /// The event as one log line, without its newline.
    pub(crate) fn to_line(&self) -> String {
        self.to_json().to_string()
    }

    fn to_json(&self) -> Value {
        match self {
            SparkEvent::LogStart => json!({"Event": "SparkListenerLogStart", "Spark Version": SPARK_VERSION}),
            SparkEvent::ResourceProfileAdded { executor_cores, executor_memory_mb, overhead_mb, task_cpus } => {
                let request = |name: &str, amount: u64| json!({"Resource Name": name, "Amount": amount, "Discovery Script": "", "Vendor": ""});
                json!({
                    "Event": "SparkListenerResourceProfileAdded",
                    "Resource Profile Id": 0,
                    "Executor Resource Requests": {
                        "cores": request("cores", u64::from(*executor_cores)),
                        "memory": request("memory", *executor_memory_mb),
                        "offHeap": request("offHeap", 0),
                        "memoryOverhead": request("memoryOverhead", *overhead_mb),
                    },
                    "Task Resource Requests": {
                        "cpus": {"Resource Name": "cpus", "Amount": f64::from(*task_cpus)},
                    },
                })
            }
            SparkEvent::EnvironmentUpdate { spark_properties, system_properties } => json!({
                "Event": "SparkListenerEnvironmentUpdate",
                "JVM Information": {"Java Home": "", "Java Version": "", "Scala Version": ""},
                "Spark Properties": pairs(spark_properties),
                "Hadoop Properties": {},
                "System Properties": pairs(system_properties),
                "Metrics Properties": {},
                "Classpath Entries": {},
            }),
            SparkEvent::ApplicationStart { name, app_id, attempt_id, time, user } => {
                let mut event = json!({
                    "Event": "SparkListenerApplicationStart",
                    "App Name": name,
                    "App ID": app_id,
                    "Timestamp": time,
                    "User": user,
                });
                if let Some(attempt) = attempt_id {
                    event["App Attempt ID"] = json!(attempt);
                }
                event
            }
            SparkEvent::ExecutorAdded { time, executor_id, host, cores } => json!({
                "Event": "SparkListenerExecutorAdded",
                "Timestamp": time,
                "Executor ID": executor_id,
                "Executor Info": {
                    "Host": host,
                    "Total Cores": cores,
                    "Log Urls": {},
                    "Attributes": {},
                    "Resources": {},
                    "Resource Profile Id": 0,
                    "Registration Time": time,
                },
            }),
            SparkEvent::BlockManagerAdded { time, executor_id, host, port, max_memory } => json!({
                "Event": "SparkListenerBlockManagerAdded",
                "Block Manager ID": {"Executor ID": executor_id, "Host": host, "Port": port},
                "Maximum Memory": max_memory,
                "Timestamp": time,
                "Maximum Onheap Memory": max_memory,
                "Maximum Offheap Memory": 0,
            }),
            SparkEvent::ExecutorRemoved { time, executor_id, reason } => json!({
                "Event": "SparkListenerExecutorRemoved",
                "Timestamp": time,
                "Executor ID": executor_id,
                "Removed Reason": reason,
            }),
            SparkEvent::JobStart { job_id, time, stages, properties } => json!({
                "Event": "SparkListenerJobStart",
                "Job ID": job_id,
                "Submission Time": time,
                "Stage Infos": stages.iter().map(stage_info).collect::<Vec<_>>(),
                "Stage IDs": stages.iter().map(|s| s.stage_id).collect::<Vec<_>>(),
                "Properties": pairs(properties),
            }),
            SparkEvent::StageSubmitted { stage, properties } => json!({
                "Event": "SparkListenerStageSubmitted",
                "Stage Info": stage_info(stage),
                "Properties": pairs(properties),
            }),
            SparkEvent::TaskStart { stage_id, stage_attempt, task } => json!({
                "Event": "SparkListenerTaskStart",
                "Stage ID": stage_id,
                "Stage Attempt ID": stage_attempt,
                "Task Info": task_info(task),
            }),
            SparkEvent::TaskEnd { stage_id, stage_attempt, task_type, reason, task, metrics } => json!({
                "Event": "SparkListenerTaskEnd",
                "Stage ID": stage_id,
                "Stage Attempt ID": stage_attempt,
                "Task Type": task_type,
                "Task End Reason": end_reason(reason),
                "Task Info": task_info(task),
                "Task Executor Metrics": {},
                "Task Metrics": task_metrics(metrics),
            }),
            SparkEvent::StageCompleted { stage } => json!({
                "Event": "SparkListenerStageCompleted",
                "Stage Info": stage_info(stage),
            }),
            SparkEvent::JobEnd { job_id, time, failure } => {
                let result = match failure {
                    None => json!({"Result": "JobSucceeded"}),
                    Some(message) => json!({
                        "Result": "JobFailed",
                        "Exception": {"Message": message, "Stack Trace": []},
                    }),
                };
                json!({
                    "Event": "SparkListenerJobEnd",
                    "Job ID": job_id,
                    "Completion Time": time,
                    "Job Result": result,
                })
            }
            SparkEvent::ApplicationEnd { time, exit_code } => json!({
                "Event": "SparkListenerApplicationEnd",
                "Timestamp": time,
                "ExitCode": exit_code,
            }),
        }
    }
}

fn pairs(pairs: &[(String, String)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<_, _>>())
}

fn stage_info(stage: &StageInfo) -> Value {
    let mut info = json!({
        "Stage ID": stage.stage_id,
        "Stage Attempt ID": stage.attempt,
        "Stage Name": stage.name,
        "Number of Tasks": stage.num_tasks,
        "RDD Info": stage.rdds.iter().map(rdd_info).collect::<Vec<_>>(),
        "Parent IDs": stage.parent_ids,
        "Details": stage.name,
    });
    if let Some(time) = stage.submission_time {
        info["Submission Time"] = json!(time);
    }
    if let Some(time) = stage.completion_time {
        info["Completion Time"] = json!(time);
    }
    if let Some(reason) = &stage.failure_reason {
        info["Failure Reason"] = json!(reason);
    }
    info["Accumulables"] = json!([]);
    info["Resource Profile Id"] = json!(0);
    info["Shuffle Push Enabled"] = json!(false);
    info["Shuffle Push Mergers Count"] = json!(0);
    info
}

fn rdd_info(rdd: &RddInfo) -> Value {
    json!({
        "RDD ID": rdd.id,
        "Name": rdd.name,
        "Callsite": rdd.callsite,
        "Parent IDs": rdd.parent_ids,
        "Storage Level": {
            "Use Disk": false,
            "Use Memory": false,
            "Use Off Heap": false,
            "Deserialized": false,
            "Replication": 1,
        },
        "Barrier": false,
        "DeterministicLevel": "DETERMINATE",
        "Number of Partitions": rdd.num_partitions,
        "Number of Cached Partitions": 0,
        "Memory Size": 0,
        "Disk Size": 0,
    })
}

fn task_info(task: &TaskInfo) -> Value {
    json!({
        "Task ID": task.task_id,
        "Index": task.index,
        "Attempt": task.attempt,
        "Partition ID": task.partition,
        "Launch Time": task.launch_time,
        "Executor ID": task.executor_id,
        "Host": task.host,
        "Locality": task.locality,
        "Speculative": task.speculative,
        "Getting Result Time": 0,
        "Finish Time": task.finish_time,
        "Failed": task.failed,
        "Killed": task.killed,
        "Accumulables": [],
    })
}

fn end_reason(reason: &TaskEndReason) -> Value {
    match reason {
        TaskEndReason::Success => json!({"Reason": "Success"}),
        TaskEndReason::Exception { description } => json!({
            "Reason": "ExceptionFailure",
            "Class Name": "weft.TaskFailure",
            "Description": description,
            "Stack Trace": [],
            "Full Stack Trace": description,
            "Accumulator Updates": [],
        }),
        TaskEndReason::FetchFailed { executor_id, host, port, shuffle_id, map_index, reduce_id, message } => json!({
            "Reason": "FetchFailed",
            "Block Manager Address": {"Executor ID": executor_id, "Host": host, "Port": port},
            "Shuffle ID": shuffle_id,
            "Map ID": map_index,
            "Map Index": map_index,
            "Reduce ID": reduce_id,
            "Message": message,
        }),
        TaskEndReason::ExecutorLost { executor_id, caused_by_app, reason } => json!({
            "Reason": "ExecutorLostFailure",
            "Executor ID": executor_id,
            "Exit Caused By App": caused_by_app,
            "Loss Reason": reason,
        }),
        TaskEndReason::Killed { reason } => json!({
            "Reason": "TaskKilled",
            "Kill Reason": reason,
            "Accumulator Updates": [],
        }),
    }
}

/// Spark's `Task Metrics`, every key present: a History Server stops replaying at a partial one.
fn task_metrics(m: &TaskMetrics) -> Value {
    let local_read = m.shuffle_read_bytes.saturating_sub(m.shuffle_remote_bytes);
    json!({
        "Executor Deserialize Time": 0,
        "Executor Deserialize CPU Time": 0,
        "Executor Run Time": m.executor_run_time_ms,
        "Executor CPU Time": m.executor_cpu_time_ns,
        "Peak Execution Memory": 0,
        "Peak On Heap Execution Memory": 0,
        "Peak Off Heap Execution Memory": 0,
        "Result Size": m.result_size,
        "JVM GC Time": 0,
        "Result Serialization Time": 0,
        "Memory Bytes Spilled": m.memory_bytes_spilled,
        "Disk Bytes Spilled": m.disk_bytes_spilled,
        "Shuffle Read Metrics": {
            "Remote Blocks Fetched": 0,
            "Local Blocks Fetched": 0,
            "Fetch Wait Time": 0,
            "Remote Bytes Read": m.shuffle_remote_bytes,
            "Remote Bytes Read To Disk": 0,
            "Local Bytes Read": local_read,
            "Total Records Read": m.shuffle_read_records,
            "Remote Requests Duration": 0,
            "Shuffle Push Read Metrics": {
                "Corrupt Merged Block Chunks": 0,
                "Merged Fetch Fallback Count": 0,
                "Merged Remote Blocks Fetched": 0,
                "Merged Local Blocks Fetched": 0,
                "Merged Remote Chunks Fetched": 0,
                "Merged Local Chunks Fetched": 0,
                "Merged Remote Bytes Read": 0,
                "Merged Local Bytes Read": 0,
                "Merged Remote Requests Duration": 0,
            },
        },
        "Shuffle Write Metrics": {
            "Shuffle Bytes Written": m.shuffle_write_bytes,
            "Shuffle Write Time": 0,
            "Shuffle Records Written": m.shuffle_write_records,
        },
        "Input Metrics": {"Bytes Read": m.input_bytes, "Records Read": m.input_records},
        "Output Metrics": {"Bytes Written": m.output_bytes, "Records Written": m.output_records},
        "Updated Blocks": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskInfo {
        TaskInfo {
            task_id: 7,
            index: 1,
            attempt: 0,
            partition: 1,
            launch_time: 1_700_000_000_100,
            executor_id: "1".into(),
            host: "node1".into(),
            locality: "PROCESS_LOCAL",
            speculative: false,
            finish_time: 1_700_000_000_300,
            failed: false,
            killed: false,
        }
    }

    #[test]
    fn every_line_begins_as_a_history_server_lists_it() {
        let stage = StageInfo {
            stage_id: 0,
            attempt: 0,
            name: "map at x.rs:1".into(),
            num_tasks: 2,
            rdds: vec![RddInfo {
                id: 1,
                name: "MapPartitionsRDD".into(),
                callsite: "map at x.rs:1".into(),
                parent_ids: vec![0],
                num_partitions: 2,
            }],
            parent_ids: vec![],
            submission_time: Some(1),
            completion_time: None,
            failure_reason: None,
        };
        let events = [
            SparkEvent::LogStart,
            SparkEvent::EnvironmentUpdate { spark_properties: vec![], system_properties: vec![] },
            SparkEvent::JobStart { job_id: 0, time: 1, stages: vec![stage.clone()], properties: vec![] },
            SparkEvent::StageSubmitted { stage: stage.clone(), properties: vec![] },
            SparkEvent::TaskStart { stage_id: 0, stage_attempt: 0, task: task() },
            SparkEvent::JobEnd { job_id: 0, time: 2, failure: None },
            SparkEvent::ApplicationEnd { time: 3, exit_code: 0 },
        ];
        for event in events {
            let line = event.to_line();
            assert!(line.starts_with("{\"Event\":\"SparkListener"), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn a_task_end_carries_every_metric_spark_reads() {
        let metrics = TaskMetrics {
            executor_run_time_ms: 200,
            shuffle_read_bytes: 100,
            shuffle_remote_bytes: 30,
            shuffle_write_bytes: 55,
            memory_bytes_spilled: 4096,
            disk_bytes_spilled: 1024,
            ..TaskMetrics::default()
        };
        let event = SparkEvent::TaskEnd {
            stage_id: 1,
            stage_attempt: 0,
            task_type: "ResultTask",
            reason: TaskEndReason::Success,
            task: task(),
            metrics,
        };
        let value: Value = serde_json::from_str(&event.to_line()).unwrap();
        let m = &value["Task Metrics"];
        assert_eq!(m.as_object().unwrap().len(), 17, "{m}");
        assert_eq!(m["Executor Run Time"], 200);
        assert_eq!(m["Memory Bytes Spilled"], 4096);
        assert_eq!(m["Disk Bytes Spilled"], 1024);
        assert_eq!(m["Shuffle Read Metrics"]["Remote Bytes Read"], 30);
        assert_eq!(m["Shuffle Read Metrics"]["Local Bytes Read"], 70);
        assert_eq!(m["Shuffle Write Metrics"]["Shuffle Bytes Written"], 55);
        assert_eq!(m["Input Metrics"].as_object().unwrap().len(), 2);
        assert_eq!(value["Task End Reason"]["Reason"], "Success");
        assert_eq!(value["Task Info"]["Finish Time"], 1_700_000_000_300u64);
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "Event");
    }

    #[test]
    fn failures_are_written_in_sparks_class_names() {
        let lost =
            TaskEndReason::ExecutorLost { executor_id: "2".into(), caused_by_app: true, reason: "killed".into() };
        assert_eq!(end_reason(&lost)["Reason"], "ExecutorLostFailure");
        assert_eq!(end_reason(&lost)["Exit Caused By App"], true);
        let failed = SparkEvent::JobEnd { job_id: 3, time: 9, failure: Some("Job aborted".into()) };
        let value: Value = serde_json::from_str(&failed.to_line()).unwrap();
        assert_eq!(value["Job Result"]["Result"], "JobFailed");
        assert_eq!(value["Job Result"]["Exception"]["Message"], "Job aborted");
    }
}
