//! The `main` of a Spark program: the same binary is the driver (when `weft submit` starts it, or
//! when run by hand: `local[*]`) and, started by the driver with `WEFT_SPARK_ROLE=executor`, an
//! executor. [`run`] tells the two apart and never returns to user code in executor mode.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::conf::SparkConf;
use super::context::SparkContext;
use super::launch_env as env;

/// What a Spark program's body returns.
pub type AppResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs a Spark program: `main` gets the context and the program's arguments.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     weft_driver::spark::run(|sc, _args| {
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

/// Executor mode: everything comes from the environment the driver's launcher set.
fn run_executor() -> i32 {
    let conf = var(env::CONF).and_then(|j| SparkConf::from_json(&j).ok()).unwrap_or_default();
    let (Some(driver_url), Some(executor_id)) = (var(env::DRIVER_URL), var(env::EXECUTOR_ID)) else {
        eprintln!("{} and {} must be set in executor mode", env::DRIVER_URL, env::EXECUTOR_ID);
        return 64;
    };
    let cores = var(env::EXECUTOR_CORES).and_then(|c| c.parse().ok()).unwrap_or(1);
    let memory = match executor_memory(&conf) {
        Ok(memory) => memory,
        Err(e) => {
            tracing::error!("executor {executor_id}: {e}");
            eprintln!("executor {executor_id}: {e}");
            return 64;
        }
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
        max_size_in_flight_bytes: conf.reducer_max_size_in_flight_bytes().unwrap_or(48 << 20),
        shuffle_compress: conf.shuffle_compress().unwrap_or(true),
        spill_compress: conf.shuffle_spill_compress().unwrap_or(true),
        heartbeat_interval: Duration::from_millis(conf.executor_heartbeat_interval_ms().unwrap_or(10_000)),
        network_timeout: Duration::from_millis(conf.network_timeout_ms().unwrap_or(120_000)),
        max_result_bytes: conf.driver_max_result_size_bytes().unwrap_or(1 << 30),
    };
    weft_executor::runtime::run(args)
}

/// Spark's unified memory for this executor: (executor memory − 300 MiB) × `spark.memory.fraction`,
/// `spark.memory.storageFraction` of it protected for storage.
fn executor_memory(conf: &SparkConf) -> Result<weft_executor::memory::MemoryConfig, String> {
    let (system_bytes, reserved_bytes) = conf.executor_system_and_reserved_bytes()?;
    Ok(weft_executor::memory::MemoryConfig {
        system_bytes,
        reserved_bytes,
        fraction: conf.memory_fraction()?,
        storage_fraction: conf.memory_storage_fraction()?,
    })
}
