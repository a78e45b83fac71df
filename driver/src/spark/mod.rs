//! The Spark-compatible runtime, driver side: the user API (context, RDDs), the DAG and task
//! schedulers, the executor backends (local child processes, or YARN containers through the
//! application master) and the console progress bar.

pub mod conf;
pub(crate) mod executor_book;
pub mod launch_env;
pub(crate) mod yarn_am;
