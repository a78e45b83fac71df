//! YARN 3.x's memory-kill diagnostics, verbatim (`facts/yarn.md` §1.4): the one-line reason with
//! the usage against both limits, then the process-tree dump. Sizes follow Hadoop's `long2String`,
//! so Spark's `[0-9.]+ [KMG]B of [0-9.]+ [KMG]B physical memory used` finds them.

use std::collections::BTreeMap;
use std::fmt::Write;

use weft_proto::ContainerId;

use super::rule::{Limits, MemoryKind, Usage};
use super::sample::ProcessSample;
use super::size::bytes_to_string;

/// The header of YARN's process-tree dump.
const DUMP_HEADER: &str = "\t|- PID PPID PGRPID SESSID CMD_NAME USER_MODE_TIME(MILLIS) SYSTEM_TIME(MILLIS) \
                           VMEM_USAGE(BYTES) RSSMEM_USAGE(PAGES) FULL_CMD_LINE\n";

/// What a kill message is made of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KillFacts<'a> {
    pub(crate) container_id: &'a ContainerId,
    /// The container's root process.
    pub(crate) pid: u32,
    pub(crate) kind: MemoryKind,
    pub(crate) usage: Usage,
    pub(crate) limits: Limits,
    pub(crate) tree: &'a [ProcessSample],
    /// Full command lines by pid; a process without one shows its name.
    pub(crate) cmdlines: &'a BTreeMap<i32, String>,
}

/// `<p> of <pl> physical memory used; <v> of <vl> virtual memory used`.
pub(crate) fn usage_line(usage: Usage, limits: Limits) -> String {
    format!(
        "{} of {} physical memory used; {} of {} virtual memory used",
        bytes_to_string(usage.pmem_bytes),
        bytes_to_string(limits.pmem_bytes),
        bytes_to_string(usage.vmem_bytes),
        bytes_to_string(limits.vmem_bytes),
    )
}

/// The monitor's kill message: reason, usage, then the dump of the tree.
pub(crate) fn over_limit(facts: KillFacts<'_>) -> String {
    let mut text = first_line(&facts);
    text.push('\n');
    text.push_str(&dump(facts.container_id, facts.tree, facts.cmdlines));
    text
}

/// The kernel's OOM killer acted inside the container's memory cgroup: the same shape as a
/// physical-memory kill, with `facts.usage.pmem_bytes` the cgroup's peak, and a line saying so.
pub(crate) fn kernel_oom(facts: KillFacts<'_>, oom_kills: u64) -> String {
    let mut text = first_line(&KillFacts { kind: MemoryKind::Physical, ..facts });
    let _ = write!(
        text,
        "\nThe kernel's OOM killer killed {oom_kills} process(es) in the container's memory cgroup at its \
         {} limit.\n",
        bytes_to_string(facts.limits.pmem_bytes)
    );
    text.push_str(&dump(facts.container_id, facts.tree, facts.cmdlines));
    text
}

fn first_line(facts: &KillFacts<'_>) -> String {
    let (current, limit) = match facts.kind {
        MemoryKind::Physical => (facts.usage.pmem_bytes, facts.limits.pmem_bytes),
        MemoryKind::Virtual => (facts.usage.vmem_bytes, facts.limits.vmem_bytes),
    };
    format!(
        "Container [pid={},containerID={}] is running {}B beyond the '{}' memory limit. Current usage: {}. \
         Killing container.",
        facts.pid,
        facts.container_id,
        current.saturating_sub(limit),
        facts.kind.upper(),
        usage_line(facts.usage, facts.limits),
    )
}

/// `Dump of the process-tree for <cid> :` and one line per process, by pid.
pub(crate) fn dump(container_id: &ContainerId, tree: &[ProcessSample], cmdlines: &BTreeMap<i32, String>) -> String {
    let mut text = format!("Dump of the process-tree for {container_id} :\n{DUMP_HEADER}");
    let mut sorted: Vec<&ProcessSample> = tree.iter().collect();
    sorted.sort_by_key(|p| p.pid);
    for p in sorted {
        let cmdline = cmdlines.get(&p.pid).filter(|c| !c.is_empty()).unwrap_or(&p.name);
        let _ = writeln!(
            text,
            "\t|- {} {} {} {} ({}) {} {} {} {} {}",
            p.pid, p.ppid, p.pgrp, p.session, p.name, p.utime_ms, p.stime_ms, p.vsize_bytes, p.rss_pages, cmdline
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;
    const GB: u64 = 1 << 30;

    fn id() -> ContainerId {
        "container_1700000000000_0001_01_000002".parse().unwrap()
    }

    fn tree() -> Vec<ProcessSample> {
        let root = ProcessSample {
            pid: 4242,
            ppid: 1,
            pgrp: 4242,
            session: 4242,
            name: "java".into(),
            utime_ms: 1200,
            stime_ms: 30,
            vsize_bytes: 3 * GB,
            rss_pages: 512,
            rss_bytes: 2 * GB,
            age: 3,
        };
        let child = ProcessSample {
            pid: 4243,
            ppid: 4242,
            pgrp: 4242,
            session: 4242,
            name: "python3".into(),
            vsize_bytes: 200 * MB,
            rss_bytes: 110_100_480,
            ..ProcessSample::test(4243)
        };
        vec![child, root]
    }

    fn facts<'a>(tree: &'a [ProcessSample], cmdlines: &'a BTreeMap<i32, String>, kind: MemoryKind) -> KillFacts<'a> {
        KillFacts {
            container_id: Box::leak(Box::new(id())),
            pid: 4242,
            kind,
            usage: Usage { pmem_bytes: 2 * GB + 110_100_480, vmem_bytes: 3 * GB },
            limits: Limits::for_container(2048, 2.1),
            tree,
            cmdlines,
        }
    }

    #[test]
    fn a_physical_kill_reads_like_yarn_3() {
        let tree = tree();
        let cmdlines = BTreeMap::from([(4242, "java -Xmx2g Executor".to_owned())]);
        let text = over_limit(facts(&tree, &cmdlines, MemoryKind::Physical));
        assert_eq!(
            text,
            "Container [pid=4242,containerID=container_1700000000000_0001_01_000002] is running 110100480B beyond \
             the 'PHYSICAL' memory limit. Current usage: 2.1 GB of 2 GB physical memory used; 3 GB of 4.2 GB \
             virtual memory used. Killing container.\n\
             Dump of the process-tree for container_1700000000000_0001_01_000002 :\n\
             \t|- PID PPID PGRPID SESSID CMD_NAME USER_MODE_TIME(MILLIS) SYSTEM_TIME(MILLIS) VMEM_USAGE(BYTES) \
             RSSMEM_USAGE(PAGES) FULL_CMD_LINE\n\
             \t|- 4242 1 4242 4242 (java) 1200 30 3221225472 512 java -Xmx2g Executor\n\
             \t|- 4243 4242 4242 4242 (python3) 0 0 209715200 1 python3\n"
        );
    }

    #[test]
    fn a_virtual_kill_names_the_virtual_delta() {
        let tree = tree();
        let cmdlines = BTreeMap::new();
        let mut f = facts(&tree, &cmdlines, MemoryKind::Virtual);
        f.usage.vmem_bytes = f.limits.vmem_bytes + 1000;
        let text = over_limit(f);
        assert!(text.starts_with("Container [pid=4242,containerID=container_1700000000000_0001_01_000002] is running 1000B beyond the 'VIRTUAL' memory limit. Current usage: 2.1 GB of 2 GB physical memory used; 4.2 GB of 4.2 GB virtual memory used. Killing container.\nDump"), "{text}");
    }

    #[test]
    fn spark_finds_x_of_y_physical_memory_used() {
        let tree = tree();
        let text = over_limit(facts(&tree, &BTreeMap::new(), MemoryKind::Physical));
        // Spark's regex: [0-9.]+ [KMG]B of [0-9.]+ [KMG]B physical memory used
        let at = text.find(" physical memory used").unwrap();
        let words: Vec<&str> = text[..at].rsplit(' ').take(5).collect();
        assert_eq!(words, ["GB", "2", "of", "GB", "2.1"]);
    }

    #[test]
    fn a_kernel_oom_kill_has_the_same_shape_and_says_who_killed() {
        let cmdlines = BTreeMap::new();
        let mut f = facts(&[], &cmdlines, MemoryKind::Virtual);
        f.limits = Limits::for_container(100, 2.1);
        f.usage = Usage { pmem_bytes: 100 * MB, vmem_bytes: 150 * MB };
        assert_eq!(
            kernel_oom(f, 1),
            "Container [pid=4242,containerID=container_1700000000000_0001_01_000002] is running 0B beyond the \
             'PHYSICAL' memory limit. Current usage: 100 MB of 100 MB physical memory used; 150 MB of 210 MB virtual \
             memory used. Killing container.\n\
             The kernel's OOM killer killed 1 process(es) in the container's memory cgroup at its 100 MB limit.\n\
             Dump of the process-tree for container_1700000000000_0001_01_000002 :\n\
             \t|- PID PPID PGRPID SESSID CMD_NAME USER_MODE_TIME(MILLIS) SYSTEM_TIME(MILLIS) VMEM_USAGE(BYTES) \
             RSSMEM_USAGE(PAGES) FULL_CMD_LINE\n"
        );
    }
}
