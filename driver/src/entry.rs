//! The `main` of a Spark program: the same binary is the driver (when `weft submit` starts it, or
//! when run by hand: `local[*]`) and, started by the driver with `WEFT_SPARK_ROLE=executor`, an
//! executor. [`run`] tells the two apart and never returns to user code in executor mode.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::conf::{SparkConf, SparkSettings};
use super::context::SparkContext;
use super::launch_env as env;

/// What a Spark program's body returns.
pub type AppResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs a Spark program: `main` gets the context and the program's arguments.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     weft_spark::run(|sc, _args| {
///         let n = sc.parallelize((1..=100u64).collect(), 4).map(|x| x * 2).count()?;
///         println!("{n}");
///         Ok(())
///     })
/// }
/// ```
pub fn run<F>(main: F) -> ExitCode
where
    F: FnOnce(&SparkContext, Vec<String>) -> AppResult,
{
    if std::env::var(env::ROLE).as_deref() == Ok(env::ROLE_EXECUTOR) {
        crate::init_logging("info");
        return ExitCode::from(run_executor() as u8);
    }
    crate::init_logging("info");
    let conf = match std::env::var(env::CONF) {
        Ok(json) => match SparkConf::from_json(&json) {
            Ok(conf) => conf,
            Err(e) => return fail(&format!("{}: {e}", env::CONF)),
        },
        Err(_) => {
            let mut conf = SparkConf::new();
            conf.set("spark.master", "local[*]");
            conf
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sc = match SparkContext::start(conf) {
        Ok(sc) => sc,
        Err(e) => return fail(&format!("cannot start the SparkContext: {e}")),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| main(&sc, args)));
    match outcome {
        Ok(Ok(())) => {
            sc.stop_with(true, "");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            let message = format!("User class threw exception: {e}");
            tracing::error!("{message}");
            sc.stop_with(false, &message);
            ExitCode::FAILURE
        }
        Err(panic) => {
            let message = format!("User class threw exception: {}", weft_executor::runner::panic_message(&*panic));
            tracing::error!("{message}");
            sc.stop_with(false, &message);
            ExitCode::FAILURE
        }
    }
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    eprintln!("{message}");
    ExitCode::FAILURE
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Executor mode: everything comes from the environment the driver's launcher set. A missing or
/// malformed variable, or a bad Spark property, stops the executor with exit status 64 and says which.
fn run_executor() -> i32 {
    let (Some(driver_url), Some(executor_id)) = (var(env::DRIVER_URL), var(env::EXECUTOR_ID)) else {
        eprintln!("{} and {} must be set in executor mode", env::DRIVER_URL, env::EXECUTOR_ID);
        return 64;
    };
    let usage = |message: String| {
        tracing::error!("executor {executor_id}: {message}");
        eprintln!("executor {executor_id}: {message}");
        64
    };
    let conf = match var(env::CONF).map(|json| SparkConf::from_json(&json)) {
        Some(Ok(conf)) => conf,
        Some(Err(e)) => return usage(format!("{}: {e}", env::CONF)),
        None => SparkConf::new(),
    };
    let spark = match SparkSettings::from_conf(&conf) {
        Ok(spark) => spark,
        Err(e) => return usage(e.to_string()),
    };
    let cores = match var(env::EXECUTOR_CORES).map(|c| c.parse::<usize>()) {
        Some(Ok(cores)) if cores > 0 => cores,
        None => 1,
        Some(_) => {
            let text = var(env::EXECUTOR_CORES).unwrap_or_default();
            return usage(format!("{}: {text:?} is not a whole number above 0", env::EXECUTOR_CORES));
        }
    };
    // spark.authenticate: the driver set the application's secret in this executor's environment.
    let secret = match (spark.authenticate, var(env::SECRET)) {
        (false, _) => None,
        (true, Some(hex)) => match weft_executor::auth::Secret::from_hex(&hex) {
            Ok(secret) => Some(secret),
            Err(e) => return usage(format!("{}: {e}", env::SECRET)),
        },
        (true, None) => {
            return usage(format!(
                "spark.authenticate is on but {} is not set: an executor gets the application's secret from \
                 the driver that starts it, and neither the driver nor other executors accept calls without it",
                env::SECRET
            ))
        }
    };
    let io = &spark.executor_io;
    let memory = weft_executor::memory::MemoryConfig {
        system_bytes: io.system_bytes,
        reserved_bytes: io.reserved_bytes,
        fraction: io.memory_fraction,
        storage_fraction: io.storage_fraction,
    };
    let local_dir = var("WEFT_EXECUTOR_LOCAL_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            var("LOCAL_DIRS")
                .and_then(|d| d.split(',').next().map(|d| PathBuf::from(d).join(format!("executor-{executor_id}"))))
        })
        .unwrap_or_else(|| std::env::temp_dir().join(format!("weft-executor-{}", std::process::id())));
    let args = weft_executor::runtime::ExecutorArgs {
        executor_id,
        driver_url,
        bind_host: var("WEFT_EXECUTOR_HOST").or_else(|| var("NM_HOST")).unwrap_or_else(|| "127.0.0.1".into()),
        cores,
        container_id: var("CONTAINER_ID").unwrap_or_default(),
        log_url: String::new(),
        local_dir,
        memory,
        max_size_in_flight_bytes: io.max_size_in_flight_bytes,
        shuffle_compress: io.shuffle_compress,
        read_host_local_disk: io.read_host_local_disk,
        spill_compress: io.spill_compress,
        heartbeat_interval: Duration::from_millis(spark.executor.heartbeat_interval_ms),
        network_timeout: Duration::from_millis(spark.scheduler.network_timeout_ms),
        max_result_bytes: spark.driver.max_result_bytes,
        secret,
    };
    weft_executor::runtime::run(args)
}
