//! `SparkConf`'s accessors: each key with Spark 4's default and rule (`facts/spark.md` §2, §7, §8),
//! e.g. a container's memory = memory + overhead, the overhead max(384 MiB, 0.10 × memory) unless set.

use super::keys;
use super::{invalid, MEMORY_OVERHEAD_FACTOR, MIB};

/// Spark's `RESERVED_SYSTEM_MEMORY_BYTES`: kept out of the unified memory.
const RESERVED_MEMORY_BYTES: u64 = 300 * MIB;
use super::{DeployMode, EventLogCodec, SchedulerMode, SparkConf, StagedFile, TimeUnit};

impl SparkConf {
    // ---- the application ----

    /// `spark.app.name`; `weft submit` defaults it to the binary's file name.
    pub fn app_name(&self) -> Option<&str> {
        self.get(keys::APP_NAME)
    }

    /// `spark.master`, `local[*]` when unset (a binary started without `weft submit`).
    pub fn master(&self) -> &str {
        self.get(keys::MASTER).unwrap_or("local[*]")
    }

    /// The task threads of a local master: `local` is 1, `local[N]` is N, `local[*]` is
    /// `available_cores`. `Ok(None)` for a cluster master.
    pub fn local_master_threads(&self, available_cores: usize) -> Result<Option<usize>, String> {
        let master = self.master().trim();
        let Some(rest) = master.strip_prefix("local") else { return Ok(None) };
        let expected = "local, local[N] with N at least 1, or local[*]";
        let threads = match rest {
            "" => 1,
            "[*]" => available_cores.max(1),
            _ => match rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')).map(str::parse::<usize>) {
                Some(Ok(n)) if n >= 1 => n,
                _ => return Err(invalid(keys::MASTER, master, expected)),
            },
        };
        Ok(Some(threads))
    }

    /// `spark.submit.deployMode`: `client` (the default) or `cluster`.
    pub fn deploy_mode(&self) -> Result<DeployMode, String> {
        match self.get(keys::DEPLOY_MODE) {
            None | Some("client") => Ok(DeployMode::Client),
            Some("cluster") => Ok(DeployMode::Cluster),
            Some(other) => Err(invalid(keys::DEPLOY_MODE, other, "client or cluster")),
        }
    }

    /// `spark.yarn.queue`, `default` when unset.
    pub fn queue(&self) -> &str {
        self.get(keys::YARN_QUEUE).unwrap_or("default")
    }

    /// `spark.yarn.maxAppAttempts`; `None` means the cluster's `yarn.resourcemanager.am.max-attempts`.
    pub fn max_app_attempts(&self) -> Result<Option<u32>, String> {
        match self.get(keys::YARN_MAX_APP_ATTEMPTS) {
            None => Ok(None),
            Some(_) => self.count(keys::YARN_MAX_APP_ATTEMPTS, 1, 1).map(Some),
        }
    }

    // ---- executors ----

    /// `spark.executor.instances`, 2 as on YARN.
    pub fn executor_instances(&self) -> Result<u32, String> {
        self.count(keys::EXECUTOR_INSTANCES, 2, 0)
    }

    /// `spark.executor.memory` in MiB, 1024 when unset.
    pub fn executor_memory_mb(&self) -> Result<i64, String> {
        self.memory_mb(keys::EXECUTOR_MEMORY, 1024)
    }

    /// `spark.executor.cores`, 1 as on YARN.
    pub fn executor_cores(&self) -> Result<u32, String> {
        self.count(keys::EXECUTOR_CORES, 1, 1)
    }

    /// `spark.executor.memoryOverhead` if set, else max(`spark.executor.minMemoryOverhead` (384m),
    /// `spark.executor.memoryOverheadFactor` (0.10) × executor memory), in MiB.
    pub fn executor_overhead_mb(&self) -> Result<i64, String> {
        let factor = self.overhead_factor(keys::EXECUTOR_MEMORY_OVERHEAD_FACTOR)?;
        let memory_mb = self.executor_memory_mb()?;
        self.overhead_mb(memory_mb, keys::EXECUTOR_MEMORY_OVERHEAD, factor, keys::EXECUTOR_MIN_MEMORY_OVERHEAD)
    }

    /// What an executor's container asks for: memory + overhead, in MiB.
    pub fn executor_container_mb(&self) -> Result<i64, String> {
        Ok(self.executor_memory_mb()? + self.executor_overhead_mb()?)
    }

    /// Executors that may fail before the application does: `spark.executor.maxNumFailures` (or its
    /// YARN-era name), else max(2 × the executors asked for, 3), the maximum under dynamic allocation.
    pub fn executor_max_num_failures(&self) -> Result<u32, String> {
        for key in [keys::EXECUTOR_MAX_NUM_FAILURES, keys::YARN_MAX_EXECUTOR_FAILURES] {
            if self.contains(key) {
                return self.count(key, 3, 1);
            }
        }
        let executors = if self.boolean_or(keys::DYNAMIC_ALLOCATION_ENABLED, false)? {
            self.count(keys::DYNAMIC_ALLOCATION_MAX_EXECUTORS, i32::MAX as u32, 0)?
        } else {
            self.executor_instances()?
        };
        Ok(executors.saturating_mul(2).clamp(3, i32::MAX as u32))
    }

    /// `spark.executor.heartbeatInterval`, 10s; a bare number is ms.
    pub fn executor_heartbeat_interval_ms(&self) -> Result<u64, String> {
        Ok(self.get_time_as_ms(keys::EXECUTOR_HEARTBEAT_INTERVAL, TimeUnit::Milliseconds)?.unwrap_or(10_000))
    }

    // ---- the driver ----

    /// `spark.driver.memory` in MiB, 1024 when unset.
    pub fn driver_memory_mb(&self) -> Result<i64, String> {
        self.memory_mb(keys::DRIVER_MEMORY, 1024)
    }

    /// `spark.driver.cores`, 1 (used in cluster mode).
    pub fn driver_cores(&self) -> Result<u32, String> {
        self.count(keys::DRIVER_CORES, 1, 1)
    }

    /// `spark.driver.memoryOverhead` if set, else max(`spark.driver.minMemoryOverhead` (384m),
    /// `spark.driver.memoryOverheadFactor` (0.10) × driver memory), in MiB.
    pub fn driver_overhead_mb(&self) -> Result<i64, String> {
        let factor = self.overhead_factor(keys::DRIVER_MEMORY_OVERHEAD_FACTOR)?;
        let memory_mb = self.driver_memory_mb()?;
        self.overhead_mb(memory_mb, keys::DRIVER_MEMORY_OVERHEAD, factor, keys::DRIVER_MIN_MEMORY_OVERHEAD)
    }

    /// What the driver's container asks for in cluster mode: memory + overhead, in MiB.
    pub fn driver_container_mb(&self) -> Result<i64, String> {
        Ok(self.driver_memory_mb()? + self.driver_overhead_mb()?)
    }

    /// `spark.driver.maxResultSize` in bytes, 1g; 0 means unlimited.
    pub fn driver_max_result_size_bytes(&self) -> Result<u64, String> {
        Ok(self.get_size_as_bytes(keys::DRIVER_MAX_RESULT_SIZE, 1)?.unwrap_or(1024 * MIB))
    }

    /// `spark.driver.host`: the address executors reach the driver at; unset means this host.
    pub fn driver_host(&self) -> Option<&str> {
        self.get(keys::DRIVER_HOST)
    }

    /// `spark.driver.port`, 0 (any free port).
    pub fn driver_port(&self) -> Result<u16, String> {
        let port = self.int_in(keys::DRIVER_PORT, 0, 0, u16::MAX.into())?;
        Ok(u16::try_from(port).expect("checked against u16::MAX"))
    }

    // ---- the client-mode application master (its container when it is not unmanaged) ----

    /// `spark.yarn.am.memory` in MiB, 512 when unset.
    pub fn yarn_am_memory_mb(&self) -> Result<i64, String> {
        self.memory_mb(keys::YARN_AM_MEMORY, 512)
    }

    /// `spark.yarn.am.memoryOverhead` if set, else max(`spark.driver.minMemoryOverhead` (384m), 0.10 ×
    /// the AM's memory), in MiB.
    pub fn yarn_am_overhead_mb(&self) -> Result<i64, String> {
        let memory_mb = self.yarn_am_memory_mb()?;
        self.overhead_mb(
            memory_mb,
            keys::YARN_AM_MEMORY_OVERHEAD,
            MEMORY_OVERHEAD_FACTOR,
            keys::DRIVER_MIN_MEMORY_OVERHEAD,
        )
    }

    /// The client-mode AM's memory + overhead, in MiB.
    pub fn yarn_am_container_mb(&self) -> Result<i64, String> {
        Ok(self.yarn_am_memory_mb()? + self.yarn_am_overhead_mb()?)
    }

    /// `spark.yarn.am.cores`, 1.
    pub fn yarn_am_cores(&self) -> Result<u32, String> {
        self.count(keys::YARN_AM_CORES, 1, 1)
    }

    // ---- scheduling ----

    /// `spark.task.maxFailures`, 4.
    pub fn task_max_failures(&self) -> Result<u32, String> {
        self.count(keys::TASK_MAX_FAILURES, 4, 1)
    }

    /// `spark.default.parallelism`; `None` lets each operation pick (Spark's rule by master).
    pub fn default_parallelism(&self) -> Result<Option<usize>, String> {
        match self.get(keys::DEFAULT_PARALLELISM) {
            None => Ok(None),
            Some(_) => self.count(keys::DEFAULT_PARALLELISM, 1, 1).map(|n| Some(n as usize)),
        }
    }

    /// `spark.locality.wait`, 3s; a bare number is ms.
    pub fn locality_wait_ms(&self) -> Result<u64, String> {
        Ok(self.get_time_as_ms(keys::LOCALITY_WAIT, TimeUnit::Milliseconds)?.unwrap_or(3000))
    }

    fn locality_wait_level_ms(&self, key: &str) -> Result<u64, String> {
        match self.get_time_as_ms(key, TimeUnit::Milliseconds)? {
            Some(ms) => Ok(ms),
            None => self.locality_wait_ms(),
        }
    }

    /// `spark.locality.wait.process`, `spark.locality.wait` when unset.
    pub fn locality_wait_process_ms(&self) -> Result<u64, String> {
        self.locality_wait_level_ms(keys::LOCALITY_WAIT_PROCESS)
    }

    /// `spark.locality.wait.node`, `spark.locality.wait` when unset.
    pub fn locality_wait_node_ms(&self) -> Result<u64, String> {
        self.locality_wait_level_ms(keys::LOCALITY_WAIT_NODE)
    }

    /// `spark.locality.wait.rack`, `spark.locality.wait` when unset.
    pub fn locality_wait_rack_ms(&self) -> Result<u64, String> {
        self.locality_wait_level_ms(keys::LOCALITY_WAIT_RACK)
    }

    /// `spark.scheduler.mode`: FIFO (default) or FAIR, in any case.
    pub fn scheduler_mode(&self) -> Result<SchedulerMode, String> {
        match self.get(keys::SCHEDULER_MODE).map(|v| v.trim().to_ascii_uppercase()) {
            None => Ok(SchedulerMode::Fifo),
            Some(mode) if mode == "FIFO" => Ok(SchedulerMode::Fifo),
            Some(mode) if mode == "FAIR" => Ok(SchedulerMode::Fair),
            Some(_) => {
                Err(invalid(keys::SCHEDULER_MODE, self.get(keys::SCHEDULER_MODE).unwrap_or_default(), "FIFO or FAIR"))
            }
        }
    }

    /// `spark.scheduler.minRegisteredResourcesRatio`: the share of the executors asked for that must
    /// have registered before the first job is scheduled. Unset: the cluster manager's own (0.8 on
    /// YARN); above 1 counts as 1, as in Spark.
    pub fn min_registered_resources_ratio(&self) -> Result<Option<f64>, String> {
        Ok(self.get_double(keys::MIN_REGISTERED_RESOURCES_RATIO)?.map(|ratio| ratio.min(1.0)))
    }

    /// `spark.scheduler.maxRegisteredResourcesWaitingTime`, 30s: how long the first job waits for
    /// that share at most; a bare number is ms.
    pub fn max_registered_resources_waiting_time_ms(&self) -> Result<u64, String> {
        Ok(self.get_time_as_ms(keys::MAX_REGISTERED_RESOURCES_WAITING_TIME, TimeUnit::Milliseconds)?.unwrap_or(30_000))
    }

    /// `spark.stage.maxConsecutiveAttempts`, 4: a stage's consecutive fetch-failed attempts before
    /// its job is aborted.
    pub fn stage_max_consecutive_attempts(&self) -> Result<u32, String> {
        self.count(keys::STAGE_MAX_CONSECUTIVE_ATTEMPTS, 4, 1)
    }

    /// `spark.network.timeout`, 120s; a bare number is seconds.
    pub fn network_timeout_ms(&self) -> Result<u64, String> {
        Ok(self.get_time_as_ms(keys::NETWORK_TIMEOUT, TimeUnit::Seconds)?.unwrap_or(120_000))
    }

    /// `spark.authenticate`, true on Weft (Spark's default is false): every call between the driver
    /// and its executors carries the application's secret.
    pub fn authenticate(&self) -> Result<bool, String> {
        self.boolean_or(keys::AUTHENTICATE, true)
    }

    // ---- speculation ----

    /// `spark.speculation`, false.
    pub fn speculation_enabled(&self) -> Result<bool, String> {
        self.boolean_or(keys::SPECULATION, false)
    }

    /// `spark.speculation.interval`, 100ms: how often running tasks are checked; a bare number is ms.
    pub fn speculation_interval_ms(&self) -> Result<u64, String> {
        self.duration_at_least(keys::SPECULATION_INTERVAL, 100, TimeUnit::Milliseconds, 1)
    }

    /// `spark.speculation.multiplier`, 3.0 (Spark 4): how many times the median a task must run.
    pub fn speculation_multiplier(&self) -> Result<f64, String> {
        self.fraction(keys::SPECULATION_MULTIPLIER, 3.0, |x| x >= 0.0, "of at least 0")
    }

    /// `spark.speculation.quantile`, 0.9 (Spark 4): the fraction of a stage's tasks that must have
    /// succeeded before speculation starts.
    pub fn speculation_quantile(&self) -> Result<f64, String> {
        self.fraction(keys::SPECULATION_QUANTILE, 0.9, |x| (0.0..=1.0).contains(&x), "from 0 to 1")
    }

    /// `spark.speculation.minTaskRuntime`, 100ms: no task is speculated before it ran this long.
    pub fn speculation_min_task_runtime_ms(&self) -> Result<u64, String> {
        Ok(self.get_time_as_ms(keys::SPECULATION_MIN_TASK_RUNTIME, TimeUnit::Milliseconds)?.unwrap_or(100))
    }

    // ---- exclusion on failure ----

    /// `spark.excludeOnFailure.enabled` (or its pre-3.1 name `spark.blacklist.enabled`), off when
    /// unset. When on, Spark's consistency rule holds: `…task.maxTaskAttemptsPerNode` must stay below
    /// `spark.task.maxFailures`, or a bad node could fail a task every time.
    pub fn exclude_on_failure_enabled(&self) -> Result<bool, String> {
        let enabled = match self.get_boolean(keys::EXCLUDE_ON_FAILURE_ENABLED)? {
            Some(enabled) => enabled,
            None => self.boolean_or(keys::BLACKLIST_ENABLED, false)?,
        };
        let (per_node, max_failures) = (self.max_task_attempts_per_node()?, self.task_max_failures()?);
        if enabled && per_node >= max_failures {
            return Err(format!(
                "{} ( = {per_node}) was >= {} ( = {max_failures} ). Though excludeOnFailure is enabled, with this \
                 configuration, Spark will not be robust to one bad node. Decrease {}, increase {}, or disable \
                 excludeOnFailure with {}",
                keys::MAX_TASK_ATTEMPTS_PER_NODE,
                keys::TASK_MAX_FAILURES,
                keys::MAX_TASK_ATTEMPTS_PER_NODE,
                keys::TASK_MAX_FAILURES,
                keys::EXCLUDE_ON_FAILURE_ENABLED
            ));
        }
        Ok(enabled)
    }

    /// A duration of at least `min_ms`, `default_ms` when unset.
    fn duration_at_least(&self, key: &str, default_ms: u64, unit: TimeUnit, min_ms: u64) -> Result<u64, String> {
        let ms = self.get_time_as_ms(key, unit)?.unwrap_or(default_ms);
        if ms >= min_ms {
            return Ok(ms);
        }
        Err(invalid(key, self.get(key).unwrap_or_default(), &format!("a duration of at least {min_ms}ms")))
    }

    /// `spark.excludeOnFailure.timeout`, 1h: how long an application-level exclusion lasts.
    pub fn exclude_on_failure_timeout_ms(&self) -> Result<u64, String> {
        self.duration_at_least(keys::EXCLUDE_ON_FAILURE_TIMEOUT, 3_600_000, TimeUnit::Milliseconds, 1)
    }

    /// `spark.excludeOnFailure.task.maxTaskAttemptsPerExecutor`, 1.
    pub fn max_task_attempts_per_executor(&self) -> Result<u32, String> {
        self.count(keys::MAX_TASK_ATTEMPTS_PER_EXECUTOR, 1, 1)
    }

    /// `spark.excludeOnFailure.task.maxTaskAttemptsPerNode`, 2.
    pub fn max_task_attempts_per_node(&self) -> Result<u32, String> {
        self.count(keys::MAX_TASK_ATTEMPTS_PER_NODE, 2, 1)
    }

    /// `spark.excludeOnFailure.stage.maxFailedTasksPerExecutor`, 2.
    pub fn stage_max_failed_tasks_per_executor(&self) -> Result<u32, String> {
        self.count(keys::STAGE_MAX_FAILED_TASKS_PER_EXECUTOR, 2, 1)
    }

    /// `spark.excludeOnFailure.stage.maxFailedExecutorsPerNode`, 2.
    pub fn stage_max_failed_executors_per_node(&self) -> Result<u32, String> {
        self.count(keys::STAGE_MAX_FAILED_EXECUTORS_PER_NODE, 2, 1)
    }

    /// `spark.excludeOnFailure.application.maxFailedTasksPerExecutor`, 2.
    pub fn application_max_failed_tasks_per_executor(&self) -> Result<u32, String> {
        self.count(keys::APPLICATION_MAX_FAILED_TASKS_PER_EXECUTOR, 2, 1)
    }

    /// `spark.excludeOnFailure.application.maxFailedExecutorsPerNode`, 2.
    pub fn application_max_failed_executors_per_node(&self) -> Result<u32, String> {
        self.count(keys::APPLICATION_MAX_FAILED_EXECUTORS_PER_NODE, 2, 1)
    }

    /// `spark.excludeOnFailure.killExcludedExecutors`, false.
    pub fn kill_excluded_executors(&self) -> Result<bool, String> {
        self.boolean_or(keys::KILL_EXCLUDED_EXECUTORS, false)
    }

    /// `spark.scheduler.excludeOnFailure.unschedulableTaskSetTimeout`, 120s; a bare number is seconds.
    pub fn unschedulable_task_set_timeout_ms(&self) -> Result<u64, String> {
        Ok(self.get_time_as_ms(keys::UNSCHEDULABLE_TASK_SET_TIMEOUT, TimeUnit::Seconds)?.unwrap_or(120_000))
    }

    // ---- memory, storage, shuffle ----

    /// `spark.memory.fraction`, 0.6, in (0, 1].
    pub fn memory_fraction(&self) -> Result<f64, String> {
        self.fraction(keys::MEMORY_FRACTION, 0.6, |x| x > 0.0 && x <= 1.0, "greater than 0 and at most 1")
    }

    /// `spark.memory.storageFraction`, 0.5, in [0, 1).
    pub fn memory_storage_fraction(&self) -> Result<f64, String> {
        self.fraction(keys::MEMORY_STORAGE_FRACTION, 0.5, |x| (0.0..1.0).contains(&x), "from 0 to below 1")
    }

    /// What an executor's unified memory is cut from, in bytes, and the part of it kept out (Spark's
    /// `UnifiedMemoryManager.getMaxMemory`): `spark.executor.memory` (the JVM heap in Spark) less 300
    /// MiB. Tests shrink it with `spark.testing.memory` and `spark.testing.reservedMemory` (bytes).
    /// Refused, in Spark's words, when the memory is below 1.5 × the reserve.
    pub fn executor_system_and_reserved_bytes(&self) -> Result<(u64, u64), String> {
        let reserved = self.get_size_as_bytes(keys::TESTING_RESERVED_MEMORY, 1)?.unwrap_or(RESERVED_MEMORY_BYTES);
        let minimum = (reserved as f64 * 1.5).ceil() as u64;
        let executor = self.executor_memory_mb()? as u64 * MIB;
        let system = self.get_size_as_bytes(keys::TESTING_MEMORY, 1)?.unwrap_or(executor);
        if self.contains(keys::EXECUTOR_MEMORY) && executor < minimum {
            return Err(format!(
                "Executor memory {executor} must be at least {minimum}. Please increase executor memory using the \
                 --executor-memory option or {} in Spark configuration.",
                keys::EXECUTOR_MEMORY
            ));
        }
        if system < minimum {
            return Err(format!(
                "System memory {system} must be at least {minimum}. Please increase heap size using the \
                 --driver-memory option or {} in Spark configuration.",
                keys::DRIVER_MEMORY
            ));
        }
        Ok((system, reserved))
    }

    /// `spark.reducer.maxSizeInFlight` in bytes, 48m; a bare number is MiB.
    pub fn reducer_max_size_in_flight_bytes(&self) -> Result<u64, String> {
        let key = keys::REDUCER_MAX_SIZE_IN_FLIGHT;
        match self.get_size_as_bytes(key, MIB)? {
            None => Ok(48 * MIB),
            Some(0) => Err(invalid(key, self.get(key).unwrap_or_default(), "a size of at least 1b")),
            Some(bytes) => Ok(bytes),
        }
    }

    /// `spark.shuffle.compress`, true.
    pub fn shuffle_compress(&self) -> Result<bool, String> {
        self.boolean_or(keys::SHUFFLE_COMPRESS, true)
    }

    /// `spark.shuffle.readHostLocalDisk`, true: a reducer reads the blocks of executors on its host
    /// from their files.
    pub fn shuffle_read_host_local_disk(&self) -> Result<bool, String> {
        self.boolean_or(keys::SHUFFLE_READ_HOST_LOCAL_DISK, true)
    }

    /// `spark.shuffle.spill.compress`, true.
    pub fn shuffle_spill_compress(&self) -> Result<bool, String> {
        self.boolean_or(keys::SHUFFLE_SPILL_COMPRESS, true)
    }

    /// `spark.rdd.compress`, false.
    pub fn rdd_compress(&self) -> Result<bool, String> {
        self.boolean_or(keys::RDD_COMPRESS, false)
    }

    /// `spark.local.dir`: where blocks and shuffle files go; unset means the container's local dirs.
    pub fn local_dir(&self) -> Option<&str> {
        self.get(keys::LOCAL_DIR)
    }

    // ---- observability ----

    /// `spark.ui.showConsoleProgress`; `None` when unset (the driver decides from its terminal).
    pub fn show_console_progress(&self) -> Result<Option<bool>, String> {
        self.get_boolean(keys::SHOW_CONSOLE_PROGRESS)
    }

    /// `spark.ui.enabled`, true: the driver serves its web port (`/metrics`).
    pub fn ui_enabled(&self) -> Result<bool, String> {
        Ok(self.get_boolean(keys::UI_ENABLED)?.unwrap_or(true))
    }

    /// `spark.ui.port`, 4040 (0: any free port).
    pub fn ui_port(&self) -> Result<u16, String> {
        let port = self.int_in(keys::UI_PORT, 4040, 0, u16::MAX.into())?;
        Ok(u16::try_from(port).expect("checked against u16::MAX"))
    }

    /// `spark.port.maxRetries`, 16: how many ports after a busy one a service tries.
    pub fn port_max_retries(&self) -> Result<u16, String> {
        let retries = self.int_in(keys::PORT_MAX_RETRIES, 16, 0, 1000)?;
        Ok(u16::try_from(retries).expect("checked against 1000"))
    }

    /// `spark.eventLog.enabled`, false.
    pub fn event_log_enabled(&self) -> Result<bool, String> {
        self.boolean_or(keys::EVENT_LOG_ENABLED, false)
    }

    /// `spark.eventLog.dir`, `/tmp/spark-events`: a local directory, as a path or a `file:` URI
    /// (`file:/d`, `file:///d`). Other filesystems are refused by name.
    pub fn event_log_dir(&self) -> Result<std::path::PathBuf, String> {
        let key = keys::EVENT_LOG_DIR;
        let text = self.get(key).unwrap_or("/tmp/spark-events");
        let path = match text.split_once(':') {
            Some(("file", rest)) => rest.strip_prefix("//").unwrap_or(rest),
            Some((scheme, _)) if !scheme.contains('/') && !scheme.is_empty() => {
                return Err(invalid(
                    key,
                    text,
                    "a local directory (a path or a file: URI); Weft writes no other filesystem",
                ))
            }
            _ => text,
        };
        if !path.starts_with('/') {
            return Err(invalid(key, text, "an absolute local directory"));
        }
        Ok(std::path::PathBuf::from(path))
    }

    /// `spark.eventLog.compress`, true (Spark 4's default).
    pub fn event_log_compress(&self) -> Result<bool, String> {
        self.boolean_or(keys::EVENT_LOG_COMPRESS, true)
    }

    /// `spark.eventLog.compression.codec`, `zstd`; `lz4` too. Spark's other codecs are refused.
    pub fn event_log_codec(&self) -> Result<EventLogCodec, String> {
        let key = keys::EVENT_LOG_COMPRESSION_CODEC;
        match self.get(key).map(str::trim) {
            None => Ok(EventLogCodec::Zstd),
            Some(codec) if codec.eq_ignore_ascii_case("zstd") => Ok(EventLogCodec::Zstd),
            Some(codec) if codec.eq_ignore_ascii_case("lz4") => Ok(EventLogCodec::Lz4),
            Some(codec) => Err(invalid(
                key,
                codec,
                "zstd or lz4 (Weft writes no other event-log codec; spark.eventLog.compress=false for plain text)",
            )),
        }
    }

    /// `spark.eventLog.rolling.enabled`, true (Spark 4's default): a directory of event files.
    pub fn event_log_rolling(&self) -> Result<bool, String> {
        self.boolean_or(keys::EVENT_LOG_ROLLING_ENABLED, true)
    }

    /// `spark.eventLog.rolling.maxFileSize`, 128m, at least 10m as Spark requires.
    pub fn event_log_max_file_bytes(&self) -> Result<u64, String> {
        let key = keys::EVENT_LOG_ROLLING_MAX_FILE_SIZE;
        match self.get_size_as_bytes(key, 1)? {
            None => Ok(128 * MIB),
            Some(bytes) if bytes < 10 * MIB => {
                Err(invalid(key, self.get(key).unwrap_or_default(), "a size of at least 10m"))
            }
            Some(bytes) => Ok(bytes),
        }
    }

    /// `spark.eventLog.overwrite`, false: a log already there is an error.
    pub fn event_log_overwrite(&self) -> Result<bool, String> {
        self.boolean_or(keys::EVENT_LOG_OVERWRITE, false)
    }

    // ---- files ----

    /// `spark.weft.stagedFiles`: the `--files` as `weft submit` staged them; empty when unset.
    pub fn staged_files(&self) -> Result<Vec<StagedFile>, String> {
        match self.get(keys::STAGED_FILES) {
            None => Ok(Vec::new()),
            Some(text) => serde_json::from_str(text)
                .map_err(|_| invalid(keys::STAGED_FILES, text, "a JSON array of {name, sha256, size, executable}")),
        }
    }

    /// Records the staged `--files` for executors to localize.
    pub fn set_staged_files(&mut self, files: &[StagedFile]) -> &mut SparkConf {
        self.set(keys::STAGED_FILES, serde_json::to_string(files).expect("staged files serialize"))
    }
}
