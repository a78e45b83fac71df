//! How long localized `file:` resources stay cached, as YARN's ResourceLocalizationService keeps
//! them: an entry is in use while an application that used it on this node has not finished; once
//! none does, it stays for the next application's reuse as long as the cache is within its target
//! size (`yarn.nodemanager.localizer.cache.target-size-mb`), and beyond it the least recently used
//! unused entries go first. APPLICATION entries go with their application. Pure bookkeeping: the
//! cache deletes what this says.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use weft_proto::ApplicationId;

#[derive(Debug, Default)]
struct Entry {
    bytes: u64,
    /// Applications that used it and have not finished.
    users: HashSet<ApplicationId>,
    last_used: u64,
    /// An APPLICATION-visibility entry: it lives in that application's directory.
    scoped_to: Option<ApplicationId>,
}

#[derive(Debug)]
pub(crate) struct Retention {
    entries: HashMap<PathBuf, Entry>,
    clock: u64,
    target_bytes: u64,
}

impl Retention {
    pub(crate) fn new(target_bytes: u64) -> Retention {
        Retention { entries: HashMap::new(), clock: 0, target_bytes }
    }

    /// An entry found on disk at start: unused, older than anything used since.
    pub(crate) fn found(&mut self, entry: PathBuf, bytes: u64) {
        self.entries.entry(entry).or_default().bytes = bytes;
    }

    /// `app` is about to use `entry` (before it is checked or made): it cannot be evicted now.
    pub(crate) fn used(&mut self, entry: PathBuf, app: ApplicationId, scoped: bool) {
        self.clock += 1;
        let e = self.entries.entry(entry).or_default();
        e.users.insert(app);
        e.last_used = self.clock;
        if scoped {
            e.scoped_to = Some(app);
        }
    }

    /// The entry's size once made.
    pub(crate) fn sized(&mut self, entry: &PathBuf, bytes: u64) {
        if let Some(e) = self.entries.get_mut(entry) {
            e.bytes = bytes;
        }
    }

    pub(crate) fn total_bytes(&self) -> u64 {
        self.entries.values().map(|e| e.bytes).sum()
    }

    /// `app` finished on this node: its own entries are forgotten (they go with its directory), and
    /// the entries to evict now are returned (forgotten too): unused ones, least recently used
    /// first, until the cache is within its target.
    pub(crate) fn app_finished(&mut self, app: ApplicationId) -> Vec<PathBuf> {
        self.entries.retain(|_, e| e.scoped_to != Some(app));
        for e in self.entries.values_mut() {
            e.users.remove(&app);
        }
        let mut total = self.total_bytes();
        let mut unused: Vec<(u64, PathBuf)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.users.is_empty())
            .map(|(path, e)| (e.last_used, path.clone()))
            .collect();
        unused.sort();
        let mut evicted = Vec::new();
        for (_, path) in unused {
            if total <= self.target_bytes {
                break;
            }
            let e = self.entries.remove(&path).expect("listed above");
            total -= e.bytes;
            evicted.push(path);
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(n: u32) -> ApplicationId {
        ApplicationId::new(1_700_000_000_000, n)
    }

    fn path(name: &str) -> PathBuf {
        PathBuf::from(format!("/cache/{name}"))
    }

    #[test]
    fn unused_entries_beyond_the_target_go_least_recently_used_first() {
        let mut r = Retention::new(250);
        r.found(path("old"), 100);
        for (name, n) in [("a", 1), ("b", 2), ("shared", 1), ("shared", 3)] {
            r.used(path(name), app(n), false);
            r.sized(&path(name), 100);
        }
        assert_eq!(r.total_bytes(), 400);
        // App 1 ends: "old" (never used since the start) goes first, then "a"; "shared" is still
        // used by app 3.
        assert_eq!(r.app_finished(app(1)), [path("old"), path("a")]);
        assert_eq!(r.total_bytes(), 200);
        // Within the target: app 2's entry stays for reuse.
        assert!(r.app_finished(app(2)).is_empty());
        r.used(path("b"), app(4), false);
        assert!(r.app_finished(app(3)).is_empty());
    }

    #[test]
    fn application_entries_go_with_their_application_and_a_zero_target_keeps_nothing_unused() {
        let mut r = Retention::new(0);
        r.used(path("app1/filecache/x"), app(1), true);
        r.sized(&path("app1/filecache/x"), 50);
        r.used(path("libs"), app(1), false);
        r.sized(&path("libs"), 500);
        r.used(path("libs"), app(2), false);
        assert!(r.app_finished(app(1)).is_empty(), "libs is app 2's too; x went with app 1's directory");
        assert_eq!(r.total_bytes(), 500);
        assert_eq!(r.app_finished(app(2)), [path("libs")]);
        assert_eq!(r.total_bytes(), 0);
    }
}
