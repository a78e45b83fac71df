//! Every container of this node as plain data: starting, stopping, the statuses each heartbeat
//! carries until the ResourceManager acknowledges them, and how many finished ones are kept.
//! No I/O or clocks; every call takes `now_ms`.

mod apps;
#[cfg(test)]
mod tests;

pub(crate) use apps::{NmApp, NmAppState};

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use weft_proto::{states, ApplicationId, ContainerId, Resource};

use crate::container::{Container, ContainerState, Effect, Event, KillReason, LaunchSpec};
use crate::monitor::{Limits, Usage};

/// Why a start request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StartError {
    #[error("container {0} is already known to this NodeManager")]
    Duplicate(ContainerId),
    #[error("the NodeManager is shutting down")]
    ShuttingDown,
    #[error("application {0} has finished on this node")]
    AppFinished(ApplicationId),
    /// The container executor has no local user for the application's user.
    #[error("{0}")]
    RunAs(String),
}

/// A container id this node does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("container {0} is not handled by this NodeManager")]
pub(crate) struct UnknownContainer(pub(crate) ContainerId);

/// A container's status as heartbeats and GetContainerStatuses carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerStatus {
    pub(crate) id: ContainerId,
    pub(crate) state: states::ContainerState,
    pub(crate) exit_status: i32,
    pub(crate) diagnostics: String,
    pub(crate) resource: Resource,
    /// Peak memory of the whole tree over every sample (zero when never sampled).
    pub(crate) peak: Usage,
    /// The limits enforced (zero for one that is not).
    pub(crate) enforced: Limits,
    pub(crate) kill: Option<KillReason>,
    /// When the kill was decided (0 when not killed).
    pub(crate) killed_ms: u64,
    /// When this node accepted it.
    pub(crate) created_ms: u64,
}

/// How containers are held to their memory: the ratio for their virtual limit, and which limits
/// are enforced (the physical one by the monitor or a memory cgroup, the virtual one by the monitor).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MemoryPolicy {
    pub(crate) vmem_ratio: f64,
    pub(crate) pmem_enforced: bool,
    pub(crate) vmem_enforced: bool,
}

impl Default for MemoryPolicy {
    /// YARN's defaults: both checks on, ratio 2.1.
    fn default() -> Self {
        MemoryPolicy { vmem_ratio: 2.1, pmem_enforced: true, vmem_enforced: true }
    }
}

impl MemoryPolicy {
    /// The limits as statuses report them: zero where not enforced.
    fn enforced(&self, limits: Limits) -> Limits {
        Limits {
            pmem_bytes: if self.pmem_enforced { limits.pmem_bytes } else { 0 },
            vmem_bytes: if self.vmem_enforced { limits.vmem_bytes } else { 0 },
        }
    }
}

/// Effects for one container, to hand to its runner.
pub(crate) type Work = (ContainerId, Vec<Effect>);

/// The node's containers.
#[derive(Debug)]
pub(crate) struct NmCore {
    max_completed: usize,
    memory: MemoryPolicy,
    containers: BTreeMap<ContainerId, Container>,
    /// DONE containers, oldest first; the oldest acknowledged ones go beyond `max_completed`.
    completed: VecDeque<ContainerId>,
    /// DONE containers whose status no heartbeat answer has acknowledged yet.
    unacknowledged: BTreeSet<ContainerId>,
    /// Applications the ResourceManager said have finished.
    finished_apps: BTreeSet<ApplicationId>,
    shutting_down: bool,
}

impl NmCore {
    pub(crate) fn new(max_completed: usize, memory: MemoryPolicy) -> NmCore {
        NmCore {
            max_completed,
            memory,
            containers: BTreeMap::new(),
            completed: VecDeque::new(),
            unacknowledged: BTreeSet::new(),
            finished_apps: BTreeSet::new(),
            shutting_down: false,
        }
    }

    /// Accepts a container and returns its first effects; a refusal changes nothing.
    pub(crate) fn start(&mut self, spec: LaunchSpec, now_ms: u64) -> Result<Vec<Effect>, StartError> {
        if self.shutting_down {
            return Err(StartError::ShuttingDown);
        }
        let id = spec.id;
        if self.containers.contains_key(&id) {
            return Err(StartError::Duplicate(id));
        }
        if self.finished_apps.contains(&id.application()) {
            return Err(StartError::AppFinished(id.application()));
        }
        let mut container = Container::new(spec, now_ms);
        container.limits = Limits::for_container(container.spec.resource.memory_mb, self.memory.vmem_ratio);
        let effects = container.handle(Event::Init, now_ms);
        self.containers.insert(id, container);
        Ok(effects)
    }

    /// Puts back a container a restarted NodeManager found in its recovery records: a DONE one is
    /// reported again until acknowledged; a KILLING one with a process is stopped again. Returns
    /// the effects for its runner. A container already known is left as it is.
    pub(crate) fn recover(&mut self, mut container: Container) -> Vec<Effect> {
        let id = container.spec.id;
        if self.containers.contains_key(&id) {
            return Vec::new();
        }
        container.limits = Limits::for_container(container.spec.resource.memory_mb, self.memory.vmem_ratio);
        let effects = match (container.state, container.pid) {
            (ContainerState::DONE, _) => {
                self.completed.push_back(id);
                self.unacknowledged.insert(id);
                Vec::new()
            }
            (ContainerState::KILLING, Some(pid)) => vec![Effect::KillProcess { pid }],
            _ => Vec::new(),
        };
        self.containers.insert(id, container);
        self.evict();
        effects
    }

    /// Applies an event to one container; unknown ids change nothing.
    pub(crate) fn handle(&mut self, id: ContainerId, event: Event, now_ms: u64) -> Vec<Effect> {
        let Some(container) = self.containers.get_mut(&id) else { return Vec::new() };
        let effects = container.handle(event, now_ms);
        if effects.contains(&Effect::Completed) {
            self.completed.push_back(id);
            self.unacknowledged.insert(id);
            self.evict();
        }
        effects
    }

    /// Stops one container; stopping a finished one is a no-op that succeeds.
    pub(crate) fn kill(
        &mut self,
        id: ContainerId,
        reason: KillReason,
        now_ms: u64,
    ) -> Result<Vec<Effect>, UnknownContainer> {
        if !self.containers.contains_key(&id) {
            return Err(UnknownContainer(id));
        }
        Ok(self.handle(id, Event::Kill(reason), now_ms))
    }

    /// Whether the ResourceManager has said `app` finished.
    pub(crate) fn is_finished(&self, app: ApplicationId) -> bool {
        self.finished_apps.contains(&app)
    }

    /// Stops every live container of `app`, and refuses new ones for it from now on.
    pub(crate) fn finish_app(&mut self, app: ApplicationId, now_ms: u64) -> Vec<Work> {
        self.finished_apps.insert(app);
        let ids: Vec<ContainerId> = self.live().filter(|c| c.spec.id.application() == app).map(|c| c.spec.id).collect();
        self.kill_each(ids, KillReason::AfterAppFinished, now_ms)
    }

    /// Stops every live container.
    pub(crate) fn kill_all(&mut self, reason: KillReason, now_ms: u64) -> Vec<Work> {
        let ids: Vec<ContainerId> = self.live().map(|c| c.spec.id).collect();
        self.kill_each(ids, reason, now_ms)
    }

    fn kill_each(&mut self, ids: Vec<ContainerId>, reason: KillReason, now_ms: u64) -> Vec<Work> {
        ids.into_iter().map(|id| (id, self.handle(id, Event::Kill(reason), now_ms))).collect()
    }

    /// From now on every start is refused.
    pub(crate) fn shut_down(&mut self) {
        self.shutting_down = true;
    }

    /// What the next heartbeat carries: every live container and the unacknowledged DONE ones.
    pub(crate) fn heartbeat_statuses(&self) -> Vec<ContainerStatus> {
        self.containers
            .values()
            .filter(|c| c.is_live() || self.unacknowledged.contains(&c.spec.id))
            .map(|c| status_of(c, &self.memory))
            .collect()
    }

    /// A heartbeat that carried `sent` was answered: those of them that were complete need not be
    /// sent again.
    pub(crate) fn acknowledge(&mut self, sent: &[ContainerStatus]) {
        for status in sent.iter().filter(|s| s.state == states::ContainerState::COMPLETE) {
            self.unacknowledged.remove(&status.id);
        }
        self.evict();
    }

    /// Forgets the oldest acknowledged DONE containers beyond the limit.
    fn evict(&mut self) {
        while self.completed.len() > self.max_completed {
            let Some(&oldest) = self.completed.front() else { return };
            if self.unacknowledged.contains(&oldest) {
                return;
            }
            self.completed.pop_front();
            self.containers.remove(&oldest);
        }
    }

    /// A sample of a running container's memory; once it has exited there is nothing to sample.
    pub(crate) fn record_usage(&mut self, id: &ContainerId, usage: Usage) {
        let running = |c: &&mut Container| matches!(c.state, ContainerState::RUNNING | ContainerState::KILLING);
        if let Some(c) = self.containers.get_mut(id).filter(running) {
            c.observe(usage);
        }
    }

    pub(crate) fn status(&self, id: &ContainerId) -> Option<ContainerStatus> {
        self.containers.get(id).map(|c| status_of(c, &self.memory))
    }

    pub(crate) fn container(&self, id: &ContainerId) -> Option<&Container> {
        self.containers.get(id)
    }

    /// Every known container, live and kept DONE ones, in id order.
    pub(crate) fn containers(&self) -> impl Iterator<Item = &Container> {
        self.containers.values()
    }

    /// Containers that are not DONE.
    /// The user whose containers of `app` ran here, and whether any of them is still live.
    pub(crate) fn app_on_node(&self, app: ApplicationId) -> Option<(String, bool)> {
        let mut of_app = self.containers.values().filter(|c| c.spec.id.application() == app).peekable();
        let user = of_app.peek()?.spec.user.clone();
        Some((user, of_app.any(|c| c.is_live())))
    }

    pub(crate) fn live(&self) -> impl Iterator<Item = &Container> {
        self.containers.values().filter(|c| c.is_live())
    }

    /// What live containers hold.
    pub(crate) fn allocated(&self) -> Resource {
        self.live().fold(Resource::ZERO, |sum, c| sum + c.spec.resource)
    }

    /// Every application with a known container, in id order.
    pub(crate) fn apps(&self) -> Vec<NmApp> {
        let mut apps: BTreeMap<ApplicationId, NmApp> = BTreeMap::new();
        for c in self.containers.values() {
            let id = c.spec.id.application();
            let app = apps.entry(id).or_insert_with(|| NmApp {
                id,
                user: c.spec.user.clone(),
                state: NmAppState::RUNNING,
                running: Vec::new(),
            });
            if c.is_live() {
                app.running.push(c.spec.id);
            }
        }
        for app in apps.values_mut() {
            if self.finished_apps.contains(&app.id) {
                app.state =
                    if app.running.is_empty() { NmAppState::FINISHED } else { NmAppState::FINISHING_CONTAINERS_WAIT };
            }
        }
        apps.into_values().collect()
    }
}

fn status_of(c: &Container, memory: &MemoryPolicy) -> ContainerStatus {
    ContainerStatus {
        id: c.spec.id,
        state: c.state.api_state(),
        exit_status: c.exit_status,
        diagnostics: c.diagnostics(),
        resource: c.spec.resource,
        peak: c.peak,
        enforced: memory.enforced(c.limits),
        kill: c.kill,
        killed_ms: c.killed_ms.unwrap_or(0),
        created_ms: c.created_ms,
    }
}
