//! What goes into cgroup files, and what comes out, for both versions (`facts/yarn.md` §3): the
//! limits a container gets (v1 `memory.limit_in_bytes`, `cpu.shares`, `cpu.cfs_quota_us`; v2
//! `memory.max`, `cpu.weight`, `cpu.max`), the CPU cap of the NodeManager's own group, and the OOM
//! counters (v1 `memory.oom_control`, v2 `memory.events`). Pure: the adapter writes and reads.

/// Which cgroup file system the node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

impl Version {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// The CFS period every quota is expressed in (the kernel's default), µs.
pub(crate) const CFS_PERIOD_US: u64 = 100_000;
/// The smallest quota the kernel accepts, µs.
const MIN_QUOTA_US: u64 = 1_000;
/// cgroup v2's largest `cpu.weight`.
const MAX_WEIGHT: u64 = 10_000;

/// How CPU is shared: weights always; a CFS quota per container in strict mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuPolicy {
    /// `cgroups.strict-resource-usage`.
    pub(crate) strict: bool,
    /// Online CPUs of the machine.
    pub(crate) cpus: u32,
    /// `resource.percentage-physical-cpu-limit`, 1 to 100.
    pub(crate) limit_percent: u32,
}

impl CpuPolicy {
    /// The CPUs containers may use together, in millicores: cpus × percent / 100.
    fn node_millicores(&self) -> u64 {
        u64::from(self.cpus) * 1000 * u64::from(self.limit_percent.clamp(1, 100)) / 100
    }

    /// A strict container's quota per period: its vcores as cores, capped by what all containers
    /// may use together.
    pub(crate) fn container_quota_us(&self, vcores: u32) -> u64 {
        let millicores = (u64::from(vcores) * 1000).min(self.node_millicores());
        (millicores * CFS_PERIOD_US / 1000).max(MIN_QUOTA_US)
    }

    /// The quota of the NodeManager's own group: none at 100%, else the allowed share of the CPUs.
    pub(crate) fn hierarchy_quota_us(&self) -> Option<u64> {
        (self.limit_percent < 100).then(|| (self.node_millicores() * CFS_PERIOD_US / 1000).max(MIN_QUOTA_US))
    }
}

/// The limits of one container, as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContainerLimits {
    pub(crate) memory_bytes: u64,
    /// v1 `cpu.shares` (1024 per vcore) or v2 `cpu.weight` (100 per vcore, at most 10000).
    pub(crate) cpu_weight: u64,
    /// `(quota, period)` in µs, in strict mode.
    pub(crate) cfs: Option<(u64, u64)>,
}

impl ContainerLimits {
    pub(crate) fn new(version: Version, memory_mb: i64, vcores: i32, cpu: CpuPolicy) -> ContainerLimits {
        let vcores = u32::try_from(vcores).unwrap_or(0).max(1);
        let cpu_weight = match version {
            Version::V1 => 1024 * u64::from(vcores),
            Version::V2 => (100 * u64::from(vcores)).min(MAX_WEIGHT),
        };
        ContainerLimits {
            memory_bytes: u64::try_from(memory_mb).unwrap_or(0).saturating_mul(1 << 20),
            cpu_weight,
            cfs: cpu.strict.then(|| (cpu.container_quota_us(vcores), CFS_PERIOD_US)),
        }
    }

    /// The files and values, as the kernel reads them back: `(controller, file, value)`. The adapter
    /// writes them through cgroups-rs; tests compare this with what the kernel shows.
    #[cfg(test)]
    pub(crate) fn files(&self, version: Version) -> Vec<(&'static str, &'static str, String)> {
        match version {
            Version::V1 => {
                let mut files = vec![
                    ("memory", "memory.limit_in_bytes", self.memory_bytes.to_string()),
                    ("cpu", "cpu.shares", self.cpu_weight.to_string()),
                ];
                if let Some((quota, period)) = self.cfs {
                    files.push(("cpu", "cpu.cfs_period_us", period.to_string()));
                    files.push(("cpu", "cpu.cfs_quota_us", quota.to_string()));
                }
                files
            }
            Version::V2 => vec![
                ("memory", "memory.max", self.memory_bytes.to_string()),
                ("cpu", "cpu.weight", self.cpu_weight.to_string()),
                ("cpu", "cpu.max", cpu_max(self.cfs)),
            ],
        }
    }
}

/// v2 `cpu.max`: `"$QUOTA $PERIOD"`, or `"max $PERIOD"` for no quota.
#[cfg(test)]
pub(crate) fn cpu_max(cfs: Option<(u64, u64)>) -> String {
    match cfs {
        Some((quota, period)) => format!("{quota} {period}"),
        None => format!("max {CFS_PERIOD_US}"),
    }
}

/// The value after `key` in a flat-keyed cgroup file (`key value` lines), if present and numeric.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(key)).then(|| words.next()?.parse().ok()).flatten()
    })
}

/// How many processes the kernel's OOM killer has killed in the group: v1 `memory.oom_control`
/// (`oom_kill N`, kernels 4.13+) or v2 `memory.events` (`oom_kill N`). `None` when the file does not
/// say.
pub(crate) fn oom_kills(version: Version, text: &str) -> Option<u64> {
    match version {
        Version::V1 | Version::V2 => keyed(text, "oom_kill"),
    }
}

/// The file that counts OOM kills.
pub(crate) fn oom_file(version: Version) -> &'static str {
    match version {
        Version::V1 => "memory.oom_control",
        Version::V2 => "memory.events",
    }
}

/// The file with the group's peak memory: v1 `memory.max_usage_in_bytes`, v2 `memory.peak`
/// (kernels 5.19+; the adapter falls back to `memory.current`).
pub(crate) fn peak_file(version: Version) -> &'static str {
    match version {
        Version::V1 => "memory.max_usage_in_bytes",
        Version::V2 => "memory.peak",
    }
}

/// A single number file (`memory.max_usage_in_bytes`, `memory.peak`, `cpuacct.usage`).
pub(crate) fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// CPU time the group has used, in ns: v1 `cpuacct.usage` (ns), v2 `cpu.stat` `usage_usec`.
pub(crate) fn cpu_usage_ns(version: Version, text: &str) -> Option<u64> {
    match version {
        Version::V1 => number(text),
        Version::V2 => keyed(text, "usage_usec").map(|us| us.saturating_mul(1000)),
    }
}

/// Pids in a `cgroup.procs` file; lines that are not pids are skipped.
pub(crate) fn pids(text: &str) -> Vec<i32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).filter(|&pid: &i32| pid > 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARED: CpuPolicy = CpuPolicy { strict: false, cpus: 8, limit_percent: 100 };
    const STRICT: CpuPolicy = CpuPolicy { strict: true, cpus: 8, limit_percent: 100 };

    /// `controller/file=value` lines, for comparing with a snapshot.
    fn check(limits: ContainerLimits, version: Version, expected: &str) {
        let lines: Vec<String> = limits.files(version).iter().map(|(c, f, v)| format!("{c}/{f}={v}")).collect();
        assert_eq!(lines.join("\n"), expected.trim());
    }

    #[test]
    fn v1_gets_bytes_and_1024_shares_per_vcore() {
        check(
            ContainerLimits::new(Version::V1, 2048, 3, SHARED),
            Version::V1,
            "memory/memory.limit_in_bytes=2147483648\ncpu/cpu.shares=3072",
        );
    }

    #[test]
    fn v2_gets_memory_max_100_weight_per_vcore_and_no_quota() {
        check(
            ContainerLimits::new(Version::V2, 1024, 2, SHARED),
            Version::V2,
            "memory/memory.max=1073741824\ncpu/cpu.weight=200\ncpu/cpu.max=max 100000",
        );
        assert_eq!(ContainerLimits::new(Version::V2, 1024, 500, SHARED).cpu_weight, 10_000, "capped at 10000");
    }

    #[test]
    fn strict_mode_sets_a_quota_of_vcores_times_the_period() {
        check(
            ContainerLimits::new(Version::V1, 1024, 1, STRICT),
            Version::V1,
            "memory/memory.limit_in_bytes=1073741824\ncpu/cpu.shares=1024\ncpu/cpu.cfs_period_us=100000\n\
             cpu/cpu.cfs_quota_us=100000",
        );
        check(
            ContainerLimits::new(Version::V2, 1024, 3, STRICT),
            Version::V2,
            "memory/memory.max=1073741824\ncpu/cpu.weight=300\ncpu/cpu.max=300000 100000",
        );
    }

    #[test]
    fn the_cpu_limit_percentage_caps_quotas() {
        let half = CpuPolicy { strict: true, cpus: 2, limit_percent: 50 };
        assert_eq!(half.container_quota_us(1), 100_000);
        assert_eq!(half.container_quota_us(4), 100_000, "a container gets at most what all containers may use");
        assert_eq!(half.hierarchy_quota_us(), Some(100_000));
        let tiny = CpuPolicy { strict: true, cpus: 1, limit_percent: 1 };
        assert_eq!(tiny.container_quota_us(1), 1_000);
        assert_eq!(SHARED.hierarchy_quota_us(), None);
        assert_eq!(cpu_max(None), "max 100000");
        assert_eq!(cpu_max(Some((150_000, 100_000))), "150000 100000");
    }

    #[test]
    fn oom_counters_are_read_from_either_version() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n";
        assert_eq!(oom_kills(Version::V1, v1), Some(1));
        assert_eq!(oom_kills(Version::V1, "oom_kill_disable 0\nunder_oom 0\n"), None, "kernels before 4.13");
        let v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(oom_kills(Version::V2, v2), Some(2));
        assert_eq!(oom_kills(Version::V2, "oom_kill x\n"), None);
        assert_eq!((oom_file(Version::V1), oom_file(Version::V2)), ("memory.oom_control", "memory.events"));
    }

    #[test]
    fn peaks_cpu_and_pids_parse() {
        assert_eq!(number("104857600\n"), Some(104_857_600));
        assert_eq!(number("max\n"), None);
        assert_eq!(peak_file(Version::V2), "memory.peak");
        assert_eq!(cpu_usage_ns(Version::V1, "123456789\n"), Some(123_456_789));
        assert_eq!(cpu_usage_ns(Version::V2, "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"), Some(1_500_000));
        assert_eq!(pids("12\n345\n\n0\nx\n"), [12, 345]);
    }
}
