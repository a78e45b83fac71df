//! The `weft` command line: YARN's `application`, `node` and `logs` commands with their syntax and
//! output, the distributed shell (`shell`, with its application master `shell-am`), `submit` with
//! spark-submit's flags, and `hadoop-conf`.
//!
//! Pure modules (listed in `tests/tests/tidy.rs`) do no I/O; the cluster is reached through
//! `weft_yarn_client` (sessions, staging) and `nm_rest` (NodeManagers' log pages), and a Spark
//! application's settings are checked by `weft_spark::conf`, the same code its driver runs.

mod cli;
mod convert;
mod error;
mod format;
mod nm_rest;
mod output;
mod query;
mod shell;
mod submit;

/// How long `weft` keeps trying an unreachable ResourceManager (YARN's connect keys).
pub(crate) fn retry(config: &weft_config::ClientConfig) -> weft_yarn_client::rm::Retry {
    weft_yarn_client::rm::Retry { max_wait: config.connect_max_wait, interval: config.connect_retry_interval }
}

pub use cli::{run, yarn_argv, Cli};
pub use error::{CliError, EXIT_USAGE};
