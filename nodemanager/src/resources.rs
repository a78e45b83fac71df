//! What this node offers (configured, or detected with sysinfo minus a reserve) and what it uses:
//! node memory and CPU from sysinfo, containers' memory from their process trees in `/proc`, and
//! their CPU from their cgroups' CPU accounting where they have cgroups (else from the trees).

use std::collections::HashMap;
use std::time::Instant;

use sysinfo::System;
use weft_proto::{Resource, Utilization};

use crate::cgroups::ContainerCgroup;
use crate::clock;
use crate::launcher::tree;

const MIB: u64 = 1024 * 1024;

/// Memory for containers: `physical − reserved`, where the reserve defaults to 20% of physical.
pub(crate) fn containers_memory_mb(physical_mb: i64, reserved_mb: Option<i64>) -> Result<i64, String> {
    let reserved = reserved_mb.unwrap_or(physical_mb / 5);
    let memory = physical_mb - reserved;
    if memory <= 0 {
        return Err(format!(
            "detected {physical_mb} MB of physical memory, and after the {reserved} MB reserve \
             (yarn.nodemanager.resource.system-reserved-memory-mb) nothing is left for containers; \
             set yarn.nodemanager.resource.memory-mb or a smaller reserve"
        ));
    }
    Ok(memory)
}

/// A configured memory offer must fit in the node's physical memory, unless over-commit is allowed.
pub(crate) fn check_memory_offer(memory_mb: i64, physical_mb: i64, allow_overcommit: bool) -> Result<(), String> {
    if memory_mb > physical_mb && !allow_overcommit {
        return Err(format!(
            "yarn.nodemanager.resource.memory-mb: {memory_mb} MB is more than this node's {physical_mb} MB of \
             physical memory; offer at most that, or set weft.nodemanager.resource.allow-overcommit: true"
        ));
    }
    Ok(())
}

/// The node's offer: configured values where set, detected ones elsewhere.
pub(crate) fn detect(
    memory_mb: Option<i64>,
    vcores: Option<i32>,
    reserved_mb: Option<i64>,
    allow_overcommit: bool,
) -> Result<Resource, String> {
    let mut system = System::new();
    system.refresh_memory();
    let physical_mb = (system.total_memory() / MIB) as i64;
    let memory_mb = match memory_mb {
        Some(mb) => {
            check_memory_offer(mb, physical_mb, allow_overcommit)?;
            mb
        }
        None => containers_memory_mb(physical_mb, reserved_mb)?,
    };
    let vcores = match vcores {
        Some(v) => v,
        None => {
            let mut system = System::new();
            system.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
            i32::try_from(system.cpus().len()).unwrap_or(i32::MAX).max(1)
        }
    };
    if memory_mb <= 0 || vcores <= 0 {
        return Err(format!(
            "the node would offer {}: memory and vcores must be above 0",
            Resource::new(memory_mb, vcores).yarn_notation()
        ));
    }
    Ok(Resource::new(memory_mb, vcores))
}

/// Samples utilization; keeps the previous CPU counters to turn them into rates.
pub(crate) struct Sampler {
    system: System,
    previous_ticks: HashMap<i32, u64>,
    /// CPU ns each container's cgroup had used at the previous sample, by its path.
    previous_cgroup_ns: HashMap<std::path::PathBuf, u64>,
    previous_at: Option<Instant>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

impl Sampler {
    pub(crate) fn new() -> Sampler {
        Sampler {
            system: System::new(),
            previous_ticks: HashMap::new(),
            previous_cgroup_ns: HashMap::new(),
            previous_at: None,
        }
    }

    /// CPU seconds the containers' cgroups used since the previous sample.
    fn cgroups_cpu_seconds(&mut self, groups: &[ContainerCgroup]) -> f32 {
        let now: HashMap<std::path::PathBuf, u64> =
            groups.iter().filter_map(|g| Some((g.path().to_owned(), g.cpu_usage_ns()?))).collect();
        let busy_ns: u64 = now
            .iter()
            .map(|(path, ns)| ns.saturating_sub(self.previous_cgroup_ns.get(path).copied().unwrap_or(0)))
            .sum();
        self.previous_cgroup_ns = now;
        busy_ns as f32 / 1e9
    }

    /// One sample (blocking: reads `/proc` and the cgroups); `roots` are the containers' root pids,
    /// `groups` their cgroups when the node uses them.
    pub(crate) fn sample(&mut self, roots: &[u32], groups: &[ContainerCgroup]) -> Utilization {
        self.system.refresh_memory();
        self.system.refresh_cpu_usage();
        let cpus = self.system.cpus().len() as f32;
        let table = tree::snapshot();
        let processes: Vec<tree::ProcEntry> =
            roots.iter().filter_map(|&r| i32::try_from(r).ok()).flat_map(|r| tree::descendants(&table, r)).collect();
        let now = clock::monotonic();
        let ticks: HashMap<i32, u64> = processes.iter().map(|p| (p.pid, p.cpu_ticks())).collect();
        let busy_ticks: u64 =
            ticks.iter().map(|(pid, t)| t.saturating_sub(self.previous_ticks.get(pid).copied().unwrap_or(0))).sum();
        let busy_seconds = if groups.is_empty() {
            busy_ticks as f32 / procfs::ticks_per_second() as f32
        } else {
            self.cgroups_cpu_seconds(groups)
        };
        let seconds = self.previous_at.map_or(0.0, |at| now.duration_since(at).as_secs_f32());
        let containers_cpu_usage = if seconds > 0.0 { busy_seconds / seconds } else { 0.0 };
        self.previous_ticks = ticks;
        self.previous_at = Some(now);
        let used = self.system.used_memory();
        Utilization {
            node_physical_memory_mb: (used / MIB) as i64,
            node_virtual_memory_mb: ((used + self.system.used_swap()) / MIB) as i64,
            node_cpu_usage: self.system.global_cpu_usage() / 100.0 * cpus,
            containers_physical_memory_mb: (processes.iter().map(|p| p.rss_bytes).sum::<u64>() / MIB) as i64,
            containers_virtual_memory_mb: (processes.iter().map(|p| p.vsize_bytes).sum::<u64>() / MIB) as i64,
            containers_cpu_usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_defaults_to_a_fifth_and_must_leave_something() {
        assert_eq!(containers_memory_mb(10_000, None), Ok(8000));
        assert_eq!(containers_memory_mb(10_000, Some(1000)), Ok(9000));
        assert!(containers_memory_mb(1000, Some(1000)).unwrap_err().contains("system-reserved-memory-mb"));
    }

    #[test]
    fn configured_values_win_and_detection_finds_something() {
        assert_eq!(detect(Some(4096), Some(3), None, false), Ok(Resource::new(4096, 3)));
        let detected = detect(None, None, Some(0), false).unwrap();
        assert!(detected.memory_mb > 0 && detected.vcores > 0, "{detected:?}");
        assert!(detect(Some(0), Some(1), None, false).is_err());
    }

    #[test]
    fn memory_beyond_the_node_is_refused_with_the_detected_figure_unless_over_commit_is_allowed() {
        assert_eq!(check_memory_offer(24_000, 24_000, false), Ok(()));
        let err = check_memory_offer(102_399_998_976, 24_000, false).unwrap_err();
        assert!(err.contains("102399998976 MB is more than this node's 24000 MB"), "{err}");
        assert!(err.contains("weft.nodemanager.resource.allow-overcommit"), "{err}");
        assert_eq!(check_memory_offer(48_000, 24_000, true), Ok(()));
        // 99999999g is about 100 PB: no machine has that.
        assert!(detect(Some(99_999_999 * 1024), Some(1), None, false).is_err());
    }

    #[test]
    fn a_sample_counts_a_live_process_tree() {
        let mut sampler = Sampler::new();
        let own = std::process::id();
        let first = sampler.sample(&[own], &[]);
        assert!(first.containers_physical_memory_mb > 0 || first.containers_virtual_memory_mb > 0, "{first:?}");
        assert!(first.node_physical_memory_mb > 0);
    }
}
