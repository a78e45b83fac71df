//! The `spark.*` keys this runtime reads, spelled once; `weft submit` writes some of them.

pub const MASTER: &str = "spark.master";
pub const APP_NAME: &str = "spark.app.name";
pub const DEPLOY_MODE: &str = "spark.submit.deployMode";
pub const EXECUTOR_INSTANCES: &str = "spark.executor.instances";
pub const EXECUTOR_MEMORY: &str = "spark.executor.memory";
pub const EXECUTOR_CORES: &str = "spark.executor.cores";
pub const EXECUTOR_MEMORY_OVERHEAD: &str = "spark.executor.memoryOverhead";
pub const EXECUTOR_MEMORY_OVERHEAD_FACTOR: &str = "spark.executor.memoryOverheadFactor";
pub const EXECUTOR_MIN_MEMORY_OVERHEAD: &str = "spark.executor.minMemoryOverhead";
pub const DRIVER_MEMORY: &str = "spark.driver.memory";
pub const DRIVER_CORES: &str = "spark.driver.cores";
pub const DRIVER_MEMORY_OVERHEAD: &str = "spark.driver.memoryOverhead";
pub const DRIVER_MEMORY_OVERHEAD_FACTOR: &str = "spark.driver.memoryOverheadFactor";
pub const DRIVER_MIN_MEMORY_OVERHEAD: &str = "spark.driver.minMemoryOverhead";
pub const DRIVER_MAX_RESULT_SIZE: &str = "spark.driver.maxResultSize";
pub const DRIVER_HOST: &str = "spark.driver.host";
pub const DRIVER_PORT: &str = "spark.driver.port";
pub const YARN_AM_MEMORY: &str = "spark.yarn.am.memory";
pub const YARN_AM_MEMORY_OVERHEAD: &str = "spark.yarn.am.memoryOverhead";
pub const YARN_AM_CORES: &str = "spark.yarn.am.cores";
pub const YARN_QUEUE: &str = "spark.yarn.queue";
pub const YARN_MAX_APP_ATTEMPTS: &str = "spark.yarn.maxAppAttempts";
/// The user's `--files`, comma-separated, as given.
pub const YARN_DIST_FILES: &str = "spark.yarn.dist.files";
/// `--files` with a local master.
pub const FILES: &str = "spark.files";
/// Set by `weft submit`: the `--files` as staged, a JSON array of [`StagedFile`](super::StagedFile).
pub const STAGED_FILES: &str = "spark.weft.stagedFiles";
pub const TASK_MAX_FAILURES: &str = "spark.task.maxFailures";
pub const STAGE_MAX_CONSECUTIVE_ATTEMPTS: &str = "spark.stage.maxConsecutiveAttempts";
pub const SPECULATION: &str = "spark.speculation";
pub const SPECULATION_INTERVAL: &str = "spark.speculation.interval";
pub const SPECULATION_MULTIPLIER: &str = "spark.speculation.multiplier";
pub const SPECULATION_QUANTILE: &str = "spark.speculation.quantile";
pub const SPECULATION_MIN_TASK_RUNTIME: &str = "spark.speculation.minTaskRuntime";
pub const EXCLUDE_ON_FAILURE_ENABLED: &str = "spark.excludeOnFailure.enabled";
/// Spark's name of `spark.excludeOnFailure.enabled` before 3.1, still read.
pub const BLACKLIST_ENABLED: &str = "spark.blacklist.enabled";
pub const EXCLUDE_ON_FAILURE_TIMEOUT: &str = "spark.excludeOnFailure.timeout";
pub const MAX_TASK_ATTEMPTS_PER_EXECUTOR: &str = "spark.excludeOnFailure.task.maxTaskAttemptsPerExecutor";
pub const MAX_TASK_ATTEMPTS_PER_NODE: &str = "spark.excludeOnFailure.task.maxTaskAttemptsPerNode";
pub const STAGE_MAX_FAILED_TASKS_PER_EXECUTOR: &str = "spark.excludeOnFailure.stage.maxFailedTasksPerExecutor";
pub const STAGE_MAX_FAILED_EXECUTORS_PER_NODE: &str = "spark.excludeOnFailure.stage.maxFailedExecutorsPerNode";
pub const APPLICATION_MAX_FAILED_TASKS_PER_EXECUTOR: &str =
    "spark.excludeOnFailure.application.maxFailedTasksPerExecutor";
pub const APPLICATION_MAX_FAILED_EXECUTORS_PER_NODE: &str =
    "spark.excludeOnFailure.application.maxFailedExecutorsPerNode";
pub const KILL_EXCLUDED_EXECUTORS: &str = "spark.excludeOnFailure.killExcludedExecutors";
pub const UNSCHEDULABLE_TASK_SET_TIMEOUT: &str = "spark.scheduler.excludeOnFailure.unschedulableTaskSetTimeout";
pub const DEFAULT_PARALLELISM: &str = "spark.default.parallelism";
pub const LOCALITY_WAIT: &str = "spark.locality.wait";
pub const LOCALITY_WAIT_PROCESS: &str = "spark.locality.wait.process";
pub const LOCALITY_WAIT_NODE: &str = "spark.locality.wait.node";
pub const LOCALITY_WAIT_RACK: &str = "spark.locality.wait.rack";
pub const SCHEDULER_MODE: &str = "spark.scheduler.mode";
pub const MIN_REGISTERED_RESOURCES_RATIO: &str = "spark.scheduler.minRegisteredResourcesRatio";
pub const MAX_REGISTERED_RESOURCES_WAITING_TIME: &str = "spark.scheduler.maxRegisteredResourcesWaitingTime";
pub const NETWORK_TIMEOUT: &str = "spark.network.timeout";
/// Whether driver and executors require the application's secret on every call (true on Weft).
pub const AUTHENTICATE: &str = "spark.authenticate";
pub const EXECUTOR_HEARTBEAT_INTERVAL: &str = "spark.executor.heartbeatInterval";
pub const EXECUTOR_MAX_NUM_FAILURES: &str = "spark.executor.maxNumFailures";
/// Spark's YARN-era name of `spark.executor.maxNumFailures`, still read.
pub const YARN_MAX_EXECUTOR_FAILURES: &str = "spark.yarn.max.executor.failures";
pub const DYNAMIC_ALLOCATION_ENABLED: &str = "spark.dynamicAllocation.enabled";
pub const DYNAMIC_ALLOCATION_MAX_EXECUTORS: &str = "spark.dynamicAllocation.maxExecutors";
pub const SHOW_CONSOLE_PROGRESS: &str = "spark.ui.showConsoleProgress";
pub const UI_ENABLED: &str = "spark.ui.enabled";
pub const UI_PORT: &str = "spark.ui.port";
pub const PORT_MAX_RETRIES: &str = "spark.port.maxRetries";
pub const LOCAL_DIR: &str = "spark.local.dir";
pub const MEMORY_FRACTION: &str = "spark.memory.fraction";
pub const MEMORY_STORAGE_FRACTION: &str = "spark.memory.storageFraction";
/// Spark's test-only override of the memory the unified pool is cut from (bytes), in place of the
/// executor's memory; with `spark.testing.reservedMemory` it shrinks the pool so tests spill.
pub const TESTING_MEMORY: &str = "spark.testing.memory";
/// Spark's test-only override of the 300 MiB kept out of the unified pool (bytes).
pub const TESTING_RESERVED_MEMORY: &str = "spark.testing.reservedMemory";
pub const REDUCER_MAX_SIZE_IN_FLIGHT: &str = "spark.reducer.maxSizeInFlight";
pub const SHUFFLE_SPILL_COMPRESS: &str = "spark.shuffle.spill.compress";
pub const SHUFFLE_COMPRESS: &str = "spark.shuffle.compress";
pub const SHUFFLE_READ_HOST_LOCAL_DISK: &str = "spark.shuffle.readHostLocalDisk";
pub const RDD_COMPRESS: &str = "spark.rdd.compress";
pub const EVENT_LOG_ENABLED: &str = "spark.eventLog.enabled";
pub const EVENT_LOG_DIR: &str = "spark.eventLog.dir";
pub const EVENT_LOG_COMPRESS: &str = "spark.eventLog.compress";
pub const EVENT_LOG_COMPRESSION_CODEC: &str = "spark.eventLog.compression.codec";
pub const EVENT_LOG_ROLLING_ENABLED: &str = "spark.eventLog.rolling.enabled";
pub const EVENT_LOG_ROLLING_MAX_FILE_SIZE: &str = "spark.eventLog.rolling.maxFileSize";
pub const EVENT_LOG_OVERWRITE: &str = "spark.eventLog.overwrite";
/// Where a finished application's `trackingUrl` points when set (`host:port` of a History Server).
pub const YARN_HISTORY_SERVER_ADDRESS: &str = "spark.yarn.historyServer.address";
