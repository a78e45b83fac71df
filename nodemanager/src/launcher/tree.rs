//! Process trees from `/proc` (procfs crate): who descends from a container's root process, and
//! what they use. A process that vanishes while being read is skipped, never an error.

use std::collections::{BTreeSet, HashMap};

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcEntry {
    pub(crate) pid: i32,
    pub(crate) ppid: i32,
    pub(crate) pgrp: i32,
    pub(crate) session: i32,
    /// `comm`, without the parentheses.
    pub(crate) name: String,
    pub(crate) zombie: bool,
    pub(crate) rss_pages: u64,
    pub(crate) rss_bytes: u64,
    pub(crate) vsize_bytes: u64,
    /// In clock ticks.
    pub(crate) utime_ticks: u64,
    pub(crate) stime_ticks: u64,
}

impl ProcEntry {
    /// utime + stime, in clock ticks.
    pub(crate) fn cpu_ticks(&self) -> u64 {
        self.utime_ticks.saturating_add(self.stime_ticks)
    }
}

/// Every process this user can read (blocking: call from `spawn_blocking`).
pub(crate) fn snapshot() -> Vec<ProcEntry> {
    let Ok(all) = procfs::process::all_processes() else { return Vec::new() };
    let page_size = procfs::page_size();
    all.filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .map(|s| ProcEntry {
            pid: s.pid,
            ppid: s.ppid,
            pgrp: s.pgrp,
            session: s.session,
            name: s.comm,
            zombie: s.state == 'Z',
            rss_pages: s.rss,
            rss_bytes: s.rss.saturating_mul(page_size),
            vsize_bytes: s.vsize,
            utime_ticks: s.utime,
            stime_ticks: s.stime,
        })
        .collect()
}

/// A process's full command line, arguments separated by spaces ("" when unreadable).
pub(crate) fn cmdline(pid: i32) -> String {
    procfs::process::Process::new(pid).and_then(|p| p.cmdline()).map(|args| args.join(" ")).unwrap_or_default()
}

/// The table indexed by parent, to find many trees in one snapshot.
pub(crate) struct Forest<'a> {
    by_pid: HashMap<i32, &'a ProcEntry>,
    children: HashMap<i32, Vec<&'a ProcEntry>>,
}

impl<'a> Forest<'a> {
    pub(crate) fn new(table: &'a [ProcEntry]) -> Forest<'a> {
        let mut children: HashMap<i32, Vec<&ProcEntry>> = HashMap::new();
        for entry in table {
            children.entry(entry.ppid).or_default().push(entry);
        }
        Forest { by_pid: table.iter().map(|e| (e.pid, e)).collect(), children }
    }

    /// `root` and every process whose chain of parents leads to it (PID 1 excluded, as YARN does).
    pub(crate) fn descendants(&self, root: i32) -> Vec<&'a ProcEntry> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut stack: Vec<&ProcEntry> = self.by_pid.get(&root).filter(|_| root > 1).copied().into_iter().collect();
        while let Some(entry) = stack.pop() {
            if !seen.insert(entry.pid) {
                continue;
            }
            out.push(entry);
            stack.extend(self.children.get(&entry.pid).into_iter().flatten());
        }
        out
    }
}

/// `root` and every process whose chain of parents leads to it (PID 1 excluded, as YARN does).
pub(crate) fn descendants(table: &[ProcEntry], root: i32) -> Vec<ProcEntry> {
    Forest::new(table).descendants(root).into_iter().cloned().collect()
}

/// Live (not zombie) processes that are in `pids` or in process group `pgrp`.
pub(crate) fn alive(table: &[ProcEntry], pids: &BTreeSet<i32>, pgrp: i32) -> Vec<i32> {
    table.iter().filter(|e| !e.zombie && (pids.contains(&e.pid) || e.pgrp == pgrp)).map(|e| e.pid).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: i32, ppid: i32, pgrp: i32) -> ProcEntry {
        ProcEntry {
            pid,
            ppid,
            pgrp,
            session: pgrp,
            name: "sh".into(),
            zombie: false,
            rss_pages: 0,
            rss_bytes: 0,
            vsize_bytes: 0,
            utime_ticks: 0,
            stime_ticks: 0,
        }
    }

    #[test]
    fn the_tree_follows_parents_and_the_group_catches_the_rest() {
        let table = [entry(1, 0, 1), entry(10, 1, 10), entry(11, 10, 10), entry(12, 11, 12), entry(20, 1, 10)];
        let tree: Vec<i32> = descendants(&table, 10).iter().map(|e| e.pid).collect();
        assert_eq!(tree.iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from([10, 11, 12]));
        assert!(descendants(&table, 1).is_empty(), "PID 1 is never a container root");
        let mut live = alive(&table, &BTreeSet::from([12]), 10);
        live.sort();
        assert_eq!(live, [10, 11, 12, 20]);
    }
}
