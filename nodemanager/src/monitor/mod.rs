//! The container monitor's logic, without I/O: each interval the adapter (`crate::watcher`) hands
//! over every running container's sampled process tree; this gives the processes their ages, applies
//! YARN's over-limit rule and words the kill. Sampling `/proc` and the cgroups, and killing, are the
//! adapter's.

mod report;
mod rule;
mod sample;
mod size;

pub(crate) use report::{kernel_oom, over_limit, KillFacts};
pub(crate) use rule::{decide, usage, Checks, Limits, MemoryKind, Usage, Verdict};
pub(crate) use sample::{Ages, ProcessSample};

use std::collections::BTreeMap;

use weft_proto::ContainerId;

/// One container's assessment in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Assessment {
    /// The whole tree's memory now.
    pub(crate) usage: Usage,
    pub(crate) verdict: Verdict,
}

/// Every watched container's process ages, and the checks in force.
#[derive(Debug, Clone)]
pub(crate) struct Monitor {
    checks: Checks,
    ages: BTreeMap<ContainerId, Ages>,
}

impl Monitor {
    pub(crate) fn new(checks: Checks) -> Monitor {
        Monitor { checks, ages: BTreeMap::new() }
    }

    /// Ages `tree` (the container's processes now) and applies the rule to it.
    pub(crate) fn assess(&mut self, id: ContainerId, limits: Limits, tree: &mut [ProcessSample]) -> Assessment {
        self.ages.entry(id).or_default().assign(tree);
        Assessment { usage: usage(tree), verdict: decide(tree, limits, self.checks) }
    }

    /// Forgets containers that are no longer watched (ended, or being killed).
    pub(crate) fn retain(&mut self, mut watched: impl FnMut(&ContainerId) -> bool) {
        self.ages.retain(|id, _| watched(id));
    }

    /// Processes in the last samples of every watched container.
    pub(crate) fn processes(&self) -> usize {
        self.ages.values().map(Ages::len).sum()
    }

    #[cfg(test)]
    pub(crate) fn watched(&self) -> usize {
        self.ages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn id(n: u32) -> ContainerId {
        format!("container_1700000000000_0001_01_{n:06}").parse().unwrap()
    }

    fn tree(rss_mb: &[u64]) -> Vec<ProcessSample> {
        rss_mb
            .iter()
            .enumerate()
            .map(|(i, &mb)| ProcessSample { rss_bytes: mb * MB, ..ProcessSample::test(100 + i as i32) })
            .collect()
    }

    /// Feeds one sample per pass and returns the verdicts, one word per pass.
    fn passes(monitor: &mut Monitor, samples: &[&[u64]]) -> Vec<String> {
        let limits = Limits::for_container(100, 2.1);
        samples
            .iter()
            .map(|rss| match monitor.assess(id(2), limits, &mut tree(rss)).verdict {
                Verdict::Within => "within".to_owned(),
                Verdict::Over { kind, trigger, .. } => format!("{}-{trigger:?}", kind.upper()),
            })
            .collect()
    }

    #[test]
    fn a_growing_container_is_killed_the_pass_after_it_crosses_the_limit() {
        let mut m = Monitor::new(Checks { pmem: true, vmem: true });
        assert_eq!(
            passes(&mut m, &[&[50], &[90], &[150], &[160]]),
            ["within", "within", "PHYSICAL-AgedOver", "PHYSICAL-AgedOver"]
        );
    }

    #[test]
    fn a_new_process_over_the_limit_gets_one_interval_then_is_killed() {
        let mut m = Monitor::new(Checks { pmem: true, vmem: true });
        // The root uses 40 MB; a child appears using 80 MB: 120 MB is over, but the child is young.
        assert_eq!(passes(&mut m, &[&[40], &[40, 80], &[40, 80]]), ["within", "within", "PHYSICAL-AgedOver"]);
        // A fresh container is killed at once when it is over twice its limit.
        let mut m = Monitor::new(Checks { pmem: true, vmem: true });
        assert_eq!(passes(&mut m, &[&[201]]), ["PHYSICAL-OverTwice"]);
    }

    #[test]
    fn retain_forgets_containers_and_their_ages() {
        let mut m = Monitor::new(Checks { pmem: true, vmem: false });
        passes(&mut m, &[&[150]]);
        assert_eq!(m.watched(), 1);
        m.retain(|_| false);
        assert_eq!(m.watched(), 0);
        assert_eq!(passes(&mut m, &[&[150]]), ["within"], "ages start again after a container is forgotten");
    }
}
