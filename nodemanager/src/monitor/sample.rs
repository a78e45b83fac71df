//! One container's process tree as the monitor sees it, and the ages YARN gives its processes: 1
//! when first seen, one more for every later sample it is still in (`facts/yarn.md` §1.2).

use std::collections::HashMap;

/// One process of a container's tree, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessSample {
    pub(crate) pid: i32,
    pub(crate) ppid: i32,
    pub(crate) pgrp: i32,
    pub(crate) session: i32,
    /// The command name (`comm`), without parentheses.
    pub(crate) name: String,
    pub(crate) utime_ms: u64,
    pub(crate) stime_ms: u64,
    pub(crate) vsize_bytes: u64,
    pub(crate) rss_pages: u64,
    pub(crate) rss_bytes: u64,
    /// Samples this process has been in, this one included; 0 until [`Ages::assign`] has run.
    pub(crate) age: u32,
}

#[cfg(test)]
impl ProcessSample {
    /// A small process for tests: `pid`, its own group and session, 1 page.
    pub(crate) fn test(pid: i32) -> ProcessSample {
        ProcessSample {
            pid,
            ppid: 1,
            pgrp: pid,
            session: pid,
            name: "sleep".into(),
            utime_ms: 0,
            stime_ms: 0,
            vsize_bytes: 4096,
            rss_pages: 1,
            rss_bytes: 4096,
            age: 0,
        }
    }
}

/// The ages of one container's processes from its previous sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ages {
    by_pid: HashMap<i32, u32>,
}

impl Ages {
    /// Sets every process's age from the previous sample and remembers this one; processes that
    /// left the tree are forgotten.
    pub(crate) fn assign(&mut self, tree: &mut [ProcessSample]) {
        let mut next = HashMap::with_capacity(tree.len());
        for process in tree.iter_mut() {
            process.age = self.by_pid.get(&process.pid).map_or(1, |age| age.saturating_add(1));
            next.insert(process.pid, process.age);
        }
        self.by_pid = next;
    }

    /// Processes in the last sample.
    pub(crate) fn len(&self) -> usize {
        self.by_pid.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ages(ages: &mut Ages, pids: &[i32]) -> Vec<u32> {
        let mut tree: Vec<ProcessSample> = pids.iter().map(|&pid| ProcessSample::test(pid)).collect();
        ages.assign(&mut tree);
        tree.iter().map(|p| p.age).collect()
    }

    #[test]
    fn ages_count_consecutive_samples_and_restart_after_a_gap() {
        let mut a = Ages::default();
        assert_eq!(ages(&mut a, &[10]), [1]);
        assert_eq!(ages(&mut a, &[10, 11]), [2, 1]);
        assert_eq!(ages(&mut a, &[10, 11, 12]), [3, 2, 1]);
        assert_eq!(ages(&mut a, &[12]), [2]);
        assert_eq!(ages(&mut a, &[10, 12]), [1, 3], "10 left the tree, so it starts again");
    }
}
