//! `weft shell-am`, the distributed shell's application master, inside its AM container: register with
//! the ResourceManager's scheduler, ask for the containers in an allocate loop, start the command in each
//! through its NodeManager, give back surplus grants, and unregister with SUCCEEDED or FAILED once every
//! container has ended. The decisions are `book::Book`'s; this file carries them out and logs each event
//! once. SIGTERM ends it at once.

use std::process::ExitCode;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use weft_proto::pb::application_master_client::ApplicationMasterClient;
use weft_proto::{pb, ContainerId, Resource};

use super::book::{Book, Completion, Grant};
use super::launch::Launcher;
use super::plan::AmSpec;
use crate::client::{call_error, connect, SCHEDULER};
use crate::error::CliError;

/// Allocate interval while containers are asked for, starting or running.
const BUSY_INTERVAL: Duration = Duration::from_millis(100);
const IDLE_INTERVAL: Duration = Duration::from_millis(500);
/// A call that finds the ResourceManager unavailable is retried this many times, this far apart.
pub(crate) const MAX_RETRIES: u32 = 40;
pub(crate) const RETRY_DELAY: Duration = Duration::from_millis(250);
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

/// The AMRM token the launcher put in the environment (hex of an encoded `TokenProto`).
pub(crate) fn amrm_token_from(lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<u8>, String> {
    let name = weft_proto::AMRM_TOKEN_ENV;
    let text = lookup(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        format!("{name} is not set: the application master has no AMRM token to prove its attempt with")
    })?;
    hex::decode(text.trim()).map_err(|e| format!("{name} is not a hex-encoded token: {e}"))
}

/// Sends the attempt's AMRM token with every ApplicationMaster call.
#[derive(Clone)]
pub(crate) struct AmrmToken(tonic::metadata::BinaryMetadataValue);

impl tonic::service::Interceptor for AmrmToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert_bin(weft_proto::AMRM_TOKEN_METADATA, self.0.clone());
        Ok(request)
    }
}

/// A scheduler client whose calls carry `token`.
pub(crate) type AmClient = ApplicationMasterClient<InterceptedService<Channel, AmrmToken>>;

pub(crate) fn am_client(channel: Channel, token: &[u8]) -> AmClient {
    let value = tonic::metadata::BinaryMetadataValue::from_bytes(token);
    ApplicationMasterClient::with_interceptor(channel, AmrmToken(value))
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

/// The attempt's conversation with the scheduler.
struct Session {
    rm: AmClient,
    address: String,
    attempt_id: String,
    response_id: i64,
}

pub(crate) fn retriable(status: &tonic::Status) -> bool {
    matches!(status.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded)
}

impl Session {
    fn error(&self, action: &str, status: tonic::Status) -> CliError {
        call_error(SCHEDULER, &self.address, action, status)
    }

    async fn register(&mut self, host: &str) -> Result<(), CliError> {
        let request = pb::RegisterApplicationMasterRequest {
            attempt_id: self.attempt_id.clone(),
            host: host.to_owned(),
            rpc_port: -1,
            tracking_url: String::new(),
        };
        let reply = self.rm.register_application_master(request).await.map_err(|s| self.error("register", s))?;
        let reply = reply.into_inner();
        let maximum = reply.maximum_capability.map(Resource::from).unwrap_or_default();
        tracing::info!(attempt = %self.attempt_id, queue = %reply.queue, maximum = %maximum.yarn_notation(), "registered");
        Ok(())
    }

    /// One allocate call carrying the book's ask, its releases and its progress.
    async fn allocate(&mut self, book: &mut Book) -> Result<pb::AllocateResponse, CliError> {
        let ask = book.ask();
        let request = pb::AllocateRequest {
            attempt_id: self.attempt_id.clone(),
            response_id: self.response_id,
            asks: vec![pb::ResourceRequest {
                priority: ask.priority,
                capability: Some(ask.capability.into()),
                num_containers: i32::try_from(ask.num_containers).unwrap_or(i32::MAX),
            }],
            releases: book.take_releases().iter().map(ContainerId::to_string).collect(),
            progress: book.progress(),
        };
        let mut retries = 0;
        loop {
            match self.rm.allocate(request.clone()).await {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    self.response_id = reply.response_id;
                    return Ok(reply);
                }
                Err(status) if retriable(&status) && retries < MAX_RETRIES => {
                    retries += 1;
                    tracing::warn!(attempt = %self.attempt_id, error = %status.message(), retries, "allocate failed; retrying");
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Err(status) => return Err(self.error("allocate", status)),
            }
        }
    }

    async fn finish(&mut self, final_status: &str, diagnostics: String) -> Result<(), CliError> {
        let request = pb::FinishApplicationMasterRequest {
            attempt_id: self.attempt_id.clone(),
            final_status: final_status.to_owned(),
            diagnostics,
            tracking_url: String::new(),
        };
        let mut retries = 0;
        loop {
            match self.rm.finish_application_master(request.clone()).await {
                Ok(_) => return Ok(()),
                Err(status) if retriable(&status) && retries < MAX_RETRIES => {
                    retries += 1;
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Err(status) => return Err(self.error("unregister", status)),
            }
        }
    }
}

pub(crate) fn grant(container: pb::Container) -> Option<Grant> {
    let pb::Container {
        container_id,
        node_id,
        node_address,
        node_http_address: _,
        resource,
        priority: _,
        container_token,
        nm_token,
    } = container;
    match container_id.parse::<ContainerId>() {
        Ok(id) => Some(Grant {
            id,
            node_id,
            node_address,
            resource: resource.map(Resource::from).unwrap_or_default(),
            token: container_token,
            nm_token,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "the ResourceManager granted a container with a bad id; ignoring it");
            None
        }
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
async fn start_granted(book: &mut Book, launcher: &Launcher, allocated: Vec<pb::Container>) {
    let taken = book.granted(allocated.into_iter().filter_map(grant).collect());
    for id in &taken.surplus {
        tracing::info!(container = %id, "releasing a surplus container");
    }
    for g in &taken.to_start {
        tracing::info!(container = %g.id, node = %g.node_id, "container allocated; starting the command");
    }
    for (id, result) in launcher.start_all(taken.to_start).await {
        match result {
            Ok(()) => book.started(id),
            Err(message) => {
                tracing::warn!(container = %id, error = %message, "could not start the container");
                book.start_failed(id, message);
            }
        }
    }
}

async fn drive(spec: AmSpec, env: AmEnv) -> Result<ExitCode, CliError> {
    let attempt_id = env.container_id.attempt.to_string();
    let channel = connect(SCHEDULER, &env.scheduler_address).await?;
    let mut session =
        Session { rm: am_client(channel, &env.amrm_token), address: env.scheduler_address, attempt_id, response_id: 0 };
    session.register(&env.nm_host).await?;
    tracing::info!(containers = spec.num_containers, size = %spec.container.yarn_notation(), command = ?spec.command, "asking for containers");
    let mut book = Book::new(spec.num_containers, spec.container, spec.priority);
    let launcher = Launcher { command: spec.command, environment: spec.shell_env, user: env.user };
    loop {
        let reply = session.allocate(&mut book).await?;
        record_completions(&mut book, reply.completed);
        start_granted(&mut book, &launcher, reply.allocated).await;
        if book.is_done() {
            break;
        }
        tokio::time::sleep(if book.is_busy() { BUSY_INTERVAL } else { IDLE_INTERVAL }).await;
    }
    if book.has_releases() {
        session.allocate(&mut book).await?;
    }
    let outcome = book.outcome();
    tracing::info!(final_status = %outcome.final_status, diagnostics = %outcome.diagnostics, "every container has ended; unregistering");
    session.finish(outcome.final_status.as_str(), outcome.diagnostics).await?;
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

    #[test]
    fn grants_with_bad_ids_are_dropped() {
        let container = |id: &str| pb::Container {
            container_id: id.into(),
            node_id: "h:1".into(),
            node_address: "h:1".into(),
            node_http_address: "h:2".into(),
            resource: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
            priority: 1,
            container_token: Vec::new(),
            nm_token: b"nm".to_vec(),
        };
        assert!(grant(container("bogus")).is_none());
        let g = grant(container("container_1_0001_01_000002")).unwrap();
        assert_eq!((g.node_address.as_str(), g.resource), ("h:1", Resource::new(1024, 1)));
        assert_eq!(g.nm_token, b"nm");
    }
}
