//! `weft application -list [-appStates S1,S2|ALL] [-appTypes T] | -status <id> | -kill <id>`.

use std::process::ExitCode;

use clap::ArgGroup;
use weft_config::ClientConfig;
use weft_proto::pb;
use weft_proto::states::AppState;
use weft_proto::ApplicationId;

use super::emit;
use crate::convert;
use crate::error::CliError;
use crate::format::apps;
use crate::query;
use weft_yarn_client::rm::Rm;

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("action").required(true).args(["list", "status", "kill"])))]
pub(crate) struct ApplicationArgs {
    /// List applications: SUBMITTED, ACCEPTED and RUNNING ones unless -appStates says otherwise
    #[arg(long)]
    list: bool,
    /// Print the report of an application
    #[arg(long, value_name = "APPLICATION_ID")]
    status: Option<ApplicationId>,
    /// Kill an application
    #[arg(long, value_name = "APPLICATION_ID")]
    kill: Option<ApplicationId>,
    /// With -list: comma-separated application states, or ALL
    #[arg(long = "appStates", value_name = "STATES", num_args = 1.., requires = "list")]
    app_states: Vec<String>,
    /// With -list: comma-separated application types
    #[arg(long = "appTypes", value_name = "TYPES", num_args = 1.., requires = "list")]
    app_types: Vec<String>,
}

pub(crate) async fn run(args: ApplicationArgs, config: &ClientConfig) -> Result<ExitCode, CliError> {
    if let Some(id) = args.status {
        return status(id, config).await;
    }
    if let Some(id) = args.kill {
        return kill(id, config).await;
    }
    list(&args.app_states, &args.app_types, config).await
}

async fn list(app_states: &[String], app_types: &[String], config: &ClientConfig) -> Result<ExitCode, CliError> {
    let states = query::app_states(app_states)?;
    let types = query::app_types(app_types);
    let mut rm = Rm::connect(&config.rm_address, crate::retry(config)).await?;
    let request = pb::GetApplicationsRequest {
        states: states.iter().map(|s| s.to_string()).collect(),
        queue: String::new(),
        user: String::new(),
        limit: 0,
    };
    let reply = rm.apps.get_applications(request).await.map_err(|s| rm.error("list applications", s))?;
    let apps: Vec<apps::AppReport> = reply
        .into_inner()
        .applications
        .into_iter()
        .filter(|a| query::type_matches(&types, &a.application_type))
        .map(convert::app_report)
        .collect();
    emit(&apps::list(&types, &states, &apps))?;
    Ok(ExitCode::SUCCESS)
}

async fn report(rm: &mut Rm, id: ApplicationId) -> Result<pb::ApplicationReport, CliError> {
    let request = pb::GetApplicationReportRequest { application_id: id.to_string() };
    let action = format!("get the report of {id}");
    let reply = rm.apps.get_application_report(request).await.map_err(|s| rm.error(&action, s))?;
    reply.into_inner().report.ok_or_else(|| CliError::failed(format!("{action}: the ResourceManager sent no report")))
}

async fn status(id: ApplicationId, config: &ClientConfig) -> Result<ExitCode, CliError> {
    let mut rm = Rm::connect(&config.rm_address, crate::retry(config)).await?;
    let report = report(&mut rm, id).await?;
    emit(&apps::status(&convert::app_report(report)))?;
    Ok(ExitCode::SUCCESS)
}

fn is_final(state: &str) -> bool {
    state.parse::<AppState>().is_ok_and(AppState::is_final)
}

/// YARN's message for a kill of an ended application, trailing space included.
fn already_finished(id: ApplicationId) -> String {
    format!("Application {id} has already finished \n")
}

async fn kill(id: ApplicationId, config: &ClientConfig) -> Result<ExitCode, CliError> {
    let mut rm = Rm::connect(&config.rm_address, crate::retry(config)).await?;
    let report = report(&mut rm, id).await?;
    if is_final(&report.state) {
        emit(&already_finished(id))?;
        return Ok(ExitCode::SUCCESS);
    }
    emit(&format!("Killing application {id}\n"))?;
    let request = pb::KillApplicationRequest { application_id: id.to_string(), diagnostics: String::new() };
    let reply = rm.apps.kill_application(request).await.map_err(|s| rm.error(format!("kill {id}"), s))?;
    if reply.into_inner().kill_completed {
        emit(&format!("Killed application {id}\n"))?;
    } else {
        emit(&already_finished(id))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::*;

    fn check(line: &str, expected: &str) {
        let cli = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(format!("{:?}", cli.command).split_once('(').map(|(_, rest)| rest.to_owned()).unwrap(), expected);
    }

    #[test]
    fn yarn_syntax_parses() {
        check(
            "weft application -list -appStates ACCEPTED,RUNNING -appTypes YARN",
            "ApplicationArgs { list: true, status: None, kill: None, app_states: [\"ACCEPTED,RUNNING\"], app_types: [\"YARN\"] })",
        );
        check(
            "weft app --status application_1_0001",
            "ApplicationArgs { list: false, status: Some(ApplicationId { cluster_timestamp: 1, sequence: 1 }), kill: None, app_states: [], app_types: [] })",
        );
    }

    #[test]
    fn a_malformed_id_is_named_before_any_call() {
        let err = parse("weft application -status app_x").unwrap_err();
        assert!(err.contains("app_x") && err.contains("application_<clusterTimestamp>_<sequence>"), "{err}");
        assert!(parse("weft application -kill container_1_0001_01_000001").is_err());
    }

    #[test]
    fn one_action_is_required() {
        assert!(parse("weft application").is_err());
        assert!(parse("weft application -appStates ALL").is_err());
        assert!(parse("weft application -list -kill application_1_0001").is_err());
    }

    #[test]
    fn finished_wording() {
        assert_eq!(
            already_finished(ApplicationId::new(1, 2)),
            "Application application_1_0002 has already finished \n"
        );
        assert!(is_final("KILLED") && is_final("FINISHED") && !is_final("RUNNING") && !is_final("bogus"));
    }
}
