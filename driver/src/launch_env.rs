//! The contract between `weft submit`, the application master and the processes it starts: which
//! environment variables tell an application binary what role it plays and where its peers are.
//! Every name is here once; writers and readers use these constants.

/// `driver` (set by `weft submit` in both deploy modes) or `executor` (set by the driver's backend).
pub const ROLE: &str = "WEFT_SPARK_ROLE";
/// Every `spark.*` property of the application, as one JSON object of strings.
pub const CONF: &str = "WEFT_SPARK_CONF";
/// The staged application binary as JSON `{"name","sha256","size","executable"}`: what executors localize.
pub const APP_BINARY: &str = "WEFT_APP_BINARY";
/// Client mode: the application id `weft submit` obtained (cluster mode reads it from `CONTAINER_ID`).
pub const APPLICATION_ID: &str = "WEFT_APPLICATION_ID";
/// Client mode: the unmanaged AM's attempt id, once the ResourceManager has created it.
pub const AM_ATTEMPT_ID: &str = "WEFT_AM_ATTEMPT_ID";
/// The ResourceManager's scheduler (application master) service, `host:port`.
/// In cluster mode the ResourceManager's launcher sets it; in client mode `weft submit` does.
pub const RM_SCHEDULER_ADDRESS: &str = "WEFT_RM_SCHEDULER_ADDRESS";
/// The ResourceManager's client service, `host:port`.
pub const RM_ADDRESS: &str = "WEFT_RM_ADDRESS";
/// Executors: the driver's RPC endpoint, `host:port`.
pub const DRIVER_URL: &str = "WEFT_DRIVER_URL";
/// Executors: the executor id the driver's backend gave this executor (`1`, `2`, … as in Spark).
pub const EXECUTOR_ID: &str = "WEFT_EXECUTOR_ID";
/// Executors: how many task threads to run (`spark.executor.cores`).
pub const EXECUTOR_CORES: &str = "WEFT_EXECUTOR_CORES";

/// `spark.authenticate`: the application's secret (hex of 32 random bytes). `weft submit` makes it
/// and sets it for the driver; the driver sets it for each executor. Only ever in an environment.
pub const SECRET: &str = "WEFT_SPARK_SECRET";

/// Values of `ROLE`.
pub const ROLE_DRIVER: &str = "driver";
pub const ROLE_EXECUTOR: &str = "executor";

/// Set for every process of a Spark program in a container (executors, and the driver in cluster
/// mode), tuning mimalloc:
/// - `MIMALLOC_ARENA_RESERVE`: mimalloc reserves address space 1 GiB at a time by default, so an
///   idle executor showed 1.2 GB of virtual memory and a container at YARN's default
///   vmem-pmem-ratio (2.1) was killed -103 long before its physical limit. Reserving 64 MiB at a
///   time keeps virtual memory near what is used.
/// - `MIMALLOC_PURGE_DELAY`: freed memory went back to the kernel after 10 ms, shorter than a task
///   keeps its batches, so each batch faulted in fresh pages the kernel had to zero (a sort of
///   500 MB spent 1.2–1.7 s of its ~5 s of CPU in the kernel). Kept a second, the memory is reused;
///   the peak a task needs, which its container is sized for, is unchanged.
pub const ALLOCATOR: [(&str, &str); 2] = [("MIMALLOC_ARENA_RESERVE", "64MiB"), ("MIMALLOC_PURGE_DELAY", "1000")];
