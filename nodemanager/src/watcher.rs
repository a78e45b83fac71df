//! The container monitor's adapter: every `container-monitor.interval-ms` it samples each running
//! container's whole process tree from `/proc` (and its cgroup's OOM counter), lets the pure
//! `monitor` apply YARN's rule, records the usage in the core and kills what is over its limits.
//! The sampling blocks, so a pass runs in `spawn_blocking`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;
use weft_proto::ContainerId;

use crate::cgroups::{Cgroups, ContainerCgroup};
use crate::container::{ContainerState, KillReason};
use crate::launcher::tree::{self, Forest, ProcEntry};
use crate::monitor::{self, KillFacts, Limits, MemoryKind, Monitor, ProcessSample, Usage, Verdict};
use crate::nm::Nm;

/// A running container the pass looks at.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) id: ContainerId,
    /// The root of its process tree.
    pub(crate) pid: u32,
    pub(crate) limits: Limits,
    /// Virtual memory at the previous sample, for a kernel OOM message when the tree is gone.
    pub(crate) vmem_bytes: u64,
}

/// What a pass found for one container.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) id: ContainerId,
    pub(crate) usage: Usage,
    /// The reason and YARN's diagnostics, when it must be killed.
    pub(crate) kill: Option<(KillReason, String)>,
}

/// A process as the monitor sees it (age 0 until the monitor ages it).
pub(crate) fn sample_of(entry: &ProcEntry, ms_per_tick: u64) -> ProcessSample {
    ProcessSample {
        pid: entry.pid,
        ppid: entry.ppid,
        pgrp: entry.pgrp,
        session: entry.session,
        name: entry.name.clone(),
        utime_ms: entry.utime_ticks.saturating_mul(ms_per_tick),
        stime_ms: entry.stime_ticks.saturating_mul(ms_per_tick),
        vsize_bytes: entry.vsize_bytes,
        rss_pages: entry.rss_pages,
        rss_bytes: entry.rss_bytes,
        age: 0,
    }
}

fn ms_per_tick() -> u64 {
    1000 / procfs::ticks_per_second().max(1)
}

fn cmdlines(tree: &[ProcessSample]) -> BTreeMap<i32, String> {
    tree.iter().map(|p| (p.pid, tree::cmdline(p.pid))).collect()
}

/// One pass over `targets` (blocking): one `/proc` snapshot, then per container its tree, the OOM
/// counter of its cgroup, and the rule. Containers not in `targets` are forgotten by the monitor.
pub(crate) fn pass(monitor: &mut Monitor, targets: &[Target], cgroups: Option<&Cgroups>) -> Vec<Outcome> {
    let table = tree::snapshot();
    let forest = Forest::new(&table);
    let ms_per_tick = ms_per_tick();
    monitor.retain(|id| targets.iter().any(|t| &t.id == id));
    let mut outcomes = Vec::with_capacity(targets.len());
    for target in targets {
        let root = i32::try_from(target.pid).unwrap_or(0);
        let mut samples: Vec<ProcessSample> =
            forest.descendants(root).into_iter().map(|e| sample_of(e, ms_per_tick)).collect();
        let assessment = monitor.assess(target.id, target.limits, &mut samples);
        let oom = cgroups.map(|c| c.container(&target.id)).and_then(|cg| oom_of(&cg).map(|n| (cg, n)));
        let kill = match (oom, assessment.verdict) {
            (Some((cgroup, kills)), _) => Some((
                KillReason::KernelOom,
                kernel_oom_report(target, &cgroup, kills, assessment.usage.vmem_bytes, &samples),
            )),
            (None, Verdict::Over { kind, .. }) => {
                Some((reason_of(kind), over_limit_report(target, kind, assessment.usage, &samples)))
            }
            (None, Verdict::Within) => None,
        };
        outcomes.push(Outcome { id: target.id, usage: assessment.usage, kill });
    }
    outcomes
}

fn reason_of(kind: MemoryKind) -> KillReason {
    match kind {
        MemoryKind::Physical => KillReason::PhysicalMemory,
        MemoryKind::Virtual => KillReason::VirtualMemory,
    }
}

/// OOM kills in the group, when there were any.
fn oom_of(cgroup: &ContainerCgroup) -> Option<u64> {
    cgroup.oom_kills().filter(|&n| n > 0)
}

fn over_limit_report(target: &Target, kind: MemoryKind, usage: Usage, tree: &[ProcessSample]) -> String {
    let cmdlines = cmdlines(tree);
    monitor::over_limit(KillFacts {
        container_id: &target.id,
        pid: target.pid,
        kind,
        usage,
        limits: target.limits,
        tree,
        cmdlines: &cmdlines,
    })
}

/// The kernel OOM message: the cgroup's peak as the physical usage, `vmem_bytes` as the virtual.
pub(crate) fn kernel_oom_report(
    target: &Target,
    cgroup: &ContainerCgroup,
    kills: u64,
    vmem_bytes: u64,
    tree: &[ProcessSample],
) -> String {
    let pmem_bytes = cgroup.peak_bytes().unwrap_or(target.limits.pmem_bytes);
    let cmdlines = cmdlines(tree);
    monitor::kernel_oom(
        KillFacts {
            container_id: &target.id,
            pid: target.pid,
            kind: MemoryKind::Physical,
            usage: Usage { pmem_bytes, vmem_bytes },
            limits: target.limits,
            tree,
            cmdlines: &cmdlines,
        },
        kills,
    )
}

/// After a container's root process exited: the kernel OOM message when the OOM killer acted in its
/// group, with what is left in the group as the dump (blocking).
pub(crate) fn oom_at_exit(target: &Target, cgroup: &ContainerCgroup) -> Option<String> {
    let kills = oom_of(cgroup)?;
    let in_group = cgroup.pids();
    let ms_per_tick = ms_per_tick();
    let tree: Vec<ProcessSample> =
        tree::snapshot().iter().filter(|e| in_group.contains(&e.pid)).map(|e| sample_of(e, ms_per_tick)).collect();
    Some(kernel_oom_report(target, cgroup, kills, target.vmem_bytes, &tree))
}

/// Running containers, as targets (those being stopped are left alone).
pub(crate) fn targets(nm: &Nm) -> Vec<Target> {
    nm.read(|core| {
        core.live()
            .filter(|c| c.state == ContainerState::RUNNING)
            .filter_map(|c| {
                Some(Target { id: c.spec.id, pid: c.pid?, limits: c.limits, vmem_bytes: c.usage.vmem_bytes })
            })
            .collect()
    })
}

/// Runs a pass every interval until `shutdown`.
pub(crate) async fn run(nm: Arc<Nm>, shutdown: CancellationToken) {
    let interval = nm.enforcement.monitor_interval;
    let monitor = Arc::new(Mutex::new(Monitor::new(nm.enforcement.checks)));
    tracing::info!(
        interval_ms = interval.as_millis() as u64,
        pmem_check = nm.enforcement.checks.pmem,
        vmem_check = nm.enforcement.checks.vmem,
        vmem_pmem_ratio = nm.enforcement.vmem_ratio,
        "container monitor started"
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        one_pass(&nm, &monitor).await;
        nm.monitor_passed();
    }
}

/// One pass: sample and decide off the runtime, then record and kill.
pub(crate) async fn one_pass(nm: &Arc<Nm>, monitor: &Arc<Mutex<Monitor>>) {
    let targets = targets(nm);
    if targets.is_empty() {
        monitor.lock().unwrap_or_else(PoisonError::into_inner).retain(|_| false);
        return;
    }
    let cgroups = nm.enforcement.cgroups().cloned();
    let monitor = monitor.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        let mut monitor = monitor.lock().unwrap_or_else(PoisonError::into_inner);
        pass(&mut monitor, &targets, cgroups.as_deref())
    });
    let outcomes = match blocking.await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::error!(%error, "a container monitor pass failed");
            return;
        }
    };
    let usage: Vec<(ContainerId, Usage)> = outcomes.iter().map(|o| (o.id, o.usage)).collect();
    nm.record_usage(&usage);
    for outcome in outcomes {
        if let Some((reason, diagnostics)) = outcome.kill {
            nm.kill_over_limit(outcome.id, reason, diagnostics);
        }
    }
}
