//! The `weft` command line: clap definitions, one file per verb, and the dispatcher.
//!
//! `application`, `node` and `logs` take YARN's syntax and print YARN's formats; `shell` is YARN's
//! distributed shell and `shell-am` (hidden) its application master; `submit` takes spark-submit's
//! flags and runs a Spark-style application.

mod application;
mod argv;
mod hadoop_conf;
mod logs;
mod node;
mod shell;
mod shell_am;
mod submit;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weft_config::ClientConfig;

pub use argv::yarn_argv;

use crate::error::CliError;
use crate::output::{emit, emit_bytes};

/// Command line of `weft`.
#[derive(Debug, Parser)]
#[command(
    name = "weft",
    version,
    about = "Client of a Weft cluster: YARN's application, node and logs commands, the distributed shell, spark-submit",
    after_help = "YARN's single-dash options work too: `weft application -list -appStates ALL`."
)]
pub struct Cli {
    /// Flat YAML file of YARN keys; weft reads yarn.resourcemanager.address and
    /// yarn.resourcemanager.webapp.address from it (YARN's defaults without it)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List applications, print one's status, or kill one (`yarn application`)
    #[command(visible_alias = "app")]
    Application(application::ApplicationArgs),
    /// List the cluster's nodes (`yarn node`)
    Node(node::NodeArgs),
    /// Print the stdout/stderr of an application's containers (`yarn logs`)
    Logs(logs::LogsArgs),
    /// Run a command in N containers and wait for them (YARN's distributed shell)
    Shell(shell::ShellArgs),
    /// The distributed shell's application master; runs inside the AM container
    #[command(name = "shell-am", hide = true)]
    ShellAm(shell_am::ShellAmArgs),
    /// Run a Spark-style application with spark-submit's flags, locally or on the cluster
    Submit(submit::SubmitArgs),
    /// Write the yarn-site.xml and core-site.xml that Hadoop clients (spark-submit) need for this cluster
    #[command(name = "hadoop-conf")]
    HadoopConf(hadoop_conf::HadoopConfArgs),
}

impl Cli {
    /// The default log level: the application master reports what it does, the client stays quiet.
    pub fn default_log_level(&self) -> &'static str {
        match self.command {
            Command::ShellAm(_) => "info",
            _ => "warn",
        }
    }
}

/// Runs the parsed command against the cluster that `config` names.
pub async fn run(cli: Cli, config: &ClientConfig) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Application(args) => application::run(args, config).await,
        Command::Node(args) => node::run(args, config).await,
        Command::Logs(args) => logs::run(args, config).await,
        Command::Shell(args) => crate::shell::client::run(args.into_plan(), config).await,
        Command::ShellAm(args) => crate::shell::am::run(args.into_spec()).await,
        Command::Submit(args) => submit::run(args, config).await,
        Command::HadoopConf(args) => hadoop_conf::run(args, config).await,
    }
}

/// Parses a memory size in Spark's and YARN's spellings (`512m`, `4g`, `4096` = MiB) into MiB.
pub(crate) fn memory_mb(text: &str) -> Result<i64, String> {
    match weft_config::size::parse_mb(text) {
        Ok(0) => Err("a container needs at least 1 MiB".to_owned()),
        Ok(mb) => Ok(mb),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses `KEY=VALUE` for `--shell-env`.
pub(crate) fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE with a non-empty KEY".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a command line as `weft` does (pre-pass, then clap); the error text when it fails.
    pub(super) fn parse(line: &str) -> Result<Cli, String> {
        let args = line.split(' ').map(std::ffi::OsString::from);
        Cli::try_parse_from(yarn_argv(args)).map_err(|e| e.to_string())
    }

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_and_pairs() {
        assert_eq!(memory_mb("512m"), Ok(512));
        assert_eq!(memory_mb("4g"), Ok(4096));
        assert_eq!(memory_mb("4096"), Ok(4096));
        assert!(memory_mb("12x").unwrap_err().contains("\"12x\""));
        assert!(memory_mb("1.5g").unwrap_err().contains("fractional"));
        assert!(memory_mb("0").is_err());
        assert_eq!(key_value("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert_eq!(key_value("A="), Ok(("A".into(), String::new())));
        assert!(key_value("=x").is_err() && key_value("AB").is_err());
    }

    #[test]
    fn submit_is_listed_and_takes_sparks_flags() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("submit"), "{help}");
        assert!(!help.contains("shell-am"), "the AM stays hidden: {help}");
        let cli = parse("weft submit --num-executors 4 --executor-memory 4g app.bin arg").unwrap();
        assert!(matches!(cli.command, Command::Submit(_)));
    }

    #[test]
    fn config_goes_before_the_verb() {
        let cli = parse("weft --config /etc/weft/client.yaml node -list").unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("/etc/weft/client.yaml")));
        assert_eq!(cli.default_log_level(), "warn");
    }
}
