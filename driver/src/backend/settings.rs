//! The driver loop's settings, read once from the application's Spark properties: the task
//! scheduler's (mode, retries, locality, speculation, exclusion, `spark.driver.maxResultSize`), the
//! DAG scheduler's stage-attempt limit, the executors' network timeout, the progress bar and the
//! application's secret.

use std::time::Duration;

use weft_executor::auth::Secret;

use crate::conf::{SchedulerMode, SparkSettings};
use crate::tasks::{ExclusionConf, Mode, SchedulerConf, SpeculationConf};

pub(crate) struct Settings {
    pub(crate) scheduler: SchedulerConf,
    /// `spark.stage.maxConsecutiveAttempts`.
    pub(crate) max_consecutive_stage_attempts: u32,
    pub(crate) network_timeout: Duration,
    pub(crate) show_progress: bool,
    /// `spark.authenticate`: the application's secret, carried on every call to an executor.
    pub(crate) secret: Option<Secret>,
}

impl Settings {
    /// The driver's settings from the application's checked Spark settings; `local`: the one
    /// executor of `local[N]` stands in for the cluster (a speculative copy may run on it); `secret`:
    /// the application's, when `spark.authenticate` is on.
    pub(crate) fn new(spark: &SparkSettings, local: bool, secret: Option<Secret>) -> Settings {
        let s = &spark.scheduler;
        let mode = match s.mode {
            SchedulerMode::Fifo => Mode::Fifo,
            SchedulerMode::Fair => Mode::Fair,
        };
        let mut scheduler = SchedulerConf::new(mode, s.task_max_failures, s.locality_wait_ms);
        scheduler.max_result_bytes = spark.driver.max_result_bytes;
        scheduler.speculation = s.speculation.as_ref().map(|p| SpeculationConf {
            interval_ms: p.interval_ms,
            multiplier: p.multiplier,
            quantile: p.quantile,
            min_task_runtime_ms: p.min_task_runtime_ms,
            copies_share_executor: local,
        });
        scheduler.exclusion = s.exclusion.as_ref().map(|e| ExclusionConf {
            max_task_attempts_per_executor: e.max_task_attempts_per_executor,
            max_task_attempts_per_node: e.max_task_attempts_per_node,
            stage_max_failed_tasks_per_executor: e.stage_max_failed_tasks_per_executor,
            stage_max_failed_executors_per_node: e.stage_max_failed_executors_per_node,
            app_max_failed_tasks_per_executor: e.app_max_failed_tasks_per_executor,
            app_max_failed_executors_per_node: e.app_max_failed_executors_per_node,
            timeout_ms: e.timeout_ms,
            kill_excluded_executors: e.kill_excluded_executors,
            unschedulable_timeout_ms: e.unschedulable_timeout_ms,
        });
        Settings {
            scheduler,
            max_consecutive_stage_attempts: s.stage_max_consecutive_attempts,
            network_timeout: Duration::from_millis(s.network_timeout_ms),
            show_progress: spark.ui.show_console_progress.unwrap_or(true),
            secret,
        }
    }
}
