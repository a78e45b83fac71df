//! Why a container is being stopped: each reason carries YARN's exit status and diagnostics text.

use weft_proto::exit_status;

/// Who or what asked for a container to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum KillReason {
    /// StopContainers from the application master (-105).
    ByAppMaster,
    /// Listed in a heartbeat response's `containers_to_cleanup` (-106).
    ByResourceManager,
    /// Its application is listed in `applications_to_cleanup` (-107).
    AfterAppFinished,
    /// The ResourceManager answered RESYNC (-100).
    Resync,
    /// The NodeManager itself is stopping (-100).
    Shutdown,
    /// The monitor found the tree over its physical memory limit (-104).
    PhysicalMemory,
    /// The monitor found the tree over its virtual memory limit (-103).
    VirtualMemory,
    /// The kernel's OOM killer acted inside the container's memory cgroup (-104, as YARN reports a
    /// physical-memory kill).
    KernelOom,
}

impl KillReason {
    pub(crate) const ALL: [KillReason; 8] = [
        KillReason::ByAppMaster,
        KillReason::ByResourceManager,
        KillReason::AfterAppFinished,
        KillReason::Resync,
        KillReason::Shutdown,
        KillReason::PhysicalMemory,
        KillReason::VirtualMemory,
        KillReason::KernelOom,
    ];

    /// The exit status the container is reported with, not the 143 of its process.
    pub(crate) fn exit_status(self) -> i32 {
        match self {
            KillReason::ByAppMaster => exit_status::KILLED_BY_APPMASTER,
            KillReason::ByResourceManager => exit_status::KILLED_BY_RESOURCEMANAGER,
            KillReason::AfterAppFinished => exit_status::KILLED_AFTER_APP_COMPLETION,
            KillReason::Resync | KillReason::Shutdown => exit_status::ABORTED,
            KillReason::PhysicalMemory | KillReason::KernelOom => exit_status::KILLED_EXCEEDED_PMEM,
            KillReason::VirtualMemory => exit_status::KILLED_EXCEEDED_VMEM,
        }
    }

    /// YARN's diagnostics line for this kind of kill; memory kills carry their own, with the usage.
    pub(crate) fn diagnostics(self) -> &'static str {
        match self {
            KillReason::ByAppMaster => "Container killed by the ApplicationMaster.",
            KillReason::ByResourceManager => "Container Killed by ResourceManager",
            KillReason::AfterAppFinished => "Container killed on application-finish event",
            KillReason::Resync => "Container killed on resync with the ResourceManager",
            KillReason::Shutdown => "Container killed on NodeManager shutdown",
            KillReason::PhysicalMemory | KillReason::KernelOom => {
                "Container killed for exceeding physical memory limits"
            }
            KillReason::VirtualMemory => "Container killed for exceeding virtual memory limits",
        }
    }

    /// The reason as container statuses carry it to the ResourceManager (`kill_reason` in the proto).
    pub(crate) fn wire_name(self) -> &'static str {
        match self {
            KillReason::ByAppMaster => "killed_by_appmaster",
            KillReason::ByResourceManager => "killed_by_resourcemanager",
            KillReason::AfterAppFinished => "killed_after_app_completion",
            KillReason::Resync | KillReason::Shutdown => "aborted",
            KillReason::PhysicalMemory => "physical_memory",
            KillReason::VirtualMemory => "virtual_memory",
            KillReason::KernelOom => "kernel_oom",
        }
    }

    /// The reason named by its label ([`KillReason::as_str`]), as recovery records keep it.
    pub(crate) fn from_label(label: &str) -> Option<KillReason> {
        KillReason::ALL.into_iter().find(|k| k.as_str() == label)
    }

    /// A short label for logs and metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KillReason::ByAppMaster => "by_appmaster",
            KillReason::ByResourceManager => "by_resourcemanager",
            KillReason::AfterAppFinished => "after_app_finished",
            KillReason::Resync => "resync",
            KillReason::Shutdown => "shutdown",
            KillReason::PhysicalMemory => "physical_memory",
            KillReason::VirtualMemory => "virtual_memory",
            KillReason::KernelOom => "kernel_oom",
        }
    }
}
