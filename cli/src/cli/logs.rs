//! `weft logs -applicationId <app id> [-containerId <container id>]`: every log file of every container
//! of the application (all attempts, finished containers included), read from the NodeManagers that
//! ran them and printed in `yarn logs`' LOCAL format.

use std::process::ExitCode;

use weft_config::ClientConfig;
use weft_proto::states::ContainerState;
use weft_proto::{pb, ApplicationId, ContainerId};

use super::{emit, emit_bytes};
use crate::error::CliError;
use crate::format::logs::{self, LogFile};
use crate::nm_rest::NmRest;
use weft_yarn_client::rm::Rm;

#[derive(Debug, clap::Args)]
pub(crate) struct LogsArgs {
    /// The application whose container logs to print
    #[arg(long = "applicationId", value_name = "APPLICATION_ID", required = true)]
    application_id: ApplicationId,
    /// Only this container's logs
    #[arg(long = "containerId", value_name = "CONTAINER_ID")]
    container_id: Option<ContainerId>,
}

pub(crate) async fn run(args: LogsArgs, config: &ClientConfig) -> Result<ExitCode, CliError> {
    let app = args.application_id;
    if let Some(container) = args.container_id {
        if container.application() != app {
            return Err(CliError::Usage(format!("container {container} does not belong to application {app}")));
        }
    }
    let mut rm = Rm::connect(&config.rm_address, crate::retry(config)).await?;
    let request = pb::GetContainersRequest { id: app.to_string() };
    let action = format!("list the containers of {app}");
    let reply = rm.apps.get_containers(request).await.map_err(|s| rm.error(&action, s))?;
    let mut containers = reply.into_inner().containers;
    if let Some(wanted) = args.container_id {
        containers.retain(|c| c.container_id == wanted.to_string());
        if containers.is_empty() {
            return Err(CliError::failed(format!("container {wanted} of {app} is not known to the ResourceManager")));
        }
    }
    let nm = NmRest::new().map_err(|e| CliError::failed(format!("cannot build an HTTP client: {e}")))?;
    let mut found_any = false;
    for container in &containers {
        found_any |= print_container(&nm, container).await?;
    }
    if found_any {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::failed(format!("no log of {app} could be read from its NodeManagers")))
    }
}

/// Prints every log file of one container; true when at least one NodeManager answered.
async fn print_container(nm: &NmRest, container: &pb::ContainerReport) -> Result<bool, CliError> {
    let (id, node_id, http) = (&container.container_id, &container.node_id, &container.node_http_address);
    if http.is_empty() {
        eprintln!("Container {id} has no NodeManager web address; its logs cannot be read");
        return Ok(false);
    }
    let running = container.state != ContainerState::COMPLETE.as_str();
    let mut answered = false;
    for file_name in nm.log_files(http, id).await {
        match nm.log_file(http, id, &file_name).await {
            Ok(fetched) if fetched.status == 200 => {
                let log = LogFile {
                    container_id: id,
                    node_id,
                    file_name: &file_name,
                    last_modified: fetched.last_modified.as_deref(),
                    contents: &fetched.body,
                    running,
                };
                emit_bytes(&logs::block(&log))?;
                answered = true;
            }
            Ok(fetched) => {
                let body = String::from_utf8_lossy(&fetched.body);
                emit(&logs::fetch_failed(&file_name, node_id, fetched.status, &body))?;
                answered = true;
            }
            Err(cause) => {
                eprintln!("{}", logs::unreachable(&file_name, id, node_id));
                tracing::debug!(container = %id, node = %node_id, %cause, "log request failed");
            }
        }
    }
    Ok(answered)
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;

    #[test]
    fn yarn_syntax_parses_and_ids_are_checked() {
        assert!(parse("weft logs -applicationId application_1_0001").is_ok());
        assert!(parse("weft logs -applicationId application_1_0001 -containerId container_1_0001_01_000002").is_ok());
        let err = parse("weft logs -applicationId application_1_0001 -containerId c_9").unwrap_err();
        assert!(err.contains("c_9"), "{err}");
        assert!(parse("weft logs").is_err());
    }
}
