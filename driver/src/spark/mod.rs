//! The Spark-compatible runtime, driver side: the user API (context, RDDs, shared variables), the
//! DAG and task schedulers, the executor backends (a local child process, or YARN containers through
//! the application master) and the console progress bar.
//!
//! Pure modules (no I/O): `dag`, `tasks`, `progress`, `partitioner`, `conf`, `executor_book`.

mod backend;
pub mod conf;
mod context;
mod dag;
mod entry;
mod error;
pub(crate) mod executor_book;
mod executors;
mod input;
pub mod launch_env;
mod lineage;
mod loss;
pub mod partitioner;
mod progress;
pub mod rdd;
mod shared;
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
