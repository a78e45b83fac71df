//! An application master's session with the ResourceManager's scheduler: register, allocate,
//! unregister. Every call carries the attempt's AMRM token (metadata `weft-amrm-token-bin`), which
//! the ResourceManager's launcher put in the AM container's environment; a call that finds the
//! scheduler unavailable is retried, as YARN's AM client does across a ResourceManager restart, and
//! a call the restarted ResourceManager answers with ApplicationMasterNotRegistered registers the
//! attempt again and is sent again (the ask in it is the whole outstanding ask, so nothing is lost).
//! The session keeps the NM tokens the replies bring, one per node, across such registrations, and
//! the containers it released whose completion it has not heard of yet: after registering again it
//! sends those releases once more (YARN's AM client's `pendingRelease`), since the restarted
//! ResourceManager may not have heard of them.

use std::collections::BTreeSet;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use weft_proto::pb::application_master_client::ApplicationMasterClient;
use weft_proto::{pb, ApplicationAttemptId, ContainerId, Resource};

use crate::grant::Ask;
use crate::nm_tokens::NmTokens;
use crate::rm::{call_error, connect, SCHEDULER};
use crate::Error;

/// A call that finds the ResourceManager unavailable is retried this far apart, for up to
/// `MAX_WAIT` (YARN's `yarn.resourcemanager.connect.max-wait.ms` default: a restart, an upgrade).
pub const RETRY_DELAY: Duration = Duration::from_millis(250);
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// While retrying, one line in this many is logged.
const LOG_EVERY: u32 = 40;

/// The AMRM token the launcher put in the environment (hex of an encoded `TokenProto`).
pub fn amrm_token_from(lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<u8>, String> {
    let name = weft_proto::AMRM_TOKEN_ENV;
    let text = lookup(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        format!("{name} is not set: the application master has no AMRM token to prove its attempt with")
    })?;
    hex::decode(text.trim()).map_err(|e| format!("{name} is not a hex-encoded token: {e}"))
}

/// Sends the attempt's AMRM token with every ApplicationMaster call.
#[derive(Clone)]
pub struct AmrmToken(tonic::metadata::BinaryMetadataValue);

impl tonic::service::Interceptor for AmrmToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert_bin(weft_proto::AMRM_TOKEN_METADATA, self.0.clone());
        Ok(request)
    }
}

/// A scheduler client whose calls carry the attempt's AMRM token.
pub type AmClient = ApplicationMasterClient<InterceptedService<Channel, AmrmToken>>;

pub fn am_client(channel: Channel, token: &[u8]) -> AmClient {
    let value = tonic::metadata::BinaryMetadataValue::from_bytes(token);
    ApplicationMasterClient::with_interceptor(channel, AmrmToken(value))
}

/// Whether a failed call may succeed when tried again: the service was unreachable, too slow, or
/// went away under the call.
pub fn retriable(status: &tonic::Status) -> bool {
    crate::rm::transient(status)
}

/// Whether the ResourceManager asks the attempt to register (again) before it calls.
pub fn not_registered(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::FailedPrecondition
        && status.metadata().get(weft_proto::EXCEPTION_METADATA).is_some_and(|v| v == weft_proto::AM_NOT_REGISTERED)
}

/// Runs `call` until it succeeds, fails for good, or has found the service unavailable for `MAX_WAIT`.
pub async fn with_retries<T, F, Fut>(what: &str, mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let started = tokio::time::Instant::now();
    let mut retries = 0;
    loop {
        match call().await {
            Err(status) if retriable(&status) && started.elapsed() < MAX_WAIT => {
                retries += 1;
                if retries % LOG_EVERY == 1 {
                    tracing::warn!(error = %status.message(), retries, "{what} failed; retrying");
                }
                tokio::time::sleep(RETRY_DELAY).await;
            }
            result => {
                if retries > 0 && result.is_ok() {
                    tracing::info!(retries, "{what} succeeded after the ResourceManager came back");
                }
                return result;
            }
        }
    }
}

/// Who registers: the attempt, and what the ResourceManager shows as its AM host, port and tracking URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The ResourceManager's scheduler service, `host:port`.
    pub scheduler_address: String,
    pub attempt_id: ApplicationAttemptId,
    /// The attempt's AMRM token (an encoded `TokenProto`).
    pub amrm_token: Vec<u8>,
    pub host: String,
    /// -1 when the application master serves nothing.
    pub rpc_port: i32,
    pub tracking_url: String,
}

/// What the scheduler answered a registration with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub queue: String,
    /// The largest container the scheduler grants.
    pub maximum: Resource,
}

/// A registered attempt's conversation with the scheduler.
pub struct AmSession {
    rm: AmClient,
    address: String,
    attempt_id: ApplicationAttemptId,
    response_id: i64,
    /// What it registered with, to register again after a ResourceManager restart.
    registration: pb::RegisterApplicationMasterRequest,
    /// The NM tokens allocate replies brought, for calls to the NodeManagers.
    nm_tokens: NmTokens,
    /// Released, and no completion heard of since.
    pending_releases: BTreeSet<ContainerId>,
}

impl AmSession {
    /// Connects and registers, retrying while the scheduler is unreachable or unavailable.
    pub async fn register(registration: &Registration) -> Result<(AmSession, Registered), Error> {
        let address = registration.scheduler_address.clone();
        let attempt_id = registration.attempt_id;
        let request = pb::RegisterApplicationMasterRequest {
            attempt_id: attempt_id.to_string(),
            host: registration.host.clone(),
            rpc_port: registration.rpc_port,
            tracking_url: registration.tracking_url.clone(),
        };
        let connected = with_retries("connect", || async {
            connect(SCHEDULER, &address).await.map_err(|e| tonic::Status::unavailable(e.to_string()))
        })
        .await;
        let channel = connected.map_err(|status| Error::failed(status.message()))?;
        let rm = am_client(channel, &registration.amrm_token);
        let reply = send_registration(&rm, &request)
            .await
            .map_err(|s| call_error(SCHEDULER, &address, format!("register {attempt_id}"), s))?;
        let registered = Registered {
            queue: reply.queue,
            maximum: reply.maximum_capability.map(Resource::from).unwrap_or_default(),
        };
        tracing::info!(attempt = %attempt_id, queue = %registered.queue, maximum = %registered.maximum.yarn_notation(), "registered");
        let session = AmSession {
            rm,
            address,
            attempt_id,
            response_id: 0,
            registration: request,
            nm_tokens: NmTokens::default(),
            pending_releases: BTreeSet::new(),
        };
        Ok((session, registered))
    }

    /// Sends a call (retried while the scheduler is unavailable); told to register first, registers
    /// the attempt again and sends it once more (`call` is told it follows a new registration).
    async fn call<T, F, Fut>(&mut self, what: &str, call: F) -> Result<T, Error>
    where
        F: Fn(AmClient, bool) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut registered_again = false;
        loop {
            match with_retries(what, || call(self.rm.clone(), registered_again)).await {
                Err(status) if not_registered(&status) && !registered_again => {
                    tracing::warn!(attempt = %self.attempt_id, "the ResourceManager asks to register again (it restarted)");
                    send_registration(&self.rm, &self.registration).await.map_err(|s| {
                        call_error(SCHEDULER, &self.address, format!("register {} again", self.attempt_id), s)
                    })?;
                    self.response_id = 0;
                    registered_again = true;
                }
                result => {
                    return result
                        .map(tonic::Response::into_inner)
                        .map_err(|s| call_error(SCHEDULER, &self.address, what, s))
                }
            }
        }
    }

    pub fn attempt_id(&self) -> ApplicationAttemptId {
        self.attempt_id
    }

    /// The attempt's NM tokens, per node: what calls to the NodeManagers of its grants carry.
    pub fn nm_tokens(&self) -> &NmTokens {
        &self.nm_tokens
    }

    /// One allocate call carrying the ask, the releases and the progress (0–1). The NM tokens of the
    /// reply are taken into the session's (`nm_tokens`), so the reply returned has none.
    pub async fn allocate(
        &mut self,
        ask: Ask,
        releases: &[ContainerId],
        progress: f32,
    ) -> Result<pb::AllocateResponse, Error> {
        self.pending_releases.extend(releases.iter().copied());
        let request = pb::AllocateRequest {
            attempt_id: self.attempt_id.to_string(),
            response_id: self.response_id,
            asks: vec![ask.to_request()],
            releases: releases.iter().map(ContainerId::to_string).collect(),
            progress,
        };
        // After a new registration: every release not known to have taken effect.
        let all_pending: Vec<String> = self.pending_releases.iter().map(ContainerId::to_string).collect();
        let mut reply = self
            .call("allocate", |mut rm, registered_again| {
                let mut request = request.clone();
                if registered_again {
                    request.response_id = 0;
                    request.releases = all_pending.clone();
                }
                async move { rm.allocate(request).await }
            })
            .await?;
        self.response_id = reply.response_id;
        self.nm_tokens.keep(std::mem::take(&mut reply.nm_tokens));
        for status in &reply.completed {
            if let Ok(id) = status.container_id.parse::<ContainerId>() {
                self.pending_releases.remove(&id);
            }
        }
        Ok(reply)
    }

    /// Unregisters with `final_status` (`SUCCEEDED`, `FAILED` or `KILLED`), `diagnostics` and the
    /// URL the application's tracking link points at from now on (empty: the ResourceManager keeps
    /// the one given at registration).
    pub async fn finish(&mut self, final_status: &str, diagnostics: &str, tracking_url: &str) -> Result<(), Error> {
        let request = pb::FinishApplicationMasterRequest {
            attempt_id: self.attempt_id.to_string(),
            final_status: final_status.to_owned(),
            diagnostics: diagnostics.to_owned(),
            tracking_url: tracking_url.to_owned(),
        };
        self.call("unregister", |mut rm, _| {
            let request = request.clone();
            async move { rm.finish_application_master(request).await }
        })
        .await?;
        Ok(())
    }
}

async fn send_registration(
    rm: &AmClient,
    request: &pb::RegisterApplicationMasterRequest,
) -> Result<pb::RegisterApplicationMasterResponse, tonic::Status> {
    with_retries("register", || {
        let (mut rm, request) = (rm.clone(), request.clone());
        async move { rm.register_application_master(request).await }
    })
    .await
    .map(tonic::Response::into_inner)
}

#[cfg(test)]
mod resync_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_amrm_token_is_read_from_hex_and_its_absence_named() {
        let token = amrm_token_from(|_| Some("0a0b".into())).unwrap();
        assert_eq!(token, vec![0x0a, 0x0b]);
        let missing = amrm_token_from(|_| None).unwrap_err();
        assert!(missing.starts_with(weft_proto::AMRM_TOKEN_ENV), "{missing}");
        let bad = amrm_token_from(|_| Some("zz".into())).unwrap_err();
        assert!(bad.contains("not a hex-encoded token"), "{bad}");
    }

    #[test]
    fn only_unavailable_and_timeouts_are_retried() {
        assert!(retriable(&tonic::Status::unavailable("down")));
        assert!(retriable(&tonic::Status::deadline_exceeded("slow")));
        assert!(!retriable(&tonic::Status::permission_denied("token")));
    }

    #[test]
    fn not_registered_is_told_by_the_exception_name() {
        let mut status = tonic::Status::failed_precondition("AM is not registered for known application attempt");
        assert!(!not_registered(&status), "the words alone do not say it");
        status.metadata_mut().insert(
            weft_proto::EXCEPTION_METADATA,
            tonic::metadata::MetadataValue::from_static(weft_proto::AM_NOT_REGISTERED),
        );
        assert!(not_registered(&status));
    }
}
