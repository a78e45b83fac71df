//! Node events: registration, heartbeats, liveness, and the container completions they carry.

use std::collections::BTreeSet;

use weft_proto::states::{AppState, AttemptState, ContainerState, FinalStatus, NodeState};
use weft_proto::{exit_status, ContainerId, NodeId, Resource};

use super::container::ReportedContainer;
use super::events::{KillEvent, KillReason};
use super::node::{HeartbeatReply, Node, Utilization};
use super::RmCore;

/// Why a container is given up; for one that had not started yet, its exit status and diagnostics
/// (YARN's `SchedulerUtils` texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// The application master released it (YARN: ABORTED).
    ByApplication,
    /// The ResourceManager ended it: application killed, or its attempt failed.
    ByResourceManager,
    /// Its attempt unregistered or ended while the grant was unused.
    AttemptEnded,
    /// No NodeManager reported it running within the allocation expiry interval.
    Expired,
}

impl Release {
    fn exit(self) -> (i32, &'static str) {
        match self {
            Release::ByApplication => (exit_status::ABORTED, "Container released by application"),
            Release::ByResourceManager => {
                (exit_status::KILLED_BY_RESOURCEMANAGER, "Container Killed by ResourceManager")
            }
            Release::AttemptEnded => (exit_status::ABORTED, "Container of a completed application"),
            Release::Expired => (exit_status::ABORTED, "Container expired since it was unused"),
        }
    }

    /// An unstarted container given up this way is not a kill (kept out of the kill feed).
    fn gives_back(self) -> bool {
        !matches!(self, Release::ByResourceManager)
    }
}

/// YARN's diagnostics for containers on a node that stopped heartbeating.
pub(crate) const LOST_NODE_DIAGNOSTICS: &str = "Container released on a *lost* node";

/// What a node's reports leave for it to stop.
#[derive(Default)]
struct ToStop {
    /// Named for cleanup in the node's next heartbeat response.
    cleanup: Vec<ContainerId>,
    /// Those of them that no application's containers count any more, with what each was granted.
    strays: Vec<(ContainerId, Resource)>,
}

impl ToStop {
    fn stray(&mut self, container: ContainerId, resource: Resource) {
        self.cleanup.push(container);
        self.strays.push((container, resource));
    }
}

impl RmCore {
    /// A NodeManager registers (or registers again after a restart or a resync) with the containers
    /// it holds. Containers the RM had on it that the node does not list any more are complete with
    /// -100; those a previous incarnation of this ResourceManager granted to attempts that still run
    /// are taken back (work-preserving recovery); any other live one is named for cleanup.
    pub fn register_node(
        &mut self,
        id: NodeId,
        http_address: String,
        version: String,
        total: Resource,
        reported: Vec<ReportedContainer>,
        now_ms: u64,
    ) {
        let running: Vec<ContainerId> =
            reported.iter().filter(|c| c.state != ContainerState::COMPLETE).map(|c| c.id).collect();
        if let Some(old) = self.nodes.get(&id) {
            let gone: Vec<ContainerId> = old.containers.iter().filter(|c| !running.contains(c)).copied().collect();
            for container in gone {
                if !self.end_release(container, now_ms) {
                    self.complete_container(
                        container,
                        exit_status::ABORTED,
                        "Container released on a node that registered again".into(),
                        now_ms,
                    );
                }
            }
        }
        let index = match self.nodes.get(&id) {
            Some(old) => old.index,
            None => {
                self.next_node_index += 1;
                self.next_node_index - 1
            }
        };
        let mut node = Node::new(id.clone(), index, http_address, version, total, now_ms);
        if !self.nodes.get(&id).is_some_and(|old| old.state.is_active()) {
            self.active_nodes += 1;
        }
        if let Some(old) = self.nodes.remove(&id) {
            node.containers = old.containers;
            node.allocated = old.allocated;
            node.stopping = old.stopping;
            node.kills = old.kills;
        }
        self.nodes.insert(id.clone(), node);
        let cleanup = self.take_reports(&id, reported, now_ms);
        let node = self.nodes.get_mut(&id).expect("inserted above");
        node.containers_to_cleanup.extend(cleanup);
        self.scheduler.add_node(id.clone(), total.saturating_sub(node.allocated));
        tracing::info!(
            node = %id, memory_mb = total.memory_mb, vcores = total.vcores, containers = node.containers.len(),
            "node registered"
        );
        self.schedule(now_ms);
    }

    /// A heartbeat: statuses of live containers and completed ones. Unknown or lost nodes are told to
    /// resync.
    pub fn node_heartbeat(
        &mut self,
        id: &NodeId,
        reported: Vec<ReportedContainer>,
        utilization: Utilization,
        health_report: String,
        now_ms: u64,
    ) -> HeartbeatReply {
        let interval = self.config.heartbeat_interval_ms;
        match self.nodes.get_mut(id) {
            Some(node) if node.state == NodeState::RUNNING => {
                node.last_heartbeat_ms = now_ms;
                node.utilization = utilization;
                node.health_report = health_report;
            }
            _ => return HeartbeatReply { resync: true, next_heartbeat_interval_ms: interval, ..Default::default() },
        }
        let cleanup = self.take_reports(id, reported, now_ms);
        // Told to stop them last time and not running now: they are gone, and so is their hold.
        let sent = std::mem::take(&mut self.nodes.get_mut(id).expect("checked above").releases_sent);
        for container in sent {
            self.end_release(container, now_ms);
        }
        self.schedule(now_ms);
        let node = self.nodes.get_mut(id).expect("checked above");
        node.containers_to_cleanup.extend(cleanup);
        node.response_id += 1;
        let containers_to_cleanup: Vec<ContainerId> =
            std::mem::take(&mut node.containers_to_cleanup).into_iter().collect();
        node.releases_sent.extend(containers_to_cleanup.iter().filter(|c| {
            self.containers.get(c).is_some_and(|c| c.released.is_some() && c.state == ContainerState::NEW)
        }));
        HeartbeatReply {
            response_id: node.response_id,
            resync: false,
            containers_to_cleanup,
            apps_to_cleanup: std::mem::take(&mut node.apps_to_cleanup).into_iter().collect(),
            next_heartbeat_interval_ms: interval,
        }
    }

    /// Takes in what a node reports; returns the containers to name for cleanup. What still runs
    /// — its own containers and the strays it has not stopped yet — is counted on the node before
    /// any completion is taken in: a completed AM container starts its application's next attempt,
    /// whose AM could otherwise be placed on this node in room they take.
    fn take_reports(&mut self, id: &NodeId, reported: Vec<ReportedContainer>, now_ms: u64) -> Vec<ContainerId> {
        let (running, completed): (Vec<_>, Vec<_>) =
            reported.into_iter().partition(|c| c.state != ContainerState::COMPLETE);
        // Only strays held since an earlier report need looking up (rarely any).
        let holds_strays = self.nodes.get(id).is_some_and(|n| !n.stopping.is_empty());
        let running_ids: BTreeSet<ContainerId> =
            if holds_strays { running.iter().map(|c| c.id).collect() } else { BTreeSet::new() };
        let mut to_stop = ToStop::default();
        for status in running {
            if !self.adopt(id, &status, now_ms) {
                self.apply_reported(id, status, &mut to_stop, now_ms);
            }
        }
        self.hold_stopping(id, std::mem::take(&mut to_stop.strays), &running_ids);
        for status in completed {
            if !self.adopt(id, &status, now_ms) {
                self.apply_reported(id, status, &mut to_stop, now_ms);
            }
        }
        to_stop.cleanup
    }

    fn apply_reported(&mut self, node: &NodeId, status: ReportedContainer, to_stop: &mut ToStop, now_ms: u64) {
        let Some(container) = self.containers.get_mut(&status.id) else {
            if status.state != ContainerState::COMPLETE {
                to_stop.stray(status.id, status.resource);
            }
            return;
        };
        if &container.node != node {
            return;
        }
        if status.usage != Default::default() {
            container.usage = status.usage;
        }
        if status.kill.is_some() && !container.is_complete() {
            container.reported_kill = status.kill.clone();
        }
        // Looked up only for a container reported running, not for every completion a heartbeat carries.
        let attempt_ended = |apps: &std::collections::BTreeMap<weft_proto::ApplicationId, super::App>| {
            apps.get(&status.id.application())
                .and_then(|app| app.attempts.iter().find(|a| a.id == status.id.attempt))
                .is_none_or(|a| a.is_ended())
        };
        match status.state {
            ContainerState::COMPLETE => {
                self.complete_container(status.id, status.exit_status, status.diagnostics, now_ms)
            }
            // Ended here while its node ran it on (the node was declared lost, or the grant
            // expired unused): stopped, and its room held until it is.
            _ if container.is_complete() => to_stop.stray(status.id, status.resource),
            // Started after its attempt ended (a launch that raced the end): it has no owner, stop it.
            _ if attempt_ended(&self.apps) => {
                container.state = ContainerState::RUNNING;
                to_stop.cleanup.push(status.id);
            }
            // Started while (or after) the NodeManager was told to stop it: told again.
            _ if container.released.is_some() && container.state == ContainerState::NEW => {
                container.state = ContainerState::RUNNING;
                to_stop.cleanup.push(status.id);
            }
            _ => container.state = ContainerState::RUNNING,
        }
    }

    /// Marks nodes that have been silent past the expiry LOST; their containers complete with -100.
    pub(crate) fn expire_nodes(&mut self, now_ms: u64) {
        let expiry = self.config.nm_expiry_ms;
        let expired: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.state == NodeState::RUNNING && now_ms.saturating_sub(n.last_heartbeat_ms) > expiry)
            .map(|n| n.id.clone())
            .collect();
        for id in expired {
            self.lose_node(&id, now_ms);
        }
    }

    fn lose_node(&mut self, id: &NodeId, now_ms: u64) {
        tracing::warn!(node = %id, "node lost: no heartbeat within the expiry interval");
        self.remove_node(id, NodeState::LOST, now_ms);
    }

    /// A NodeManager stopping on purpose (UnregisterNodeManager, after its last heartbeat): the node
    /// is SHUTDOWN at once, its capacity gone, and containers it did not report complete end with
    /// -100 as on a lost node. Unknown or already inactive nodes are left as they are.
    pub fn unregister_node(&mut self, id: &NodeId, now_ms: u64) {
        if self.nodes.get(id).is_none_or(|n| n.state != NodeState::RUNNING) {
            return;
        }
        tracing::info!(node = %id, "node unregistered: it is shutting down");
        self.remove_node(id, NodeState::SHUTDOWN, now_ms);
    }

    /// Takes a node out of service: no more grants on it, and what still ran there is complete.
    fn remove_node(&mut self, id: &NodeId, state: NodeState, now_ms: u64) {
        let Some(node) = self.nodes.get_mut(id) else { return };
        if node.state.is_active() && !state.is_active() {
            self.active_nodes -= 1;
        }
        node.state = state;
        for held in std::mem::take(&mut node.stopping).into_values() {
            node.allocated = node.allocated.saturating_sub(held);
        }
        let containers: Vec<ContainerId> = node.containers.iter().copied().collect();
        self.scheduler.remove_node(id);
        for container in containers {
            if !self.end_release(container, now_ms) {
                self.complete_container(container, exit_status::ABORTED, LOST_NODE_DIAGNOSTICS.into(), now_ms);
            }
        }
        self.schedule(now_ms);
    }

    /// The one place a container ends: resources come back, the attempt hears of it, AM failures
    /// are handled, and kills are recorded.
    pub(crate) fn complete_container(&mut self, id: ContainerId, status: i32, diagnostics: String, now_ms: u64) {
        let Some(container) = self.containers.get_mut(&id) else { return };
        if container.is_complete() {
            return;
        }
        container.complete(status, diagnostics.clone(), now_ms);
        // Borrowed, not cloned: this runs once per container that ends. Only a kill or an AM's end
        // (both rare) copies the record.
        let container = &*container;
        if let Some(node) = self.nodes.get_mut(&container.node) {
            if node.containers.remove(&id) {
                node.allocated = node.allocated.saturating_sub(container.resource);
                self.scheduler.release(&container.node, container.resource);
            }
        }
        let (memory_seconds, vcore_seconds) = container.usage_seconds(now_ms);
        let (usage, reported_kill) = (container.usage, container.reported_kill.clone());
        let kill = kill_of(container, now_ms).map(|kill| (container.clone(), kill));
        let am = container.is_am.then(|| container.clone());
        if let Some((container, (reason, at_ms))) = kill {
            self.record_kill(&container, reason, at_ms);
        }
        let Some(app) = self.apps.get_mut(&id.application()) else { return };
        app.memory_seconds += memory_seconds;
        app.vcore_seconds += vcore_seconds;
        let Some(attempt) = app.attempt_mut(id.attempt) else { return };
        let Some(container) = am else {
            let mut report = ReportedContainer::complete(id, status, diagnostics);
            report.usage = usage;
            report.kill = reported_kill;
            attempt.newly_completed.push(report);
            return;
        };
        if attempt.state == AttemptState::FINISHING {
            attempt.end(AttemptState::FINISHED, now_ms);
            let nodes = self.nodes_running(id.application());
            self.cleanup_app_on(nodes, id.application());
        } else if !attempt.is_ended() && !app.state.is_final() {
            self.am_container_failed(&container, now_ms);
        }
    }

    fn record_kill(&mut self, container: &super::RmContainer, reason: KillReason, at_ms: u64) {
        tracing::info!(
            container = %container.id, node = %container.node, exit_status = container.exit_status,
            reason = reason.as_str(), "container killed"
        );
        *self.kill_counts.entry(reason).or_default() += 1;
        if let Some(node) = self.nodes.get_mut(&container.node) {
            *node.kills.entry(reason).or_default() += 1;
        }
        self.kills.push_front(KillEvent {
            container: container.id,
            node: container.node.clone(),
            reason,
            exit_status: container.exit_status,
            diagnostics: container.diagnostics.clone(),
            at_ms,
            usage: container.usage,
        });
        self.kills.truncate(self.config.max_kill_records);
    }

    /// The AM container ended before its attempt unregistered: the attempt fails, and the
    /// application gets another attempt or fails.
    fn am_container_failed(&mut self, container: &super::RmContainer, now_ms: u64) {
        let app_id = container.id.application();
        let app = self.apps.get_mut(&app_id).expect("caller checked");
        let attempt = app.current_attempt_mut();
        let attempt_id = attempt.id;
        let diagnostics = format!(
            "AM Container for {attempt_id} exited with  exitCode: {}\nFailing this attempt.Diagnostics: {}For more detailed output, check the application tracking page: {} Then click on links to logs of each attempt.\n",
            container.exit_status,
            container.diagnostics,
            format_args!("/cluster/app/{app_id}"),
        );
        tracing::warn!(attempt = %attempt_id, exit_status = container.exit_status, "application master container failed");
        self.fail_current_attempt(app_id, diagnostics, now_ms);
    }

    /// The current attempt of `app_id` failed (`diagnostics` say why): its containers are stopped,
    /// and the application gets another attempt or fails.
    pub(crate) fn fail_current_attempt(&mut self, app_id: weft_proto::ApplicationId, diagnostics: String, now_ms: u64) {
        let Some(app) = self.apps.get_mut(&app_id) else { return };
        let attempt = app.current_attempt_mut();
        let attempt_id = attempt.id;
        attempt.diagnostics = diagnostics.clone();
        attempt.end(AttemptState::FAILED, now_ms);
        let leftovers: Vec<ContainerId> = attempt.containers.iter().copied().collect();
        self.changed(app_id);
        self.scheduler.remove_attempt(attempt_id);
        self.release_containers(&leftovers, Release::ByResourceManager, now_ms);
        let app = self.apps.get_mut(&app_id).expect("checked above");
        let attempts_made = app.attempts.len() as u32;
        if attempts_made < app.max_attempts {
            self.start_attempt(app_id, now_ms);
        } else {
            let text = format!(
                "Application {app_id} failed {attempts_made} times due to {diagnostics}. Failing the application."
            );
            app.finish(AppState::FAILED, FinalStatus::FAILED, text, now_ms);
            self.app_ended(app_id);
        }
    }

    /// Asks NodeManagers to stop containers still alive. One not seen running yet may have been
    /// started all the same (its application master had it): it completes, with the exit status and
    /// diagnostics of whoever gave it up (`Release`), once its node's next heartbeat after the stop
    /// does not report it running — its room is not handed out again while it may still be in use.
    /// A grant its AM has not been handed yet, and an expired one (no heartbeat reported it running
    /// for the whole interval), end at once.
    pub(crate) fn release_containers(&mut self, ids: &[ContainerId], by: Release, now_ms: u64) {
        for id in ids {
            let Some(container) = self.containers.get_mut(id) else { continue };
            if container.is_complete() {
                continue;
            }
            let never_started = container.state == ContainerState::NEW;
            if never_started && container.released.is_none() {
                container.released = Some(by);
            }
            // Granted since its AM's last allocate call (ids are issued in order): nobody has it.
            let unseen = !container.is_am
                && self.apps.get(&id.application()).is_some_and(|app| {
                    app.attempts.iter().any(|a| a.id == id.attempt && a.newly_allocated.binary_search(id).is_ok())
                });
            let node = self.nodes.get_mut(&container.node).filter(|n| n.state == NodeState::RUNNING);
            let heard_of_later = node.is_some() && by != Release::Expired && !unseen;
            if let Some(node) = node {
                node.containers_to_cleanup.insert(*id);
            }
            if never_started && !heard_of_later {
                self.end_release(*id, now_ms);
            }
        }
    }

    /// Strays held since an earlier report that the node no longer reports running (not in
    /// `running`, the ids it reports running, collected only while it holds any) give their room
    /// back; the strays of this report (see [`Node::stopping`]) take theirs from now on.
    fn hold_stopping(&mut self, id: &NodeId, strays: Vec<(ContainerId, Resource)>, running: &BTreeSet<ContainerId>) {
        let Some(node) = self.nodes.get_mut(id) else { return };
        if strays.is_empty() && node.stopping.is_empty() {
            return;
        }
        let before = node.allocated;
        let allocated = &mut node.allocated;
        node.stopping.retain(|container, held| {
            let runs = running.contains(container);
            if !runs {
                *allocated = allocated.saturating_sub(*held);
            }
            runs
        });
        // Reported running in this very report: no lookup needed.
        for (container, resource) in strays {
            if node.stopping.insert(container, resource).is_none() {
                node.allocated += resource;
                tracing::info!(container = %container, node = %id, "a container no application holds runs here: stopping it, its room held until it stops");
            }
        }
        if node.allocated != before && node.state == NodeState::RUNNING {
            self.scheduler.add_node(id.clone(), node.available());
        }
    }

    /// Completes a container given up before it was seen running, as whoever gave it up says;
    /// false (and nothing changed) for any other.
    fn end_release(&mut self, id: ContainerId, now_ms: u64) -> bool {
        let Some(container) = self.containers.get_mut(&id) else { return false };
        let Some(by) = container.released.filter(|_| container.state == ContainerState::NEW) else { return false };
        container.given_back = by.gives_back();
        let (status, diagnostics) = by.exit();
        self.complete_container(id, status, diagnostics.into(), now_ms);
        true
    }

    /// Granted containers that no NodeManager reported running within
    /// `container_allocation_expiry_ms` go back to the cluster (YARN's ContainerAllocationExpirer).
    pub(crate) fn expire_unused_containers(&mut self, now_ms: u64) {
        if now_ms < self.unused_due_ms {
            return;
        }
        let expiry = self.config.container_allocation_expiry_ms;
        let mut expired: Vec<ContainerId> = Vec::new();
        let mut next_due_ms = u64::MAX;
        for c in self.containers.values().filter(|c| c.state == ContainerState::NEW && c.released.is_none()) {
            if now_ms.saturating_sub(c.created_ms) >= expiry {
                expired.push(c.id);
            } else {
                next_due_ms = next_due_ms.min(c.created_ms.saturating_add(expiry));
            }
        }
        self.unused_due_ms = next_due_ms;
        if expired.is_empty() {
            return;
        }
        expired.sort();
        tracing::warn!(containers = expired.len(), "granted containers expired unused");
        self.release_containers(&expired, Release::Expired, now_ms);
        self.schedule(now_ms);
    }

    /// Nodes where containers of `app` are still alive.
    pub(crate) fn nodes_running(&self, app: weft_proto::ApplicationId) -> Vec<NodeId> {
        self.nodes
            .values()
            .filter(|n| n.containers.iter().any(|c| c.application() == app))
            .map(|n| n.id.clone())
            .collect()
    }

    pub(crate) fn cleanup_app_on(&mut self, nodes: Vec<NodeId>, app: weft_proto::ApplicationId) {
        for id in nodes {
            if let Some(node) = self.nodes.get_mut(&id) {
                node.apps_to_cleanup.insert(app);
            }
        }
    }
}

/// Why and when an ended container counts as killed (the NodeManager's word first, else its exit
/// status); `None` when its end is not a kill (it exited by itself, or was given back unused).
fn kill_of(container: &super::RmContainer, now_ms: u64) -> Option<(KillReason, u64)> {
    if container.given_back {
        return None;
    }
    let reported = container.reported_kill.as_ref().and_then(|(r, at)| Some((r.parse::<KillReason>().ok()?, *at)));
    reported.or_else(|| Some((KillReason::from_exit_status(container.exit_status)?, now_ms)))
}
