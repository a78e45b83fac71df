//! Containers in cgroups, through cgroups-rs, for cgroup v1 and v2 (detected at start-up): the
//! NodeManager's own group (`cgroups.hierarchy`, default `hadoop-yarn`) under each controller's
//! mount, and one child per container, named by its id, created with its limits before its process
//! starts (the launcher joins it in a pre-exec hook) and removed when the container ends.
//!
//! Everything here blocks on the cgroup file system: call it from `spawn_blocking` in async code.
//! The values written and the counters read are worded in the pure `files` module.

mod files;

pub(crate) use files::{ContainerLimits, CpuPolicy, Version};

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::hierarchies::{self, V1, V2};
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::{Cgroup, Controllers, Hierarchy};
use weft_proto::{ContainerId, Resource};

/// What the NodeManager needs to set cgroups up.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// `weft.nodemanager.cgroups.enabled`.
    pub(crate) enabled: bool,
    /// Relative path of plain names, e.g. `hadoop-yarn`.
    pub(crate) hierarchy: String,
    pub(crate) cpu: CpuPolicy,
    /// `pids.max` of each container's group (`weft.nodemanager.container.max-pids`).
    pub(crate) max_pids: u64,
    /// Groups of containers taken back after a restart (by name): not stale, kept at start-up.
    pub(crate) keep: std::collections::BTreeSet<String>,
}

/// Whether containers are held in cgroups, as `/ws/v1/node/info` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupsStatus {
    pub(crate) enabled: bool,
    pub(crate) version: Option<Version>,
    pub(crate) hierarchy: String,
    /// Why they are not used ("" when they are).
    pub(crate) reason: String,
}

/// Where the NodeManager's group lives, per controller.
#[derive(Debug, Clone)]
struct Dirs {
    memory: PathBuf,
    cpu: PathBuf,
    /// v1 only; v2 accounts CPU in `cpu.stat` of the one directory.
    cpuacct: Option<PathBuf>,
    /// The pids controller's directory, when it is available (v2: the one directory).
    pids: Option<PathBuf>,
}

/// The node's cgroups: version, where the NodeManager's group is, how CPU is shared.
#[derive(Debug, Clone)]
pub(crate) struct Cgroups {
    version: Version,
    hierarchy: String,
    dirs: Dirs,
    cpu: CpuPolicy,
    max_pids: u64,
}

/// A cgroup operation that failed, with the path and the OS error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CgroupError(pub(crate) String);

fn error(action: &str, path: &Path, cause: impl std::fmt::Display) -> CgroupError {
    CgroupError(format!("cannot {action} {}: {cause}", path.display()))
}

/// Every mounted cgroup file system's root (each v1 controller, and any cgroup2 mount).
pub(crate) fn mount_points() -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = hierarchies::mountinfo_self()
        .into_iter()
        .filter(|m| m.fs_type.0 == "cgroup" || m.fs_type.0 == "cgroup2")
        .map(|m| m.mount_point)
        .collect();
    points.sort();
    points.dedup();
    points
}

/// Which version this machine runs, and the NodeManager group's directories, or why neither.
fn locate(hierarchy: &str) -> Result<(Version, Dirs), String> {
    if hierarchies::is_cgroup2_unified_mode() {
        let root = V2::new().root();
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let have: Vec<&str> = controllers.split_whitespace().collect();
        if let Some(missing) = ["memory", "cpu"].into_iter().find(|c| !have.contains(c)) {
            return Err(format!(
                "cgroup v2 is mounted at {} but its {missing} controller is not available (cgroup.controllers: {:?})",
                root.display(),
                controllers.trim()
            ));
        }
        let dir = root.join(hierarchy);
        let pids = have.contains(&"pids").then(|| dir.clone());
        return Ok((Version::V2, Dirs { memory: dir.clone(), cpu: dir, cpuacct: None, pids }));
    }
    let v1 = V1::new();
    let mount = |controller: Controllers| v1.get_mount_point(controller).map(|(point, _root)| point.join(hierarchy));
    let memory = mount(Controllers::Mem);
    let cpu = mount(Controllers::Cpu);
    match (memory, cpu) {
        (Some(memory), Some(cpu)) => {
            let (cpuacct, pids) = (mount(Controllers::CpuAcct), mount(Controllers::Pids));
            Ok((Version::V1, Dirs { memory, cpu, cpuacct, pids }))
        }
        (None, _) if mount_points().is_empty() => Err("no cgroup file system is mounted".into()),
        (None, _) => Err("the cgroup v1 memory controller is not mounted".into()),
        (_, None) => Err("the cgroup v1 cpu controller is not mounted".into()),
    }
}

fn hierarchy_of(version: Version) -> Box<dyn Hierarchy> {
    match version {
        Version::V1 => Box::new(V1::new()),
        Version::V2 => Box::new(V2::new()),
    }
}

/// The controllers a container's group is made in.
fn controllers(version: Version, pids: bool) -> Vec<String> {
    let names: &[&str] = match version {
        Version::V1 => &["memory", "cpu", "cpuacct"],
        Version::V2 => &["memory", "cpu"],
    };
    let pids = pids.then_some("pids");
    names.iter().copied().chain(pids).map(str::to_owned).collect()
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

impl Cgroups {
    /// Detects the version, creates the NodeManager's group and removes stale children of it from
    /// every mounted controller. `Err` says why containers cannot be held in cgroups here.
    pub(crate) fn set_up(setup: &Setup) -> Result<Cgroups, String> {
        if !setup.enabled {
            return Err("turned off by weft.nodemanager.cgroups.enabled".into());
        }
        let (version, dirs) = locate(&setup.hierarchy)?;
        let has_pids = dirs.pids.is_some();
        let cgroups =
            Cgroups { version, hierarchy: setup.hierarchy.clone(), dirs, cpu: setup.cpu, max_pids: setup.max_pids };
        let group = Cgroup::load_with_specified_controllers(
            hierarchy_of(version),
            &cgroups.hierarchy,
            controllers(version, has_pids),
        );
        if let Err(e) = group.create() {
            let uid = nix::unistd::geteuid();
            let who = if uid.is_root() { String::new() } else { format!("not root (euid {uid}) and ") };
            return Err(format!("{who}cannot create {}: {}", cgroups.dirs.memory.display(), cause(&e)));
        }
        cgroups.cap_hierarchy_cpu(&group).map_err(|e| e.0)?;
        cgroups.remove_stale_children(&setup.keep);
        Ok(cgroups)
    }

    pub(crate) fn version(&self) -> Version {
        self.version
    }

    pub(crate) fn hierarchy(&self) -> &str {
        &self.hierarchy
    }

    /// The quota of the NodeManager's own group: the CPU share containers may use together.
    fn cap_hierarchy_cpu(&self, group: &Cgroup) -> Result<(), CgroupError> {
        let Some(cpu) = group.controller_of::<CpuController>() else { return Ok(()) };
        let quota = self.cpu.hierarchy_quota_us().map_or(-1, |q| q as i64);
        cpu.set_cfs_quota_and_period(Some(quota), Some(files::CFS_PERIOD_US))
            .map_err(|e| error("set the CPU quota of", &self.dirs.cpu, cause(&e)))
    }

    /// Children of the NodeManager's group left by an earlier run, in every mounted controller:
    /// they are removed, after SIGKILL to any process still in them (containers of a NodeManager
    /// that died without stopping them; the hierarchy is this NodeManager's alone), except those
    /// named in `keep`: containers a restarted NodeManager takes back.
    fn remove_stale_children(&self, keep: &std::collections::BTreeSet<String>) {
        for mount in mount_points() {
            let dir = mount.join(&self.hierarchy);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let stale =
                |p: &PathBuf| p.is_dir() && !p.file_name().is_some_and(|n| keep.contains(&*n.to_string_lossy()));
            for child in entries.flatten().map(|e| e.path()).filter(stale) {
                let killed = kill_all_in(&child);
                match remove_tree(&child) {
                    Ok(()) => tracing::info!(cgroup = %child.display(), ?killed, "removed a stale cgroup"),
                    Err(e) => tracing::warn!(cgroup = %child.display(), error = %e, "cannot remove a stale cgroup"),
                }
            }
        }
    }

    fn group(&self, id: &ContainerId) -> Cgroup {
        let path = format!("{}/{id}", self.hierarchy);
        Cgroup::load_with_specified_controllers(
            hierarchy_of(self.version),
            path,
            controllers(self.version, self.dirs.pids.is_some()),
        )
    }

    /// A container's group, made with its limits; refused when a group of that name already holds
    /// processes (another NodeManager's container of the same id).
    pub(crate) fn create(&self, id: &ContainerId, resource: Resource) -> Result<ContainerCgroup, CgroupError> {
        let container = self.container(id);
        let busy = container.pids();
        if !busy.is_empty() {
            return Err(CgroupError(format!(
                "cgroup {} already holds processes {busy:?}",
                container.dirs.memory.display()
            )));
        }
        let group = self.group(id);
        group.create().map_err(|e| error("create", &container.dirs.memory, cause(&e)))?;
        let limits = ContainerLimits::new(self.version, resource.memory_mb, resource.vcores, self.cpu);
        if let Err(e) = self.apply(&group, limits, container.dirs.pids.as_deref()) {
            let _ = container.remove();
            return Err(e);
        }
        Ok(container)
    }

    fn apply(&self, group: &Cgroup, limits: ContainerLimits, pids: Option<&Path>) -> Result<(), CgroupError> {
        let memory =
            group.controller_of::<MemController>().ok_or_else(|| CgroupError("no memory controller".into()))?;
        let bytes = i64::try_from(limits.memory_bytes).unwrap_or(i64::MAX);
        memory.set_limit(bytes).map_err(|e| error("set the memory limit of", &self.dirs.memory, cause(&e)))?;
        let cpu = group.controller_of::<CpuController>().ok_or_else(|| CgroupError("no cpu controller".into()))?;
        cpu.set_shares(limits.cpu_weight).map_err(|e| error("set the CPU weight of", &self.dirs.cpu, cause(&e)))?;
        let (quota, period) = match limits.cfs {
            Some((quota, period)) => (quota as i64, period),
            None => (-1, files::CFS_PERIOD_US),
        };
        cpu.set_cfs_quota_and_period(Some(quota), Some(period))
            .map_err(|e| error("set the CPU quota of", &self.dirs.cpu, cause(&e)))?;
        if let Some(dir) = pids {
            let file = dir.join("pids.max");
            std::fs::write(&file, self.max_pids.to_string()).map_err(|e| error("write", &file, e))?;
        }
        Ok(())
    }

    /// The handle of a container's group (which may not exist).
    pub(crate) fn container(&self, id: &ContainerId) -> ContainerCgroup {
        let name = id.to_string();
        ContainerCgroup {
            version: self.version,
            dirs: Dirs {
                memory: self.dirs.memory.join(&name),
                cpu: self.dirs.cpu.join(&name),
                cpuacct: self.dirs.cpuacct.as_ref().map(|d| d.join(&name)),
                pids: self.dirs.pids.as_ref().map(|d| d.join(&name)),
            },
        }
    }

    /// Removes the NodeManager's group itself in every controller (tests; a NodeManager leaves it).
    #[cfg(test)]
    pub(crate) fn remove_hierarchy(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for mount in mount_points() {
            let dir = mount.join(&self.hierarchy);
            if dir.exists() {
                if let Err(e) = remove_tree(&dir) {
                    problems.push(e.0);
                }
            }
        }
        problems
    }
}

/// A cgroups-rs error with its cause, on one line.
fn cause(e: &cgroups_rs::fs::error::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// SIGKILLs every process in `dir` and its descendants until none is left (bounded); returns the
/// pids it signalled.
fn kill_all_in(dir: &Path) -> Vec<i32> {
    let mut killed = Vec::new();
    for _ in 0..50 {
        let pids = pids_below(dir);
        if pids.is_empty() {
            break;
        }
        for &pid in &pids {
            // ESRCH (already gone) is fine.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        killed.extend(pids);
        std::thread::sleep(Duration::from_millis(10));
    }
    killed.sort_unstable();
    killed.dedup();
    killed
}

/// Pids in `dir`'s `cgroup.procs` and in its descendants'.
fn pids_below(dir: &Path) -> Vec<i32> {
    let mut pids = files::pids(&read(&dir.join("cgroup.procs")).unwrap_or_default());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for child in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            pids.extend(pids_below(&child));
        }
    }
    pids
}

/// Removes an empty group and its empty descendants, deepest first, retrying while the kernel
/// finishes with processes that just exited.
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for child in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            remove_tree(&child)?;
        }
    }
    let mut delay = Duration::from_millis(5);
    for _ in 0..8 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) => std::thread::sleep(delay),
        }
        delay = (delay * 2).min(Duration::from_millis(100));
    }
    std::fs::remove_dir(dir).map_err(|e| error("remove", dir, e))
}

/// One container's group: where it is, what it counts, and how it ends.
#[derive(Debug, Clone)]
pub(crate) struct ContainerCgroup {
    version: Version,
    dirs: Dirs,
}

impl ContainerCgroup {
    /// The directories of the group, one per controller (one in all for v2).
    fn dirs(&self) -> Vec<&Path> {
        let mut dirs = vec![self.dirs.memory.as_path()];
        for dir in [Some(&self.dirs.cpu), self.dirs.cpuacct.as_ref(), self.dirs.pids.as_ref()].into_iter().flatten() {
            if !dirs.contains(&dir.as_path()) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// `cgroup.procs` of every directory, ready for the pre-exec hook (no allocation after fork).
    pub(crate) fn procs_files(&self) -> Vec<CString> {
        self.dirs()
            .into_iter()
            .filter_map(|d| CString::new(d.join("cgroup.procs").as_os_str().as_bytes()).ok())
            .collect()
    }

    /// The memory directory, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.dirs.memory
    }

    /// Every process in the group.
    pub(crate) fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs()
            .into_iter()
            .flat_map(|d| files::pids(&read(&d.join("cgroup.procs")).unwrap_or_default()))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Processes the kernel's OOM killer has killed in the group (`None`: unknown).
    pub(crate) fn oom_kills(&self) -> Option<u64> {
        read(&self.dirs.memory.join(files::oom_file(self.version))).and_then(|t| files::oom_kills(self.version, &t))
    }

    /// The group's peak memory in bytes (v2 kernels without `memory.peak`: the current use).
    pub(crate) fn peak_bytes(&self) -> Option<u64> {
        read(&self.dirs.memory.join(files::peak_file(self.version)))
            .or_else(|| read(&self.dirs.memory.join("memory.current")))
            .and_then(|t| files::number(&t))
    }

    /// CPU time the group has used, in ns.
    pub(crate) fn cpu_usage_ns(&self) -> Option<u64> {
        let (dir, file) = match (self.version, &self.dirs.cpuacct) {
            (Version::V1, Some(dir)) => (dir, "cpuacct.usage"),
            (Version::V1, None) => return None,
            (Version::V2, _) => (&self.dirs.cpu, "cpu.stat"),
        };
        read(&dir.join(file)).and_then(|t| files::cpu_usage_ns(self.version, &t))
    }

    /// Removes the group from every controller; it must hold no process.
    pub(crate) fn remove(&self) -> Result<(), CgroupError> {
        let mut first_error = None;
        for dir in self.dirs() {
            if let Err(e) = remove_tree(dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The status for REST and the start-up log line.
pub(crate) fn status(result: &Result<Cgroups, String>, hierarchy: &str) -> CgroupsStatus {
    match result {
        Ok(c) => CgroupsStatus {
            enabled: true,
            version: Some(c.version),
            hierarchy: c.hierarchy.clone(),
            reason: String::new(),
        },
        Err(reason) => {
            CgroupsStatus { enabled: false, version: None, hierarchy: hierarchy.to_owned(), reason: reason.clone() }
        }
    }
}

/// Joins the calling process to the groups whose `cgroup.procs` files are given. Called between
/// fork and exec: only async-signal-safe calls (open, write, close, getpid), no allocation.
///
/// # Safety
/// Only in a pre-exec hook (or a single-threaded child), with `files` prepared before the fork.
pub(crate) unsafe fn join_in_child(files: &[CString]) -> std::io::Result<()> {
    let mut digits = [0u8; 20];
    // SAFETY: getpid is async-signal-safe and cannot fail.
    let text = pid_text(unsafe { libc::getpid() }, &mut digits);
    for file in files {
        // SAFETY: `file` is a NUL-terminated path made before the fork; open/write/close are
        // async-signal-safe.
        let fd = unsafe { libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `text` is a live buffer of that length; `fd` is open.
        let written = unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
        let write_error = (written < 0).then(std::io::Error::last_os_error);
        // SAFETY: `fd` is open and ours.
        unsafe { libc::close(fd) };
        if let Some(e) = write_error {
            return Err(e);
        }
    }
    Ok(())
}

/// `pid` in decimal, in `buffer` (no allocation).
fn pid_text(pid: libc::pid_t, buffer: &mut [u8; 20]) -> &[u8] {
    let mut n = pid.unsigned_abs();
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buffer[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_written_in_decimal_without_allocating() {
        let mut buffer = [0u8; 20];
        assert_eq!(pid_text(0, &mut buffer), b"0");
        assert_eq!(pid_text(7, &mut buffer), b"7");
        assert_eq!(pid_text(4_194_304, &mut buffer), b"4194304");
    }

    #[test]
    fn a_turned_off_key_is_the_reason() {
        let setup = Setup {
            enabled: false,
            hierarchy: "weft-never".into(),
            cpu: CpuPolicy { strict: false, cpus: 1, limit_percent: 100 },
            max_pids: 8192,
            keep: Default::default(),
        };
        let result = Cgroups::set_up(&setup);
        let s = status(&result, &setup.hierarchy);
        assert_eq!(
            (s.enabled, s.version, s.reason.as_str()),
            (false, None, "turned off by weft.nodemanager.cgroups.enabled")
        );
    }
}
