//! The `weft` commands fail with the YARN client's errors: one type, one map from an error's kind to
//! the process exit status (0 ok, 1 failed, 64 bad usage or configuration).

pub(crate) use weft_yarn_client::{chain, EXIT_FAILURE};
pub use weft_yarn_client::{Error as CliError, EXIT_USAGE};
