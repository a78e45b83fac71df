//! Work-preserving recovery: applications taken back from the state store after a restart, the
//! containers NodeManagers still hold for them, and attempts whose application master never comes
//! back.
//!
//! ```text
//!   stored attempt SCHEDULED ──► asks for its AM container again
//!   ALLOCATED / LAUNCHED / RUNNING ──► LAUNCHED, waiting: the AM re-registers on its next allocate
//!     (ApplicationMasterNotRegistered), or its AM container is reported complete (the attempt
//!     fails as usual), or `am_liveness_expiry_ms` passes (the attempt times out)
//!   a container of a previous epoch reported by a NodeManager, of an attempt still running ──► taken
//!     back: the node's use and the scheduler count it again; a completed one reaches its AM
//! ```

use weft_proto::states::{AppState, AttemptState, ContainerState, NodeState};
use weft_proto::{exit_status, NodeId};

use super::app::App;
use super::container::{ReportedContainer, RmContainer};
use super::RmCore;

impl RmCore {
    /// Takes back applications read from the state store, before any NodeManager registers.
    pub fn recover(&mut self, apps: Vec<App>, now_ms: u64) {
        let mut finished: Vec<(u64, weft_proto::ApplicationId)> = Vec::new();
        for mut app in apps {
            let id = app.id();
            if app.state.is_final() {
                finished.push((app.finished_ms, id));
                self.apps.insert(id, app);
                continue;
            }
            let am_resource = app.submission.am_resource;
            let attempt = app.current_attempt_mut();
            // Node indices are this core's own; the AM is sent its NM tokens again.
            attempt.forget_nm_tokens();
            let attempt_id = attempt.id;
            let state = attempt.state;
            match state {
                AttemptState::SCHEDULED => {
                    self.apps.insert(id, app);
                    self.ask_for_am(attempt_id, am_resource, now_ms);
                }
                _ if attempt.is_ended() => {
                    // Stored between its attempt's end and the next one's start.
                    self.apps.insert(id, app);
                    self.fail_or_retry_after_recovery(id, now_ms);
                }
                _ => {
                    attempt.state = AttemptState::LAUNCHED;
                    attempt.recovered_ms = Some(now_ms);
                    app.state = AppState::ACCEPTED;
                    self.apps.insert(id, app);
                }
            }
            tracing::info!(app = %id, attempt = %attempt_id, stored_state = %state, "application recovered");
        }
        finished.sort();
        self.completed_order.extend(finished.into_iter().map(|(_, id)| id));
        self.retain_completed();
    }

    fn fail_or_retry_after_recovery(&mut self, id: weft_proto::ApplicationId, now_ms: u64) {
        let Some(app) = self.apps.get(&id) else { return };
        if (app.attempts.len() as u32) < app.max_attempts {
            self.start_attempt(id, now_ms);
        } else {
            let text = format!(
                "Application {id} failed {} times; its last attempt ended before the ResourceManager restarted.",
                app.attempts.len()
            );
            let app = self.apps.get_mut(&id).expect("checked above");
            app.finish(AppState::FAILED, weft_proto::states::FinalStatus::FAILED, text, now_ms);
            self.app_ended(id);
        }
    }

    /// A container a NodeManager reports that this ResourceManager does not know, granted by an
    /// earlier incarnation (an older epoch) to an attempt that still runs: it is taken back —
    /// running, it counts on its node again; completed, its application master hears of it, and
    /// it never counts on its node (whose room may already hold what was granted since).
    /// Returns false (and changes nothing) for any other container.
    pub(crate) fn adopt(&mut self, node: &NodeId, status: &ReportedContainer, now_ms: u64) -> bool {
        if status.id.epoch >= self.config.epoch || self.containers.contains_key(&status.id) {
            return false;
        }
        let Some(app) = self.apps.get_mut(&status.id.application()) else { return false };
        if app.state.is_final() {
            return false;
        }
        let Some(attempt) = app.attempt_mut(status.id.attempt) else { return false };
        if attempt.is_ended() {
            return false;
        }
        let Some(n) = self.nodes.get_mut(node).filter(|n| n.state == NodeState::RUNNING) else { return false };
        let id = status.id;
        let is_am = attempt.am_container == Some(id);
        let released = attempt.released_before_recovery.remove(&id);
        let complete = status.state == ContainerState::COMPLETE;
        attempt.containers.insert(id);
        if !complete {
            n.containers.insert(id);
            n.allocated += status.resource;
        }
        self.containers.insert(
            id,
            Box::new(RmContainer {
                id,
                node: node.clone(),
                node_http_address: n.http_address.clone(),
                resource: status.resource,
                priority: 0,
                state: ContainerState::RUNNING,
                exit_status: exit_status::INVALID,
                diagnostics: String::new(),
                created_ms: if status.created_ms > 0 { status.created_ms.min(now_ms) } else { now_ms },
                finished_ms: 0,
                is_am,
                usage: status.usage,
                reported_kill: status.kill.clone(),
                given_back: false,
                released: None,
            }),
        );
        tracing::info!(container = %id, node = %node, state = %status.state, "container recovered");
        if complete {
            // Its end reaches its attempt (an AM's starts the next attempt); no room comes back.
            self.complete_container(id, status.exit_status, status.diagnostics.clone(), now_ms);
            return true;
        }
        // The scheduler counts it before anything else is placed (the next AM of an application
        // whose AM container this node reports ended, say).
        let available = self.nodes.get(node).map(|n| n.available()).unwrap_or_default();
        self.scheduler.add_node(node.clone(), available);
        if released {
            tracing::info!(container = %id, "container released by its application before the restart: stopped");
            self.release_containers(&[id], super::nodes::Release::ByApplication, now_ms);
        }
        true
    }

    /// Recovered attempts that have not registered again within `am_liveness_expiry_ms` fail, as
    /// YARN's AM liveness monitor fails them.
    pub(crate) fn expire_recovered_attempts(&mut self, now_ms: u64) {
        let expiry = self.config.am_liveness_expiry_ms;
        let due: Vec<_> = self
            .apps
            .values()
            .filter(|app| !app.state.is_final())
            .map(|app| app.current_attempt())
            .filter(|a| a.state == AttemptState::LAUNCHED)
            .filter(|a| a.recovered_ms.is_some_and(|t| now_ms.saturating_sub(t) >= expiry))
            .map(|a| a.id)
            .collect();
        for attempt in due {
            tracing::warn!(%attempt, "application master did not register again after the restart");
            self.fail_current_attempt(
                attempt.application,
                format!("ApplicationMaster for attempt {attempt} timed out"),
                now_ms,
            );
        }
    }
}
