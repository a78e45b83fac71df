//! Application events: new id, submit, kill, and the application master protocol.

use weft_proto::states::{AppState, AttemptState, ContainerState, FinalStatus};
use weft_proto::{exit_status, ApplicationAttemptId, ApplicationId, ContainerId};

use super::app::{App, Attempt, Submission};
use super::container::ReportedContainer;
use super::error::RmError;
use super::events::KillReason;
use super::nodes::Release;
use super::reports::AllocateReply;
use super::RmCore;
use crate::scheduler::{normalize, Ask};

/// The priority of AM container asks; application containers use their own.
const AM_PRIORITY: i32 = 0;

/// What an application master asks for in one allocate call (domain form).
#[derive(Debug, Clone, PartialEq)]
pub struct AskRequest {
    pub priority: i32,
    pub capability: weft_proto::Resource,
    pub num_containers: i64,
}

impl RmCore {
    /// Issues the next application id (GetNewApplication).
    pub fn new_application(&mut self) -> ApplicationId {
        let sequence = self.next_app_sequence;
        self.next_app_sequence += 1;
        self.issued.insert(sequence);
        ApplicationId::new(self.config.cluster_timestamp, sequence)
    }

    /// Accepts a submission: the id must have been issued here (or by this ResourceManager before
    /// a restart: a client that asked for it then submits now) and not used; the AM's size must be
    /// allowed. Nothing changes when it is refused.
    pub fn submit(&mut self, mut submission: Submission, now_ms: u64) -> Result<(), RmError> {
        let id = submission.id;
        if self.apps.contains_key(&id) {
            return Err(RmError::AlreadySubmitted(id));
        }
        let ours = id.cluster_timestamp == self.config.cluster_timestamp && self.issued.contains(&id.sequence);
        let before_a_restart = self.config.epoch > 0 && id.cluster_timestamp < self.config.cluster_timestamp;
        if !ours && !before_a_restart {
            return Err(RmError::NotIssued { id, cluster_timestamp: self.config.cluster_timestamp });
        }
        if submission.queue.is_empty() {
            submission.queue = "default".into();
        }
        if submission.queue != "default" && submission.queue != "root.default" {
            return Err(RmError::UnknownQueue(submission.queue));
        }
        submission.queue = "default".into();
        let launch = &submission.am_launch;
        if !submission.unmanaged_am && launch.command.is_empty() && launch.hadoop_context.is_empty() {
            return Err(RmError::InvalidSubmission("the AM container has no command".into()));
        }
        let (minimum, maximum) = (self.config.minimum_allocation, self.config.maximum_allocation);
        submission.am_resource = normalize(submission.am_resource, minimum, maximum)?;
        if submission.name.is_empty() {
            submission.name = "N/A".into();
        }
        if submission.application_type.is_empty() {
            submission.application_type = "YARN".into();
        }
        let cap = self.config.am_max_attempts;
        let max_attempts = match submission.max_app_attempts {
            0 => cap,
            n => n.min(cap),
        };
        if ours {
            self.issued.remove(&id.sequence);
        }
        let blobs = submission.am_launch.local_files.iter().map(|f| f.sha256.clone()).collect();
        tracing::info!(app = %id, name = %submission.name, user = %submission.user, "application submitted");
        self.apps.insert(
            id,
            App {
                submission,
                state: AppState::ACCEPTED,
                final_status: FinalStatus::UNDEFINED,
                diagnostics: String::new(),
                progress: 0.0,
                started_ms: now_ms,
                finished_ms: 0,
                attempts: Vec::new(),
                max_attempts,
                memory_seconds: 0,
                vcore_seconds: 0,
                blobs,
            },
        );
        self.start_attempt(id, now_ms);
        Ok(())
    }

    /// Creates the next attempt and asks for its AM container (unless the AM is unmanaged).
    pub(crate) fn start_attempt(&mut self, id: ApplicationId, now_ms: u64) {
        let app = self.apps.get_mut(&id).expect("caller checked");
        let attempt_id = id.attempt(app.attempts.len() as u32 + 1);
        let unmanaged = app.submission.unmanaged_am;
        app.attempts.push(Attempt::new(attempt_id, unmanaged, now_ms));
        app.state = AppState::ACCEPTED;
        let am_resource = app.submission.am_resource;
        self.changed(id);
        if !unmanaged {
            self.ask_for_am(attempt_id, am_resource, now_ms);
        }
    }

    /// Asks the scheduler for an attempt's AM container.
    pub(crate) fn ask_for_am(&mut self, attempt: ApplicationAttemptId, resource: weft_proto::Resource, now_ms: u64) {
        let ask = Ask { priority: AM_PRIORITY, capability: resource, num_containers: 1 };
        self.scheduler.update_asks(attempt, &[ask]);
        self.schedule(now_ms);
    }

    /// Whether an AM container granted to `attempt` is still to be started: the attempt waits for
    /// it (ALLOCATED, this container its AM's). A launch queued before its attempt ended (a node
    /// lost, an application killed) is not carried out, so nothing starts in room given back.
    pub fn am_launch_wanted(&self, attempt: ApplicationAttemptId, container: ContainerId) -> bool {
        let Some(a) = self.apps.get(&attempt.application).and_then(|app| app.attempts.iter().find(|a| a.id == attempt))
        else {
            return false;
        };
        a.state == AttemptState::ALLOCATED
            && a.am_container == Some(container)
            && self.containers.get(&container).is_some_and(|c| !c.is_complete())
    }

    /// The AM launcher's outcome: the NodeManager started the AM container, or could not.
    pub fn am_launched(&mut self, attempt: ApplicationAttemptId, result: Result<(), String>, now_ms: u64) {
        let Some(app) = self.apps.get_mut(&attempt.application) else { return };
        let Some(a) = app.attempt_mut(attempt) else { return };
        match result {
            Ok(()) if a.state == AttemptState::ALLOCATED => {
                a.state = AttemptState::LAUNCHED;
                self.changed(attempt.application);
            }
            Ok(()) => {}
            Err(error) => {
                let Some(container) = a.am_container else { return };
                let diagnostics = format!("Error launching {attempt}. Got exception: {error}");
                self.complete_container(container, exit_status::ABORTED, diagnostics, now_ms);
            }
        }
    }

    /// Kills an application: every live container is stopped, the state becomes KILLED. Returns
    /// `Ok(false)` (and changes nothing) when it had already ended.
    pub fn kill(&mut self, id: ApplicationId, diagnostics: String, now_ms: u64) -> Result<bool, RmError> {
        let app = self.apps.get_mut(&id).ok_or(RmError::UnknownApplication(id))?;
        if app.state.is_final() {
            return Ok(false);
        }
        let attempt = app.current_attempt_mut();
        if !attempt.is_ended() {
            attempt.end(AttemptState::KILLED, now_ms);
        }
        let attempt_id = attempt.id;
        app.finish(AppState::KILLED, FinalStatus::KILLED, diagnostics, now_ms);
        let live: Vec<ContainerId> = app.attempts.iter().flat_map(|a| a.containers.iter().copied()).collect();
        self.scheduler.remove_attempt(attempt_id);
        self.release_containers(&live, Release::ByResourceManager, now_ms);
        let nodes = self.nodes_running(id);
        self.cleanup_app_on(nodes, id);
        self.changed(id);
        tracing::info!(app = %id, "application killed");
        self.app_ended(id);
        Ok(true)
    }

    fn current_attempt_checked(&mut self, attempt: ApplicationAttemptId) -> Result<&mut App, RmError> {
        let app = self.apps.get_mut(&attempt.application).ok_or(RmError::UnknownAttempt(attempt))?;
        let current = app.current_attempt().id;
        if current != attempt {
            return Err(RmError::NotCurrentAttempt { attempt, current });
        }
        Ok(app)
    }

    /// RegisterApplicationMaster: the attempt is running.
    pub fn register_am(
        &mut self,
        attempt: ApplicationAttemptId,
        host: String,
        rpc_port: i32,
        tracking_url: String,
        _now_ms: u64,
    ) -> Result<(), RmError> {
        let app = self.current_attempt_checked(attempt)?;
        let a = app.current_attempt_mut();
        if !matches!(a.state, AttemptState::ALLOCATED | AttemptState::LAUNCHED | AttemptState::RUNNING) {
            return Err(RmError::AttemptState { attempt, state: a.state, what: "it cannot register" });
        }
        if a.recovered_ms.take().is_some() {
            tracing::info!(attempt = %attempt, "application master registered again after the restart");
        }
        a.state = AttemptState::RUNNING;
        a.host = host;
        a.rpc_port = rpc_port;
        a.tracking_url = tracking_url;
        app.state = AppState::RUNNING;
        self.changed(attempt.application);
        Ok(())
    }

    /// Allocate: replace the attempt's asks, release what it gives back, hand out what fits, and
    /// report what was granted and what completed since the last call.
    pub fn allocate(
        &mut self,
        attempt: ApplicationAttemptId,
        asks: &[AskRequest],
        releases: &[ContainerId],
        progress: f32,
        now_ms: u64,
    ) -> Result<AllocateReply, RmError> {
        let (minimum, maximum) = (self.config.minimum_allocation, self.config.maximum_allocation);
        let mut normalized = Vec::with_capacity(asks.len());
        for ask in asks {
            if ask.num_containers < 0 {
                return Err(RmError::NegativeContainerCount(ask.num_containers));
            }
            let capability = normalize(ask.capability, minimum, maximum)?;
            let num_containers = u32::try_from(ask.num_containers).unwrap_or(u32::MAX);
            normalized.push(Ask { priority: ask.priority.max(AM_PRIORITY + 1), capability, num_containers });
        }
        let app = self.current_attempt_checked(attempt)?;
        let state = app.current_attempt().state;
        if matches!(state, AttemptState::ALLOCATED | AttemptState::LAUNCHED) {
            return Err(RmError::NotRegistered(attempt));
        }
        if state != AttemptState::RUNNING {
            return Err(RmError::AttemptState {
                attempt,
                state,
                what: "only a registered, running attempt can allocate",
            });
        }
        app.progress = (progress.clamp(0.0, 1.0)) * 100.0;
        let own: Vec<ContainerId> = releases.iter().filter(|c| c.attempt == attempt).copied().collect();
        // Granted before a restart and not reported by their node yet: stopped when taken back.
        let epoch = self.config.epoch;
        let unheard: Vec<ContainerId> =
            own.iter().filter(|c| c.epoch < epoch && !self.containers.contains_key(c)).copied().collect();
        if !unheard.is_empty() {
            let app = self.apps.get_mut(&attempt.application).expect("checked above");
            app.current_attempt_mut().released_before_recovery.extend(unheard);
        }
        self.scheduler.update_asks(attempt, &normalized);
        self.release_containers(&own, Release::ByApplication, now_ms);
        self.schedule(now_ms);
        let app = self.apps.get_mut(&attempt.application).expect("checked above");
        let a = app.current_attempt_mut();
        let allocated = std::mem::take(&mut a.newly_allocated);
        let completed: Vec<ReportedContainer> = std::mem::take(&mut a.newly_completed);
        let tokening = std::mem::take(&mut a.newly_tokened);
        let allocated = self.granted_records(&allocated);
        let nm_token_grants = self.token_positions(attempt, &allocated, tokening);
        Ok(AllocateReply {
            allocated,
            nm_token_grants,
            completed,
            available: self.scheduler.available(),
            num_cluster_nodes: self.active_node_count(),
        })
    }

    /// The records of granted containers `ids` to hand to their AM, except those that ended before
    /// it heard of them (expired, say). Grants are issued in ascending order, so one ordered pass
    /// over the range they span replaces a search per id.
    fn granted_records(&self, ids: &[ContainerId]) -> Vec<super::RmContainer> {
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else { return Vec::new() };
        if !ids.is_sorted() {
            let records = ids.iter().filter_map(|c| self.containers.get(c));
            return records.filter(|c| !c.is_complete()).map(|c| (**c).clone()).collect();
        }
        let mut wanted = ids.iter().peekable();
        let mut records = Vec::with_capacity(ids.len());
        for (id, record) in self.containers.range(first..=last) {
            while wanted.next_if(|w| *w < id).is_some() {}
            if wanted.next_if(|w| *w == id).is_some() && !record.is_complete() {
                records.push((**record).clone());
            }
        }
        records
    }

    /// Where in `allocated` the grants are whose reply brings their node's NM token: the first
    /// grant on each node the attempt has no token for. When that grant ended before its AM heard
    /// of it, another grant on the node in this reply brings the token, or, if none, the node is
    /// not counted as tokened, so that a later grant there brings it.
    fn token_positions(
        &mut self,
        attempt: ApplicationAttemptId,
        allocated: &[super::RmContainer],
        tokening: Vec<(ContainerId, u32)>,
    ) -> Vec<usize> {
        let mut positions = Vec::with_capacity(tokening.len());
        let mut from = 0;
        for (id, node_index) in tokening {
            // Both are in grant order, so the search goes on from the last grant found.
            let found = allocated[from..].iter().position(|c| c.id == id).map(|p| from + p);
            if let Some(position) = found.or_else(|| allocated.iter().position(|c| c.id == id)) {
                positions.push(position);
                from = position + 1;
                continue;
            }
            let node = self.containers.get(&id).map(|c| &c.node);
            let same_node = node.and_then(|n| allocated.iter().position(|c| c.node == *n));
            match same_node {
                Some(position) => positions.push(position),
                None => {
                    let app = self.apps.get_mut(&attempt.application).expect("the caller found it");
                    app.current_attempt_mut().nm_tokened.remove(node_index);
                }
            }
        }
        positions.sort_unstable();
        positions.dedup();
        positions
    }

    /// The attempt's blacklist changes (YARN's `blacklist_request`): its containers avoid these hosts.
    pub fn update_blacklist(
        &mut self,
        attempt: ApplicationAttemptId,
        additions: &[String],
        removals: &[String],
    ) -> Result<(), RmError> {
        self.current_attempt_checked(attempt)?;
        self.scheduler.update_blacklist(attempt, additions, removals);
        Ok(())
    }

    /// FinishApplicationMaster: the application ends with the AM's final status. The AM container
    /// may run on for the grace period; other containers are stopped once it ends.
    pub fn finish_am(
        &mut self,
        attempt: ApplicationAttemptId,
        final_status: &str,
        diagnostics: String,
        tracking_url: String,
        now_ms: u64,
    ) -> Result<(), RmError> {
        let final_status: FinalStatus = match final_status.parse() {
            Ok(s @ (FinalStatus::SUCCEEDED | FinalStatus::FAILED | FinalStatus::KILLED)) => s,
            _ => return Err(RmError::InvalidFinalStatus(final_status.to_owned())),
        };
        let app = self.current_attempt_checked(attempt)?;
        let a = app.current_attempt_mut();
        if a.state == AttemptState::FINISHING || a.state == AttemptState::FINISHED {
            return Ok(());
        }
        if matches!(a.state, AttemptState::ALLOCATED | AttemptState::LAUNCHED) {
            return Err(RmError::NotRegistered(attempt));
        }
        if a.state != AttemptState::RUNNING {
            return Err(RmError::AttemptState {
                attempt,
                state: a.state,
                what: "only a registered attempt can unregister",
            });
        }
        a.state = AttemptState::FINISHING;
        a.unregistered_ms = Some(now_ms);
        a.final_tracking_url = tracking_url;
        let unmanaged = a.am_container.is_none();
        let granted: Vec<ContainerId> = a.containers.iter().copied().collect();
        app.finish(AppState::FINISHED, final_status, diagnostics, now_ms);
        tracing::info!(app = %attempt.application, final_status = %final_status, "application finished");
        self.scheduler.remove_attempt(attempt);
        let unstarted: Vec<ContainerId> = granted
            .into_iter()
            .filter(|c| self.containers.get(c).is_some_and(|c| !c.is_am && c.state == ContainerState::NEW))
            .collect();
        // Grants it never started go back now; running containers are stopped when the attempt ends.
        self.release_containers(&unstarted, Release::AttemptEnded, now_ms);
        self.schedule(now_ms);
        if unmanaged {
            self.end_finishing_attempt(attempt, now_ms);
        }
        self.app_ended(attempt.application);
        Ok(())
    }

    /// Attempts that unregistered and whose AM container outlived the grace period.
    pub(crate) fn finish_unregistered_attempts(&mut self, now_ms: u64) {
        let grace = self.config.am_finish_grace_ms;
        let due: Vec<ApplicationAttemptId> = self
            .apps
            .values()
            .map(|app| app.current_attempt())
            .filter(|a| a.state == AttemptState::FINISHING)
            .filter(|a| a.unregistered_ms.is_some_and(|t| now_ms.saturating_sub(t) >= grace))
            .map(|a| a.id)
            .collect();
        for attempt in due {
            self.end_finishing_attempt(attempt, now_ms);
        }
    }

    fn end_finishing_attempt(&mut self, attempt: ApplicationAttemptId, now_ms: u64) {
        let Some(app) = self.apps.get_mut(&attempt.application) else { return };
        let Some(a) = app.attempt_mut(attempt) else { return };
        a.end(AttemptState::FINISHED, now_ms);
        let held: Vec<ContainerId> = a.containers.iter().copied().collect();
        self.changed(attempt.application);
        let nodes = self.nodes_running(attempt.application);
        self.cleanup_app_on(nodes, attempt.application);
        self.release_containers(&held, Release::AttemptEnded, now_ms);
    }

    /// Bookkeeping when an application reaches a final state: retention of finished applications.
    pub(crate) fn app_ended(&mut self, id: ApplicationId) {
        self.name_kills_in_diagnostics(id);
        self.changed(id);
        self.completed_order.push_back(id);
        self.retain_completed();
    }

    /// Forgets the oldest finished applications beyond `max_completed_apps` (the store too).
    pub(crate) fn retain_completed(&mut self) {
        while self.completed_order.len() > self.config.max_completed_apps {
            let Some(old) = self.completed_order.pop_front() else { break };
            self.changed(old);
            if let Some(app) = self.apps.remove(&old) {
                for attempt in &app.attempts {
                    for c in &attempt.containers {
                        if self.containers.get(c).is_some_and(|c| c.is_complete()) {
                            self.containers.remove(c);
                        }
                    }
                }
            }
        }
    }

    /// Appends the containers that the cluster killed (memory, kernel OOM, preemption, lost node) to
    /// the application's diagnostics, so whoever reads the report sees why they died.
    fn name_kills_in_diagnostics(&mut self, id: ApplicationId) {
        let external = [
            KillReason::PhysicalMemory,
            KillReason::VirtualMemory,
            KillReason::KernelOom,
            KillReason::Preempted,
            KillReason::Aborted,
        ];
        let mut lines: Vec<String> = self
            .kills
            .iter()
            .rev()
            .filter(|k| k.container.application() == id && external.contains(&k.reason))
            .map(|k| {
                let first = without_timestamp(k.diagnostics.lines().next().unwrap_or(""));
                format!(
                    "Container {} on {} was killed ({}, exit status {}): {first}",
                    k.container,
                    k.node,
                    k.reason.as_str(),
                    k.exit_status
                )
            })
            .collect();
        if lines.is_empty() {
            return;
        }
        const SHOWN: usize = 10;
        if lines.len() > SHOWN {
            let more = lines.len() - SHOWN;
            lines.truncate(SHOWN);
            lines.push(format!("… and {more} more; see /ws/v1/cluster/containers/kills?app={id}"));
        }
        let app = self.apps.get_mut(&id).expect("caller checked");
        if !app.diagnostics.is_empty() {
            app.diagnostics.push('\n');
        }
        app.diagnostics.push_str(&lines.join("\n"));
    }

    /// Staged files that applications which have not ended use (never to be removed).
    pub fn blobs_in_use(&self) -> std::collections::BTreeSet<String> {
        self.apps.values().filter(|a| !a.state.is_final()).flat_map(|a| a.blobs.iter().cloned()).collect()
    }

    pub(crate) fn active_node_count(&self) -> i32 {
        debug_assert_eq!(self.active_nodes, self.nodes.values().filter(|n| n.state.is_active()).count());
        self.active_nodes as i32
    }
}

/// A diagnostics line without YARN 3.x's `[yyyy-MM-dd HH:mm:ss.SSS]` prefix.
fn without_timestamp(line: &str) -> &str {
    match (line.starts_with('['), line.find(']')) {
        (true, Some(end)) => &line[end + 1..],
        _ => line,
    }
}
