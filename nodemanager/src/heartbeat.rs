//! Registration and heartbeats to the ResourceManager's ResourceTracker: register (retrying with
//! backoff until it answers), then heartbeat every interval and at once when a container
//! completes; carry out what each answer asks (cleanups, RESYNC, SHUTDOWN).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::container::KillReason;
use crate::grpc::tracker::{Action, Answer, Tracker};
use crate::nm::Nm;
use crate::resources::Sampler;
use weft_proto::Utilization;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// Repeated failures are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Logs the first failure of a series at once, then at most once per `LOG_EVERY`.
#[derive(Default)]
struct Failures {
    count: u32,
    logged_at: Option<Instant>,
}

impl Failures {
    fn failed(&mut self, what: &str, address: &str, status: &tonic::Status) {
        self.count += 1;
        let due = self.logged_at.is_none_or(|at| at.elapsed() >= LOG_EVERY);
        if due {
            self.logged_at = Some(Instant::now());
            tracing::warn!(
                rm = %address, failures = self.count, code = ?status.code(), error = %status.message(),
                "{what} failed; retrying"
            );
        }
    }

    fn succeeded(&mut self, what: &str) {
        if self.count > 0 {
            tracing::info!(failures = self.count, "{what} succeeded after earlier failures");
        }
        *self = Failures::default();
    }
}

/// The NodeManager's side of the ResourceTracker conversation.
pub(crate) struct Heartbeater {
    nm: Arc<Nm>,
    tracker: Tracker,
    node_id: Option<String>,
    response_id: i64,
    interval: Duration,
    sampler: Arc<Mutex<Sampler>>,
    failures: Failures,
    /// The ResourceManager itself asked this node to shut down: it knows, so no unregistering.
    told_to_shut_down: bool,
}

impl Heartbeater {
    pub(crate) fn new(nm: Arc<Nm>, tracker: Tracker) -> Heartbeater {
        Heartbeater {
            nm,
            tracker,
            node_id: None,
            response_id: 0,
            interval: Duration::from_secs(1),
            sampler: Arc::new(Mutex::new(Sampler::new())),
            failures: Failures::default(),
            told_to_shut_down: false,
        }
    }

    /// Registers, then heartbeats until `shutdown` is cancelled (or the ResourceManager says
    /// SHUTDOWN, which cancels it); hands itself back for the last heartbeat.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) -> Heartbeater {
        while self.register(&shutdown).await {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return self,
                    _ = tokio::time::sleep(self.interval) => {}
                    _ = self.nm.completions().notified() => {}
                }
                let answer = tokio::select! {
                    _ = shutdown.cancelled() => return self,
                    answer = self.beat() => answer,
                };
                match answer.map(|a| a.action) {
                    Ok(Action::Normal) | Err(_) => {}
                    Ok(Action::Resync) => {
                        self.resync().await;
                        break;
                    }
                    Ok(Action::Shutdown) => {
                        tracing::warn!("the ResourceManager asked this NodeManager to shut down");
                        self.told_to_shut_down = true;
                        self.nm.told_to_shut_down();
                        shutdown.cancel();
                        return self;
                    }
                }
            }
        }
        self
    }

    /// Registers, retrying with backoff; false if cancelled first.
    async fn register(&mut self, shutdown: &CancellationToken) -> bool {
        let mut delay = FIRST_RETRY;
        loop {
            // Every live container and every completion not acknowledged yet: a restarted
            // ResourceManager rebuilds this node's use from them and hands the completions on.
            let containers = self.nm.heartbeat_statuses();
            let registered = tokio::select! {
                _ = shutdown.cancelled() => return false,
                registered = self.tracker.register(&self.nm.info, containers) => registered,
            };
            match registered {
                Ok(registered) => {
                    self.failures.succeeded("registration");
                    let node_id = if registered.node_id.is_empty() {
                        self.nm.info.node_id.to_string()
                    } else {
                        registered.node_id
                    };
                    self.set_interval(registered.heartbeat_interval_ms);
                    match &registered.container_token_master_key {
                        Some(key) => self.nm.authority.accept(key),
                        None => tracing::warn!(
                            "the ResourceManager sent no container-token key: every container start will be refused"
                        ),
                    }
                    if let Some(key) = &registered.nm_token_master_key {
                        self.nm.authority.accept_nm(key);
                    }
                    self.nm.keys_arrived();
                    tracing::info!(node_id, rm = %self.tracker.address, interval_ms = self.interval.as_millis() as u64, "registered with the ResourceManager");
                    self.node_id = Some(node_id);
                    self.response_id = 0;
                    return true;
                }
                Err(status) => self.failures.failed("registration", &self.tracker.address, &status),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(MAX_RETRY);
        }
    }

    fn set_interval(&mut self, interval_ms: i64) {
        if interval_ms > 0 {
            self.interval = Duration::from_millis(interval_ms as u64);
        }
    }

    async fn utilization(&self) -> Utilization {
        let roots: Vec<u32> = self.nm.read(|core| core.live().filter_map(|c| c.pid).collect());
        let groups: Vec<_> = match self.nm.enforcement.cgroups() {
            Some(cgroups) => self
                .nm
                .read(|core| core.live().filter(|c| c.pid.is_some()).map(|c| cgroups.container(&c.spec.id)).collect()),
            None => Vec::new(),
        };
        let sampler = self.sampler.clone();
        let sample = move || sampler.lock().unwrap_or_else(PoisonError::into_inner).sample(&roots, &groups);
        tokio::task::spawn_blocking(sample).await.unwrap_or_default()
    }

    /// One heartbeat; on success the completed statuses it carried are acknowledged and the
    /// answer's cleanups are carried out. A failure is logged (rate-limited) and the statuses stay.
    pub(crate) async fn beat(&mut self) -> Result<Answer, tonic::Status> {
        let Some(node_id) = self.node_id.clone() else {
            return Err(tonic::Status::failed_precondition("not registered"));
        };
        let statuses = self.nm.heartbeat_statuses();
        let utilization = self.utilization().await;
        let answer = match self.tracker.heartbeat(&node_id, self.response_id, statuses.clone(), utilization).await {
            Ok(answer) => answer,
            Err(status) => {
                self.failures.failed("heartbeat", &self.tracker.address, &status);
                return Err(status);
            }
        };
        self.failures.succeeded("heartbeat");
        self.nm.heartbeat_answered(&statuses);
        self.response_id = answer.response_id;
        self.set_interval(answer.next_interval_ms);
        if let Some(key) = &answer.container_token_master_key {
            self.nm.authority.accept(key);
        }
        for &id in &answer.containers_to_cleanup {
            // A container this node no longer knows needs no stopping.
            let _ = self.nm.stop(id, KillReason::ByResourceManager);
        }
        self.nm.finish_apps(&answer.apps_to_cleanup);
        Ok(answer)
    }

    /// RESYNC (the ResourceManager restarted, or had declared this node lost): register again with
    /// every container, which keep running — YARN's work-preserving resync. The ResourceManager
    /// takes back those of applications it knows and names the others for cleanup.
    async fn resync(&mut self) {
        let live = self.nm.read(|core| core.live().count());
        tracing::warn!(live, "the ResourceManager asked for a resync: registering again with the running containers");
        self.node_id = None;
    }

    /// After the last heartbeat of a NodeManager stopping on its own (SIGTERM): unregister, so the
    /// ResourceManager marks the node SHUTDOWN at once instead of waiting for the liveness expiry.
    /// Bounded by `timeout`; a failure is logged and changes nothing else. Sent even when no
    /// registration answer arrived: the signal may have cut one short after the ResourceManager
    /// had already taken the node in, and unregistering a node it does not know changes nothing.
    pub(crate) async fn leave(&mut self, timeout: Duration) {
        if self.told_to_shut_down {
            return;
        }
        let node_id = self.node_id.clone().unwrap_or_else(|| self.nm.info.node_id.to_string());
        match tokio::time::timeout(timeout, self.tracker.unregister(&node_id)).await {
            Ok(Ok(())) => tracing::info!(node_id, "unregistered from the ResourceManager"),
            Ok(Err(status)) => {
                tracing::warn!(node_id, error = %status.message(), "could not unregister from the ResourceManager")
            }
            Err(_) => tracing::warn!(node_id, "unregistering did not finish within {timeout:?}"),
        }
    }

    /// The last heartbeat before exit, so the ResourceManager sees the final statuses.
    pub(crate) async fn last_beat(&mut self, timeout: Duration) {
        if self.node_id.is_none() {
            return;
        }
        match tokio::time::timeout(timeout, self.beat()).await {
            Ok(Ok(_)) => tracing::info!("sent the last heartbeat"),
            Ok(Err(_)) => {}
            Err(_) => tracing::warn!("the last heartbeat did not finish within {timeout:?}"),
        }
    }
}
