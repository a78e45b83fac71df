//! One container's life on this node as plain data: YARN's NodeManager states and one entry point,
//! [`Container::handle`], that takes an event and `now` and returns what the adapter must do.
//! No awaits, clocks or I/O here; the runner (`crate::runner`) carries the effects out.

pub(crate) mod clc;
mod diagnostics;
mod kill;
mod spec;
#[cfg(test)]
mod tests;

pub(crate) use diagnostics::STDERR_TAIL_BYTES;
pub(crate) use kill::KillReason;
pub(crate) use spec::{check_local_resource, is_plain_name, ContainerToken, InvalidLaunch, LaunchSpec, LocalResource};

use weft_proto::{exit_status, states};

use crate::monitor::{Limits, Usage};

/// YARN's `ExitCode.LOST`: a container's exit code could not be found (its process ended while no
/// NodeManager watched it and left no exit-code file).
pub(crate) const LOST: i32 = 154;

/// YARN's NodeManager container states (the subset Weft uses), as NM REST shows them.
///
/// ```text
///  NEW ─Init─► LOCALIZING ─Localized─► SCHEDULED ─Launched─► RUNNING ─Exited(0)─► EXITED_WITH_SUCCESS ─┐
///               │                        │                     │  └─Exited(≠0)─► EXITED_WITH_FAILURE ─┤
///               ├─LocalizationFailed─► LOCALIZATION_FAILED ────┼──────────────────────────────────────┤
///               │                        └─LaunchFailed────────┼─► EXITED_WITH_FAILURE                ├─CleanedUp─► DONE
///               └─Kill────────────► KILLING ◄──────Kill────────┘                                      │
///                                      └─Exited / Aborted─► CONTAINER_CLEANEDUP_AFTER_KILL ───────────┘
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub(crate) enum ContainerState {
    /// Accepted; left by `Init`.
    NEW,
    /// Files are being fetched; left by `Localized`, `LocalizationFailed` or `Kill`.
    LOCALIZING,
    /// A file could not be localized; left by `CleanedUp`.
    LOCALIZATION_FAILED,
    /// Ready to start; left by `Launched`, `LaunchFailed` or `Kill`.
    SCHEDULED,
    /// The process runs; left by `Exited` or `Kill`.
    RUNNING,
    /// Exited 0; left by `CleanedUp`.
    EXITED_WITH_SUCCESS,
    /// Exited non-zero or could not start; left by `CleanedUp`.
    EXITED_WITH_FAILURE,
    /// Being stopped; left by `Exited`, or by `Aborted` when no process had started.
    KILLING,
    /// Stopped on request; left by `CleanedUp`.
    CONTAINER_CLEANEDUP_AFTER_KILL,
    /// Over: the working directory is gone and the status is final. Nothing leaves it.
    DONE,
}

impl ContainerState {
    const ALL: [ContainerState; 10] = [
        ContainerState::NEW,
        ContainerState::LOCALIZING,
        ContainerState::LOCALIZATION_FAILED,
        ContainerState::SCHEDULED,
        ContainerState::RUNNING,
        ContainerState::EXITED_WITH_SUCCESS,
        ContainerState::EXITED_WITH_FAILURE,
        ContainerState::KILLING,
        ContainerState::CONTAINER_CLEANEDUP_AFTER_KILL,
        ContainerState::DONE,
    ];

    /// The state named `name` ([`ContainerState::as_str`]), as recovery records keep it.
    pub(crate) fn from_name(name: &str) -> Option<ContainerState> {
        ContainerState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ContainerState::NEW => "NEW",
            ContainerState::LOCALIZING => "LOCALIZING",
            ContainerState::LOCALIZATION_FAILED => "LOCALIZATION_FAILED",
            ContainerState::SCHEDULED => "SCHEDULED",
            ContainerState::RUNNING => "RUNNING",
            ContainerState::EXITED_WITH_SUCCESS => "EXITED_WITH_SUCCESS",
            ContainerState::EXITED_WITH_FAILURE => "EXITED_WITH_FAILURE",
            ContainerState::KILLING => "KILLING",
            ContainerState::CONTAINER_CLEANEDUP_AFTER_KILL => "CONTAINER_CLEANEDUP_AFTER_KILL",
            ContainerState::DONE => "DONE",
        }
    }

    /// The state as YARN's API reports it to the ResourceManager: NEW until the process starts,
    /// COMPLETE only once DONE, RUNNING in between.
    pub(crate) fn api_state(self) -> states::ContainerState {
        match self {
            ContainerState::NEW
            | ContainerState::LOCALIZING
            | ContainerState::LOCALIZATION_FAILED
            | ContainerState::SCHEDULED => states::ContainerState::NEW,
            ContainerState::DONE => states::ContainerState::COMPLETE,
            _ => states::ContainerState::RUNNING,
        }
    }

    /// Before the outcome is known: a stop request applies.
    fn can_be_killed(self) -> bool {
        matches!(
            self,
            ContainerState::NEW | ContainerState::LOCALIZING | ContainerState::SCHEDULED | ContainerState::RUNNING
        )
    }

    /// The process has ended (or never will run) and only cleanup remains.
    fn is_exited(self) -> bool {
        matches!(
            self,
            ContainerState::LOCALIZATION_FAILED
                | ContainerState::EXITED_WITH_SUCCESS
                | ContainerState::EXITED_WITH_FAILURE
                | ContainerState::CONTAINER_CLEANEDUP_AFTER_KILL
        )
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcessExit {
    Code(i32),
    Signal(i32),
}

impl ProcessExit {
    /// The exit code YARN reports: the code, or 128 + the signal.
    pub(crate) fn code(self) -> i32 {
        match self {
            ProcessExit::Code(code) => code,
            ProcessExit::Signal(signal) => 128 + signal,
        }
    }
}

/// What happened to a container; the adapter reports these and the machine decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Accepted: localize its files, or launch at once when it has none.
    Init,
    Localized,
    /// `diagnostics` names the file and why it failed.
    LocalizationFailed {
        diagnostics: String,
    },
    Launched {
        pid: u32,
    },
    /// The process could not be started: `exit_code` is 127 for a spawn failure.
    LaunchFailed {
        exit_code: i32,
        message: String,
    },
    /// The process ended; `stderr_tail` is the end of its `stderr` file. `oom_kill` holds the
    /// diagnostics when the kernel's OOM killer acted in the container's memory cgroup.
    Exited {
        exit: ProcessExit,
        stderr_tail: String,
        oom_kill: Option<String>,
    },
    Kill(KillReason),
    /// A kill whose diagnostics are the monitor's own words (memory kills, with the usage).
    KillWith {
        reason: KillReason,
        diagnostics: String,
    },
    /// The process ended while no NodeManager was its parent and left no exit code (a container
    /// taken back after a restart): reported with YARN's `LOST` code, 154, and these diagnostics.
    Lost {
        diagnostics: String,
    },
    /// The runner stopped waiting for localization after a kill.
    Aborted,
    /// The working directory is removed.
    CleanedUp,
}

/// Work for the adapter, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Fetch the local resources and link them into the working directory; answer `Localized` or
    /// `LocalizationFailed`.
    Localize,
    /// Start the process; answer `Launched` or `LaunchFailed`, later `Exited`.
    Launch,
    /// Stop localizing; answer `Aborted`.
    Abort,
    /// SIGTERM the process group and tree, SIGKILL after the grace delay; `Exited` follows.
    KillProcess { pid: u32 },
    /// Remove the working directory (logs stay); answer `CleanedUp`.
    Cleanup,
    /// The container is DONE: report it.
    Completed,
}

/// One container: its spec, state, process and outcome.
#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub(crate) spec: LaunchSpec,
    pub(crate) state: ContainerState,
    pub(crate) pid: Option<u32>,
    /// `exit_status::INVALID` (-1000) until the container has exited.
    pub(crate) exit_status: i32,
    pub(crate) kill: Option<KillReason>,
    /// When the kill was decided.
    pub(crate) killed_ms: Option<u64>,
    /// What the container is held to: pmem = its memory, vmem = pmem × `vmem-pmem-ratio`.
    pub(crate) limits: Limits,
    /// The whole tree's memory at the last sample (zero before the first and after the end).
    pub(crate) usage: Usage,
    /// The highest of each, over every sample (and the cgroup's own peak where known).
    pub(crate) peak: Usage,
    pub(crate) created_ms: u64,
    pub(crate) launched_ms: Option<u64>,
    pub(crate) finished_ms: Option<u64>,
    /// Timestamped entries, oldest first.
    entries: Vec<String>,
}

impl Container {
    pub(crate) fn new(spec: LaunchSpec, now_ms: u64) -> Container {
        Container {
            spec,
            state: ContainerState::NEW,
            pid: None,
            exit_status: exit_status::INVALID,
            kill: None,
            killed_ms: None,
            limits: Limits::default(),
            usage: Usage::default(),
            peak: Usage::default(),
            created_ms: now_ms,
            launched_ms: None,
            finished_ms: None,
            entries: Vec::new(),
        }
    }

    /// The diagnostics entries, oldest first (what a recovery record keeps).
    pub(crate) fn entries(&self) -> &[String] {
        &self.entries
    }

    /// A container as a recovery record describes it: `entries` are its diagnostics so far.
    pub(crate) fn restored(
        spec: LaunchSpec,
        state: ContainerState,
        entries: Vec<String>,
        created_ms: u64,
    ) -> Container {
        Container { state, entries, ..Container::new(spec, created_ms) }
    }

    /// The diagnostics text: every entry, joined by "\n".
    pub(crate) fn diagnostics(&self) -> String {
        self.entries.join("\n")
    }

    /// A sample of the whole tree's memory: the current figures and the peaks.
    pub(crate) fn observe(&mut self, usage: Usage) {
        self.usage = usage;
        self.peak.pmem_bytes = self.peak.pmem_bytes.max(usage.pmem_bytes);
        self.peak.vmem_bytes = self.peak.vmem_bytes.max(usage.vmem_bytes);
    }

    /// Not DONE: the container still holds its resources.
    pub(crate) fn is_live(&self) -> bool {
        self.state != ContainerState::DONE
    }

    /// The one entry point: applies `event` at `now_ms` and returns the effects to carry out.
    /// Events that do not apply to the current state change nothing.
    pub(crate) fn handle(&mut self, event: Event, now_ms: u64) -> Vec<Effect> {
        use ContainerState::*;
        match (self.state, event) {
            (NEW, Event::Init) if self.spec.local_resources.is_empty() && self.spec.hadoop.is_none() => {
                self.to(SCHEDULED, Effect::Launch)
            }
            (NEW, Event::Init) => self.to(LOCALIZING, Effect::Localize),
            (state, Event::Kill(reason)) if state.can_be_killed() => {
                self.kill(reason, reason.diagnostics().to_owned(), now_ms)
            }
            (state, Event::KillWith { reason, diagnostics }) if state.can_be_killed() => {
                self.kill(reason, diagnostics, now_ms)
            }
            (LOCALIZING, Event::Localized) => self.to(SCHEDULED, Effect::Launch),
            (LOCALIZING, Event::LocalizationFailed { diagnostics }) => {
                self.entries.push(diagnostics::entry(now_ms, &diagnostics));
                self.exit(LOCALIZATION_FAILED, -1, now_ms)
            }
            (SCHEDULED, Event::Launched { pid }) => {
                self.pid = Some(pid);
                self.launched_ms = Some(now_ms);
                self.state = RUNNING;
                Vec::new()
            }
            (SCHEDULED, Event::LaunchFailed { exit_code, message }) => self.launch_failed(exit_code, &message, now_ms),
            (RUNNING, Event::Exited { exit, stderr_tail, oom_kill: None }) => self.exited(exit, &stderr_tail, now_ms),
            (RUNNING, Event::Exited { exit, oom_kill: Some(diagnostics), .. }) => {
                self.record_kill(KillReason::KernelOom, &diagnostics, now_ms);
                self.killed_process_exited(exit, now_ms)
            }
            (KILLING, Event::Launched { pid }) => {
                self.pid = Some(pid);
                self.launched_ms = Some(now_ms);
                vec![Effect::KillProcess { pid }]
            }
            (KILLING, Event::Exited { exit, .. }) => self.killed_process_exited(exit, now_ms),
            (NEW | LOCALIZING | SCHEDULED | RUNNING, Event::Lost { diagnostics }) => {
                self.entries.push(diagnostics::entry(now_ms, &diagnostics));
                self.exit(EXITED_WITH_FAILURE, LOST, now_ms)
            }
            (KILLING, Event::Lost { diagnostics }) => {
                self.entries.push(diagnostics::entry(now_ms, &diagnostics));
                let status = self.kill.map_or(exit_status::ABORTED, KillReason::exit_status);
                self.exit(CONTAINER_CLEANEDUP_AFTER_KILL, status, now_ms)
            }
            (
                KILLING,
                Event::Aborted | Event::Localized | Event::LocalizationFailed { .. } | Event::LaunchFailed { .. },
            ) => {
                let status = self.kill.map_or(exit_status::ABORTED, KillReason::exit_status);
                self.exit(CONTAINER_CLEANEDUP_AFTER_KILL, status, now_ms)
            }
            (state, Event::CleanedUp) if state.is_exited() => {
                self.state = DONE;
                vec![Effect::Completed]
            }
            _ => Vec::new(),
        }
    }

    /// A stop request in NEW, LOCALIZING, SCHEDULED or RUNNING (later states ignore it).
    fn kill(&mut self, reason: KillReason, diagnostics: String, now_ms: u64) -> Vec<Effect> {
        use ContainerState::*;
        self.record_kill(reason, &diagnostics, now_ms);
        match self.state {
            NEW => self.exit(CONTAINER_CLEANEDUP_AFTER_KILL, reason.exit_status(), now_ms),
            LOCALIZING => self.to(KILLING, Effect::Abort),
            RUNNING => {
                let pid = self.pid.expect("a RUNNING container has a pid");
                self.to(KILLING, Effect::KillProcess { pid })
            }
            // SCHEDULED: the runner is starting the process; `Launched` or `LaunchFailed` comes next.
            _ => {
                self.state = KILLING;
                Vec::new()
            }
        }
    }

    fn to(&mut self, state: ContainerState, effect: Effect) -> Vec<Effect> {
        self.state = state;
        vec![effect]
    }

    /// Only states before KILLING record a kill, so the first reason wins.
    fn record_kill(&mut self, reason: KillReason, diagnostics: &str, now_ms: u64) {
        self.kill = Some(reason);
        self.killed_ms = Some(now_ms);
        self.entries.push(diagnostics::entry(now_ms, diagnostics));
    }

    /// The outcome is known: only the cleanup remains.
    fn exit(&mut self, state: ContainerState, status: i32, now_ms: u64) -> Vec<Effect> {
        self.state = state;
        self.usage = Usage::default();
        self.exit_status = status;
        self.finished_ms = Some(now_ms);
        vec![Effect::Cleanup]
    }

    fn launch_failed(&mut self, exit_code: i32, message: &str, now_ms: u64) -> Vec<Effect> {
        let text = diagnostics::launch_exception(&self.spec.id, exit_code, Some(message));
        self.entries.push(diagnostics::entry(now_ms, &text));
        self.exit(ContainerState::EXITED_WITH_FAILURE, exit_code, now_ms)
    }

    fn exited(&mut self, exit: ProcessExit, stderr_tail: &str, now_ms: u64) -> Vec<Effect> {
        let code = exit.code();
        if code == 0 {
            return self.exit(ContainerState::EXITED_WITH_SUCCESS, 0, now_ms);
        }
        let launch = diagnostics::launch_exception(&self.spec.id, code, None);
        self.entries.push(diagnostics::entry(now_ms, &launch));
        self.entries.push(diagnostics::entry(now_ms, &diagnostics::non_zero_exit(code, Some(stderr_tail))));
        self.exit(ContainerState::EXITED_WITH_FAILURE, code, now_ms)
    }

    fn killed_process_exited(&mut self, exit: ProcessExit, now_ms: u64) -> Vec<Effect> {
        let code = exit.code();
        self.entries.push(diagnostics::entry(now_ms, &diagnostics::killed_on_request(code)));
        if code != 0 {
            self.entries.push(diagnostics::entry(now_ms, &diagnostics::non_zero_exit(code, None)));
        }
        let status = self.kill.map_or(exit_status::ABORTED, KillReason::exit_status);
        self.exit(ContainerState::CONTAINER_CLEANEDUP_AFTER_KILL, status, now_ms)
    }
}
