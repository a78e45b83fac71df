//! `weft submit` against a ResourceManager. Cluster mode: stage the binary and the files, submit an AM
//! container that runs the binary as the driver, and report until the application ends. Client mode:
//! submit an unmanaged AM, run the binary here as the driver once the attempt exists, then make sure
//! the application ended (killing it if the driver died without unregistering).

use std::process::ExitCode;
use std::time::Duration;

use weft_proto::{pb, ApplicationAttemptId, ApplicationId};

use super::child;
use super::context::{self, ClientDriver};
use super::plan::{self, SubmitPlan};
use super::report::{self, DriverExit, ReportWatch};
use crate::error::CliError;
use crate::output::emit;
use weft_spark::conf::StagedFile;
use weft_yarn_client::rm::{submitting_user, Rm};
use weft_yarn_client::staging;

const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a client-mode application gets to reach a final state after its driver exits.
const CLIENT_FINISH_WAIT: Duration = Duration::from_secs(10);

/// The ResourceManager's services a submission uses, `host:port` each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addresses {
    pub(crate) rm: String,
    pub(crate) scheduler: String,
    /// How long an unreachable ResourceManager is tried again.
    pub(crate) retry: weft_yarn_client::rm::Retry,
}

/// Cluster mode: the driver runs in the AM container. Exits 0 only for SUCCEEDED.
pub(crate) async fn run_cluster(plan: &SubmitPlan, addresses: &Addresses) -> Result<ExitCode, CliError> {
    let mut rm = Rm::connect(&addresses.rm, addresses.retry).await?;
    let app = new_application(&mut rm, plan).await?;
    let (binary, files) = stage(&mut rm, plan).await?;
    let conf = context::driver_conf(plan, &files);
    let secret = super::secret(plan)?;
    let context = context::cluster_submission(app, plan, &conf, &binary, &files, submitting_user(), secret.as_ref());
    submit(&mut rm, app, context).await?;
    let mut poller = Poller::new(app);
    let report = poller.until(&mut rm, |r| report::is_final(&r.state)).await?;
    let status = if report::succeeded(&report.final_status) { 0 } else { 1 };
    Ok(finish(app, &report, status))
}

/// Client mode: the driver runs here as the unmanaged AM. Exits 0 only when the driver exited 0 and
/// the application SUCCEEDED.
pub(crate) async fn run_client(plan: &SubmitPlan, addresses: &Addresses) -> Result<ExitCode, CliError> {
    let mut rm = Rm::connect(&addresses.rm, addresses.retry).await?;
    let app = new_application(&mut rm, plan).await?;
    let (binary, files) = stage(&mut rm, plan).await?;
    submit(&mut rm, app, context::client_submission(app, plan, &binary, &files, submitting_user())).await?;
    let mut poller = Poller::new(app);
    let report = poller.until(&mut rm, |r| !r.current_attempt_id.is_empty() || report::is_final(&r.state)).await?;
    if report::is_final(&report.state) {
        return Ok(finish(app, &report, 1));
    }
    let attempt = report
        .current_attempt_id
        .parse::<ApplicationAttemptId>()
        .map_err(|e| CliError::failed(format!("the ResourceManager reported a bad attempt id for {app}: {e}")))?;
    if report.am_rm_token.is_empty() {
        let message = format!("the ResourceManager gave no AMRM token for the unmanaged AM of {app}");
        kill(&mut rm, app, &message).await?;
        return Err(CliError::failed(message));
    }
    let driver = ClientDriver {
        app,
        attempt,
        rm_address: addresses.rm.clone(),
        scheduler_address: addresses.scheduler.clone(),
        amrm_token: report.am_rm_token.clone(),
    };
    let secret = super::secret(plan)?;
    let env = context::client_env(&context::driver_conf(plan, &files), &binary, &driver, secret.as_ref());
    let exit = match child::run_driver(&plan.binary, &plan.args, &env).await {
        Ok(exit) => exit,
        Err(e) => {
            kill(&mut rm, app, &format!("the client-mode driver did not start: {e}")).await?;
            return Err(e);
        }
    };
    let report = settle(&mut rm, &mut poller, exit).await?;
    Ok(finish(app, &report, report::client_exit_status(exit, &report.final_status)))
}

/// After the driver exits: the final report, killing the application first if it is still running
/// when `CLIENT_FINISH_WAIT` is up (the driver ended without unregistering).
async fn settle(rm: &mut Rm, poller: &mut Poller, exit: DriverExit) -> Result<pb::ApplicationReport, CliError> {
    let finished = tokio::time::timeout(CLIENT_FINISH_WAIT, poller.until(rm, |r| report::is_final(&r.state))).await;
    if let Ok(report) = finished {
        return report;
    }
    let diagnostics = report::unregistered_kill_diagnostics(exit);
    eprintln!("weft: {}; killing application {}", diagnostics.replace("; killed by weft submit", ""), poller.app);
    kill(rm, poller.app, &diagnostics).await?;
    poller.until(rm, |r| report::is_final(&r.state)).await
}

/// Prints the outcome on stdout and turns `status` into the exit code.
fn finish(app: ApplicationId, report: &pb::ApplicationReport, status: u8) -> ExitCode {
    let text = report::summary(app, &report.state, &report.final_status, &report.diagnostics);
    if let Err(e) = emit(&text) {
        eprintln!("weft: {e}");
    }
    ExitCode::from(status)
}

/// Asks for an application id and refuses asks above the cluster's maximum before anything is staged.
async fn new_application(rm: &mut Rm, plan: &SubmitPlan) -> Result<ApplicationId, CliError> {
    let (app, maximum) = rm.new_application().await?;
    plan::check_capacity(plan, maximum)?;
    Ok(app)
}

/// Stages the binary (executable, under its file name) and each `--files` entry under its name.
async fn stage(rm: &mut Rm, plan: &SubmitPlan) -> Result<(StagedFile, Vec<StagedFile>), CliError> {
    let binary = staging::stage(rm, &plan.binary, &plan.binary_name, true).await?;
    let mut files = Vec::with_capacity(plan.files.len());
    for file in &plan.files {
        files.push(staging::stage(rm, &file.path, &file.name, false).await?.into());
    }
    Ok((binary.into(), files))
}

async fn submit(rm: &mut Rm, app: ApplicationId, context: pb::ApplicationSubmissionContext) -> Result<(), CliError> {
    let request = pb::SubmitApplicationRequest { context: Some(context) };
    rm.apps.submit_application(request).await.map_err(|s| rm.error(format!("submit {app}"), s))?;
    eprintln!("Submitted application {app}");
    Ok(())
}

async fn kill(rm: &mut Rm, app: ApplicationId, diagnostics: &str) -> Result<(), CliError> {
    let request = pb::KillApplicationRequest { application_id: app.to_string(), diagnostics: diagnostics.to_owned() };
    rm.apps.kill_application(request).await.map_err(|s| rm.error(format!("kill {app}"), s))?;
    Ok(())
}

/// Polls an application's report every `POLL_INTERVAL`, printing each new state on stderr.
struct Poller {
    app: ApplicationId,
    watch: ReportWatch,
    ticks: tokio::time::Interval,
}

impl Poller {
    fn new(app: ApplicationId) -> Poller {
        let mut ticks = tokio::time::interval(POLL_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Poller { app, watch: ReportWatch::new(app), ticks }
    }

    /// The first report that satisfies `done`; a ResourceManager that is briefly unreachable is retried.
    async fn until(
        &mut self,
        rm: &mut Rm,
        done: impl Fn(&pb::ApplicationReport) -> bool,
    ) -> Result<pb::ApplicationReport, CliError> {
        let mut failing_since = None;
        loop {
            self.ticks.tick().await;
            let request = pb::GetApplicationReportRequest { application_id: self.app.to_string() };
            let report = match rm.apps.get_application_report(request).await {
                Ok(reply) => reply.into_inner().report,
                Err(status) if weft_yarn_client::rm::transient(&status) && rm.retry.go_on(&mut failing_since) => {
                    continue;
                }
                Err(status) => return Err(rm.error(format!("get the report of {}", self.app), status)),
            };
            failing_since = None;
            let Some(report) = report else { continue };
            if let Some(line) = self.watch.observe(&report.state) {
                eprint!("{line}");
            }
            if done(&report) {
                return Ok(report);
            }
        }
    }
}
