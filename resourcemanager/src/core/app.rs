//! Applications and their attempts, with YARN's states and final statuses.
//!
//! Application (`AppState`):
//! ```text
//!   (GetNewApplication issues the id)
//!   submit ──► ACCEPTED ──AM registers──► RUNNING ──AM unregisters──► FINISHED (final status from the AM)
//!                 ▲  │                       │
//!                 │  └──AM container fails───┤ attempts left: new attempt, back to ACCEPTED
//!                 └──────────────────────────┘ none left: FAILED
//!   kill (any non-final state) ──► KILLED
//! ```
//! Attempt (`AttemptState`):
//! ```text
//!   SCHEDULED ──AM container granted──► ALLOCATED ──NM started it──► LAUNCHED ──register──► RUNNING
//!   RUNNING ──unregister──► FINISHING ──AM container ends (or grace passes)──► FINISHED
//!   any of them ──AM container ends first──► FAILED;  app killed ──► KILLED
//! ```
//! An unmanaged attempt (client mode) starts in LAUNCHED: it has no AM container.

use std::collections::BTreeSet;

use weft_proto::states::{AppState, AttemptState, FinalStatus};
use weft_proto::{ApplicationAttemptId, ApplicationId, ContainerId, NodeId, Resource};

use super::container::ReportedContainer;
use super::node_set::NodeSet;

/// A file to localize into a container (domain form of `pb::LocalResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub executable: bool,
}

/// What to run in a container (domain form of `pb::ContainerLaunchContext`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchSpec {
    pub command: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub local_files: Vec<LocalFile>,
    /// An application submitted over Hadoop IPC: its AM's encoded `ContainerLaunchContextProto`,
    /// which the NodeManager turns into the launch (the fields above are then empty).
    pub hadoop_context: Vec<u8>,
}

/// A submission, checked by the adapter for shape and by the core for meaning.
#[derive(Debug, Clone)]
pub struct Submission {
    pub id: ApplicationId,
    pub name: String,
    pub queue: String,
    pub application_type: String,
    pub user: String,
    pub am_resource: Resource,
    pub am_launch: LaunchSpec,
    pub max_app_attempts: u32,
    pub unmanaged_am: bool,
    pub tags: Vec<String>,
    /// Who besides the owner and the admins may view and modify it (when `yarn.acl.enable` is on).
    pub acls: super::acl::AppAcls,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: ApplicationAttemptId,
    pub state: AttemptState,
    pub am_container: Option<ContainerId>,
    pub am_node: Option<NodeId>,
    pub am_node_http_address: String,
    pub host: String,
    pub rpc_port: i32,
    /// The URL the AM registered (its UI): where `/proxy/{app}/` forwards while it runs.
    pub tracking_url: String,
    /// The URL the AM unregistered with (a History Server page): where the proxy sends people after.
    pub final_tracking_url: String,
    pub started_ms: u64,
    pub finished_ms: u64,
    pub diagnostics: String,
    pub(crate) next_container_id: u64,
    /// Every container granted to this attempt, the AM's included.
    pub containers: BTreeSet<ContainerId>,
    /// Granted since the last allocate call.
    pub(crate) newly_allocated: Vec<ContainerId>,
    /// The nodes this attempt has been handed an NM token for, or will be with the next allocate
    /// reply (YARN's per-attempt node set): only a grant on any other node brings one. A
    /// ResourceManager restart starts it afresh; emptied when the attempt ends.
    pub(crate) nm_tokened: NodeSet,
    /// The grants of `newly_allocated` that are the first on their node (with its index): the
    /// next allocate reply sends those nodes' NM tokens.
    pub(crate) newly_tokened: Vec<(ContainerId, u32)>,
    /// Completed since the last allocate call (non-AM containers only).
    pub(crate) newly_completed: Vec<ReportedContainer>,
    pub(crate) unregistered_ms: Option<u64>,
    /// Taken back from the state store after a restart and not registered again since (when).
    pub(crate) recovered_ms: Option<u64>,
    /// Containers of an earlier incarnation of the ResourceManager that the AM released again after
    /// the restart, before their NodeManager reported them (YARN's `pendingRelease`): stopped as
    /// soon as they are taken back.
    pub(crate) released_before_recovery: BTreeSet<ContainerId>,
}

/// Where the web proxy takes a request for an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyTarget {
    /// The running application master's UI: requests are forwarded there.
    Forward(String),
    /// Its History Server page after it finished: a redirect.
    Redirect(String),
    /// No UI of its own: its page on the ResourceManager.
    RmPage,
}

impl App {
    /// Where `/proxy/{app}/` leads, as YARN's web proxy decides: the registered UI while the
    /// application runs, the URL it unregistered with once it has finished, else the RM's own page.
    pub fn proxy_target(&self) -> ProxyTarget {
        let a = self.current_attempt();
        if self.state.is_final() || a.unregistered_ms.is_some() {
            if a.final_tracking_url.is_empty() {
                ProxyTarget::RmPage
            } else {
                ProxyTarget::Redirect(a.final_tracking_url.clone())
            }
        } else if a.tracking_url.is_empty() {
            ProxyTarget::RmPage
        } else {
            ProxyTarget::Forward(a.tracking_url.clone())
        }
    }

    /// The application's own tracking URL (YARN's originalTrackingUrl): the final one once given,
    /// else the registered one; empty when it gave none.
    pub fn original_tracking_url(&self) -> &str {
        let a = self.current_attempt();
        if a.final_tracking_url.is_empty() {
            &a.tracking_url
        } else {
            &a.final_tracking_url
        }
    }
}

impl Attempt {
    pub(crate) fn new(id: ApplicationAttemptId, unmanaged: bool, now_ms: u64) -> Self {
        Attempt {
            id,
            state: if unmanaged { AttemptState::LAUNCHED } else { AttemptState::SCHEDULED },
            am_container: None,
            am_node: None,
            am_node_http_address: String::new(),
            host: String::new(),
            rpc_port: -1,
            tracking_url: String::new(),
            final_tracking_url: String::new(),
            started_ms: now_ms,
            finished_ms: 0,
            diagnostics: String::new(),
            next_container_id: 1,
            containers: BTreeSet::new(),
            newly_allocated: Vec::new(),
            nm_tokened: NodeSet::default(),
            newly_tokened: Vec::new(),
            newly_completed: Vec::new(),
            unregistered_ms: None,
            recovered_ms: None,
            released_before_recovery: BTreeSet::new(),
        }
    }

    pub fn is_ended(&self) -> bool {
        matches!(self.state, AttemptState::FINISHED | AttemptState::FAILED | AttemptState::KILLED)
    }

    pub(crate) fn end(&mut self, state: AttemptState, now_ms: u64) {
        self.state = state;
        self.finished_ms = now_ms;
        self.forget_nm_tokens();
    }

    /// Forgets which nodes the attempt holds NM tokens for: after a restart the next grant on each
    /// node brings one again, as YARN's ResourceManager does.
    pub(crate) fn forget_nm_tokens(&mut self) {
        self.nm_tokened.clear();
        self.newly_tokened = Vec::new();
    }
}

#[derive(Debug, Clone)]
pub struct App {
    pub submission: Submission,
    pub state: AppState,
    pub final_status: FinalStatus,
    pub diagnostics: String,
    pub progress: f32,
    pub started_ms: u64,
    pub finished_ms: u64,
    pub attempts: Vec<Attempt>,
    /// Effective cap on attempts: the submission's, bounded by yarn.resourcemanager.am.max-attempts.
    pub max_attempts: u32,
    /// Memory- and vcore-seconds of completed containers; running ones are added when reported.
    pub memory_seconds: i64,
    pub vcore_seconds: i64,
    /// Staged files (sha256) this application's submission names (its AM's launch context; an
    /// unmanaged AM's names the files its containers will use).
    pub blobs: BTreeSet<String>,
}

impl App {
    pub fn id(&self) -> ApplicationId {
        self.submission.id
    }

    pub fn current_attempt(&self) -> &Attempt {
        self.attempts.last().expect("an application always has an attempt")
    }

    pub(crate) fn current_attempt_mut(&mut self) -> &mut Attempt {
        self.attempts.last_mut().expect("an application always has an attempt")
    }

    pub(crate) fn attempt_mut(&mut self, id: ApplicationAttemptId) -> Option<&mut Attempt> {
        self.attempts.iter_mut().find(|a| a.id == id)
    }

    pub(crate) fn finish(&mut self, state: AppState, final_status: FinalStatus, diagnostics: String, now_ms: u64) {
        self.state = state;
        self.final_status = final_status;
        if !diagnostics.is_empty() {
            self.diagnostics = diagnostics;
        }
        self.finished_ms = now_ms;
        self.progress = 100.0;
    }
}
