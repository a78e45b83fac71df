//! The ResourceManager's core: nodes, applications, attempts, containers and the scheduler, as plain
//! data. No I/O, no clock: every entry point takes `now_ms`, and work for the outside world (start an
//! AM container on a NodeManager) is queued as an [`Effect`] that the adapter drains with
//! [`RmCore::take_effects`].
//!
//! Intent and observed are kept apart: the core records what it granted, and NodeManager heartbeats
//! report what runs; a container missing from a report is "not reported yet", never "gone".

pub(crate) use weft_daemon::acl;
mod app;
mod apps;
mod container;
mod error;
mod events;
mod history;
mod node;
mod node_set;
mod nodes;
mod recover;
mod reports;

#[cfg(test)]
mod capacity_props;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use weft_proto::{ApplicationAttemptId, ApplicationId, ContainerId, NodeId, Resource};

pub use acl::{AccessControlList, AccessType, AclPolicy, AppAcls, Caller, ANONYMOUS_USER};
pub use app::{App, Attempt, LaunchSpec, LocalFile, ProxyTarget, Submission};
pub use apps::AskRequest;
pub use container::{MemoryUsage, ReportedContainer, RmContainer};
pub use error::RmError;
pub use events::{KillEvent, KillReason};
pub use history::{UsageSample, KEEP_MS};
pub use node::{HeartbeatReply, Node, Utilization};
pub use reports::{AllocateReply, AppFilter, ClusterMetrics, KillFilter};

use crate::scheduler::fifo::FifoScheduler;
use crate::scheduler::Scheduler;

/// The settings the core needs, all durations in milliseconds.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub cluster_timestamp: u64,
    pub minimum_allocation: Resource,
    pub maximum_allocation: Resource,
    pub am_max_attempts: u32,
    pub heartbeat_interval_ms: u64,
    pub nm_expiry_ms: u64,
    pub am_finish_grace_ms: u64,
    /// A granted container that no NodeManager reports running within this long is taken back.
    pub container_allocation_expiry_ms: u64,
    pub max_completed_apps: usize,
    /// Kill records kept for the kill feed.
    pub max_kill_records: usize,
    /// `yarn.acl.enable` and `yarn.admin.acl`: who may view and kill which application.
    pub acls: AclPolicy,
    /// How many times this ResourceManager has restarted with recovery: container ids granted now
    /// carry it (`container_e<epoch>_…`), so they never collide with ones granted before.
    pub epoch: u32,
    /// After a restart, a recovered attempt that has not registered again within this long fails.
    pub am_liveness_expiry_ms: u64,
}

impl CoreConfig {
    /// YARN's defaults, for tests and simulations.
    pub fn with_defaults(cluster_timestamp: u64) -> Self {
        CoreConfig {
            cluster_timestamp,
            minimum_allocation: Resource::new(1024, 1),
            maximum_allocation: Resource::new(8192, 32),
            am_max_attempts: 2,
            heartbeat_interval_ms: 1000,
            nm_expiry_ms: 600_000,
            am_finish_grace_ms: 5000,
            container_allocation_expiry_ms: 600_000,
            max_completed_apps: 1000,
            max_kill_records: 1000,
            acls: AclPolicy::disabled(),
            epoch: 0,
            am_liveness_expiry_ms: 600_000,
        }
    }
}

/// Work for the adapters.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start the AM container on its NodeManager; report back with [`RmCore::am_launched`].
    LaunchAm {
        attempt: ApplicationAttemptId,
        container: ContainerId,
        node: NodeId,
        resource: Resource,
        user: String,
        launch: LaunchSpec,
    },
}

pub struct RmCore {
    config: CoreConfig,
    nodes: BTreeMap<NodeId, Node>,
    /// The index the next node registering for the first time gets (`Node::index`).
    next_node_index: u32,
    /// How many of `nodes` are active (`NodeState::is_active`): kept as nodes register and leave,
    /// so that every allocate reply can say it without a pass over all nodes.
    active_nodes: usize,
    apps: BTreeMap<ApplicationId, App>,
    /// Every container still known. A B-tree rather than a hash map: ids are issued in order per
    /// attempt, so a grant inserts next to the previous one and the allocate reply reads the newest
    /// ones back from the same few leaves (a hash map scatters both over a table of millions).
    /// Boxed, so that inserting into a leaf shifts pointers rather than whole records.
    containers: BTreeMap<ContainerId, Box<RmContainer>>,
    /// No container still NEW is due to expire unused before this (ms; `u64::MAX`: none is NEW).
    /// A lower bound, lowered by every grant and set by each pass over `containers`, so a tick
    /// makes that pass only when a grant may be due rather than every time.
    unused_due_ms: u64,
    scheduler: Box<dyn Scheduler>,
    /// Application ids handed out by GetNewApplication and not submitted yet.
    issued: BTreeSet<u32>,
    next_app_sequence: u32,
    /// Finished applications, oldest first, for retention.
    completed_order: VecDeque<ApplicationId>,
    kills: VecDeque<KillEvent>,
    kill_counts: BTreeMap<KillReason, u64>,
    /// The last hour's use, for the overview's charts.
    usage: history::UsageHistory,
    effects: Vec<Effect>,
    /// Applications whose stored record changed (or that were dropped) since the last
    /// [`RmCore::take_changed`]: what the state store must write before a reply goes out.
    changed: BTreeSet<ApplicationId>,
}

impl RmCore {
    pub fn new(config: CoreConfig) -> Self {
        RmCore {
            config,
            nodes: BTreeMap::new(),
            next_node_index: 0,
            active_nodes: 0,
            apps: BTreeMap::new(),
            containers: BTreeMap::new(),
            unused_due_ms: u64::MAX,
            scheduler: Box::new(FifoScheduler::new()),
            issued: BTreeSet::new(),
            next_app_sequence: 1,
            completed_order: VecDeque::new(),
            kills: VecDeque::new(),
            kill_counts: BTreeMap::new(),
            usage: Default::default(),
            effects: Vec::new(),
            changed: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// Effects queued since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Applications whose durable record changed since the last call: each is written again (or
    /// removed, when [`RmCore::app`] no longer has it).
    pub fn take_changed(&mut self) -> BTreeSet<ApplicationId> {
        std::mem::take(&mut self.changed)
    }

    /// Marks an application's durable record as changed.
    pub(crate) fn changed(&mut self, id: ApplicationId) {
        self.changed.insert(id);
    }

    /// Periodic work: node liveness, AM-finish grace, retention.
    pub fn tick(&mut self, now_ms: u64) {
        self.expire_nodes(now_ms);
        self.expire_unused_containers(now_ms);
        self.expire_recovered_attempts(now_ms);
        self.finish_unregistered_attempts(now_ms);
        self.sample_usage(now_ms);
    }

    /// Runs the scheduler and turns its grants into containers.
    fn schedule(&mut self, now_ms: u64) {
        for grant in self.scheduler.allocate() {
            self.grant_container(grant, now_ms);
        }
    }

    fn grant_container(&mut self, grant: crate::scheduler::Grant, now_ms: u64) {
        let Some(app) = self.apps.get_mut(&grant.attempt.application) else {
            self.scheduler.release(&grant.node, grant.resource);
            return;
        };
        let Some(node) = self.nodes.get_mut(&grant.node) else {
            return;
        };
        let app_ended = app.state.is_final();
        let attempt = app.current_attempt_mut();
        // The AM container goes to an attempt waiting for it; every other container only to a
        // registered attempt that is still running (never to one that unregistered or ended).
        let is_am = attempt.am_container.is_none() && attempt.state == weft_proto::states::AttemptState::SCHEDULED;
        let wanted = is_am || attempt.state == weft_proto::states::AttemptState::RUNNING;
        if attempt.id != grant.attempt || !wanted || app_ended {
            self.scheduler.release(&grant.node, grant.resource);
            return;
        }
        let id = attempt.id.container_in_epoch(self.config.epoch, attempt.next_container_id);
        attempt.next_container_id += 1;
        // The AM container's node is not tokened: the AM learns of its own container otherwise,
        // and its first grant there brings the token.
        let first_on_node = !is_am && attempt.nm_tokened.insert(node.index);
        attempt.containers.insert(id);
        node.allocated += grant.resource;
        node.containers.insert(id);
        let am_node = is_am.then(|| grant.node.clone());
        self.unused_due_ms = self.unused_due_ms.min(now_ms.saturating_add(self.config.container_allocation_expiry_ms));
        self.containers.insert(
            id,
            Box::new(RmContainer {
                id,
                node: grant.node,
                node_http_address: node.http_address.clone(),
                resource: grant.resource,
                priority: grant.priority,
                state: weft_proto::states::ContainerState::NEW,
                exit_status: weft_proto::exit_status::INVALID,
                diagnostics: String::new(),
                created_ms: now_ms,
                finished_ms: 0,
                is_am,
                usage: Default::default(),
                reported_kill: None,
                given_back: false,
                released: None,
            }),
        );
        if let Some(am_node) = am_node {
            attempt.am_container = Some(id);
            attempt.am_node = Some(am_node.clone());
            attempt.am_node_http_address = node.http_address.to_string();
            attempt.state = weft_proto::states::AttemptState::ALLOCATED;
            self.changed.insert(grant.attempt.application);
            self.effects.push(Effect::LaunchAm {
                attempt: attempt.id,
                container: id,
                node: am_node,
                resource: grant.resource,
                user: app.submission.user.clone(),
                launch: app.submission.am_launch.clone(),
            });
        } else {
            attempt.newly_allocated.push(id);
            if first_on_node {
                attempt.newly_tokened.push((id, node.index));
            }
        }
    }
}
