//! Taking containers back at start-up: what `/proc` and the cgroups say of each recorded
//! container, the verdict of `decide`, and the container put back into the core with a runner that
//! watches a process it did not start (a pidfd, or its cgroup) and reads its exit code from the
//! file the launch wrapper wrote.

use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::cgroups::ContainerCgroup;
use crate::container::{ContainerState, Event, ProcessExit};
use crate::nm::Nm;

use super::decide::{self, Observed, Verdict, WatchBy};
use super::record::{BadRecord, ContainerRecord};

/// How often a container watched through its cgroup alone is looked at.
const CGROUP_POLL: Duration = Duration::from_millis(500);

/// How a runner learns that a process it did not start has ended.
#[derive(Debug)]
pub(crate) enum Watch {
    /// Its root process, through a pidfd (readable once the process has ended).
    Pidfd(AsyncFd<OwnedFd>),
    /// Its root process is gone; it has ended once its cgroup holds no process.
    Cgroup(ContainerCgroup),
    /// Its root process, by looking at `/proc` (where pidfds are not offered): it has ended once
    /// no process with that pid and start time is left.
    Poll { pid: u32, start_time_ticks: u64 },
    /// It had ended already.
    Gone,
}

impl Watch {
    /// Whether the recorded pid is still the container's root process (so its process group may be
    /// signalled); otherwise only its cgroup is.
    pub(crate) fn root_verified(&self) -> bool {
        matches!(self, Watch::Pidfd(_) | Watch::Poll { .. })
    }

    /// Resolves once the process (or the cgroup) has ended. Cancel-safe.
    pub(crate) async fn ended(&mut self) {
        match self {
            Watch::Pidfd(fd) => {
                // Readable for good once the process has exited; an error also means there is
                // nothing left to wait for.
                let _ = fd.readable().await;
            }
            Watch::Cgroup(cgroup) => loop {
                let group = cgroup.clone();
                let pids = tokio::task::spawn_blocking(move || group.pids()).await.unwrap_or_default();
                if pids.is_empty() {
                    return;
                }
                tokio::time::sleep(CGROUP_POLL).await;
            },
            Watch::Poll { pid, start_time_ticks } => loop {
                let (pid, start) = (*pid, *start_time_ticks);
                let now = tokio::task::spawn_blocking(move || observe(Some(pid), None).start_time_ticks).await;
                if now.ok().flatten() != Some(start) {
                    return;
                }
                tokio::time::sleep(CGROUP_POLL).await;
            },
            Watch::Gone => {}
        }
    }
}

/// A pidfd for `pid` (Linux 5.3+), registered with the runtime. Call inside the runtime.
pub(crate) fn open_pidfd(pid: u32) -> io::Result<AsyncFd<OwnedFd>> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no memory is shared.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just returned by the kernel and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // SAFETY: the AsyncFd owns the OwnedFd, which stays open and the same descriptor until the
    // AsyncFd is dropped.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| e.into_parts().1)
}

/// How the process of a container ended, from its exit-code file (blocking). A link, a FIFO or
/// anything but a small regular file is refused rather than followed or waited on.
pub(crate) fn exit_code_of(file: &Path) -> Result<ProcessExit, String> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(file);
    let contents = match opened {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(e.to_string())),
        Ok(f) => Some(read_small(f)),
    };
    decide::exit_code_of(file, contents)
}

fn read_small(file: std::fs::File) -> Result<String, String> {
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    let mut text = String::new();
    file.take(64).read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}

/// What `/proc` and the cgroup say of a recorded container (blocking).
fn observe(pid: Option<u32>, cgroup: Option<ContainerCgroup>) -> Observed {
    let start_time_ticks = pid
        .and_then(|pid| i32::try_from(pid).ok())
        .and_then(|pid| procfs::process::Process::new(pid).ok()?.stat().ok())
        .filter(|stat| stat.state != 'Z')
        .map(|stat| stat.starttime);
    let cgroup_pids = cgroup.map(|c| c.pids()).unwrap_or_default();
    Observed { start_time_ticks, cgroup_pids }
}

/// The start time of a process this NodeManager just started (blocking; `None` if unreadable).
pub(crate) fn start_time_ticks(pid: u32) -> Option<u64> {
    let pid = i32::try_from(pid).ok()?;
    procfs::process::Process::new(pid).ok()?.stat().ok().map(|stat| stat.starttime)
}

/// Takes every recorded container back into `nm`, then waits (bounded) until those that ended
/// while the NodeManager was down are DONE, so the registration reports them COMPLETE.
pub(crate) async fn take_back(nm: &Arc<Nm>, records: Vec<ContainerRecord>) {
    let mut ended = Vec::new();
    for record in records {
        let id = record.id.clone();
        match take_back_one(nm, record).await {
            Ok(Some(done_soon)) => ended.push(done_soon),
            Ok(None) => {}
            Err(error) => tracing::error!(container_id = id, %error, "cannot take the recorded container back"),
        }
    }
    let deadline = tokio::time::Instant::now() + nm.sigkill_delay + Duration::from_secs(30);
    while !nm.read(|core| ended.iter().all(|id| core.container(id).is_none_or(|c| !c.is_live()))) {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!("containers that ended while the NodeManager was down are not cleaned up yet");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One container; `Some(id)` when it has ended and only its cleanup remains.
async fn take_back_one(nm: &Arc<Nm>, record: ContainerRecord) -> Result<Option<weft_proto::ContainerId>, BadRecord> {
    let id = record.container_id()?;
    let cgroup = nm.enforcement.cgroups().map(|c| c.container(&id));
    // The pidfd is opened before the start time is read: if the start time still matches, the
    // descriptor is the container's process and not a later holder of its pid.
    let pidfd = record.pid.and_then(|pid| open_pidfd(pid).ok());
    let (pid, group) = (record.pid, cgroup.clone());
    let observed = tokio::task::spawn_blocking(move || observe(pid, group)).await.unwrap_or_default();
    let verdict = decide::decide(&record, &observed);
    let killing = record.kill()?.is_some();
    let live_state = if killing { ContainerState::KILLING } else { ContainerState::RUNNING };
    let start = record.start_time_ticks;
    let (container, then, watch) = match verdict {
        Verdict::Complete => {
            tracing::info!(container_id = %id, exit_status = record.completion.as_ref().map(|c| c.exit_status), "taken back: complete, reported again");
            let container = record.container(ContainerState::DONE)?;
            nm.take_back(container, None, None, start);
            clean_up_complete(nm, &record, cgroup).await;
            return Ok(None);
        }
        Verdict::Running { pid, watch: WatchBy::RootProcess } => match pidfd {
            Some(fd) => {
                tracing::info!(container_id = %id, pid, "taken back: still running");
                (record.container(live_state)?, None, Some((pid, Watch::Pidfd(fd))))
            }
            None => {
                tracing::info!(container_id = %id, pid, "taken back: still running (watched through /proc)");
                let start_time_ticks = start.unwrap_or_default();
                (record.container(live_state)?, None, Some((pid, Watch::Poll { pid, start_time_ticks })))
            }
        },
        Verdict::Running { pid, watch: WatchBy::Cgroup } => {
            let Some(cgroup) = cgroup else { return Err(BadRecord("a cgroup verdict without cgroups".into())) };
            tracing::info!(container_id = %id, pid, "taken back: its root process has ended, processes are left in its cgroup");
            let mut container = record.container(live_state)?;
            container.pid = Some(pid);
            (container, None, Some((pid, Watch::Cgroup(cgroup))))
        }
        Verdict::Exited { pid } => {
            tracing::info!(container_id = %id, pid, "taken back: its process ended while the NodeManager was down");
            (record.container(live_state)?, None, Some((pid, Watch::Gone)))
        }
        Verdict::NeverStarted => {
            tracing::info!(container_id = %id, "taken back: the NodeManager stopped before its process started");
            let state = if killing { ContainerState::KILLING } else { ContainerState::LOCALIZING };
            let diagnostics = "The NodeManager stopped before the container's process started".to_owned();
            (record.container(state)?, Some(Event::Lost { diagnostics }), None)
        }
    };
    let ended = matches!(watch, None | Some((_, Watch::Gone)));
    nm.take_back(container, then, watch, start);
    Ok(ended.then_some(id))
}

/// A complete container's directories and cgroup, in case the NodeManager stopped before it had
/// removed them.
async fn clean_up_complete(nm: &Nm, record: &ContainerRecord, cgroup: Option<ContainerCgroup>) {
    let Ok(id) = record.container_id() else { return };
    let work_dir = nm.layout.work_dir(&record.user, id);
    match tokio::fs::remove_dir_all(&work_dir).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            tracing::warn!(dir = %work_dir.display(), error = %e, "cannot remove the working directory")
        }
        _ => {}
    }
    if let Some(cgroup) = cgroup {
        let _ = tokio::task::spawn_blocking(move || cgroup.remove()).await;
    }
}
