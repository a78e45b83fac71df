//! A NodeManager as the ResourceManager tracks it.
//!
//! ```text
//!   RUNNING ──no heartbeat for yarn.nm.liveness-monitor.expiry-interval-ms──► LOST
//!      ▲                                                                        │
//!      └──────────────────────────── registers again ───────────────────────────┘
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use weft_proto::states::NodeState;
pub use weft_proto::Utilization;
use weft_proto::{ApplicationId, ContainerId, NodeId, Resource};

#[derive(Debug, Clone)]
pub struct Node {
    pub id: NodeId,
    /// Given by the core when the node first registers and kept when it registers again: how an
    /// attempt's set of nodes it holds NM tokens for names it (`node_set::NodeSet`).
    pub(crate) index: u32,
    /// Shared with every container granted on the node (one allocation per node, not per grant).
    pub http_address: Arc<str>,
    pub version: String,
    pub total: Resource,
    /// Sum of the resources of this node's containers that have not completed, and of the strays
    /// it has yet to stop (`stopping`).
    pub allocated: Resource,
    pub state: NodeState,
    pub registered_ms: u64,
    pub last_heartbeat_ms: u64,
    pub health_report: String,
    pub utilization: Utilization,
    /// Containers granted on this node and not complete yet.
    pub containers: BTreeSet<ContainerId>,
    /// To send with the next heartbeat response.
    pub(crate) containers_to_cleanup: BTreeSet<ContainerId>,
    pub(crate) apps_to_cleanup: BTreeSet<ApplicationId>,
    /// Containers given up before they were seen running, whose stop went out with the last
    /// heartbeat response: those the next heartbeat does not report running are gone.
    pub(crate) releases_sent: BTreeSet<ContainerId>,
    /// Containers this node reports running that no application holds any more (ended here: on a
    /// node declared lost, expired unused; or never known), named for cleanup, with what each was
    /// granted: counted in `allocated` until the node no longer reports them running, so nothing is
    /// placed in room a container the node has not stopped yet still takes.
    pub(crate) stopping: BTreeMap<ContainerId, Resource>,
    pub(crate) response_id: i64,
    /// Containers killed on this node, by reason.
    pub kills: BTreeMap<super::KillReason, u64>,
}

impl Node {
    pub(crate) fn new(
        id: NodeId,
        index: u32,
        http_address: String,
        version: String,
        total: Resource,
        now_ms: u64,
    ) -> Self {
        Node {
            id,
            index,
            http_address: http_address.into(),
            version,
            total,
            allocated: Resource::ZERO,
            state: NodeState::RUNNING,
            registered_ms: now_ms,
            last_heartbeat_ms: now_ms,
            health_report: String::new(),
            utilization: Utilization::default(),
            containers: BTreeSet::new(),
            containers_to_cleanup: BTreeSet::new(),
            apps_to_cleanup: BTreeSet::new(),
            releases_sent: BTreeSet::new(),
            stopping: BTreeMap::new(),
            response_id: 0,
            kills: Default::default(),
        }
    }

    pub fn available(&self) -> Resource {
        if self.state == NodeState::RUNNING {
            self.total.saturating_sub(self.allocated)
        } else {
            Resource::ZERO
        }
    }
}

/// What a heartbeat response tells a NodeManager to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeartbeatReply {
    pub response_id: i64,
    /// The node is unknown (or was declared lost): register again with every container it holds,
    /// which keep running (YARN's work-preserving resync).
    pub resync: bool,
    pub containers_to_cleanup: Vec<ContainerId>,
    pub apps_to_cleanup: Vec<ApplicationId>,
    pub next_heartbeat_interval_ms: u64,
}
