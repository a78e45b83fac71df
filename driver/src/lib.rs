//! Weft's driver side: the `weft` command line — YARN's `application`, `node` and `logs` commands with
//! their syntax and output, the distributed shell (`shell`, with its application master `shell-am`) and
//! `submit` with spark-submit's flags — and the Spark runtime's driver side ([`spark`]: the RDD API,
//! the DAG and task schedulers, the application master, the examples' `spark::run`).
//!
//! Pure modules (listed in `tests/tests/tidy.rs`) do no I/O; `client`, `staging`, `nm_rest`, the shell's
//! and submit's clients and the Spark backend are the adapters that talk to the cluster.

mod cli;
mod client;
mod convert;
mod error;
mod format;
mod nm_rest;
mod query;
mod shell;
pub mod spark;
mod staging;
mod submit;

pub use cli::{run, yarn_argv, Cli};

/// Spark programs allocate a record at a time on many threads; glibc's malloc spends more time
/// consolidating arenas than the operators spend computing (measured on WordCount). mimalloc is the
/// allocator of every program linked with this crate: `weft` and every Spark application.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub use error::{CliError, EXIT_USAGE};

/// Logs to stderr at `default_level` unless `RUST_LOG` says otherwise; colours only on a terminal.
/// A program that installed its own tracing subscriber first keeps it.
pub fn init_logging(default_level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
