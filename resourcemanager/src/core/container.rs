//! The ResourceManager's record of one container: what it granted, and what the NodeManager reported.
//!
//! ```text
//!   NEW (allocated) ──NM reports it running──► RUNNING ──NM reports it complete──► COMPLETE
//!        └──────────── released, node lost, app ended ───────────────────────────────┘
//! ```
//!
//! A NEW container may already run: its application master starts it on the NodeManager before
//! the NodeManager's next heartbeat says so. Given up while NEW, it keeps its room on the node until
//! the NodeManager, told to stop it, has heartbeated once more without it (`released`).

use weft_proto::states::ContainerState;
use weft_proto::{exit_status, ContainerId, NodeId, Resource};

#[derive(Debug, Clone)]
pub struct RmContainer {
    pub id: ContainerId,
    pub node: NodeId,
    /// The node's, shared with it.
    pub node_http_address: std::sync::Arc<str>,
    pub resource: Resource,
    pub priority: i32,
    pub state: ContainerState,
    /// `exit_status::INVALID` until the container completes.
    pub exit_status: i32,
    pub diagnostics: String,
    pub created_ms: u64,
    pub finished_ms: u64,
    pub is_am: bool,
    /// What the NodeManager measured and enforced, from its last report.
    pub usage: MemoryUsage,
    /// The NodeManager's own word on why it killed the container, and when (ms).
    pub reported_kill: Option<(String, u64)>,
    /// It ended before it ever ran: released by its application, dropped when its attempt ended, or
    /// expired unused. Its end is not a kill.
    pub given_back: bool,
    /// Given up while NEW: how, until its node's next heartbeat after the stop shows it gone.
    pub(crate) released: Option<super::nodes::Release>,
}

/// Peak memory over a container's process tree and the limits it was held to, in bytes (0 = unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    pub peak_physical_bytes: i64,
    pub peak_virtual_bytes: i64,
    pub physical_limit_bytes: i64,
    pub virtual_limit_bytes: i64,
}

impl RmContainer {
    pub fn is_complete(&self) -> bool {
        self.state == ContainerState::COMPLETE
    }

    pub(crate) fn complete(&mut self, exit_status: i32, diagnostics: String, now_ms: u64) {
        self.state = ContainerState::COMPLETE;
        self.exit_status = exit_status;
        self.diagnostics = diagnostics;
        self.finished_ms = now_ms;
    }

    /// Memory-seconds and vcore-seconds this container held, up to `now_ms` (or its end).
    pub fn usage_seconds(&self, now_ms: u64) -> (i64, i64) {
        let end = if self.is_complete() { self.finished_ms } else { now_ms };
        let seconds = end.saturating_sub(self.created_ms) as i64 / 1000;
        (self.resource.memory_mb * seconds, self.resource.vcores as i64 * seconds)
    }
}

/// A container status as the core sees it (converted from the wire by the adapter).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedContainer {
    pub id: ContainerId,
    pub state: ContainerState,
    pub exit_status: i32,
    pub diagnostics: String,
    pub usage: MemoryUsage,
    /// The NodeManager's reason when it killed the container (e.g. `kernel_oom`), and when.
    pub kill: Option<(String, u64)>,
    /// What it was granted, as the NodeManager holds it (zero when not said): how a restarted
    /// ResourceManager rebuilds a node's use from the containers it reports.
    pub resource: Resource,
    /// When the NodeManager accepted it, ms (0 when not said): a container taken back after a
    /// restart keeps its age.
    pub created_ms: u64,
}

impl ReportedContainer {
    pub fn running(id: ContainerId) -> Self {
        ReportedContainer {
            id,
            state: ContainerState::RUNNING,
            exit_status: exit_status::INVALID,
            diagnostics: String::new(),
            usage: MemoryUsage::default(),
            kill: None,
            resource: Resource::ZERO,
            created_ms: 0,
        }
    }

    pub fn complete(id: ContainerId, exit_status: i32, diagnostics: impl Into<String>) -> Self {
        ReportedContainer {
            id,
            state: ContainerState::COMPLETE,
            exit_status,
            diagnostics: diagnostics.into(),
            usage: MemoryUsage::default(),
            kill: None,
            resource: Resource::ZERO,
            created_ms: 0,
        }
    }
}
