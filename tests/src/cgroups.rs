//! The test clusters' cgroup hierarchies: found in every mounted controller, removed at the end.

use std::path::{Path, PathBuf};

/// `<mount>/<name>` in every mounted cgroup file system where it exists.
/// Removes every named hierarchy in every mounted controller; returns the container groups that
/// were still inside them.
pub fn remove_hierarchies(names: impl IntoIterator<Item = String>) -> Vec<std::path::PathBuf> {
    let mut leftovers = Vec::new();
    for name in names {
        for dir in hierarchy_dirs(&name) {
            leftovers.extend(remove_tree(&dir));
        }
    }
    leftovers
}

pub fn hierarchy_dirs(name: &str) -> Vec<PathBuf> {
    let Ok(me) = procfs::process::Process::myself() else { return Vec::new() };
    let Ok(mounts) = me.mountinfo() else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = mounts
        .into_iter()
        .filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        .map(|m| m.mount_point.join(name))
        .filter(|d| d.is_dir())
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Removes a cgroup directory and the groups inside it (deepest first); returns the groups that were
/// inside (container groups a NodeManager should have removed itself).
pub fn remove_tree(dir: &Path) -> Vec<PathBuf> {
    let mut children = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                children.push(path.clone());
                remove_tree(&path);
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
    children
}
