//! `weft submit`: spark-submit's flags for native Spark-style applications.
//!
//! `properties` reads `--properties-file`; `plan` merges it with `--conf` and the flags into the
//! application's `SparkConf` and checks it; `context` builds the driver's environment and the
//! submission; `report` says what is printed and how `weft submit` exits. Those four are pure. `child`
//! runs the driver as a child process (local master, client mode) and `yarn` talks to the
//! ResourceManager (cluster and client mode).

mod child;
mod context;
pub(crate) mod plan;
mod properties;
mod report;
mod yarn;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;

use weft_config::ClientConfig;
use weft_executor::auth::Secret;

use self::plan::{Flags, Master, SubmitPlan};
use self::yarn::Addresses;
use crate::error::CliError;
use weft_spark::conf::DeployMode;

/// Reads the properties file, plans, checks the binary and the files, then runs the application where
/// its master says.
pub(crate) async fn run(
    mut flags: Flags,
    properties_file: Option<&Path>,
    verbose: bool,
    config: &ClientConfig,
) -> Result<ExitCode, CliError> {
    if let Some(path) = properties_file {
        flags.properties = read_properties(path)?;
    }
    let plan = plan::plan(flags)?;
    check_inputs(&plan)?;
    for warning in &plan.warnings {
        eprintln!("Warning: {warning}");
    }
    if verbose {
        let file = properties_file.map(|p| p.display().to_string());
        eprint!("{}", plan::verbose_report(&plan, file.as_deref()));
    }
    match (&plan.master, plan.deploy_mode) {
        (Master::Local, _) => run_local(&plan).await,
        (master, DeployMode::Cluster) => yarn::run_cluster(&plan, &addresses(master, config)).await,
        (master, DeployMode::Client) => yarn::run_client(&plan, &addresses(master, config)).await,
    }
}

/// A local master: the binary runs here as the driver, and its exit status is `weft submit`'s.
async fn run_local(plan: &SubmitPlan) -> Result<ExitCode, CliError> {
    let env = context::local_env(&plan.conf, secret(plan)?.as_ref());
    let exit = child::run_driver(&plan.binary, &plan.args, &env).await?;
    Ok(ExitCode::from(exit.status()))
}

/// `spark.authenticate`: a fresh secret for this application, `None` when it is off.
fn secret(plan: &SubmitPlan) -> Result<Option<Secret>, CliError> {
    plan.authenticate.then(Secret::generate).transpose().map_err(CliError::failed)
}

fn read_properties(path: &Path) -> Result<Vec<(String, String)>, CliError> {
    let problem = |what: String| CliError::Usage(format!("--properties-file {}: {what}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read it: {e}")))?;
    properties::parse(&text).map_err(problem)
}

/// The binary must be an executable file and each `--files` entry a readable file; every problem is
/// named at once and nothing is submitted then.
fn check_inputs(plan: &SubmitPlan) -> Result<(), CliError> {
    let binary = plan.binary.display();
    let mut problems = Vec::new();
    match std::fs::metadata(&plan.binary) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => {}
        Ok(meta) if meta.is_file() => problems.push(format!("the application binary {binary} is not executable")),
        Ok(_) => problems.push(format!("the application binary {binary} is not a file")),
        Err(e) => problems.push(format!("cannot read the application binary {binary}: {e}")),
    }
    for file in &plan.files {
        let opened = std::fs::File::open(&file.path).and_then(|f| f.metadata());
        match opened {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => problems.push(format!("--files: {} is not a file", file.path.display())),
            Err(e) => problems.push(format!("--files: cannot read {}: {e}", file.path.display())),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::Usage(format!("{}; nothing was submitted", problems.join("; "))))
    }
}

/// `yarn`: the ResourceManager of the configuration. `weft://HOST:PORT`: that client address, and the
/// scheduler on the same host at the configured scheduler port.
fn addresses(master: &Master, config: &ClientConfig) -> Addresses {
    let retry = crate::retry(config);
    let configured = Addresses { rm: config.rm_address.clone(), scheduler: config.rm_scheduler_address.clone(), retry };
    let Master::Weft { address } = master else { return configured };
    let host = address.rsplit_once(':').map_or(address.as_str(), |(host, _)| host);
    let port = configured.scheduler.rsplit_once(':').map_or("8030", |(_, port)| port);
    Addresses { rm: address.clone(), scheduler: format!("{host}:{port}"), retry }
}

#[cfg(test)]
mod tests;
