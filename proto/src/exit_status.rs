//! YARN's `ContainerExitStatus` values. A container's exit status is its process exit code, 128 + the
//! signal that ended it, or one of these negative values when the NodeManager or ResourceManager ended it.

pub const SUCCESS: i32 = 0;
/// Not exited yet; the NodeManager's REST shows this for running containers.
pub const INVALID: i32 = -1000;
/// Released by the application, or lost with its node.
pub const ABORTED: i32 = -100;
pub const DISKS_FAILED: i32 = -101;
pub const PREEMPTED: i32 = -102;
pub const KILLED_EXCEEDED_VMEM: i32 = -103;
pub const KILLED_EXCEEDED_PMEM: i32 = -104;
/// Stopped at the application master's (or the user's, through it) request.
pub const KILLED_BY_APPMASTER: i32 = -105;
pub const KILLED_BY_RESOURCEMANAGER: i32 = -106;
pub const KILLED_AFTER_APP_COMPLETION: i32 = -107;
pub const KILLED_BY_CONTAINER_SCHEDULER: i32 = -108;

/// The constant's name, for logs and pages; `None` for a plain process exit code.
pub fn name(status: i32) -> Option<&'static str> {
    Some(match status {
        SUCCESS => "SUCCESS",
        INVALID => "INVALID",
        ABORTED => "ABORTED",
        DISKS_FAILED => "DISKS_FAILED",
        PREEMPTED => "PREEMPTED",
        KILLED_EXCEEDED_VMEM => "KILLED_EXCEEDED_VMEM",
        KILLED_EXCEEDED_PMEM => "KILLED_EXCEEDED_PMEM",
        KILLED_BY_APPMASTER => "KILLED_BY_APPMASTER",
        KILLED_BY_RESOURCEMANAGER => "KILLED_BY_RESOURCEMANAGER",
        KILLED_AFTER_APP_COMPLETION => "KILLED_AFTER_APP_COMPLETION",
        KILLED_BY_CONTAINER_SCHEDULER => "KILLED_BY_CONTAINER_SCHEDULER",
        _ => return None,
    })
}
