//! Weft's Spark library: what a Spark program links. The user API (context, RDDs, shared variables),
//! the entry point [`run`] (the same binary is the driver and, in containers, its executors), the
//! DAG and task schedulers, the executor backends (a local child process, or YARN containers through
//! the application master) and the console progress bar.
//!
//! Pure modules (no I/O; listed in `tests/tests/tidy.rs`): `dag`, `tasks`, `lineage`, `loss`,
//! `progress`, `partitioner`, `conf`, `executor_book`. The cluster is reached through
//! `weft_yarn_client`; tasks run in `weft_executor`.
//!
//! Features: `mimalloc` (default) makes mimalloc the program's global allocator — Spark programs
//! allocate a record at a time on many threads, and glibc's malloc spent more time consolidating
//! arenas than the operators spent computing (measured on WordCount). A program with its own
//! `#[global_allocator]` depends on this crate with `default-features = false`.

mod backend;
pub mod conf;
mod context;
mod dag;
mod entry;
mod error;
mod event_log;
mod events;
pub(crate) mod executor_book;
mod executors;
mod input;
pub mod launch_env;
mod lineage;
mod loss;
mod lz4_block;
pub mod partitioner;
mod progress;
pub mod rdd;
mod shared;
mod status;
mod tasks;
mod ui;
pub(crate) mod yarn_am;

pub use conf::SparkConf;
pub use context::SparkContext;
pub use dag::metrics::StageMetrics;
pub use entry::{run, AppResult};
pub use error::SparkError;
pub use partitioner::{HashPartitioner, Partitioner, RangePartitioner};
pub use rdd::{CoGrouped, Data, Rdd, Records, StorageLevel};
pub use shared::{Accumulator, AccumulatorValue, Broadcast};
/// The running task's context on an executor (`None` on the driver): partition, attempt number, ids.
pub use weft_executor::{current as task_context, TaskContext};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Logs to stderr at `default_level` unless `RUST_LOG` says otherwise; colours only on a terminal.
/// A program that installed its own tracing subscriber first keeps it ([`run`] calls this).
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
