//! The node's containers with a fake clock: acknowledgements, retention, app cleanup, refusals.

use weft_proto::states::ContainerState as Api;
use weft_proto::{ContainerId, Resource};

use super::*;
use crate::container::{ContainerState, ProcessExit};

fn cid(app: u32, id: u64) -> ContainerId {
    format!("container_1700000000000_{app:04}_01_{id:06}").parse().unwrap()
}

fn spec(id: ContainerId) -> LaunchSpec {
    LaunchSpec {
        id,
        user: "bob".into(),
        command: vec!["true".into()],
        environment: Vec::new(),
        local_resources: Vec::new(),
        resource: Resource::new(1024, 1),
        hadoop: None,
        container_token: Default::default(),
        acls: Default::default(),
    }
}

/// Starts `id` and runs it until it has exited with `code`, cleaned up and DONE.
fn run_to_done(core: &mut NmCore, id: ContainerId, code: i32) {
    assert_eq!(core.start(spec(id), 1), Ok(vec![Effect::Launch]));
    core.handle(id, Event::Launched { pid: 100 }, 2);
    core.handle(id, Event::Exited { exit: ProcessExit::Code(code), stderr_tail: String::new(), oom_kill: None }, 3);
    assert_eq!(core.handle(id, Event::CleanedUp, 4), vec![Effect::Completed]);
}

/// The ids and API states a heartbeat would carry, as one line.
fn check_heartbeat(core: &NmCore, expected: &str) {
    let line: Vec<String> = core.heartbeat_statuses().iter().map(|s| format!("{}:{}", s.id.id, s.state)).collect();
    assert_eq!(line.join(" "), expected);
}

#[test]
fn completed_statuses_are_sent_until_a_heartbeat_carrying_them_is_answered() {
    let mut core = NmCore::new(10, MemoryPolicy::default());
    run_to_done(&mut core, cid(1, 2), 0);
    core.start(spec(cid(1, 3)), 5).unwrap();
    check_heartbeat(&core, "2:COMPLETE 3:NEW");
    let sent = core.heartbeat_statuses();
    run_to_done(&mut core, cid(1, 4), 1);
    core.acknowledge(&sent);
    check_heartbeat(&core, "3:NEW 4:COMPLETE");
    let sent = core.heartbeat_statuses();
    core.acknowledge(&sent);
    check_heartbeat(&core, "3:NEW");
    assert_eq!(core.container(&cid(1, 4)).unwrap().exit_status, 1, "acknowledged ones stay for REST");
}

#[test]
fn only_acknowledged_completed_containers_are_forgotten_beyond_the_limit() {
    let mut core = NmCore::new(1, MemoryPolicy::default());
    run_to_done(&mut core, cid(1, 2), 0);
    run_to_done(&mut core, cid(1, 3), 0);
    assert_eq!(core.containers().count(), 2, "neither was acknowledged");
    let sent = core.heartbeat_statuses();
    core.acknowledge(&sent);
    let kept: Vec<u64> = core.containers().map(|c| c.spec.id.id).collect();
    assert_eq!(kept, [3]);
}

#[test]
fn duplicates_and_starts_after_shutdown_are_refused_without_change() {
    let mut core = NmCore::new(10, MemoryPolicy::default());
    core.start(spec(cid(1, 2)), 1).unwrap();
    assert_eq!(core.start(spec(cid(1, 2)), 2), Err(StartError::Duplicate(cid(1, 2))));
    core.shut_down();
    assert_eq!(core.start(spec(cid(1, 3)), 3), Err(StartError::ShuttingDown));
    assert_eq!(core.containers().count(), 1);
    assert_eq!(core.kill(cid(9, 9), KillReason::ByAppMaster, 4), Err(UnknownContainer(cid(9, 9))));
}

#[test]
fn a_finished_app_has_its_containers_killed_and_gets_no_new_ones() {
    let mut core = NmCore::new(10, MemoryPolicy::default());
    for id in [2, 3] {
        core.start(spec(cid(1, id)), 1).unwrap();
        core.handle(cid(1, id), Event::Launched { pid: 10 + id as u32 }, 2);
    }
    core.start(spec(cid(2, 2)), 1).unwrap();
    let work = core.finish_app(cid(1, 2).application(), 5);
    assert_eq!(
        work,
        vec![(cid(1, 2), vec![Effect::KillProcess { pid: 12 }]), (cid(1, 3), vec![Effect::KillProcess { pid: 13 }])]
    );
    assert_eq!(core.start(spec(cid(1, 4)), 6), Err(StartError::AppFinished(cid(1, 4).application())));
    let apps = core.apps();
    assert_eq!(apps[0].state, NmAppState::FINISHING_CONTAINERS_WAIT);
    assert_eq!((apps[1].state, apps[1].user.as_str(), apps[1].running.len()), (NmAppState::RUNNING, "bob", 1));
    assert_eq!(core.allocated(), Resource::new(3072, 3));
    for id in [2, 3] {
        core.handle(
            cid(1, id),
            Event::Exited { exit: ProcessExit::Signal(15), stderr_tail: String::new(), oom_kill: None },
            7,
        );
        core.handle(cid(1, id), Event::CleanedUp, 8);
    }
    let c = core.container(&cid(1, 2)).unwrap();
    assert_eq!((c.state, c.exit_status), (ContainerState::DONE, -107));
    assert_eq!(core.apps()[0].state, NmAppState::FINISHED);
    assert_eq!(core.status(&cid(1, 2)).unwrap().state, Api::COMPLETE);
}

#[test]
fn kill_all_reaches_every_live_container_and_skips_done_ones() {
    let mut core = NmCore::new(10, MemoryPolicy::default());
    run_to_done(&mut core, cid(1, 2), 0);
    core.start(spec(cid(1, 3)), 1).unwrap();
    let work = core.kill_all(KillReason::Shutdown, 2);
    assert_eq!(work, vec![(cid(1, 3), vec![])], "SCHEDULED: the runner's launch report comes next");
    assert_eq!(core.kill(cid(1, 2), KillReason::ByAppMaster, 3), Ok(vec![]), "a no-op on a DONE one");
}

#[test]
fn app_states_parse_like_yarn_filters() {
    assert_eq!("finished".parse::<NmAppState>(), Ok(NmAppState::FINISHED));
    let err = "DONE".parse::<NmAppState>().unwrap_err().to_string();
    assert!(err.contains("\"DONE\"") && err.contains("FINISHING_CONTAINERS_WAIT"), "{err}");
}

#[test]
fn statuses_carry_peaks_enforced_limits_and_the_kill() {
    const MB: u64 = 1 << 20;
    let policy = MemoryPolicy { vmem_ratio: 2.0, pmem_enforced: true, vmem_enforced: false };
    let mut core = NmCore::new(10, policy);
    let id = cid(1, 2);
    core.start(spec(id), 1).unwrap();
    core.handle(id, Event::Launched { pid: 100 }, 2);
    core.record_usage(&id, Usage { pmem_bytes: 700 * MB, vmem_bytes: 900 * MB });
    core.record_usage(&id, Usage { pmem_bytes: 600 * MB, vmem_bytes: 1900 * MB });
    let c = core.container(&id).unwrap();
    assert_eq!(c.limits, Limits { pmem_bytes: 1024 * MB, vmem_bytes: 2048 * MB });
    assert_eq!(c.usage, Usage { pmem_bytes: 600 * MB, vmem_bytes: 1900 * MB });
    let reason = KillReason::PhysicalMemory;
    core.handle(id, Event::KillWith { reason, diagnostics: "over".into() }, 5);
    core.handle(id, Event::Exited { exit: ProcessExit::Signal(15), stderr_tail: String::new(), oom_kill: None }, 6);
    let s = core.status(&id).unwrap();
    assert_eq!(s.peak, Usage { pmem_bytes: 700 * MB, vmem_bytes: 1900 * MB });
    assert_eq!(s.enforced, Limits { pmem_bytes: 1024 * MB, vmem_bytes: 0 }, "the vmem check is off");
    assert_eq!((s.kill, s.killed_ms, s.exit_status), (Some(reason), 5, -104));
    assert_eq!(core.container(&id).unwrap().usage, Usage::default(), "an ended container uses nothing");
    core.record_usage(&id, Usage { pmem_bytes: MB, vmem_bytes: MB });
    assert_eq!(core.container(&id).unwrap().usage, Usage::default(), "no process is left to sample");
}

#[test]
fn recovered_containers_are_reported_and_a_killing_one_is_stopped_again() {
    use crate::container::Container;
    let mut core = NmCore::new(10, MemoryPolicy::default());
    let mut done = Container::restored(spec(cid(1, 2)), ContainerState::DONE, vec!["x".into()], 1);
    done.exit_status = 3;
    assert_eq!(core.recover(done), Vec::new());
    let mut running = Container::restored(spec(cid(1, 3)), ContainerState::RUNNING, Vec::new(), 1);
    running.pid = Some(30);
    assert_eq!(core.recover(running), Vec::new());
    let mut killing = Container::restored(spec(cid(1, 4)), ContainerState::KILLING, Vec::new(), 1);
    killing.pid = Some(40);
    killing.kill = Some(KillReason::ByAppMaster);
    assert_eq!(core.recover(killing), vec![Effect::KillProcess { pid: 40 }]);
    check_heartbeat(&core, "2:COMPLETE 3:RUNNING 4:RUNNING");
    assert_eq!(core.container(&cid(1, 3)).unwrap().limits.pmem_bytes, 1 << 30, "limits as at a start");
    assert_eq!(core.allocated(), Resource::new(2048, 2), "DONE holds nothing");
    let sent = core.heartbeat_statuses();
    core.acknowledge(&sent);
    check_heartbeat(&core, "3:RUNNING 4:RUNNING");
    assert_eq!(core.start(spec(cid(1, 3)), 5), Err(StartError::Duplicate(cid(1, 3))));
    assert_eq!(core.start(spec(cid(1, 5)), 5), Ok(vec![Effect::Launch]), "its application goes on");
}

#[test]
fn a_lost_exit_is_reported_with_yarns_lost_code() {
    use crate::container::Container;
    let mut core = NmCore::new(10, MemoryPolicy::default());
    let mut running = Container::restored(spec(cid(1, 2)), ContainerState::RUNNING, Vec::new(), 1);
    running.pid = Some(20);
    core.recover(running);
    let effects = core.handle(cid(1, 2), Event::Lost { diagnostics: "no exit code".into() }, 5);
    assert_eq!(effects, vec![Effect::Cleanup]);
    core.handle(cid(1, 2), Event::CleanedUp, 6);
    let status = core.status(&cid(1, 2)).unwrap();
    assert_eq!((status.state, status.exit_status), (Api::COMPLETE, crate::container::LOST));
    assert!(status.diagnostics.ends_with("]no exit code"), "{}", status.diagnostics);
    let mut never = Container::restored(spec(cid(1, 3)), ContainerState::LOCALIZING, Vec::new(), 1);
    never.kill = None;
    core.recover(never);
    core.handle(cid(1, 3), Event::Lost { diagnostics: "never started".into() }, 7);
    assert_eq!(core.container(&cid(1, 3)).unwrap().exit_status, 154);
    let mut killing = Container::restored(spec(cid(1, 4)), ContainerState::KILLING, Vec::new(), 1);
    killing.pid = Some(40);
    killing.kill = Some(KillReason::ByAppMaster);
    core.recover(killing);
    core.handle(cid(1, 4), Event::Lost { diagnostics: "gone".into() }, 8);
    assert_eq!(core.container(&cid(1, 4)).unwrap().exit_status, -105, "a decided kill keeps its status");
}
