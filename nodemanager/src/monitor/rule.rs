//! YARN's over-limit rule for one container (`facts/yarn.md` §1.3), as a pure function of the
//! sampled process tree with ages, the limits and the checks: a tree over twice a limit is killed at
//! once; otherwise only processes older than one interval (age > 1) count against the limit, so
//! that the brief doubling of a fork+exec is forgiven. The virtual check runs first.

use super::sample::ProcessSample;

/// Which memory a limit is about; YARN upper-cases the name in its diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemoryKind {
    Physical,
    Virtual,
}

impl MemoryKind {
    /// `PHYSICAL` or `VIRTUAL`, as in `beyond the 'PHYSICAL' memory limit`.
    pub(crate) fn upper(self) -> &'static str {
        match self {
            MemoryKind::Physical => "PHYSICAL",
            MemoryKind::Virtual => "VIRTUAL",
        }
    }
}

/// What a container is held to, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Limits {
    /// The container's memory.
    pub(crate) pmem_bytes: u64,
    /// `pmem_bytes` × `vmem-pmem-ratio`, truncated.
    pub(crate) vmem_bytes: u64,
}

impl Limits {
    /// pmem = `memory_mb` MiB; vmem = pmem × `vmem_ratio`, truncated as YARN's `(long)` cast does.
    pub(crate) fn for_container(memory_mb: i64, vmem_ratio: f64) -> Limits {
        let pmem_bytes = u64::try_from(memory_mb).unwrap_or(0).saturating_mul(1 << 20);
        Limits { pmem_bytes, vmem_bytes: (pmem_bytes as f64 * vmem_ratio) as u64 }
    }
}

/// Which checks are on (`pmem-check-enabled`, `vmem-check-enabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checks {
    pub(crate) pmem: bool,
    pub(crate) vmem: bool,
}

/// Why a tree counts as over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The whole tree uses more than twice the limit.
    OverTwice,
    /// Processes seen in at least two samples use more than the limit.
    AgedOver,
}

/// Memory of one tree, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Usage {
    pub(crate) pmem_bytes: u64,
    pub(crate) vmem_bytes: u64,
}

/// The rule's answer for one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Within,
    Over { kind: MemoryKind, trigger: Trigger, usage_bytes: u64, limit_bytes: u64 },
}

/// The whole tree's memory (every process, whatever its age).
pub(crate) fn usage(tree: &[ProcessSample]) -> Usage {
    Usage { pmem_bytes: sum(tree, 0, |p| p.rss_bytes), vmem_bytes: sum(tree, 0, |p| p.vsize_bytes) }
}

fn sum(tree: &[ProcessSample], older_than: u32, field: impl Fn(&ProcessSample) -> u64) -> u64 {
    tree.iter().filter(|p| p.age > older_than).map(field).fold(0, u64::saturating_add)
}

/// YARN's `isProcessTreeOverLimit`: over twice the limit, or aged processes over the limit.
fn over(current: u64, aged: u64, limit: u64) -> Option<Trigger> {
    if current > limit.saturating_mul(2) {
        Some(Trigger::OverTwice)
    } else if aged > limit {
        Some(Trigger::AgedOver)
    } else {
        None
    }
}

/// Applies the rule: virtual first, then physical; a check that is off never fires.
pub(crate) fn decide(tree: &[ProcessSample], limits: Limits, checks: Checks) -> Verdict {
    let vsize: fn(&ProcessSample) -> u64 = |p| p.vsize_bytes;
    let rss: fn(&ProcessSample) -> u64 = |p| p.rss_bytes;
    let candidates = [
        (checks.vmem, MemoryKind::Virtual, limits.vmem_bytes, vsize),
        (checks.pmem, MemoryKind::Physical, limits.pmem_bytes, rss),
    ];
    for (enabled, kind, limit, field) in candidates {
        if !enabled || limit == 0 {
            continue;
        }
        let current = sum(tree, 0, field);
        if let Some(trigger) = over(current, sum(tree, 1, field), limit) {
            return Verdict::Over { kind, trigger, usage_bytes: current, limit_bytes: limit };
        }
    }
    Verdict::Within
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;
    const BOTH: Checks = Checks { pmem: true, vmem: true };

    fn process(pid: i32, rss_mb: u64, vsize_mb: u64, age: u32) -> ProcessSample {
        ProcessSample { rss_bytes: rss_mb * MB, vsize_bytes: vsize_mb * MB, age, ..ProcessSample::test(pid) }
    }

    /// 100 MB physical, 210 MB virtual.
    fn limits() -> Limits {
        Limits::for_container(100, 2.1)
    }

    /// One line: `Within`, or `<kind> <trigger> <usage MB>/<limit MB>`.
    fn check(tree: &[ProcessSample], checks: Checks, expected: &str) {
        let got = match decide(tree, limits(), checks) {
            Verdict::Within => "Within".to_owned(),
            Verdict::Over { kind, trigger, usage_bytes, limit_bytes } => {
                format!("{} {trigger:?} {}/{}", kind.upper(), usage_bytes / MB, limit_bytes / MB)
            }
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn limits_follow_yarn() {
        assert_eq!(limits(), Limits { pmem_bytes: 100 * MB, vmem_bytes: (100.0 * MB as f64 * 2.1) as u64 });
        let one_gb = Limits::for_container(1024, 2.1);
        assert_eq!(one_gb.vmem_bytes, 2_254_857_830);
        assert_eq!(Limits::for_container(-1, 2.1), Limits::default());
    }

    #[test]
    fn a_tree_under_its_limits_is_within() {
        check(&[process(10, 60, 150, 5), process(11, 39, 59, 3)], BOTH, "Within");
        check(&[process(10, 100, 210, 5)], BOTH, "Within");
        check(&[], BOTH, "Within");
    }

    #[test]
    fn an_aged_tree_over_the_limit_is_killed() {
        check(&[process(10, 101, 150, 2)], BOTH, "PHYSICAL AgedOver 101/100");
        check(&[process(10, 60, 150, 2), process(11, 41, 10, 4)], BOTH, "PHYSICAL AgedOver 101/100");
    }

    #[test]
    fn a_young_tree_gets_one_more_interval_unless_over_twice() {
        // Seen once: the fork+exec doubling is forgiven up to twice the limit.
        check(&[process(10, 150, 150, 1)], BOTH, "Within");
        check(&[process(10, 200, 150, 1)], BOTH, "Within");
        check(&[process(10, 201, 150, 1)], BOTH, "PHYSICAL OverTwice 201/100");
        // Only the aged part counts against the plain limit; the young part still counts toward twice.
        check(&[process(10, 90, 100, 3), process(11, 90, 10, 1)], BOTH, "Within");
        check(&[process(10, 101, 100, 3), process(11, 90, 10, 1)], BOTH, "PHYSICAL AgedOver 191/100");
    }

    #[test]
    fn virtual_is_checked_first() {
        check(&[process(10, 300, 500, 4)], BOTH, "VIRTUAL OverTwice 500/210");
        check(&[process(10, 150, 300, 4)], BOTH, "VIRTUAL AgedOver 300/210");
        check(&[process(10, 150, 300, 4)], Checks { pmem: true, vmem: false }, "PHYSICAL AgedOver 150/100");
    }

    #[test]
    fn a_check_that_is_off_never_fires() {
        let huge = [process(10, 10_000, 10_000, 9)];
        check(&huge, Checks { pmem: false, vmem: false }, "Within");
        check(&huge, Checks { pmem: false, vmem: true }, "VIRTUAL OverTwice 10000/210");
        check(&[process(10, 50, 10_000, 9)], Checks { pmem: true, vmem: false }, "Within");
    }

    #[test]
    fn the_ratio_moves_the_virtual_limit() {
        let tree = [process(10, 50, 300, 4)];
        assert!(matches!(decide(&tree, limits(), BOTH), Verdict::Over { kind: MemoryKind::Virtual, .. }));
        assert_eq!(decide(&tree, Limits::for_container(100, 3.5), BOTH), Verdict::Within);
    }

    #[test]
    fn usage_counts_every_process() {
        let tree = [process(10, 1, 2, 1), process(11, 3, 4, 7)];
        assert_eq!(usage(&tree), Usage { pmem_bytes: 4 * MB, vmem_bytes: 6 * MB });
    }
}
