//! The container state machine with a fake clock: every test is events in, a snapshot out.

use super::diagnostics::timestamp;
use super::*;
use weft_proto::{ContainerId, Resource};

const T0: u64 = 1_700_000_000_000;

fn spec(resources: usize) -> LaunchSpec {
    LaunchSpec {
        id: "container_1700000000000_0001_01_000002".parse::<ContainerId>().unwrap(),
        user: "alice".into(),
        command: vec!["sh".into(), "-c".into(), "exit 3".into()],
        environment: Vec::new(),
        local_resources: (0..resources)
            .map(|i| LocalResource { name: format!("f{i}"), sha256: "ab".repeat(32), size: 1, executable: false })
            .collect(),
        resource: Resource::new(1024, 1),
        hadoop: None,
        container_token: Default::default(),
        acls: Default::default(),
    }
}

fn short(event: &Event) -> String {
    match event {
        Event::Kill(reason) => format!("Kill({})", reason.as_str()),
        Event::KillWith { reason, .. } => format!("KillWith({})", reason.as_str()),
        Event::Exited { exit, oom_kill: Some(_), .. } => format!("Exited({}, oom)", exit.code()),
        Event::Exited { exit, .. } => format!("Exited({})", exit.code()),
        Event::LocalizationFailed { .. } => "LocalizationFailed".into(),
        Event::LaunchFailed { exit_code, .. } => format!("LaunchFailed({exit_code})"),
        Event::Launched { pid } => format!("Launched({pid})"),
        other => format!("{other:?}"),
    }
}

/// Feeds `events` (milliseconds after T0) to a fresh container and compares the transcript: one
/// line per event with the new state and effects, then the exit status and diagnostics.
fn check(resources: usize, events: Vec<(u64, Event)>, expected: &str) {
    let mut container = Container::new(spec(resources), T0);
    let mut transcript = String::new();
    for (at, event) in events {
        let line = short(&event);
        let effects = container.handle(event, T0 + at);
        transcript.push_str(&format!("{line} -> {} {effects:?}\n", container.state));
    }
    transcript.push_str(&format!("exit {} api {}\n", container.exit_status, container.state.api_state()));
    transcript.push_str(&container.diagnostics());
    assert_eq!(transcript.trim_end(), expected.trim(), "\n--- got ---\n{transcript}");
}

fn exited(code: i32) -> Event {
    Event::Exited { exit: ProcessExit::Code(code), stderr_tail: "boom\n".into(), oom_kill: None }
}

#[test]
fn a_container_without_files_runs_and_succeeds() {
    check(
        0,
        vec![(0, Event::Init), (1, Event::Launched { pid: 42 }), (5, exited(0)), (6, Event::CleanedUp)],
        "
Init -> SCHEDULED [Launch]
Launched(42) -> RUNNING []
Exited(0) -> EXITED_WITH_SUCCESS [Cleanup]
CleanedUp -> DONE [Completed]
exit 0 api COMPLETE",
    );
}

#[test]
fn a_non_zero_exit_carries_the_launch_exception_and_the_stderr_tail() {
    check(
        1,
        vec![
            (0, Event::Init),
            (10, Event::Localized),
            (11, Event::Launched { pid: 42 }),
            (1500, exited(3)),
            (1501, Event::CleanedUp),
        ],
        "
Init -> LOCALIZING [Localize]
Localized -> SCHEDULED [Launch]
Launched(42) -> RUNNING []
Exited(3) -> EXITED_WITH_FAILURE [Cleanup]
CleanedUp -> DONE [Completed]
exit 3 api COMPLETE
[2023-11-14 22:13:21.500]Exception from container-launch.
Container id: container_1700000000000_0001_01_000002
Exit code: 3

[2023-11-14 22:13:21.500]Container exited with a non-zero exit code 3. Last 4096 bytes of stderr :
boom",
    );
}

#[test]
fn a_killed_container_reports_the_reason_status_not_143() {
    check(
        0,
        vec![
            (0, Event::Init),
            (1, Event::Launched { pid: 42 }),
            (100, Event::Kill(KillReason::ByAppMaster)),
            (101, Event::Kill(KillReason::ByResourceManager)),
            (350, Event::Exited { exit: ProcessExit::Signal(15), stderr_tail: String::new(), oom_kill: None }),
            (351, Event::CleanedUp),
            (400, Event::Kill(KillReason::Shutdown)),
        ],
        "
Init -> SCHEDULED [Launch]
Launched(42) -> RUNNING []
Kill(by_appmaster) -> KILLING [KillProcess { pid: 42 }]
Kill(by_resourcemanager) -> KILLING []
Exited(143) -> CONTAINER_CLEANEDUP_AFTER_KILL [Cleanup]
CleanedUp -> DONE [Completed]
Kill(shutdown) -> DONE []
exit -105 api COMPLETE
[2023-11-14 22:13:20.100]Container killed by the ApplicationMaster.
[2023-11-14 22:13:20.350]Container killed on request. Exit code is 143
[2023-11-14 22:13:20.350]Container exited with a non-zero exit code 143. ",
    );
}

#[test]
fn sigkill_shows_137() {
    check(
        0,
        vec![
            (0, Event::Init),
            (1, Event::Launched { pid: 7 }),
            (2, Event::Kill(KillReason::AfterAppFinished)),
            (3, Event::Exited { exit: ProcessExit::Signal(9), stderr_tail: String::new(), oom_kill: None }),
        ],
        "
Init -> SCHEDULED [Launch]
Launched(7) -> RUNNING []
Kill(after_app_finished) -> KILLING [KillProcess { pid: 7 }]
Exited(137) -> CONTAINER_CLEANEDUP_AFTER_KILL [Cleanup]
exit -107 api RUNNING
[2023-11-14 22:13:20.002]Container killed on application-finish event
[2023-11-14 22:13:20.003]Container killed on request. Exit code is 137
[2023-11-14 22:13:20.003]Container exited with a non-zero exit code 137. ",
    );
}

#[test]
fn a_memory_kill_carries_the_monitors_words_and_minus_104() {
    let reason = "Container [pid=42,containerID=container_1700000000000_0001_01_000002] is running 1B beyond the \
                  'PHYSICAL' memory limit. Current usage: 1.0 GB of 1 GB physical memory used; 1 GB of 2.1 GB \
                  virtual memory used. Killing container.\nDump of the process-tree for …";
    check(
        0,
        vec![
            (0, Event::Init),
            (1, Event::Launched { pid: 42 }),
            (100, Event::KillWith { reason: KillReason::PhysicalMemory, diagnostics: reason.into() }),
            (101, Event::KillWith { reason: KillReason::VirtualMemory, diagnostics: "again".into() }),
            (102, Event::Kill(KillReason::ByAppMaster)),
            (350, Event::Exited { exit: ProcessExit::Signal(15), stderr_tail: String::new(), oom_kill: None }),
        ],
        &format!(
            "
Init -> SCHEDULED [Launch]
Launched(42) -> RUNNING []
KillWith(physical_memory) -> KILLING [KillProcess {{ pid: 42 }}]
KillWith(virtual_memory) -> KILLING []
Kill(by_appmaster) -> KILLING []
Exited(143) -> CONTAINER_CLEANEDUP_AFTER_KILL [Cleanup]
exit -104 api RUNNING
[2023-11-14 22:13:20.100]{reason}
[2023-11-14 22:13:20.350]Container killed on request. Exit code is 143
[2023-11-14 22:13:20.350]Container exited with a non-zero exit code 143. "
        ),
    );
    let mut c = Container::new(spec(0), T0);
    c.handle(Event::Init, T0);
    c.handle(Event::Launched { pid: 1 }, T0);
    c.handle(Event::KillWith { reason: KillReason::VirtualMemory, diagnostics: "v".into() }, T0 + 7);
    assert_eq!((c.kill, c.killed_ms), (Some(KillReason::VirtualMemory), Some(T0 + 7)));
    c.handle(Event::Exited { exit: ProcessExit::Signal(9), stderr_tail: String::new(), oom_kill: None }, T0 + 8);
    assert_eq!(c.exit_status, -103);
}

#[test]
fn a_kernel_oom_kill_is_a_physical_memory_kill_not_137() {
    check(
        0,
        vec![
            (0, Event::Init),
            (1, Event::Launched { pid: 42 }),
            (
                500,
                Event::Exited {
                    exit: ProcessExit::Signal(9),
                    stderr_tail: String::new(),
                    oom_kill: Some("Container [pid=42,…] is running 0B beyond the 'PHYSICAL' memory limit.".into()),
                },
            ),
        ],
        "
Init -> SCHEDULED [Launch]
Launched(42) -> RUNNING []
Exited(137, oom) -> CONTAINER_CLEANEDUP_AFTER_KILL [Cleanup]
exit -104 api RUNNING
[2023-11-14 22:13:20.500]Container [pid=42,…] is running 0B beyond the 'PHYSICAL' memory limit.
[2023-11-14 22:13:20.500]Container killed on request. Exit code is 137
[2023-11-14 22:13:20.500]Container exited with a non-zero exit code 137. ",
    );
}

#[test]
fn an_oom_while_being_stopped_keeps_the_first_reason() {
    let mut c = Container::new(spec(0), T0);
    c.handle(Event::Init, T0);
    c.handle(Event::Launched { pid: 1 }, T0);
    c.handle(Event::Kill(KillReason::ByAppMaster), T0 + 1);
    c.handle(
        Event::Exited { exit: ProcessExit::Signal(9), stderr_tail: String::new(), oom_kill: Some("x".into()) },
        T0 + 2,
    );
    assert_eq!((c.kill, c.exit_status), (Some(KillReason::ByAppMaster), -105));
    assert!(!c.diagnostics().contains("]x"), "{}", c.diagnostics());
}

#[test]
fn kills_after_the_outcome_change_nothing() {
    let mut c = Container::new(spec(1), T0);
    c.handle(Event::Init, T0);
    c.handle(Event::LocalizationFailed { diagnostics: "gone".into() }, T0 + 1);
    assert_eq!(c.handle(Event::Kill(KillReason::ByAppMaster), T0 + 2), Vec::new());
    assert_eq!((c.state, c.kill, c.exit_status), (ContainerState::LOCALIZATION_FAILED, None, -1));
}

#[test]
fn usage_samples_keep_peaks() {
    use crate::monitor::Usage;
    let mut c = Container::new(spec(0), T0);
    c.observe(Usage { pmem_bytes: 10, vmem_bytes: 50 });
    c.observe(Usage { pmem_bytes: 30, vmem_bytes: 20 });
    c.observe(Usage { pmem_bytes: 5, vmem_bytes: 5 });
    assert_eq!(c.usage, Usage { pmem_bytes: 5, vmem_bytes: 5 });
    assert_eq!(c.peak, Usage { pmem_bytes: 30, vmem_bytes: 50 });
}

#[test]
fn kill_reasons_map_to_yarns_statuses_and_the_wire_names() {
    let table: Vec<String> =
        KillReason::ALL.iter().map(|r| format!("{} {} {}", r.as_str(), r.exit_status(), r.wire_name())).collect();
    assert_eq!(
        table,
        [
            "by_appmaster -105 killed_by_appmaster",
            "by_resourcemanager -106 killed_by_resourcemanager",
            "after_app_finished -107 killed_after_app_completion",
            "resync -100 aborted",
            "shutdown -100 aborted",
            "physical_memory -104 physical_memory",
            "virtual_memory -103 virtual_memory",
            "kernel_oom -104 kernel_oom",
        ]
    );
}

#[test]
fn a_kill_while_localizing_aborts_without_a_process() {
    check(
        2,
        vec![
            (0, Event::Init),
            (5, Event::Kill(KillReason::ByResourceManager)),
            (6, Event::Aborted),
            (7, Event::CleanedUp),
        ],
        "
Init -> LOCALIZING [Localize]
Kill(by_resourcemanager) -> KILLING [Abort]
Aborted -> CONTAINER_CLEANEDUP_AFTER_KILL [Cleanup]
CleanedUp -> DONE [Completed]
exit -106 api COMPLETE
[2023-11-14 22:13:20.005]Container Killed by ResourceManager",
    );
}

#[test]
fn a_kill_racing_the_launch_kills_the_new_process() {
    check(
        0,
        vec![
            (0, Event::Init),
            (1, Event::Kill(KillReason::Resync)),
            (2, Event::Launched { pid: 9 }),
            (3, Event::Exited { exit: ProcessExit::Signal(15), stderr_tail: String::new(), oom_kill: None }),
        ],
        "
Init -> SCHEDULED [Launch]
Kill(resync) -> KILLING []
Launched(9) -> KILLING [KillProcess { pid: 9 }]
Exited(143) -> CONTAINER_CLEANEDUP_AFTER_KILL [Cleanup]
exit -100 api RUNNING
[2023-11-14 22:13:20.001]Container killed on resync with the ResourceManager
[2023-11-14 22:13:20.003]Container killed on request. Exit code is 143
[2023-11-14 22:13:20.003]Container exited with a non-zero exit code 143. ",
    );
}

#[test]
fn a_localization_failure_ends_with_minus_one() {
    check(
        1,
        vec![
            (0, Event::Init),
            (9, Event::LocalizationFailed { diagnostics: "Failed to localize f0: gone".into() }),
            (10, Event::Launched { pid: 1 }),
            (11, Event::CleanedUp),
        ],
        "
Init -> LOCALIZING [Localize]
LocalizationFailed -> LOCALIZATION_FAILED [Cleanup]
Launched(1) -> LOCALIZATION_FAILED []
CleanedUp -> DONE [Completed]
exit -1 api COMPLETE
[2023-11-14 22:13:20.009]Failed to localize f0: gone",
    );
}

#[test]
fn a_spawn_failure_is_127_with_the_message() {
    check(
        0,
        vec![
            (0, Event::Init),
            (1, Event::LaunchFailed { exit_code: 127, message: "Cannot run program \"nope\": not found".into() }),
        ],
        "
Init -> SCHEDULED [Launch]
LaunchFailed(127) -> EXITED_WITH_FAILURE [Cleanup]
exit 127 api RUNNING
[2023-11-14 22:13:20.001]Exception from container-launch.
Container id: container_1700000000000_0001_01_000002
Exit code: 127
Exception message: Cannot run program \"nope\": not found
",
    );
}

#[test]
fn running_states_map_to_yarns_api_states() {
    use weft_proto::states::ContainerState as Api;
    assert_eq!(ContainerState::LOCALIZING.api_state(), Api::NEW);
    assert_eq!(ContainerState::KILLING.api_state(), Api::RUNNING);
    assert_eq!(ContainerState::EXITED_WITH_FAILURE.api_state(), Api::RUNNING);
    assert_eq!(ContainerState::DONE.api_state(), Api::COMPLETE);
}

#[test]
fn timestamps_are_yarns_format_in_utc() {
    assert_eq!(timestamp(0), "[1970-01-01 00:00:00.000]");
    assert_eq!(timestamp(1_586_040_964_519), "[2020-04-04 22:56:04.519]");
}

#[test]
fn specs_are_checked() {
    let mut s = spec(0);
    assert_eq!(s.check(), Ok(()));
    s.user = "../etc".into();
    assert!(s.check().unwrap_err().to_string().contains("\"../etc\""));
    let mut s = spec(2);
    s.local_resources[1].name = "f0".into();
    assert_eq!(s.check(), Err(InvalidLaunch::DuplicateResourceName("f0".into())));
    let mut s = spec(0);
    s.command.clear();
    assert_eq!(s.check(), Err(InvalidLaunch::EmptyCommand));
    s = spec(0);
    s.resource = Resource::new(0, 1);
    assert!(s.check().unwrap_err().to_string().contains("<memory:0, vCores:1>"));
    assert!(check_local_resource("a/b", &"0".repeat(64)).is_err());
    assert!(check_local_resource("..", &"0".repeat(64)).is_err());
    assert!(check_local_resource("ok", "xyz").unwrap_err().to_string().contains("\"xyz\""));
    assert_eq!(check_local_resource("ok", &"AB".repeat(32)).unwrap(), "ab".repeat(32));
}
