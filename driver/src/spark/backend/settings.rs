//! The driver loop's settings, read once from the application's Spark properties: the task
//! scheduler's (mode, retries, locality, speculation, exclusion, `spark.driver.maxResultSize`), the
//! DAG scheduler's stage-attempt limit, the executors' network timeout and the progress bar.

use std::time::Duration;

use crate::spark::conf::{SchedulerMode, SparkConf};
use crate::spark::tasks::{ExclusionConf, Mode, SchedulerConf, SpeculationConf};

pub(crate) struct Settings {
    pub(crate) scheduler: SchedulerConf,
    /// `spark.stage.maxConsecutiveAttempts`.
    pub(crate) max_consecutive_stage_attempts: u32,
    pub(crate) network_timeout: Duration,
    pub(crate) show_progress: bool,
}

impl Settings {
    /// The driver's settings from the application's Spark properties; `local`: the one executor of
    /// `local[N]` stands in for the cluster (a speculative copy may run on it).
    pub(crate) fn from_conf(conf: &SparkConf, local: bool) -> Result<Settings, String> {
        let mode = match conf.scheduler_mode()? {
            SchedulerMode::Fifo => Mode::Fifo,
            SchedulerMode::Fair => Mode::Fair,
        };
        let mut scheduler = SchedulerConf::new(mode, conf.task_max_failures()?, conf.locality_wait_ms()?);
        scheduler.max_result_bytes = conf.driver_max_result_size_bytes()?;
        if conf.speculation_enabled()? {
            scheduler.speculation = Some(SpeculationConf {
                interval_ms: conf.speculation_interval_ms()?,
                multiplier: conf.speculation_multiplier()?,
                quantile: conf.speculation_quantile()?,
                min_task_runtime_ms: conf.speculation_min_task_runtime_ms()?,
                copies_share_executor: local,
            });
        }
        if conf.exclude_on_failure_enabled()? {
            scheduler.exclusion = Some(ExclusionConf {
                max_task_attempts_per_executor: conf.max_task_attempts_per_executor()?,
                max_task_attempts_per_node: conf.max_task_attempts_per_node()?,
                stage_max_failed_tasks_per_executor: conf.stage_max_failed_tasks_per_executor()?,
                stage_max_failed_executors_per_node: conf.stage_max_failed_executors_per_node()?,
                app_max_failed_tasks_per_executor: conf.application_max_failed_tasks_per_executor()?,
                app_max_failed_executors_per_node: conf.application_max_failed_executors_per_node()?,
                timeout_ms: conf.exclude_on_failure_timeout_ms()?,
                kill_excluded_executors: conf.kill_excluded_executors()?,
                unschedulable_timeout_ms: conf.unschedulable_task_set_timeout_ms()?,
            });
        }
        Ok(Settings {
            scheduler,
            max_consecutive_stage_attempts: conf.stage_max_consecutive_attempts()?,
            network_timeout: Duration::from_millis(conf.network_timeout_ms()?),
            show_progress: conf.show_console_progress()?.unwrap_or(true),
        })
    }
}
