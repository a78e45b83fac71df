//! `weft shell`, the client side: ask for an application id, refuse asks above the cluster's maximum,
//! stage this executable as the AM's `weft`, submit, then poll the report and print each state change
//! until the application ends. Exits 0 only when the final status is SUCCEEDED.

use std::process::ExitCode;
use std::time::Duration;

use weft_config::ClientConfig;
use weft_proto::{pb, ApplicationId};

use super::plan::{self, ShellPlan};
use super::watch::{self, Watch};
use crate::error::CliError;
use crate::output::emit;
use weft_yarn_client::rm::{submitting_user, Rm};
use weft_yarn_client::staging;

const POLL_INTERVAL: Duration = Duration::from_millis(100);

pub(crate) async fn run(plan: ShellPlan, config: &ClientConfig) -> Result<ExitCode, CliError> {
    let mut rm = Rm::connect(&config.rm_address, crate::retry(config)).await?;
    let (app, maximum) = rm.new_application().await?;
    plan::check_capacity(&plan, maximum)?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(format!("cannot find this program's executable to stage it: {e}")))?;
    let weft = staging::stage(&mut rm, &exe, plan::AM_EXECUTABLE, true).await?;
    submit(&mut rm, app, &plan, weft).await?;
    emit(&format!("Submitted application {app}\n"))?;
    wait(&mut rm, app).await
}

fn submission(app: ApplicationId, plan: &ShellPlan, weft: pb::LocalResource) -> pb::ApplicationSubmissionContext {
    pb::ApplicationSubmissionContext {
        application_id: app.to_string(),
        name: plan.name.clone(),
        queue: plan.queue.clone(),
        application_type: plan::APPLICATION_TYPE.to_owned(),
        user: submitting_user(),
        am_resource: Some(plan.master.into()),
        am_container: Some(pb::ContainerLaunchContext {
            command: plan::am_command(plan),
            environment: Vec::new(),
            local_resources: vec![weft],
            ..Default::default()
        }),
        max_app_attempts: plan.max_app_attempts.map_or(0, |n| i32::try_from(n).unwrap_or(i32::MAX)),
        unmanaged_am: false,
        tags: Vec::new(),
        view_acls: String::new(),
        modify_acls: String::new(),
    }
}

async fn submit(rm: &mut Rm, app: ApplicationId, plan: &ShellPlan, weft: pb::LocalResource) -> Result<(), CliError> {
    let request = pb::SubmitApplicationRequest { context: Some(submission(app, plan, weft)) };
    rm.apps.submit_application(request).await.map_err(|s| rm.error(format!("submit {app}"), s))?;
    Ok(())
}

/// Polls the report every `POLL_INTERVAL`, printing each new state, until the application ends.
async fn wait(rm: &mut Rm, app: ApplicationId) -> Result<ExitCode, CliError> {
    let mut watch = Watch::new(app);
    let mut failing_since = None;
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let request = pb::GetApplicationReportRequest { application_id: app.to_string() };
        let report = match rm.apps.get_application_report(request).await {
            Ok(reply) => reply.into_inner().report,
            Err(status) if weft_yarn_client::rm::transient(&status) && rm.retry.go_on(&mut failing_since) => {
                continue;
            }
            Err(status) => return Err(rm.error(format!("get the report of {app}"), status)),
        };
        failing_since = None;
        let Some(report) = report else { continue };
        if let Some(line) = watch.observe(&report.state) {
            emit(&line)?;
        }
        if watch::is_final(&report.state) {
            emit(&watch::summary(app, &report.state, &report.final_status, &report.diagnostics))?;
            let succeeded = watch::succeeded(&report.final_status);
            return Ok(if succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
    }
}

#[cfg(test)]
mod tests {
    use weft_proto::Resource;

    use super::*;

    #[test]
    fn the_submission_runs_the_staged_weft_as_the_am() {
        let plan = ShellPlan {
            num_containers: 1,
            container: Resource::new(512, 1),
            master: Resource::new(768, 2),
            name: "DistributedShell".into(),
            queue: "default".into(),
            shell_env: Vec::new(),
            max_app_attempts: Some(1),
            command: vec!["true".into()],
        };
        let weft = pb::LocalResource { name: "weft".into(), sha256: "ab".repeat(32), size: 10, executable: true };
        let context = submission(ApplicationId::new(1, 7), &plan, weft.clone());
        assert_eq!(context.application_id, "application_1_0007");
        assert_eq!(context.application_type, "YARN");
        assert_eq!(context.am_resource, Some(pb::Resource { memory_mb: 768, vcores: 2 }));
        assert_eq!(context.max_app_attempts, 1);
        let am = context.am_container.unwrap();
        assert_eq!(am.local_resources, [weft]);
        assert_eq!(&am.command[..2], ["./weft", "shell-am"]);
    }
}
