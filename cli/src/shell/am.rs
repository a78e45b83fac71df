//! `weft shell-am`, the distributed shell's application master, inside its AM container: register with
//! the ResourceManager's scheduler, ask for the containers in an allocate loop, start the command in each
//! through its NodeManager, give back surplus grants, and unregister with SUCCEEDED or FAILED once every
//! container has ended. The decisions are `book::Book`'s; this file carries them out and logs each event
//! once. SIGTERM ends it at once.

use std::process::ExitCode;
use std::time::Duration;

use weft_proto::{pb, ContainerId};
use weft_yarn_client::am::{amrm_token_from, AmSession, Registration};
use weft_yarn_client::grant::grant;
use weft_yarn_client::nm_tokens::NmTokens;

use super::book::{Book, Completion};
use super::launch::Launcher;
use super::plan::AmSpec;
use crate::error::CliError;

/// Allocate interval while containers are asked for, starting or running.
const BUSY_INTERVAL: Duration = Duration::from_millis(100);
const IDLE_INTERVAL: Duration = Duration::from_millis(500);
/// 128 + SIGTERM, as a shell reports a process ended by it.
const EXIT_SIGTERM: u8 = 143;

/// What the ResourceManager's launcher and the NodeManager put in the AM container's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AmEnv {
    pub(crate) container_id: ContainerId,
    pub(crate) scheduler_address: String,
    pub(crate) nm_host: String,
    pub(crate) user: String,
    /// The attempt's AMRM token (an encoded `TokenProto`), sent with every scheduler call.
    pub(crate) amrm_token: Vec<u8>,
}

impl AmEnv {
    /// Reads the environment through `lookup`; a missing or malformed variable is named.
    pub(crate) fn read(lookup: impl Fn(&str) -> Option<String>) -> Result<AmEnv, CliError> {
        let required = |name: &str| {
            lookup(name).filter(|v| !v.is_empty()).ok_or_else(|| {
                CliError::Usage(format!(
                    "{name} is not set: `weft shell-am` runs inside an application master container"
                ))
            })
        };
        let container_id = required("CONTAINER_ID")?
            .parse::<ContainerId>()
            .map_err(|e| CliError::Usage(format!("CONTAINER_ID: {e}")))?;
        Ok(AmEnv {
            container_id,
            scheduler_address: required("WEFT_RM_SCHEDULER_ADDRESS")?,
            nm_host: lookup("NM_HOST").unwrap_or_default(),
            user: lookup("USER").unwrap_or_default(),
            amrm_token: amrm_token_from(&lookup).map_err(CliError::Usage)?,
        })
    }
}

pub(crate) async fn run(spec: AmSpec) -> Result<ExitCode, CliError> {
    let env = AmEnv::read(|name| std::env::var(name).ok())?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| CliError::failed(format!("cannot watch for SIGTERM: {e}")))?;
    let attempt = env.container_id.attempt;
    tokio::select! {
        _ = sigterm.recv() => {
            tracing::info!(%attempt, "SIGTERM received; the application master exits");
            Ok(ExitCode::from(EXIT_SIGTERM))
        }
        result = drive(spec, env) => result,
    }
}

/// Hands completions to the book and logs what each meant.
fn record_completions(book: &mut Book, completed: Vec<pb::ContainerStatus>) {
    for status in completed {
        let Ok(id) = status.container_id.parse::<ContainerId>() else {
            tracing::warn!(container = %status.container_id, "completion for a container with a bad id; ignoring it");
            continue;
        };
        let exit_status = status.exit_status;
        match book.completed(id, exit_status, &status.diagnostics) {
            Completion::Succeeded => tracing::info!(container = %id, exit_status, "container completed"),
            Completion::Failed => {
                tracing::warn!(container = %id, exit_status, diagnostics = %status.diagnostics, "container failed")
            }
            Completion::Replaced => tracing::warn!(
                container = %id, exit_status, diagnostics = %status.diagnostics,
                "container aborted (node lost or shut down); asking for a replacement"
            ),
            Completion::Ignored => tracing::debug!(container = %id, exit_status, "completion of a released container"),
        }
    }
}

/// Takes the grants the book needs, starts the command in them, and records how the starts went.
async fn start_granted(book: &mut Book, launcher: &Launcher, nm_tokens: &NmTokens, allocated: Vec<pb::Container>) {
    let taken = book.granted(allocated.into_iter().filter_map(grant).collect());
    for id in &taken.surplus {
        tracing::info!(container = %id, "releasing a surplus container");
    }
    for g in &taken.to_start {
        tracing::info!(container = %g.id, node = %g.node_id, "container allocated; starting the command");
    }
    for (id, result) in launcher.start_all(nm_tokens, taken.to_start).await {
        match result {
            Ok(()) => book.started(id),
            Err(message) => {
                tracing::warn!(container = %id, error = %message, "could not start the container");
                book.start_failed(id, message);
            }
        }
    }
}

/// One allocate call carrying the book's ask, its releases and its progress.
async fn allocate(session: &mut AmSession, book: &mut Book) -> Result<pb::AllocateResponse, CliError> {
    session.allocate(book.ask(), &book.take_releases(), book.progress()).await
}

async fn drive(spec: AmSpec, env: AmEnv) -> Result<ExitCode, CliError> {
    let registration = Registration {
        scheduler_address: env.scheduler_address,
        attempt_id: env.container_id.attempt,
        amrm_token: env.amrm_token,
        host: env.nm_host,
        rpc_port: -1,
        tracking_url: String::new(),
    };
    let (mut session, _) = AmSession::register(&registration).await?;
    tracing::info!(containers = spec.num_containers, size = %spec.container.yarn_notation(), command = ?spec.command, "asking for containers");
    let mut book = Book::new(spec.num_containers, spec.container, spec.priority);
    let launcher = Launcher { command: spec.command, environment: spec.shell_env, user: env.user };
    loop {
        let reply = allocate(&mut session, &mut book).await?;
        record_completions(&mut book, reply.completed);
        start_granted(&mut book, &launcher, session.nm_tokens(), reply.allocated).await;
        if book.is_done() {
            break;
        }
        tokio::time::sleep(if book.is_busy() { BUSY_INTERVAL } else { IDLE_INTERVAL }).await;
    }
    if book.has_releases() {
        allocate(&mut session, &mut book).await?;
    }
    let outcome = book.outcome();
    tracing::info!(final_status = %outcome.final_status, diagnostics = %outcome.diagnostics, "every container has ended; unregistering");
    session.finish(outcome.final_status.as_str(), &outcome.diagnostics, "").await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<AmEnv, String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        AmEnv::read(|name| map.get(name).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_attempt_comes_from_container_id() {
        let env = read(&[
            ("CONTAINER_ID", "container_e02_1700000000000_0042_02_000001"),
            ("WEFT_RM_SCHEDULER_ADDRESS", "127.0.0.1:8030"),
            ("NM_HOST", "node1"),
            ("USER", "alice"),
            ("WEFT_AMRM_TOKEN", "0a02"),
        ])
        .unwrap();
        assert_eq!(env.container_id.attempt.to_string(), "appattempt_1700000000000_0042_000002");
        assert_eq!(env.amrm_token, [0x0a, 0x02]);
        assert_eq!(
            (env.scheduler_address.as_str(), env.nm_host.as_str(), env.user.as_str()),
            ("127.0.0.1:8030", "node1", "alice")
        );
    }

    #[test]
    fn missing_or_bad_variables_are_named() {
        let err = read(&[("WEFT_RM_SCHEDULER_ADDRESS", "h:1")]).unwrap_err();
        assert!(err.starts_with("CONTAINER_ID is not set"), "{err}");
        let err = read(&[("CONTAINER_ID", "container_x"), ("WEFT_RM_SCHEDULER_ADDRESS", "h:1")]).unwrap_err();
        assert!(err.contains("container_x"), "{err}");
        let err = read(&[("CONTAINER_ID", "container_1_0001_01_000001")]).unwrap_err();
        assert!(err.starts_with("WEFT_RM_SCHEDULER_ADDRESS is not set"), "{err}");
        let scheduler = ("WEFT_RM_SCHEDULER_ADDRESS", "h:1");
        let err = read(&[("CONTAINER_ID", "container_1_0001_01_000001"), scheduler]).unwrap_err();
        assert!(err.starts_with("WEFT_AMRM_TOKEN is not set"), "{err}");
        let err =
            read(&[("CONTAINER_ID", "container_1_0001_01_000001"), scheduler, ("WEFT_AMRM_TOKEN", "zz")]).unwrap_err();
        assert!(err.starts_with("WEFT_AMRM_TOKEN is not a hex-encoded token"), "{err}");
    }
}
