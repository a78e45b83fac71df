//! Notable container endings, recorded in one place so logs, counters and REST agree.

use weft_proto::{exit_status, ContainerId, NodeId};

/// Why a container was ended from outside, by its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KillReason {
    PhysicalMemory,
    VirtualMemory,
    /// The kernel's OOM killer inside the container's memory cgroup (reported with -104).
    KernelOom,
    Preempted,
    /// Lost with its node, or gone when its node registered again.
    Aborted,
    ByApplicationMaster,
    ByResourceManager,
    AfterAppCompletion,
    ByContainerScheduler,
    DisksFailed,
}

impl KillReason {
    pub fn from_exit_status(status: i32) -> Option<KillReason> {
        Some(match status {
            exit_status::KILLED_EXCEEDED_PMEM => KillReason::PhysicalMemory,
            exit_status::KILLED_EXCEEDED_VMEM => KillReason::VirtualMemory,
            exit_status::PREEMPTED => KillReason::Preempted,
            exit_status::ABORTED => KillReason::Aborted,
            exit_status::KILLED_BY_APPMASTER => KillReason::ByApplicationMaster,
            exit_status::KILLED_BY_RESOURCEMANAGER => KillReason::ByResourceManager,
            exit_status::KILLED_AFTER_APP_COMPLETION => KillReason::AfterAppCompletion,
            exit_status::KILLED_BY_CONTAINER_SCHEDULER => KillReason::ByContainerScheduler,
            exit_status::DISKS_FAILED => KillReason::DisksFailed,
            _ => return None,
        })
    }

    pub const ALL: [KillReason; 10] = [
        KillReason::PhysicalMemory,
        KillReason::VirtualMemory,
        KillReason::KernelOom,
        KillReason::Preempted,
        KillReason::Aborted,
        KillReason::ByApplicationMaster,
        KillReason::ByResourceManager,
        KillReason::AfterAppCompletion,
        KillReason::ByContainerScheduler,
        KillReason::DisksFailed,
    ];

    /// The lowercase name used in REST filters and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            KillReason::PhysicalMemory => "physical_memory",
            KillReason::VirtualMemory => "virtual_memory",
            KillReason::KernelOom => "kernel_oom",
            KillReason::Preempted => "preempted",
            KillReason::Aborted => "aborted",
            KillReason::ByApplicationMaster => "killed_by_appmaster",
            KillReason::ByResourceManager => "killed_by_resourcemanager",
            KillReason::AfterAppCompletion => "killed_after_app_completion",
            KillReason::ByContainerScheduler => "killed_by_container_scheduler",
            KillReason::DisksFailed => "disks_failed",
        }
    }
}

/// One container ended by a kill.
#[derive(Debug, Clone, PartialEq)]
pub struct KillEvent {
    pub container: ContainerId,
    pub node: NodeId,
    pub reason: KillReason,
    pub exit_status: i32,
    pub diagnostics: String,
    pub at_ms: u64,
    pub usage: super::MemoryUsage,
}

impl std::str::FromStr for KillReason {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        KillReason::ALL.into_iter().find(|r| r.as_str() == text.trim()).ok_or_else(|| {
            let allowed: Vec<&str> = KillReason::ALL.iter().map(|r| r.as_str()).collect();
            format!("invalid kill reason {text:?}: allowed values are {}", allowed.join(", "))
        })
    }
}
