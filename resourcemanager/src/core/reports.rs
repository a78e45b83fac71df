//! Read-only views of the core for reports, REST and pages.

use weft_proto::states::{AppState, ContainerState, NodeState};
use weft_proto::{ApplicationAttemptId, ApplicationId, ContainerId, NodeId, Resource};

use super::acl::{AccessType, Caller};
use super::app::App;
use super::container::{ReportedContainer, RmContainer};
use super::error::RmError;
use super::events::{KillEvent, KillReason};
use super::node::Node;
use super::RmCore;

/// What one allocate call hands back to the AM.
#[derive(Debug, Clone)]
pub struct AllocateReply {
    pub allocated: Vec<RmContainer>,
    /// The positions in `allocated` of the grants that bring their node's NM token with this
    /// reply: one per node the attempt has not been sent a token for since it started or the
    /// ResourceManager restarted (see [`AllocateReply::nm_token_nodes`]).
    pub nm_token_grants: Vec<usize>,
    pub completed: Vec<ReportedContainer>,
    pub available: Resource,
    pub num_cluster_nodes: i32,
}

impl AllocateReply {
    /// The nodes the attempt needs an NM token for with this reply, each once, in grant order.
    pub fn nm_token_nodes(&self) -> impl Iterator<Item = &NodeId> {
        self.nm_token_grants.iter().map(|&i| &self.allocated[i].node)
    }
}

/// Filters of `/ws/v1/cluster/apps` and `GetApplications`. Empty means any.
#[derive(Debug, Clone, Default)]
pub struct AppFilter {
    pub states: Vec<AppState>,
    pub final_statuses: Vec<weft_proto::states::FinalStatus>,
    pub queue: Option<String>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub application_types: Vec<String>,
    pub limit: Option<usize>,
    pub started_begin_ms: Option<u64>,
    pub started_end_ms: Option<u64>,
    pub finished_begin_ms: Option<u64>,
    pub finished_end_ms: Option<u64>,
}

impl AppFilter {
    fn matches(&self, app: &App) -> bool {
        let s = &app.submission;
        (self.states.is_empty() || self.states.contains(&app.state))
            && (self.final_statuses.is_empty() || self.final_statuses.contains(&app.final_status))
            && self.queue.as_ref().is_none_or(|q| q == &s.queue || *q == format!("root.{}", s.queue))
            && self.user.as_ref().is_none_or(|u| u == &s.user)
            && self.name.as_ref().is_none_or(|n| n == &s.name)
            && (self.application_types.is_empty()
                || self.application_types.iter().any(|t| t.eq_ignore_ascii_case(&s.application_type)))
            && self.started_begin_ms.is_none_or(|t| app.started_ms >= t)
            && self.started_end_ms.is_none_or(|t| app.started_ms <= t)
            && self.finished_begin_ms.is_none_or(|t| app.finished_ms >= t && app.finished_ms != 0)
            && self.finished_end_ms.is_none_or(|t| app.finished_ms <= t && app.finished_ms != 0)
    }
}

/// YARN's cluster metrics, computed from the current state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterMetrics {
    pub apps_submitted: i32,
    pub apps_completed: i32,
    pub apps_pending: i32,
    pub apps_running: i32,
    pub apps_failed: i32,
    pub apps_killed: i32,
    pub total: Resource,
    pub allocated: Resource,
    pub available: Resource,
    pub containers_allocated: i32,
    pub containers_pending: i64,
    pub active_nodes: i32,
    pub lost_nodes: i32,
    pub unhealthy_nodes: i32,
    pub decommissioned_nodes: i32,
    pub shutdown_nodes: i32,
    pub rebooted_nodes: i32,
    pub decommissioning_nodes: i32,
    pub total_nodes: i32,
    pub kills: Vec<(KillReason, u64)>,
}

/// Filters of the kill feed.
#[derive(Debug, Clone, Default)]
pub struct KillFilter {
    pub app: Option<ApplicationId>,
    pub node: Option<NodeId>,
    pub reason: Option<KillReason>,
    pub since_ms: Option<u64>,
}

impl RmCore {
    pub fn app(&self, id: ApplicationId) -> Result<&App, RmError> {
        self.apps.get(&id).ok_or(RmError::UnknownApplication(id))
    }

    /// Whether `caller` may `access` `app`: always with ACLs off, else its owner, an admin, or
    /// someone its ACL for `access` names.
    pub fn may(&self, app: &App, caller: &Caller, access: AccessType) -> bool {
        self.config.acls.allows(caller, access, &app.submission.user, &app.submission.acls)
    }

    /// The application, when `caller` may `access` it; an unknown id is still
    /// [`RmError::UnknownApplication`].
    pub fn authorized(&self, id: ApplicationId, caller: &Caller, access: AccessType) -> Result<&App, RmError> {
        let app = self.app(id)?;
        if self.may(app, caller, access) {
            Ok(app)
        } else {
            Err(RmError::AccessDenied { user: caller.user.clone(), access, app: id })
        }
    }

    /// Whether `caller` may view application `id`; one the ResourceManager no longer knows is
    /// viewable only with ACLs off (its owner is forgotten).
    pub fn may_view(&self, id: ApplicationId, caller: &Caller) -> bool {
        match self.apps.get(&id) {
            Some(app) => self.may(app, caller, AccessType::ViewApp),
            None => !self.config.acls.is_enabled(),
        }
    }

    /// Applications matching `filter`, oldest first, at most `filter.limit`.
    pub fn apps(&self, filter: &AppFilter) -> Vec<&App> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        self.apps.values().filter(|a| filter.matches(a)).take(limit).collect()
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    pub fn node(&self, id: &NodeId) -> Result<&Node, RmError> {
        self.nodes.get(id).ok_or_else(|| RmError::UnknownNode(id.clone()))
    }

    pub fn container(&self, id: ContainerId) -> Result<&RmContainer, RmError> {
        self.containers.get(&id).map(|c| &**c).ok_or(RmError::UnknownContainer(id))
    }

    /// Every container of an attempt, completed ones included, by id.
    pub fn attempt_containers(&self, attempt: ApplicationAttemptId) -> Result<Vec<&RmContainer>, RmError> {
        let app = self.app(attempt.application)?;
        let a = app.attempts.iter().find(|a| a.id == attempt).ok_or(RmError::UnknownAttempt(attempt))?;
        Ok(a.containers.iter().filter_map(|c| self.containers.get(c).map(|c| &**c)).collect())
    }

    /// Every container of every attempt of an application.
    pub fn app_containers(&self, id: ApplicationId) -> Result<Vec<&RmContainer>, RmError> {
        let app = self.app(id)?;
        Ok(app
            .attempts
            .iter()
            .flat_map(|a| a.containers.iter())
            .filter_map(|c| self.containers.get(c).map(|c| &**c))
            .collect())
    }

    /// Resources currently held by an application's live containers, and how many there are.
    pub fn app_allocated(&self, id: ApplicationId) -> (Resource, i32) {
        let Ok(containers) = self.app_containers(id) else { return (Resource::ZERO, 0) };
        containers
            .iter()
            .filter(|c| c.state != ContainerState::COMPLETE)
            .fold((Resource::ZERO, 0), |(r, n), c| (r + c.resource, n + 1))
    }

    /// Kills, newest first.
    pub fn kills(&self, filter: &KillFilter) -> Vec<&KillEvent> {
        self.kills
            .iter()
            .filter(|k| filter.app.is_none_or(|a| k.container.application() == a))
            .filter(|k| filter.node.as_ref().is_none_or(|n| &k.node == n))
            .filter(|k| filter.reason.is_none_or(|r| k.reason == r))
            .filter(|k| filter.since_ms.is_none_or(|t| k.at_ms >= t))
            .collect()
    }

    pub fn metrics(&self) -> ClusterMetrics {
        let mut m = ClusterMetrics::default();
        for app in self.apps.values() {
            m.apps_submitted += 1;
            match app.state {
                AppState::FINISHED => m.apps_completed += 1,
                AppState::FAILED => m.apps_failed += 1,
                AppState::KILLED => m.apps_killed += 1,
                AppState::RUNNING => m.apps_running += 1,
                _ => m.apps_pending += 1,
            }
        }
        for node in self.nodes.values() {
            m.total_nodes += 1;
            match node.state {
                NodeState::LOST => m.lost_nodes += 1,
                NodeState::UNHEALTHY => m.unhealthy_nodes += 1,
                NodeState::DECOMMISSIONED => m.decommissioned_nodes += 1,
                NodeState::SHUTDOWN => m.shutdown_nodes += 1,
                NodeState::REBOOTED => m.rebooted_nodes += 1,
                NodeState::DECOMMISSIONING => m.decommissioning_nodes += 1,
                NodeState::NEW | NodeState::RUNNING => m.active_nodes += 1,
            }
            if node.state == NodeState::RUNNING {
                m.total += node.total;
                m.allocated += node.allocated;
            }
            m.containers_allocated += node.containers.len() as i32;
        }
        m.available = m.total.saturating_sub(m.allocated);
        m.containers_pending = self.scheduler.pending_containers() as i64;
        m.kills = self.kill_counts.iter().map(|(r, n)| (*r, *n)).collect();
        m
    }
}
