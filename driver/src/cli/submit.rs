//! `weft submit`: spark-submit's flags for the Spark-compatible runtime, which this build does not have
//! yet. The verb exists so scripts and help find it; it fails with exit status 2 and says why.

/// Everything after `submit`, accepted as is: the runtime that would read it is not built.
#[derive(Debug, clap::Args)]
pub(crate) struct SubmitArgs {
    /// spark-submit's flags (--num-executors, --executor-memory, --conf k=v, …), then the application and its args
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    args: Vec<String>,
}

/// Refuses: there is no runtime to hand the arguments to.
pub(crate) fn run(args: SubmitArgs) -> crate::error::CliError {
    tracing::debug!(args = ?args.args, "weft submit: the Spark runtime is not in this build");
    crate::error::CliError::NotBuilt
}
