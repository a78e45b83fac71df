//! One task per container: carries out the effects its state machine returns (localize, launch,
//! stop, clean up), waits for what happens next (files fetched, the process exiting, a stop
//! request), and reports it back as an event. The only place a container's process is awaited: its
//! own child, or (after a restart) a process it took back, watched through a pidfd or its cgroup,
//! whose exit code the launch wrapper left in a file. With recovery on, it records the container
//! when it is accepted, started, being killed and complete.

use std::collections::VecDeque;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::process::Child;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::cgroups::ContainerCgroup;
use crate::container::{Effect, Event, LaunchSpec, ProcessExit};
use crate::launcher::{self, Stopped};
use crate::nm::Nm;
use crate::recovery::{self, Place, Watch};
use crate::run_as::Account;
use crate::watcher;

/// Runs the container to DONE, starting with `first`.
pub(crate) async fn run(
    nm: Arc<Nm>,
    spec: LaunchSpec,
    account: Option<Account>,
    first: Vec<Effect>,
    inbox: UnboundedReceiver<Vec<Effect>>,
) {
    let span = tracing::info_span!("container", container_id = %spec.id, app_id = %spec.id.application());
    let runner = Runner {
        nm,
        spec: Arc::new(spec),
        account,
        inbox,
        inbox_open: true,
        localizing: None,
        process: None,
        start_time_ticks: None,
        stop: None,
        cgroup: None,
    };
    runner.drive(first).instrument(span).await;
}

/// A container a restarted NodeManager took back: the process it watches (none when it never
/// started one) and when that process started.
pub(crate) struct Adopted {
    pub(crate) process: Option<(u32, Watch)>,
    pub(crate) start_time_ticks: Option<u64>,
}

/// Runs a container taken back after a restart to DONE, starting with `first`.
pub(crate) async fn run_adopted(
    nm: Arc<Nm>,
    spec: LaunchSpec,
    adopted: Adopted,
    first: Vec<Effect>,
    inbox: UnboundedReceiver<Vec<Effect>>,
) {
    let span = tracing::info_span!("container", container_id = %spec.id, app_id = %spec.id.application());
    let cgroup = nm.enforcement.cgroups().map(|c| c.container(&spec.id));
    let runner = Runner {
        nm,
        spec: Arc::new(spec),
        account: None,
        inbox,
        inbox_open: true,
        localizing: None,
        process: adopted.process.map(|(pid, watch)| Process::Adopted(pid, watch)),
        start_time_ticks: adopted.start_time_ticks,
        stop: None,
        cgroup,
    };
    runner.drive(first).instrument(span).await;
}

/// The container's process.
enum Process {
    /// Started by this NodeManager: awaited with waitpid.
    Child(u32, Child),
    /// Taken back after a restart: not this NodeManager's child.
    Adopted(u32, Watch),
}

impl Process {
    fn pid(&self) -> u32 {
        match self {
            Process::Child(pid, _) | Process::Adopted(pid, _) => *pid,
        }
    }

    /// Whether its process group may be signalled: not when the recorded root is gone and only
    /// its cgroup is known to be the container's (the pid may belong to someone else by now).
    fn group_is_known(&self) -> bool {
        match self {
            Process::Child(..) => true,
            Process::Adopted(_, watch) => watch.root_verified(),
        }
    }
}

/// How the process ended, as far as the runner could see.
enum Ended {
    Status(std::io::Result<ExitStatus>),
    /// A process taken back has ended: its exit-code file says how.
    Adopted,
}

struct Runner {
    nm: Arc<Nm>,
    spec: Arc<LaunchSpec>,
    /// The local user the process runs as (`None`: the NodeManager's own).
    account: Option<Account>,
    inbox: UnboundedReceiver<Vec<Effect>>,
    inbox_open: bool,
    localizing: Option<BoxFuture<'static, Result<(), String>>>,
    process: Option<Process>,
    /// When the process started (`/proc/<pid>/stat`), for its recovery record.
    start_time_ticks: Option<u64>,
    stop: Option<JoinHandle<Stopped>>,
    /// The container's cgroup, from its launch until it is removed at cleanup.
    cgroup: Option<ContainerCgroup>,
}

/// What woke the runner up.
enum Wake {
    Effects(Vec<Effect>),
    InboxClosed,
    Localization(Result<(), String>),
    Exit(Ended),
    /// The NodeManager stops and leaves the container running.
    Detached,
}

async fn localization(pending: &mut Option<BoxFuture<'static, Result<(), String>>>) -> Result<(), String> {
    match pending {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

async fn exit(process: &mut Option<Process>) -> Ended {
    match process {
        Some(Process::Child(_, child)) => Ended::Status(child.wait().await),
        Some(Process::Adopted(_, watch)) => {
            watch.ended().await;
            Ended::Adopted
        }
        None => std::future::pending().await,
    }
}

impl Runner {
    async fn drive(mut self, first: Vec<Effect>) {
        self.record().await;
        let mut pending: VecDeque<Effect> = first.into();
        loop {
            while let Some(effect) = pending.pop_front() {
                if effect == Effect::Completed {
                    self.completed();
                    return;
                }
                pending.extend(self.execute(effect).await);
            }
            let wake = tokio::select! {
                _ = self.nm.detach.cancelled() => Wake::Detached,
                message = self.inbox.recv(), if self.inbox_open => message.map_or(Wake::InboxClosed, Wake::Effects),
                result = localization(&mut self.localizing) => Wake::Localization(result),
                ended = exit(&mut self.process) => Wake::Exit(ended),
            };
            match wake {
                Wake::Detached => {
                    tracing::info!("left running for the next NodeManager");
                    return;
                }
                Wake::Effects(effects) => pending.extend(effects),
                Wake::InboxClosed => self.inbox_open = false,
                Wake::Localization(result) => {
                    self.localizing = None;
                    let event = match result {
                        Ok(()) => Event::Localized,
                        Err(diagnostics) => Event::LocalizationFailed { diagnostics },
                    };
                    pending.extend(self.step(event));
                }
                Wake::Exit(ended) => {
                    let event = self.exited(ended).await;
                    pending.extend(self.step(event));
                }
            }
        }
    }

    fn step(&self, event: Event) -> Vec<Effect> {
        self.nm.step(self.spec.id, event)
    }

    async fn execute(&mut self, effect: Effect) -> Vec<Effect> {
        match effect {
            Effect::Localize => {
                let (nm, spec, account) = (self.nm.clone(), self.spec.clone(), self.account.clone());
                self.localizing = Some(Box::pin(localize(nm, spec, account)));
                Vec::new()
            }
            Effect::Abort => {
                self.localizing = None;
                self.record().await;
                self.step(Event::Aborted)
            }
            Effect::Launch => self.launch().await,
            Effect::KillProcess { pid } => {
                self.record().await;
                let grace = self.nm.sigkill_delay;
                let cgroup = self.cgroup.clone();
                let stop = if self.process.as_ref().is_none_or(Process::group_is_known) {
                    self.nm.tasks.spawn(launcher::stop_tree(pid, grace, cgroup))
                } else {
                    self.nm.tasks.spawn(launcher::stop_cgroup(grace, cgroup))
                };
                self.stop = Some(stop);
                Vec::new()
            }
            Effect::Cleanup => {
                // The outcome is known: recorded before anything can report it COMPLETE.
                self.record().await;
                clean_up(self.nm.layout.work_dir(&self.spec.user, self.spec.id)).await;
                self.remove_cgroup().await;
                self.step(Event::CleanedUp)
            }
            Effect::Completed => Vec::new(),
        }
    }

    /// Makes the container's cgroup with its limits, when the node uses cgroups.
    async fn create_cgroup(&mut self) -> Result<(), String> {
        let Some(cgroups) = self.nm.enforcement.cgroups().cloned() else { return Ok(()) };
        let (id, resource) = (self.spec.id, self.spec.resource);
        let created = tokio::task::spawn_blocking(move || cgroups.create(&id, resource)).await;
        match created {
            Ok(Ok(cgroup)) => {
                self.cgroup = Some(cgroup);
                Ok(())
            }
            Ok(Err(error)) => Err(format!("cannot hold the container in a cgroup: {error}")),
            Err(error) => Err(format!("cannot hold the container in a cgroup: {error}")),
        }
    }

    async fn remove_cgroup(&mut self) {
        let Some(cgroup) = self.cgroup.take() else { return };
        let path = cgroup.path().display().to_string();
        match tokio::task::spawn_blocking(move || cgroup.remove()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, cgroup = path, "cannot remove the container's cgroup"),
            Err(error) => tracing::warn!(%error, cgroup = path, "cannot remove the container's cgroup"),
        }
    }

    async fn launch(&mut self) -> Vec<Effect> {
        if let Err(message) = self.create_cgroup().await {
            tracing::warn!(%message, "container process did not start");
            return self.step(Event::LaunchFailed { exit_code: -1, message });
        }
        let procs_files = self.cgroup.as_ref().map(ContainerCgroup::procs_files);
        let exit_code_file = self.nm.recovery.as_ref().map(|_| self.place().exit_code_file);
        let launched = launcher::launch(
            &self.spec,
            &self.nm.info.env,
            &self.nm.layout,
            procs_files,
            self.account.as_ref(),
            exit_code_file.as_deref(),
        );
        match launched {
            Ok(child) => {
                let Some(pid) = child.id() else {
                    return self.step(Event::LaunchFailed { exit_code: -1, message: "the process vanished".into() });
                };
                self.nm.metrics.launched();
                tracing::info!(pid, command = ?self.spec.command, "container process started");
                if self.nm.recovery.is_some() {
                    self.start_time_ticks =
                        tokio::task::spawn_blocking(move || recovery::start_time_ticks(pid)).await.ok().flatten();
                }
                self.process = Some(Process::Child(pid, child));
                let effects = self.step(Event::Launched { pid });
                self.record().await;
                effects
            }
            Err(error) => {
                tracing::warn!(%error, "container process did not start");
                self.remove_cgroup().await;
                self.step(Event::LaunchFailed { exit_code: error.exit_code, message: error.message })
            }
        }
    }

    /// The process exited: finish any stop in progress (or stop what it left behind), then read the
    /// end of its stderr.
    async fn exited(&mut self, ended: Ended) -> Event {
        let process = self.process.take();
        let group_is_known = process.as_ref().is_none_or(Process::group_is_known);
        let pid = process.as_ref().map(Process::pid);
        let exit = match ended {
            Ended::Status(Ok(status)) => Ok(exit_of(status)),
            Ended::Status(Err(error)) => {
                tracing::warn!(%error, "cannot wait for the container process");
                Ok(ProcessExit::Code(-1))
            }
            Ended::Adopted => {
                let file = self.place().exit_code_file;
                tokio::task::spawn_blocking(move || recovery::exit_code_of(&file))
                    .await
                    .unwrap_or_else(|e| Err(format!("cannot read the exit code: {e}")))
            }
        };
        let oom_kill = match (pid, self.cgroup.clone()) {
            (Some(pid), Some(cgroup)) => oom_at_exit(&self.nm, self.spec.id, pid, cgroup).await,
            _ => None,
        };
        let grace = self.nm.sigkill_delay;
        let stopped = match (self.stop.take(), pid) {
            (Some(stop), _) => {
                tokio::time::timeout(grace + Duration::from_secs(5), stop).await.ok().and_then(Result::ok)
            }
            (None, Some(pid)) if group_is_known => Some(launcher::sweep_group(pid, grace, self.cgroup.clone()).await),
            (None, Some(_)) => Some(launcher::stop_cgroup(grace, self.cgroup.clone()).await),
            (None, None) => None,
        };
        if let Some(stopped) = stopped.filter(|s| s.signalled > 0) {
            tracing::info!(signalled = stopped.signalled, sigkill = stopped.forced, "container processes stopped");
        }
        let stderr_tail = launcher::stderr_tail(&self.nm.layout, &self.spec).await;
        match exit {
            Ok(exit) => Event::Exited { exit, stderr_tail, oom_kill },
            Err(diagnostics) => {
                tracing::warn!(%diagnostics, "the container's exit code is lost");
                Event::Lost { diagnostics }
            }
        }
    }

    /// Where the container lives, for its recovery record.
    fn place(&self) -> Place {
        let (user, id) = (&self.spec.user, self.spec.id);
        let work_dir = self.nm.layout.work_dir(user, id);
        Place {
            exit_code_file: work_dir.join(launcher::EXIT_CODE_FILE),
            work_dir,
            log_dir: self.nm.layout.log_dir(id),
            cgroup: self.cgroup.as_ref().map(|c| c.path().to_owned()),
            start_time_ticks: self.start_time_ticks,
        }
    }

    /// Records the container as it is now (recovery on). The future holds no borrow of the runner.
    fn record(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let job = self.nm.recovery.is_some().then(|| (self.nm.clone(), self.spec.id, self.place()));
        async move {
            if let Some((nm, id, place)) = job {
                nm.save_record(id, place).await;
            }
        }
    }

    /// The one place a container's end is logged and counted.
    fn completed(&self) {
        let Some(c) = self.nm.read(|core| core.container(&self.spec.id).cloned()) else { return };
        let failed = c.exit_status != 0;
        self.nm.metrics.completed(c.kill, failed);
        tracing::info!(
            exit_status = c.exit_status, kill = c.kill.map(|k| k.as_str()), state = %c.state,
            "container completed"
        );
        self.nm.notify_completed();
    }
}

/// The kernel OOM message when the OOM killer acted in the container's group.
async fn oom_at_exit(nm: &Nm, id: weft_proto::ContainerId, pid: u32, cgroup: ContainerCgroup) -> Option<String> {
    let (limits, vmem_bytes) =
        nm.read(|core| core.container(&id).map(|c| (c.limits, c.peak.vmem_bytes)).unwrap_or_default());
    let target = watcher::Target { id, pid, limits, vmem_bytes };
    tokio::task::spawn_blocking(move || watcher::oom_at_exit(&target, &cgroup)).await.ok().flatten()
}

/// Removes the working directory; the log directory stays.
async fn clean_up(work_dir: std::path::PathBuf) {
    match tokio::fs::remove_dir_all(&work_dir).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(dir = %work_dir.display(), %error, "cannot remove the working directory"),
    }
}

fn exit_of(status: ExitStatus) -> ProcessExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ProcessExit::Code(code),
        (None, Some(signal)) => ProcessExit::Signal(signal),
        (None, None) => ProcessExit::Code(-1),
    }
}

/// Creates the working directory and localizes the container's files into it: staged files by
/// hash, then (for a Hadoop launch context) its token file and its `file:` resources. The error is
/// the container's diagnostics.
async fn localize(nm: Arc<Nm>, spec: Arc<LaunchSpec>, account: Option<Account>) -> Result<(), String> {
    let work_dir = nm.layout.work_dir(&spec.user, spec.id);
    if let Err(error) = tokio::fs::create_dir_all(&work_dir).await {
        return Err(format!("Failed to localize: cannot create {}: {error}", work_dir.display()));
    }
    launcher::identity::check_real_dir(&work_dir).map_err(|e| format!("Failed to localize: {e}"))?;
    let container = spec.id.to_string();
    nm.localizer
        .localize_into(&spec.local_resources, &container, &spec.container_token, &work_dir)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(hadoop) = &spec.hadoop {
        let tokens = work_dir.join(crate::launcher::TOKEN_FILE);
        write_private(&tokens, &hadoop.token_file)
            .await
            .map_err(|e| format!("Failed to localize: cannot write {}: {e}", tokens.display()))?;
        nm.url_cache
            .localize_into(&hadoop.resources, &spec.user, account.as_ref(), spec.id.application(), &work_dir)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes a file only its owner can read.
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}
