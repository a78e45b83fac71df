//! The shared NodeManager handle: the pure core behind a mutex that is never held across an
//! `.await`, each container runner's inbox, and what the adapters share (layout, localizer,
//! metrics, node identity).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weft_daemon::acl::{AccessType, AclPolicy, AppAcls, Caller};
use weft_proto::{ApplicationId, ContainerId, NodeId, Resource};

use crate::authority::Authority;
use crate::cgroups::{Cgroups, CgroupsStatus};
use crate::container::{Container, Effect, Event, KillReason, LaunchSpec};
use crate::dirs::Layout;
use crate::hadoop_localize::UrlCache;
use crate::launcher::NodeEnv;
use crate::localizer::Localizer;
use crate::metrics::Metrics;
use crate::monitor::{Checks, Usage};
use crate::node::{ContainerStatus, MemoryPolicy, NmCore, StartError, UnknownContainer, Work};
use crate::recovery::{ContainerRecord, Place, Store, Watch};
use crate::run_as::Executor;
use crate::{clock, runner};

/// Who this node is.
#[derive(Debug, Clone)]
pub(crate) struct NodeInfo {
    /// `<host>:<rpc port>`.
    pub(crate) node_id: NodeId,
    /// `<host>:<http port>`.
    pub(crate) http_address: String,
    pub(crate) total: Resource,
    pub(crate) version: &'static str,
    /// What the node adds to every container's environment.
    pub(crate) env: NodeEnv,
    /// Stands in for a start request without a user: the NodeManager's own.
    pub(crate) default_user: String,
}

/// What the handle is built from.
pub(crate) struct NmParts {
    pub(crate) info: NodeInfo,
    pub(crate) layout: Layout,
    pub(crate) localizer: Localizer,
    pub(crate) url_cache: UrlCache,
    pub(crate) sigkill_delay: Duration,
    pub(crate) max_completed: usize,
    pub(crate) enforcement: Enforcement,
    pub(crate) executor: Executor,
    pub(crate) acls: AclPolicy,
    /// The recovery records, when `yarn.nodemanager.recovery.enabled` is true.
    pub(crate) recovery: Option<Store>,
}

/// How containers are held to their resources.
#[derive(Debug, Clone)]
pub(crate) struct Enforcement {
    /// The monitor's interval (`container-monitor.interval-ms`).
    pub(crate) monitor_interval: Duration,
    pub(crate) checks: Checks,
    pub(crate) vmem_ratio: f64,
    /// The node's cgroups, or why they are not used.
    pub(crate) cgroups: Result<Arc<Cgroups>, String>,
    /// As `/ws/v1/node/info` reports it.
    pub(crate) cgroups_status: CgroupsStatus,
}

impl Enforcement {
    /// The memory policy of the core: pmem is enforced by the monitor's check or a memory cgroup.
    fn memory_policy(&self) -> MemoryPolicy {
        MemoryPolicy {
            vmem_ratio: self.vmem_ratio,
            pmem_enforced: self.checks.pmem || self.cgroups.is_ok(),
            vmem_enforced: self.checks.vmem,
        }
    }

    pub(crate) fn cgroups(&self) -> Option<&Arc<Cgroups>> {
        self.cgroups.as_ref().ok()
    }
}

struct Inner {
    core: NmCore,
    /// Inboxes of the runners of containers that are not DONE.
    runners: HashMap<ContainerId, mpsc::UnboundedSender<Vec<Effect>>>,
}

pub(crate) struct Nm {
    pub(crate) info: NodeInfo,
    pub(crate) layout: Layout,
    pub(crate) localizer: Localizer,
    /// Hadoop launch contexts' `file:` resources, cached by path, size and timestamp.
    pub(crate) url_cache: UrlCache,
    pub(crate) metrics: Metrics,
    pub(crate) sigkill_delay: Duration,
    pub(crate) enforcement: Enforcement,
    /// Who containers run as.
    pub(crate) executor: Executor,
    /// `yarn.acl.enable` and `yarn.admin.acl`: who may read an application's container logs.
    pub(crate) acls: AclPolicy,
    /// The ResourceManager's container-token keys: what every start is checked against.
    pub(crate) authority: Authority,
    /// Where containers are recorded for a restart (recovery on).
    pub(crate) recovery: Option<Store>,
    /// Cancelled when the NodeManager stops leaving its containers running (recovery, supervised):
    /// every runner then ends at once without touching its container.
    pub(crate) detach: CancellationToken,
    /// The ResourceManager answered SHUTDOWN (the node is decommissioned): containers are stopped
    /// at shutdown even under a supervisor, as YARN does for a decommissioned node.
    decommissioned: std::sync::atomic::AtomicBool,
    /// Whether the registration answer with those keys has been read.
    keys_ready: tokio::sync::watch::Sender<bool>,
    inner: Mutex<Inner>,
    completions: Notify,
    /// Container runners and the stops they start.
    pub(crate) tasks: TaskTracker,
    last_heartbeat_ms: AtomicU64,
    /// Container monitor passes completed so far.
    monitor_passes: AtomicU64,
}

impl Nm {
    pub(crate) fn new(parts: NmParts) -> Arc<Nm> {
        let NmParts {
            info,
            layout,
            localizer,
            url_cache,
            sigkill_delay,
            max_completed,
            enforcement,
            executor,
            acls,
            recovery,
        } = parts;
        let memory = enforcement.memory_policy();
        Arc::new(Nm {
            metrics: Metrics::new(info.total),
            info,
            layout,
            localizer,
            url_cache,
            sigkill_delay,
            enforcement,
            executor,
            acls,
            authority: Authority::default(),
            recovery,
            detach: CancellationToken::new(),
            decommissioned: std::sync::atomic::AtomicBool::new(false),
            keys_ready: tokio::sync::watch::Sender::new(false),
            inner: Mutex::new(Inner { core: NmCore::new(max_completed, memory), runners: HashMap::new() }),
            completions: Notify::new(),
            tasks: TaskTracker::new(),
            last_heartbeat_ms: AtomicU64::new(0),
            monitor_passes: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the core.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&NmCore) -> T) -> T {
        f(&self.lock().core)
    }

    /// Accepts a container and starts its runner.
    pub(crate) fn start(self: &Arc<Self>, spec: LaunchSpec) -> Result<(), StartError> {
        let account = self.executor.account_for(&spec.user).map_err(StartError::RunAs)?;
        let (inbox, receiver) = mpsc::unbounded_channel();
        let effects = {
            let mut inner = self.lock();
            let effects = inner.core.start(spec.clone(), clock::now_ms())?;
            inner.runners.insert(spec.id, inbox);
            effects
        };
        let run_as = account.as_ref().map_or("(the NodeManager's user)", |a| a.name.as_str());
        tracing::info!(container_id = %spec.id, user = %spec.user, run_as, "container accepted");
        self.tasks.spawn(runner::run(self.clone(), spec, account, effects, receiver));
        Ok(())
    }

    /// Puts back a container found in the recovery records and, unless it is DONE, starts a runner
    /// for it: `then` is applied first (a container that never started is lost), `process` is the
    /// process it watches instead of a child, started at `start_time_ticks`.
    pub(crate) fn take_back(
        self: &Arc<Self>,
        container: Container,
        then: Option<Event>,
        process: Option<(u32, Watch)>,
        start_time_ticks: Option<u64>,
    ) {
        let spec = container.spec.clone();
        let (inbox, receiver) = mpsc::unbounded_channel();
        let effects = {
            let mut inner = self.lock();
            let mut effects = inner.core.recover(container);
            if let Some(event) = then {
                effects.extend(inner.core.handle(spec.id, event, clock::now_ms()));
            }
            if !inner.core.container(&spec.id).is_some_and(|c| c.is_live()) {
                return;
            }
            inner.runners.insert(spec.id, inbox);
            effects
        };
        let adopted = runner::Adopted { process, start_time_ticks };
        self.tasks.spawn(runner::run_adopted(self.clone(), spec, adopted, effects, receiver));
    }

    /// Records a container as it is now (recovery on); a failure is logged, the container goes on.
    pub(crate) async fn save_record(&self, id: ContainerId, place: Place) {
        let Some(store) = self.recovery.clone() else { return };
        let Some(record) = self.read(|core| core.container(&id).map(|c| ContainerRecord::of(c, &place))) else {
            return;
        };
        match tokio::task::spawn_blocking(move || store.save(&record)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(container_id = %id, %error, "cannot record the container for recovery"),
            Err(error) => tracing::warn!(container_id = %id, %error, "cannot record the container for recovery"),
        }
    }

    /// Forgets the recovery records of `ids` (acknowledged, or their application cleaned up).
    fn remove_records(&self, ids: impl IntoIterator<Item = ContainerId>) {
        let Some(store) = &self.recovery else { return };
        for id in ids {
            if let Err(error) = store.remove(id) {
                tracing::warn!(container_id = %id, %error, "cannot remove the container's recovery record");
            }
        }
    }

    /// The ResourceManager said SHUTDOWN.
    pub(crate) fn told_to_shut_down(&self) {
        self.decommissioned.store(true, Ordering::Relaxed);
    }

    /// Whether the ResourceManager said SHUTDOWN.
    pub(crate) fn is_decommissioned(&self) -> bool {
        self.decommissioned.load(Ordering::Relaxed)
    }

    /// Stopping with recovery and a supervisor: starts are refused and every runner lets go of its
    /// container, which keeps running for the next NodeManager to take back.
    pub(crate) fn leave_containers_running(&self) {
        self.lock().core.shut_down();
        self.detach.cancel();
    }

    /// Whether `caller` may read the logs of `container`: its application's owner and ACLs are those
    /// of the containers of that application this node still knows (none known: the admins only).
    pub(crate) fn may_read_logs(&self, caller: &Caller, container: ContainerId) -> bool {
        let app = container.application();
        let known = self.read(|core| {
            core.container(&container)
                .or_else(|| core.containers().find(|c| c.spec.id.application() == app))
                .map(|c| (c.spec.user.clone(), merged_acls(core, app)))
        });
        let (owner, acls) = known.unwrap_or_default();
        self.acls.allows(caller, AccessType::ViewApp, &owner, &acls)
    }

    /// The registration answer, with the ResourceManager's keys, has been read.
    pub(crate) fn keys_arrived(&self) {
        self.keys_ready.send_replace(true);
    }

    /// Waits, at most `limit`, for the ResourceManager's keys. The ResourceManager may grant a
    /// container on this node as soon as it has registered it, before this node has read the answer
    /// that carries the keys; a start arriving in that moment waits for them instead of failing (as
    /// YARN's clients retry a NodeManager that is not ready yet).
    pub(crate) async fn await_keys(&self, limit: Duration) {
        let mut ready = self.keys_ready.subscribe();
        let _ = tokio::time::timeout(limit, ready.wait_for(|ready| *ready)).await;
    }

    /// Stops one container; a finished one is a no-op that succeeds.
    pub(crate) fn stop(&self, id: ContainerId, reason: KillReason) -> Result<(), UnknownContainer> {
        let mut inner = self.lock();
        let effects = inner.core.kill(id, reason, clock::now_ms())?;
        forward(&inner, vec![(id, effects)], reason);
        Ok(())
    }

    /// The monitor's kill: `diagnostics` are its words, with the usage. A container that is already
    /// being stopped keeps its first reason.
    pub(crate) fn kill_over_limit(&self, id: ContainerId, reason: KillReason, diagnostics: String) {
        let summary = diagnostics.lines().next().unwrap_or_default().to_owned();
        let mut inner = self.lock();
        let effects = inner.core.handle(id, Event::KillWith { reason, diagnostics }, clock::now_ms());
        if effects.is_empty() {
            return;
        }
        tracing::warn!(container_id = %id, reason = reason.as_str(), exit_status = reason.exit_status(), "{summary}");
        forward(&inner, vec![(id, effects)], reason);
    }

    /// The monitor's samples of running containers' memory.
    pub(crate) fn record_usage(&self, samples: &[(ContainerId, Usage)]) {
        let mut inner = self.lock();
        for (id, usage) in samples {
            inner.core.record_usage(id, *usage);
        }
    }

    /// The ResourceManager says these applications have finished: stop what runs of them, then
    /// (once none of their containers is live) remove their local directories — working dirs,
    /// `LOCAL_DIRS` (Spark's block manager and shuffle files), APPLICATION resources — and let the
    /// file cache evict what no running application uses, as YARN does at application cleanup.
    pub(crate) fn finish_apps(self: &Arc<Self>, apps: &[ApplicationId]) {
        let mut inner = self.lock();
        for &app in apps {
            let first_time = !inner.core.is_finished(app);
            let work = inner.core.finish_app(app, clock::now_ms());
            forward(&inner, work, KillReason::AfterAppFinished);
            if first_time {
                let nm = self.clone();
                self.tasks.spawn(async move { nm.clean_up_app(app).await });
            }
        }
    }

    async fn clean_up_app(&self, app: ApplicationId) {
        let deadline = tokio::time::Instant::now() + self.sigkill_delay + Duration::from_secs(60);
        let user = loop {
            match self.read(|core| core.app_on_node(app)) {
                Some((user, false)) => break Some(user),
                None => break None,
                Some((_, true)) if tokio::time::Instant::now() > deadline => {
                    tracing::warn!(%app, "containers of a finished application still run; its directories stay");
                    return;
                }
                Some((_, true)) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        if let Some(user) = user {
            for dir in self.layout.app_local_dirs(&user, app) {
                match tokio::fs::remove_dir_all(&dir).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => {
                        tracing::warn!(%app, dir = %dir.display(), %error, "cannot remove the application's directory")
                    }
                }
            }
        }
        self.url_cache.app_finished(app).await;
        let done: Vec<ContainerId> = self.read(|core| {
            core.containers().filter(|c| c.spec.id.application() == app && !c.is_live()).map(|c| c.spec.id).collect()
        });
        self.remove_records(done);
    }

    /// Stops every live container.
    pub(crate) fn kill_all(&self, reason: KillReason) {
        let mut inner = self.lock();
        let work = inner.core.kill_all(reason, clock::now_ms());
        forward(&inner, work, reason);
    }

    /// Refuses new containers and stops every live one.
    pub(crate) fn shut_down(&self) {
        self.lock().core.shut_down();
        self.kill_all(KillReason::Shutdown);
    }

    /// A runner's report: applies the event and returns the effects it must carry out.
    pub(crate) fn step(&self, id: ContainerId, event: Event) -> Vec<Effect> {
        let mut inner = self.lock();
        let effects = inner.core.handle(id, event, clock::now_ms());
        if effects.contains(&Effect::Completed) {
            inner.runners.remove(&id);
        }
        effects
    }

    pub(crate) fn heartbeat_statuses(&self) -> Vec<ContainerStatus> {
        self.read(NmCore::heartbeat_statuses)
    }

    /// A heartbeat carrying `sent` was answered.
    pub(crate) fn heartbeat_answered(&self, sent: &[ContainerStatus]) {
        self.lock().core.acknowledge(sent);
        let complete = sent.iter().filter(|s| s.state == weft_proto::states::ContainerState::COMPLETE);
        self.remove_records(complete.map(|s| s.id));
        self.last_heartbeat_ms.store(clock::now_ms(), Ordering::Relaxed);
    }

    /// A container monitor pass has finished.
    pub(crate) fn monitor_passed(&self) {
        self.monitor_passes.fetch_add(1, Ordering::Relaxed);
    }

    /// Container monitor passes finished so far.
    #[cfg(test)]
    pub(crate) fn monitor_passes(&self) -> u64 {
        self.monitor_passes.load(Ordering::Relaxed)
    }

    /// When the ResourceManager last answered a heartbeat (0: never).
    pub(crate) fn last_heartbeat_ms(&self) -> u64 {
        self.last_heartbeat_ms.load(Ordering::Relaxed)
    }

    /// Wakes the heartbeat loop: a container completed and the ResourceManager should hear soon.
    pub(crate) fn notify_completed(&self) {
        self.completions.notify_one();
    }

    pub(crate) fn completions(&self) -> &Notify {
        &self.completions
    }

    /// Waits until no container is live, up to `timeout`; true if none is.
    pub(crate) async fn wait_until_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.read(|core| core.live().next().is_none()) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Hands each container's effects to its runner.
/// The ACLs an application's containers on this node were started with (the first that gave any:
/// its AM's, or any container of a Hadoop launch context).
fn merged_acls(core: &NmCore, app: ApplicationId) -> AppAcls {
    core.containers()
        .filter(|c| c.spec.id.application() == app)
        .map(|c| &c.spec.acls)
        .find(|acls| acls.view.is_some() || acls.modify.is_some())
        .cloned()
        .unwrap_or_default()
}

fn forward(inner: &Inner, work: Vec<Work>, reason: KillReason) {
    for (id, effects) in work {
        if inner.core.container(&id).is_some_and(|c| c.is_live()) {
            tracing::info!(container_id = %id, reason = reason.as_str(), exit_status = reason.exit_status(), "stopping container");
        }
        if effects.is_empty() {
            continue;
        }
        if let Some(inbox) = inner.runners.get(&id) {
            // A closed inbox means the runner has ended; nothing is left to stop.
            let _ = inbox.send(effects);
        }
    }
}
