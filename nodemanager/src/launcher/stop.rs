//! Stopping a container's processes: SIGTERM to its process group and to every process of its tree
//! (snapshotted from `/proc` first, so grandchildren that left the group are caught too), then
//! SIGKILL to whatever is still alive after the grace delay. A container held in a cgroup also has
//! every process of its group signalled, so nothing that left the tree and the group survives.

use std::collections::BTreeSet;
use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::tree;
use crate::cgroups::ContainerCgroup;

/// How often liveness is checked during the grace delay.
const POLL: Duration = Duration::from_millis(20);

/// What a stop had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stopped {
    /// Processes signalled at first.
    pub(crate) signalled: usize,
    /// SIGKILL was needed.
    pub(crate) forced: bool,
}

async fn proc_table() -> Vec<tree::ProcEntry> {
    tokio::task::spawn_blocking(tree::snapshot).await.unwrap_or_default()
}

/// The pids in the container's groups (none without one).
async fn group_pids(cgroup: &Option<ContainerCgroup>) -> Vec<i32> {
    let Some(cgroup) = cgroup.clone() else { return Vec::new() };
    tokio::task::spawn_blocking(move || cgroup.pids()).await.unwrap_or_default()
}

/// Live processes of the group `pgrp`, of `pids`, and of the cgroup.
async fn alive(pgrp: i32, pids: &BTreeSet<i32>, cgroup: &Option<ContainerCgroup>) -> Vec<i32> {
    let mut pids = pids.clone();
    pids.extend(group_pids(cgroup).await);
    let mut left = tree::alive(&proc_table().await, &pids, pgrp);
    left.sort_unstable();
    left
}

fn signal_all(pgrp: i32, pids: &[i32], signal: Signal) {
    // ESRCH (already gone) is the expected outcome for some of these.
    let _ = killpg(Pid::from_raw(pgrp), signal);
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// Stops the tree rooted at `root` (the leader of its own process group and session) and every
/// process of its cgroup.
pub(crate) async fn stop_tree(root: u32, grace: Duration, cgroup: Option<ContainerCgroup>) -> Stopped {
    let Ok(root) = i32::try_from(root) else { return Stopped { signalled: 0, forced: false } };
    let table = proc_table().await;
    let tree: BTreeSet<i32> = tree::descendants(&table, root).iter().map(|e| e.pid).collect();
    let targets = alive(root, &tree, &cgroup).await;
    signal_all(root, &targets, Signal::SIGTERM);
    let forced = finish(root, &tree, grace, &cgroup).await;
    Stopped { signalled: targets.len(), forced }
}

/// After a root exited on its own: stops what is left of its process group and cgroup, if anything.
pub(crate) async fn sweep_group(root: u32, grace: Duration, cgroup: Option<ContainerCgroup>) -> Stopped {
    let Ok(root) = i32::try_from(root) else { return Stopped { signalled: 0, forced: false } };
    let targets = alive(root, &BTreeSet::new(), &cgroup).await;
    if targets.is_empty() {
        return Stopped { signalled: 0, forced: false };
    }
    signal_all(root, &targets, Signal::SIGTERM);
    let forced = finish(root, &BTreeSet::new(), grace, &cgroup).await;
    Stopped { signalled: targets.len(), forced }
}

/// Stops every process of a container's cgroup alone: SIGTERM, then SIGKILL after `grace` to what
/// is left. For a container taken back after a restart whose root process is gone, whose pid (and
/// so process group) may belong to someone else by now. Without a cgroup there is nothing it may
/// safely signal.
pub(crate) async fn stop_cgroup(grace: Duration, cgroup: Option<ContainerCgroup>) -> Stopped {
    let targets = group_pids(&cgroup).await;
    if targets.is_empty() {
        return Stopped { signalled: 0, forced: false };
    }
    for &pid in &targets {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let left = group_pids(&cgroup).await;
        if left.is_empty() {
            return Stopped { signalled: targets.len(), forced: false };
        }
        if tokio::time::Instant::now() >= deadline {
            for &pid in &left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            return Stopped { signalled: targets.len(), forced: true };
        }
        tokio::time::sleep(POLL.min(deadline - tokio::time::Instant::now())).await;
    }
}

/// Waits up to `grace` for the group, `tree` and the cgroup to be empty, then SIGKILLs the rest;
/// true if it had to.
async fn finish(pgrp: i32, tree: &BTreeSet<i32>, grace: Duration, cgroup: &Option<ContainerCgroup>) -> bool {
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let left = alive(pgrp, tree, cgroup).await;
        if left.is_empty() {
            return false;
        }
        if tokio::time::Instant::now() >= deadline {
            signal_all(pgrp, &left, Signal::SIGKILL);
            return true;
        }
        tokio::time::sleep(POLL.min(deadline - tokio::time::Instant::now())).await;
    }
}
