//! Connections to the ResourceManager's and NodeManagers' gRPC services. Every failure names the
//! service and the address it tried, e.g. `cannot reach the ResourceManager at 127.0.0.1:8032: …`.

use std::fmt::Display;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};
use weft_proto::pb::application_client_client::ApplicationClientClient;
use weft_proto::pb::staging_client::StagingClient;

use weft_proto::{pb, ApplicationId, Resource};

use crate::error::{chain, Error};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Replies such as an application list are not limited by tonic's 4 MiB default.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// HTTP/2 flow-control windows and the largest frame this side accepts: an allocate reply to a large
/// ask carries thousands of containers (about 400 bytes each), and with HTTP/2's defaults it arrives
/// in 16 KiB frames, paused for a window update every couple of MiB.
const STREAM_WINDOW_BYTES: u32 = 16 * 1024 * 1024;
const CONNECTION_WINDOW_BYTES: u32 = 32 * 1024 * 1024;
const MAX_FRAME_BYTES: u32 = 1024 * 1024;

pub const RESOURCE_MANAGER: &str = "ResourceManager";
pub const SCHEDULER: &str = "ResourceManager's scheduler";
pub const NODE_MANAGER: &str = "NodeManager";

/// Opens a channel to `address` (`host:port`).
pub async fn connect(service: &'static str, address: &str) -> Result<Channel, Error> {
    let unreachable = |cause: String| Error::Unreachable { service, address: address.to_owned(), cause };
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| unreachable(chain(&e)))?
        .connect_timeout(CONNECT_TIMEOUT)
        .initial_stream_window_size(STREAM_WINDOW_BYTES)
        .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
        .max_frame_size(MAX_FRAME_BYTES);
    endpoint.connect().await.map_err(|e| unreachable(chain(&e)))
}

/// Whether a failed call may succeed when sent again: the service was unreachable, too slow, or the
/// connection broke under the call (a ResourceManager stopping for a restart closes it). Every call
/// Weft's clients retry this way is idempotent: asks are absolute, releases and finishes repeat
/// harmlessly, reports are reads.
pub fn transient(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => true,
        tonic::Code::Unknown => std::error::Error::source(status).is_some_and(|e| e.is::<tonic::transport::Error>()),
        _ => false,
    }
}

/// Turns a failed call into an error that names the action, or the address when the service went away.
pub fn call_error(service: &'static str, address: &str, action: impl Display, status: tonic::Status) -> Error {
    match status.code() {
        tonic::Code::Unavailable => {
            Error::Unreachable { service, address: address.to_owned(), cause: status.message().to_owned() }
        }
        _ if transient(&status) => Error::Unreachable {
            service,
            address: address.to_owned(),
            cause: format!("the connection broke during the call: {}", chain(&status)),
        },
        code => Error::Remote { action: action.to_string(), code, message: status.message().to_owned() },
    }
}

/// Names the calling user on every call (`weft-user`), as Hadoop's client names it in its
/// connection context: the ResourceManager decides kills and report details by it when ACLs are on.
#[derive(Clone)]
pub struct AsUser(Option<MetadataValue<Ascii>>);

impl AsUser {
    fn current() -> AsUser {
        AsUser(submitting_user().parse().ok())
    }
}

impl Interceptor for AsUser {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(user) = &self.0 {
            request.metadata_mut().insert(weft_proto::USER_METADATA, user.clone());
        }
        Ok(request)
    }
}

/// How long an unreachable ResourceManager is tried again, and how often
/// (`yarn.resourcemanager.connect.max-wait.ms`, `…connect.retry-interval.ms`): a restart or an
/// upgrade of the ResourceManager does not fail the clients waiting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub max_wait: Duration,
    pub interval: Duration,
}

impl Retry {
    /// One try.
    pub const NEVER: Retry = Retry { max_wait: Duration::ZERO, interval: Duration::from_millis(100) };

    /// Whether a failure `elapsed` after the first try leaves time for another.
    pub fn again(&self, elapsed: Duration) -> bool {
        elapsed + self.interval <= self.max_wait
    }

    /// For a loop that polls every so often: whether to go on after a failure; `since` holds when
    /// the failures began (the caller clears it after a success).
    pub fn go_on(&self, since: &mut Option<tokio::time::Instant>) -> bool {
        let began = *since.get_or_insert_with(tokio::time::Instant::now);
        began.elapsed() <= self.max_wait
    }
}

/// The ResourceManager's client port: application reports and staging share one connection.
pub struct Rm {
    pub apps: ApplicationClientClient<InterceptedService<Channel, AsUser>>,
    pub staging: StagingClient<Channel>,
    /// The staging token GetNewApplication answered with: staging calls carry it.
    pub staging_token: Option<Vec<u8>>,
    address: String,
    pub retry: Retry,
}

impl Rm {
    /// Connects, trying again while the ResourceManager is unreachable, as `retry` allows; the
    /// first failure is logged once with how long it will be tried.
    pub async fn connect(address: &str, retry: Retry) -> Result<Rm, Error> {
        let started = tokio::time::Instant::now();
        let channel = loop {
            match connect(RESOURCE_MANAGER, address).await {
                Ok(channel) => break channel,
                Err(error) if retry.again(started.elapsed()) => {
                    if started.elapsed() < retry.interval {
                        tracing::warn!("{error}; retrying every {:?} for up to {:?}", retry.interval, retry.max_wait);
                    }
                    tokio::time::sleep(retry.interval).await;
                }
                Err(error) => return Err(error),
            }
        };
        Ok(Rm {
            apps: ApplicationClientClient::with_interceptor(channel.clone(), AsUser::current())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            staging: StagingClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES),
            staging_token: None,
            address: address.to_owned(),
            retry,
        })
    }

    /// GetNewApplication: a fresh application id and the cluster's maximum allocation. The
    /// application's staging token is kept for the staging calls that follow.
    pub async fn new_application(&mut self) -> Result<(ApplicationId, Resource), Error> {
        let reply = self
            .apps
            .get_new_application(pb::GetNewApplicationRequest {})
            .await
            .map_err(|s| self.error("ask for a new application", s))?
            .into_inner();
        let app = reply
            .application_id
            .parse::<ApplicationId>()
            .map_err(|e| Error::failed(format!("the ResourceManager answered GetNewApplication with a bad id: {e}")))?;
        let maximum = reply
            .maximum_capability
            .map(Resource::from)
            .ok_or_else(|| Error::failed("the ResourceManager did not say its maximum allocation"))?;
        if reply.staging_token.is_empty() {
            return Err(Error::failed(format!(
                "the ResourceManager answered GetNewApplication for {app} without a staging token"
            )));
        }
        self.staging_token = Some(reply.staging_token);
        Ok((app, maximum))
    }

    /// A staging call carrying the application's staging token.
    pub fn staging_request<T>(&self, message: T) -> Result<tonic::Request<T>, Error> {
        let token = self.staging_token.as_deref().ok_or_else(|| {
            Error::failed("no staging token: an application id must be asked for before files are staged")
        })?;
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert_bin(weft_proto::STAGING_TOKEN_METADATA, MetadataValue::from_bytes(token));
        Ok(request)
    }

    /// A failed call to the ResourceManager, as an error naming what was being done.
    pub fn error(&self, action: impl Display, status: tonic::Status) -> Error {
        call_error(RESOURCE_MANAGER, &self.address, action, status)
    }
}

/// The user an application runs as: `$USER`, `$LOGNAME`, else the name of the effective uid.
pub fn submitting_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten().map(|u| u.name))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_address_is_named() {
        // Bind and drop a listener so the port is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let err = Rm::connect(&address, Retry::NEVER).await.err().expect("nothing listens there");
        let text = err.to_string();
        assert!(text.starts_with(&format!("cannot reach the ResourceManager at {address}: ")), "{text}");
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn a_retry_leaves_room_for_one_more_interval_only_within_the_wait() {
        let retry = Retry { max_wait: Duration::from_secs(10), interval: Duration::from_secs(3) };
        assert!(retry.again(Duration::ZERO));
        assert!(retry.again(Duration::from_secs(7)));
        assert!(!retry.again(Duration::from_secs(8)));
        assert!(!Retry::NEVER.again(Duration::ZERO));
    }

    #[test]
    fn every_call_names_the_submitting_user() {
        let request = AsUser::current().call(tonic::Request::new(())).unwrap();
        let sent = request.metadata().get(weft_proto::USER_METADATA).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(sent, Some(submitting_user()));
        assert!(!submitting_user().is_empty());
    }

    #[test]
    fn only_a_broken_transport_makes_an_unknown_status_transient() {
        assert!(transient(&tonic::Status::unavailable("down")));
        assert!(!transient(&tonic::Status::unknown("the handler failed")));
        assert!(!transient(&tonic::Status::failed_precondition("not registered")));
    }

    #[test]
    fn unavailable_means_unreachable_and_others_name_the_action() {
        let err = call_error(RESOURCE_MANAGER, "h:1", "kill x", tonic::Status::unavailable("gone"));
        assert_eq!(err.to_string(), "cannot reach the ResourceManager at h:1: gone");
        let err = call_error(RESOURCE_MANAGER, "h:1", "kill x", tonic::Status::internal("boom"));
        assert_eq!(err.to_string(), "kill x: boom");
    }
}
