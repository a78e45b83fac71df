//! Spark's settings parsed once: the raw `spark.*` strings of a [`SparkConf`] become one validated
//! [`SparkSettings`], or a [`ConfError`] that lists every problem at once. `weft submit` checks a
//! submission with it before anything reaches the cluster, the driver builds its schedulers from it,
//! and each executor reads its own part of it; the defaults and Spark's rules live in the accessors
//! (`accessors.rs`) and nowhere else.

use std::fmt;

use super::{keys, DeployMode, EventLogCodec, SchedulerMode, SparkConf, StagedFile};

/// Every problem of a configuration, each naming the key and the bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("; "))
    }
}

impl std::error::Error for ConfError {}

/// The executors' containers and processes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutorSettings {
    /// `spark.executor.instances`.
    pub instances: u32,
    pub memory_mb: i64,
    pub cores: u32,
    /// Memory plus overhead: the container's size.
    pub container_mb: i64,
    pub max_num_failures: u32,
    pub heartbeat_interval_ms: u64,
}

/// The driver: its container in cluster mode, its endpoint, what it accepts from tasks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriverSettings {
    pub cores: u32,
    pub container_mb: i64,
    pub max_result_bytes: u64,
    pub port: u16,
}

/// The client-mode application master's container (`spark.yarn.am.*`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AmSettings {
    pub container_mb: i64,
    pub cores: u32,
}

/// `spark.speculation.*`, when speculation is on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpeculationSettings {
    pub interval_ms: u64,
    pub multiplier: f64,
    pub quantile: f64,
    pub min_task_runtime_ms: u64,
}

/// `spark.excludeOnFailure.*`, when exclusion is on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExclusionSettings {
    pub timeout_ms: u64,
    pub max_task_attempts_per_executor: u32,
    pub max_task_attempts_per_node: u32,
    pub stage_max_failed_tasks_per_executor: u32,
    pub stage_max_failed_executors_per_node: u32,
    pub app_max_failed_tasks_per_executor: u32,
    pub app_max_failed_executors_per_node: u32,
    pub kill_excluded_executors: bool,
    pub unschedulable_timeout_ms: u64,
}

/// The DAG and task schedulers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchedulerSettings {
    pub mode: SchedulerMode,
    pub task_max_failures: u32,
    /// `spark.locality.wait` (the scheduler waits this long at each locality level).
    pub locality_wait_ms: u64,
    pub stage_max_consecutive_attempts: u32,
    pub default_parallelism: Option<usize>,
    pub network_timeout_ms: u64,
    pub speculation: Option<SpeculationSettings>,
    pub exclusion: Option<ExclusionSettings>,
    /// `spark.scheduler.minRegisteredResourcesRatio`, when set.
    pub min_registered_ratio: Option<f64>,
    pub max_registered_wait_ms: u64,
}

/// An executor's unified memory and its shuffle and spill I/O.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutorIoSettings {
    /// Spark's system memory and its reserved part, in bytes.
    pub system_bytes: u64,
    pub reserved_bytes: u64,
    pub memory_fraction: f64,
    pub storage_fraction: f64,
    pub max_size_in_flight_bytes: u64,
    pub shuffle_compress: bool,
    pub read_host_local_disk: bool,
    pub spill_compress: bool,
    pub rdd_compress: bool,
}

/// What the user sees: the progress bar, the web port, the event log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UiSettings {
    /// `spark.ui.showConsoleProgress`; unset means "on a terminal".
    pub show_console_progress: Option<bool>,
    pub enabled: bool,
    pub port: u16,
    pub port_max_retries: u16,
    /// `spark.eventLog.*`, when the event log is on.
    pub event_log: Option<EventLogSettings>,
    /// `spark.yarn.historyServer.address`: where a finished application's tracking URL points.
    pub history_server_address: Option<String>,
}

/// `spark.eventLog.*`: where and how the driver writes Spark's listener events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventLogSettings {
    pub dir: std::path::PathBuf,
    /// `None`: plain text.
    pub codec: Option<EventLogCodec>,
    /// A directory of event files, a new one past `max_file_bytes` (Spark's `eventlog_v2_` layout).
    pub rolling: bool,
    pub max_file_bytes: u64,
    pub overwrite: bool,
}

/// Every `spark.*` key Weft reads, parsed and checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparkSettings {
    pub deploy_mode: DeployMode,
    pub max_app_attempts: Option<u32>,
    pub executor: ExecutorSettings,
    pub driver: DriverSettings,
    pub am: AmSettings,
    pub scheduler: SchedulerSettings,
    pub executor_io: ExecutorIoSettings,
    pub ui: UiSettings,
    /// `spark.authenticate`: driver and executors require the application's secret on every call.
    pub authenticate: bool,
    /// `spark.weft.stagedFiles`: the files `weft submit` staged for the executors.
    pub staged_files: Vec<StagedFile>,
}

/// Gathers problems while reading; each distinct problem once (container sizes repeat the memory
/// key's problem).
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn take<T: Default>(&mut self, value: Result<T, String>) -> T {
        value.unwrap_or_else(|problem| {
            if !self.0.contains(&problem) {
                self.0.push(problem);
            }
            T::default()
        })
    }
}

impl SparkSettings {
    /// Reads every key; all problems are reported together.
    pub fn from_conf(conf: &SparkConf) -> Result<SparkSettings, ConfError> {
        let mut p = Problems::default();
        let executor = ExecutorSettings {
            instances: p.take(conf.executor_instances()),
            memory_mb: p.take(conf.executor_memory_mb()),
            cores: p.take(conf.executor_cores()),
            container_mb: p.take(conf.executor_container_mb()),
            max_num_failures: p.take(conf.executor_max_num_failures()),
            heartbeat_interval_ms: p.take(conf.executor_heartbeat_interval_ms()),
        };
        let driver = DriverSettings {
            cores: p.take(conf.driver_cores()),
            container_mb: p.take(conf.driver_container_mb()),
            max_result_bytes: p.take(conf.driver_max_result_size_bytes()),
            port: p.take(conf.driver_port()),
        };
        let am = AmSettings { container_mb: p.take(conf.yarn_am_container_mb()), cores: p.take(conf.yarn_am_cores()) };
        let speculation = SpeculationSettings {
            interval_ms: p.take(conf.speculation_interval_ms()),
            multiplier: p.take(conf.speculation_multiplier()),
            quantile: p.take(conf.speculation_quantile()),
            min_task_runtime_ms: p.take(conf.speculation_min_task_runtime_ms()),
        };
        let exclusion = ExclusionSettings {
            timeout_ms: p.take(conf.exclude_on_failure_timeout_ms()),
            max_task_attempts_per_executor: p.take(conf.max_task_attempts_per_executor()),
            max_task_attempts_per_node: p.take(conf.max_task_attempts_per_node()),
            stage_max_failed_tasks_per_executor: p.take(conf.stage_max_failed_tasks_per_executor()),
            stage_max_failed_executors_per_node: p.take(conf.stage_max_failed_executors_per_node()),
            app_max_failed_tasks_per_executor: p.take(conf.application_max_failed_tasks_per_executor()),
            app_max_failed_executors_per_node: p.take(conf.application_max_failed_executors_per_node()),
            kill_excluded_executors: p.take(conf.kill_excluded_executors()),
            unschedulable_timeout_ms: p.take(conf.unschedulable_task_set_timeout_ms()),
        };
        // Each level's own key is checked too (each defaults to spark.locality.wait).
        p.take(conf.locality_wait_process_ms());
        p.take(conf.locality_wait_node_ms());
        p.take(conf.locality_wait_rack_ms());
        let scheduler = SchedulerSettings {
            mode: p.take(conf.scheduler_mode()),
            task_max_failures: p.take(conf.task_max_failures()),
            locality_wait_ms: p.take(conf.locality_wait_ms()),
            stage_max_consecutive_attempts: p.take(conf.stage_max_consecutive_attempts()),
            default_parallelism: p.take(conf.default_parallelism()),
            network_timeout_ms: p.take(conf.network_timeout_ms()),
            speculation: p.take(conf.speculation_enabled()).then_some(speculation),
            exclusion: p.take(conf.exclude_on_failure_enabled()).then_some(exclusion),
            min_registered_ratio: p.take(conf.min_registered_resources_ratio()),
            max_registered_wait_ms: p.take(conf.max_registered_resources_waiting_time_ms()),
        };
        let (system_bytes, reserved_bytes) = p.take(conf.executor_system_and_reserved_bytes());
        let executor_io = ExecutorIoSettings {
            system_bytes,
            reserved_bytes,
            memory_fraction: p.take(conf.memory_fraction()),
            storage_fraction: p.take(conf.memory_storage_fraction()),
            max_size_in_flight_bytes: p.take(conf.reducer_max_size_in_flight_bytes()),
            shuffle_compress: p.take(conf.shuffle_compress()),
            read_host_local_disk: p.take(conf.shuffle_read_host_local_disk()),
            spill_compress: p.take(conf.shuffle_spill_compress()),
            rdd_compress: p.take(conf.rdd_compress()),
        };
        let ui = UiSettings {
            show_console_progress: p.take(conf.show_console_progress()),
            enabled: p.take(conf.ui_enabled()),
            port: p.take(conf.ui_port()),
            port_max_retries: p.take(conf.port_max_retries()),
            event_log: None,
            history_server_address: conf.get(keys::YARN_HISTORY_SERVER_ADDRESS).map(str::to_owned),
        };
        // Like Spark, the event log's own keys are read only when it is on.
        let event_log = p.take(conf.event_log_enabled()).then(|| EventLogSettings {
            dir: p.take(conf.event_log_dir()),
            codec: p.take(conf.event_log_compress()).then(|| p.take(conf.event_log_codec())),
            rolling: p.take(conf.event_log_rolling()),
            max_file_bytes: p.take(conf.event_log_max_file_bytes()),
            overwrite: p.take(conf.event_log_overwrite()),
        });
        let ui = UiSettings { event_log, ..ui };
        let settings = SparkSettings {
            deploy_mode: p.take(conf.deploy_mode()),
            max_app_attempts: p.take(conf.max_app_attempts()),
            executor,
            driver,
            am,
            scheduler,
            executor_io,
            ui,
            authenticate: p.take(conf.authenticate()),
            staged_files: p.take(conf.staged_files()),
        };
        if p.0.is_empty() {
            Ok(settings)
        } else {
            Err(ConfError { problems: p.0 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_defaults_parse_without_a_problem() {
        let s = SparkSettings::from_conf(&SparkConf::new()).unwrap();
        assert_eq!(s.deploy_mode, DeployMode::Client);
        assert_eq!((s.executor.instances, s.executor.memory_mb, s.executor.cores), (2, 1024, 1));
        assert_eq!(s.executor.container_mb, 1024 + 384);
        assert_eq!(s.scheduler.task_max_failures, 4);
        assert_eq!(s.scheduler.speculation, None);
        assert_eq!(s.driver.max_result_bytes, 1 << 30);
        assert!(s.executor_io.shuffle_compress && s.ui.enabled);
    }

    #[test]
    fn every_problem_is_reported_at_once_each_once() {
        let mut conf = SparkConf::new();
        conf.set("spark.executor.memory", "1.5g")
            .set("spark.task.maxFailures", "many")
            .set("spark.speculation", "perhaps")
            .set("spark.ui.port", "99999");
        let err = SparkSettings::from_conf(&conf).unwrap_err();
        let keys = ["spark.executor.memory", "spark.task.maxFailures", "spark.speculation", "spark.ui.port"];
        for key in keys {
            assert_eq!(err.problems.iter().filter(|p| p.starts_with(key)).count(), 1, "{key} once in {err}");
        }
        assert_eq!(err.problems.len(), keys.len(), "{err}");
    }

    #[test]
    fn speculation_and_exclusion_are_read_when_switched_on() {
        let mut conf = SparkConf::new();
        conf.set("spark.speculation", "true").set("spark.excludeOnFailure.enabled", "true");
        let s = SparkSettings::from_conf(&conf).unwrap();
        let speculation = s.scheduler.speculation.unwrap();
        assert_eq!((speculation.multiplier, speculation.quantile), (3.0, 0.9));
        assert!(s.scheduler.exclusion.is_some());
    }
}
