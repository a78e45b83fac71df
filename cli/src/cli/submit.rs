//! `weft submit [--master M] [--deploy-mode client|cluster] [--name N] [--queue Q] [--num-executors N]
//! [--executor-memory SIZE] [--executor-cores N] [--driver-memory SIZE] [--driver-cores N]
//! [--conf K=V]… [--properties-file FILE] [--files F1,F2] [--verbose] APP [ARGS…]`: spark-submit's
//! flags (`facts/spark.md` §7). Everything after the application binary is the application's.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::value_parser;
use weft_config::ClientConfig;

use super::{key_value, memory_mb};
use crate::error::CliError;
use crate::submit::plan::Flags;

#[derive(Debug, clap::Args)]
#[command(args_override_self = true)]
pub(crate) struct SubmitArgs {
    /// Where to run: weft://HOST:PORT (a ResourceManager's client address), yarn (the ResourceManager
    /// of --config), local, local[N] or local[*] [default: local[*]]
    #[arg(long, value_name = "MASTER")]
    master: Option<String>,
    /// client: the driver runs here; cluster: in the application master's container [default: client]
    #[arg(long = "deploy-mode", value_name = "MODE")]
    deploy_mode: Option<String>,
    /// Application name (spark.app.name) [default: the binary's file name]
    #[arg(long)]
    name: Option<String>,
    /// Queue to submit to (spark.yarn.queue) [default: default]
    #[arg(long)]
    queue: Option<String>,
    /// Executors to start (spark.executor.instances) [default: 2]
    #[arg(long = "num-executors", value_name = "N", allow_negative_numbers = true,
          value_parser = value_parser!(u32).range(0..i64::from(i32::MAX)))]
    num_executors: Option<u32>,
    /// Memory per executor: 512m, 4g, or MiB (spark.executor.memory) [default: 1g]
    #[arg(long = "executor-memory", value_name = "SIZE", value_parser = size)]
    executor_memory: Option<String>,
    /// Cores per executor (spark.executor.cores) [default: 1]
    #[arg(long = "executor-cores", value_name = "N", allow_negative_numbers = true,
          value_parser = value_parser!(u32).range(1..i64::from(i32::MAX)))]
    executor_cores: Option<u32>,
    /// Memory of the driver (spark.driver.memory) [default: 1g]
    #[arg(long = "driver-memory", value_name = "SIZE", value_parser = size)]
    driver_memory: Option<String>,
    /// Cores of the driver in cluster mode (spark.driver.cores) [default: 1]
    #[arg(long = "driver-cores", value_name = "N", allow_negative_numbers = true,
          value_parser = value_parser!(u32).range(1..i64::from(i32::MAX)))]
    driver_cores: Option<u32>,
    /// A Spark property, KEY=VALUE; repeatable
    #[arg(long, short = 'c', value_name = "KEY=VALUE", value_parser = key_value, action = clap::ArgAction::Append)]
    conf: Vec<(String, String)>,
    /// A file of Spark properties (`key value` or `key=value` lines); --conf and the flags override it
    #[arg(long = "properties-file", value_name = "FILE")]
    properties_file: Option<PathBuf>,
    /// Comma-separated files placed in the working directory of the driver (cluster mode) and of each
    /// executor; `path#name` renames one
    #[arg(long, value_name = "FILES")]
    files: Option<String>,
    /// Print the arguments and every Spark property before running
    #[arg(long, short = 'v')]
    verbose: bool,
    /// The application binary, then its arguments
    #[arg(value_name = "APP", required = true, num_args = 1.., trailing_var_arg = true)]
    app: Vec<String>,
}

/// A memory flag in Spark's spellings, checked and kept as written (it becomes the key's value).
fn size(text: &str) -> Result<String, String> {
    memory_mb(text).map(|_| text.to_owned())
}

impl SubmitArgs {
    fn into_flags(self) -> (Flags, Option<PathBuf>, bool) {
        let mut app = self.app.into_iter();
        let binary = app.next().expect("clap requires the application binary");
        let flags = Flags {
            master: self.master,
            deploy_mode: self.deploy_mode,
            name: self.name,
            queue: self.queue,
            num_executors: self.num_executors,
            executor_memory: self.executor_memory,
            executor_cores: self.executor_cores,
            driver_memory: self.driver_memory,
            driver_cores: self.driver_cores,
            conf: self.conf,
            properties: Vec::new(),
            files: self.files,
            binary,
            args: app.collect(),
        };
        (flags, self.properties_file, self.verbose)
    }
}

/// Runs the application: locally, or on the cluster in client or cluster mode.
pub(crate) async fn run(args: SubmitArgs, config: &ClientConfig) -> Result<ExitCode, CliError> {
    let (flags, properties_file, verbose) = args.into_flags();
    crate::submit::run(flags, properties_file.as_deref(), verbose, config).await
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::Command;
    use super::*;

    fn flags(line: &str) -> Result<Flags, String> {
        match parse(line)?.command {
            Command::Submit(args) => Ok(args.into_flags().0),
            other => panic!("{line} parsed as {other:?}"),
        }
    }

    #[test]
    fn spark_submits_flags() {
        let f = flags(
            "weft submit --master yarn --deploy-mode cluster --name wc --queue q --num-executors 4 \
             --executor-memory 4g --executor-cores 2 --driver-memory 2g --driver-cores 3 \
             --conf spark.a=1 -c spark.b=x=y --files a.txt,b.txt app.bin in.txt --verbose -c k=v",
        )
        .unwrap();
        assert_eq!(
            (f.master.as_deref(), f.deploy_mode.as_deref(), f.name.as_deref(), f.queue.as_deref()),
            (Some("yarn"), Some("cluster"), Some("wc"), Some("q"))
        );
        assert_eq!((f.num_executors, f.executor_cores, f.driver_cores), (Some(4), Some(2), Some(3)));
        assert_eq!((f.executor_memory.as_deref(), f.driver_memory.as_deref()), (Some("4g"), Some("2g")));
        assert_eq!(f.conf, [("spark.a".into(), "1".into()), ("spark.b".into(), "x=y".into())]);
        assert_eq!(f.files.as_deref(), Some("a.txt,b.txt"));
        assert_eq!(f.binary, "app.bin");
        assert_eq!(f.args, ["in.txt", "--verbose", "-c", "k=v"], "everything after the binary is the app's");
    }

    #[test]
    fn the_last_of_a_repeated_flag_wins_as_in_spark_submit() {
        let f =
            flags("weft submit --master local --master yarn --executor-memory 1g --executor-memory 2g app").unwrap();
        assert_eq!((f.master.as_deref(), f.executor_memory.as_deref()), (Some("yarn"), Some("2g")));
    }

    fn refused(line: &str, needles: &[&str]) {
        let err = flags(line).unwrap_err();
        for needle in needles {
            assert!(err.contains(needle), "{line}: {needle} not in {err}");
        }
    }

    #[test]
    fn bad_flags_name_the_flag_and_the_value() {
        refused("weft submit --executor-memory 1.5g app", &["--executor-memory", "1.5g", "fractional"]);
        refused("weft submit --driver-memory 12x app", &["--driver-memory", "12x"]);
        refused("weft submit --num-executors -1 app", &["--num-executors", "-1"]);
        refused("weft submit --executor-cores 0 app", &["--executor-cores", "0"]);
        refused("weft submit --conf novalue app", &["--conf", "novalue"]);
        refused("weft submit --master yarn", &["APP"]);
    }
}
