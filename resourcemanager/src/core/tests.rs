//! Core scenarios with a fake clock: whole application lifecycles without any I/O.

use weft_proto::states::{AppState, AttemptState, ContainerState, FinalStatus, NodeState};
use weft_proto::{exit_status, ApplicationAttemptId, ApplicationId, ContainerId, NodeId, Resource};

use super::*;

const T0: u64 = 1_700_000_000_000;

fn node(i: u16) -> NodeId {
    NodeId::new("127.0.0.1", 9000 + i)
}

/// A core with two 4 GiB / 4 vcore nodes.
fn cluster() -> RmCore {
    let mut config = CoreConfig::with_defaults(T0);
    config.nm_expiry_ms = 10_000;
    let mut core = RmCore::new(config);
    for i in 1..=2 {
        core.register_node(
            node(i),
            format!("127.0.0.1:{}", 8000 + i),
            "test".into(),
            Resource::new(4096, 4),
            vec![],
            T0,
        );
    }
    core
}

fn submission(id: ApplicationId) -> Submission {
    Submission {
        id,
        name: "test".into(),
        queue: String::new(),
        application_type: String::new(),
        user: "alice".into(),
        am_resource: Resource::new(512, 1),
        am_launch: LaunchSpec { command: vec!["./am".into()], ..Default::default() },
        max_app_attempts: 0,
        unmanaged_am: false,
        tags: vec![],
        acls: Default::default(),
    }
}

/// Submits an app and runs it up to a registered AM; returns the attempt and its AM container.
fn running_app(core: &mut RmCore, now: u64) -> (ApplicationAttemptId, ContainerId) {
    let id = core.new_application();
    core.submit(submission(id), now).unwrap();
    let effects = core.take_effects();
    let [Effect::LaunchAm { attempt, container, resource, .. }] = effects.as_slice() else {
        panic!("expected one AM launch, got {effects:?}")
    };
    assert_eq!(*resource, Resource::new(1024, 1), "AM size is normalized");
    core.am_launched(*attempt, Ok(()), now);
    core.register_am(*attempt, "h".into(), 1, String::new(), now).unwrap();
    assert_eq!(core.app(id).unwrap().state, AppState::RUNNING);
    (*attempt, *container)
}

fn heartbeat(core: &mut RmCore, n: NodeId, reported: Vec<ReportedContainer>, now: u64) -> HeartbeatReply {
    core.node_heartbeat(&n, reported, Utilization::default(), String::new(), now)
}

fn ask(n: i64) -> AskRequest {
    AskRequest { priority: 1, capability: Resource::new(512, 1), num_containers: n }
}

#[test]
fn an_application_runs_to_finished() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let reply = core.allocate(attempt, &[ask(3)], &[], 0.1, T0).unwrap();
    assert_eq!(reply.allocated.len(), 3);
    assert!(reply.allocated.iter().all(|c| c.resource == Resource::new(1024, 1)));
    // Asks are absolute: asking again for 3 grants nothing more once satisfied (0 outstanding).
    let reply = core.allocate(attempt, &[ask(0)], &[], 0.1, T0).unwrap();
    assert!(reply.allocated.is_empty());
    let ids: Vec<ContainerId> = core.attempt_containers(attempt).unwrap().iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), 4);
    for c in &ids[1..] {
        let n = core.container(*c).unwrap().node.clone();
        heartbeat(&mut core, n, vec![ReportedContainer::complete(*c, 0, "")], T0 + 1000);
    }
    let reply = core.allocate(attempt, &[], &[], 1.0, T0 + 1000).unwrap();
    assert_eq!(reply.completed.len(), 3);
    core.finish_am(attempt, "SUCCEEDED", String::new(), String::new(), T0 + 1100).unwrap();
    let app = core.app(attempt.application).unwrap();
    assert_eq!((app.state, app.final_status), (AppState::FINISHED, FinalStatus::SUCCEEDED));
    assert_eq!(app.current_attempt().state, AttemptState::FINISHING);
    let am_node = core.container(am).unwrap().node.clone();
    let reply = heartbeat(&mut core, am_node, vec![ReportedContainer::complete(am, 0, "")], T0 + 1200);
    assert_eq!(reply.apps_to_cleanup, Vec::<ApplicationId>::new(), "nothing of the app is left running");
    assert_eq!(core.app(attempt.application).unwrap().current_attempt().state, AttemptState::FINISHED);
    assert_eq!(core.metrics().allocated, Resource::ZERO);
}

#[test]
fn a_failed_am_gets_a_second_attempt_then_fails_the_app() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let n = core.container(am).unwrap().node.clone();
    heartbeat(&mut core, n, vec![ReportedContainer::complete(am, 1, "boom")], T0 + 10);
    let app = core.app(attempt.application).unwrap();
    assert_eq!(app.attempts.len(), 2);
    assert_eq!(app.state, AppState::ACCEPTED);
    assert_eq!(app.attempts[0].state, AttemptState::FAILED);
    assert!(app.attempts[0].diagnostics.starts_with(&format!(
        "AM Container for {attempt} exited with  exitCode: 1\nFailing this attempt.Diagnostics: boom"
    )));
    let Effect::LaunchAm { attempt: second, container: am2, .. } = core.take_effects().remove(0);
    assert_eq!(second.attempt, 2);
    assert_eq!(am2.to_string(), format!("{}", second.container(1)));
    let n = core.container(am2).unwrap().node.clone();
    heartbeat(&mut core, n, vec![ReportedContainer::complete(am2, 137, "killed")], T0 + 20);
    let app = core.app(attempt.application).unwrap();
    assert_eq!((app.state, app.final_status), (AppState::FAILED, FinalStatus::FAILED));
    assert!(app
        .diagnostics
        .starts_with(&format!("Application {} failed 2 times due to AM Container for {second}", attempt.application)));
    assert!(app.diagnostics.ends_with(". Failing the application."));
}

#[test]
fn a_silent_node_is_lost_and_its_containers_end_with_minus_100() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let granted = core.allocate(attempt, &[ask(4)], &[], 0.0, T0).unwrap().allocated;
    let am_node = core.container(am).unwrap().node.clone();
    let other = if am_node == node(1) { node(2) } else { node(1) };
    heartbeat(&mut core, am_node.clone(), vec![], T0 + 9_000);
    core.tick(T0 + 10_001);
    assert_eq!(core.node(&other).unwrap().state, NodeState::LOST);
    assert_eq!(core.node(&am_node).unwrap().state, NodeState::RUNNING);
    let lost: Vec<RmContainer> =
        granted.iter().filter(|c| c.node == other).map(|c| core.container(c.id).unwrap().clone()).collect();
    assert!(!lost.is_empty());
    for c in &lost {
        assert_eq!((c.state, c.exit_status), (ContainerState::COMPLETE, exit_status::ABORTED));
        assert_eq!(c.diagnostics, "Container released on a *lost* node");
    }
    let reply = core.allocate(attempt, &[], &[], 0.0, T0 + 10_002).unwrap();
    assert_eq!(reply.completed.len(), lost.len());
    assert_eq!(core.metrics().lost_nodes, 1);
    assert_eq!(core.kills(&KillFilter::default()).len(), lost.len());
    // The lost node is told to resync when it speaks again.
    assert!(heartbeat(&mut core, other, vec![], T0 + 10_003).resync);
}

/// A node declared lost comes back (resync, then registering again) still running a container the
/// ResourceManager ended when it lost the node: the container is named for cleanup, and its room is
/// handed out only once the node stops reporting it.
#[test]
fn a_container_a_lost_node_still_runs_holds_its_room_until_the_node_stops_it() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let whole_node = [AskRequest { priority: 1, capability: Resource::new(4096, 1), num_containers: 1 }];
    let [big] = core.allocate(attempt, &whole_node, &[], 0.0, T0).unwrap().allocated.try_into().unwrap();
    let am_node = core.container(am).unwrap().node.clone();
    assert_ne!(big.node, am_node);
    heartbeat(&mut core, big.node.clone(), vec![running(big.id, big.resource)], T0);
    heartbeat(&mut core, am_node.clone(), vec![], T0 + 9_000);
    core.tick(T0 + 10_001);
    assert_eq!(core.container(big.id).unwrap().state, ContainerState::COMPLETE);
    assert_eq!(core.allocate(attempt, &whole_node, &[], 0.0, T0 + 10_002).unwrap().completed.len(), 1);

    // The node speaks again, is told to resync and registers with the container it still runs.
    let still_running = vec![running(big.id, big.resource)];
    assert!(heartbeat(&mut core, big.node.clone(), still_running.clone(), T0 + 10_003).resync);
    core.register_node(
        big.node.clone(),
        "x".into(),
        "test".into(),
        Resource::new(4096, 4),
        still_running.clone(),
        T0 + 10_003,
    );
    assert_eq!(core.node(&big.node).unwrap().allocated, big.resource, "its room stays taken");
    assert!(core.allocate(attempt, &whole_node, &[], 0.0, T0 + 10_004).unwrap().allocated.is_empty());
    let reply = heartbeat(&mut core, big.node.clone(), still_running, T0 + 11_000);
    assert_eq!(reply.containers_to_cleanup, [big.id]);
    assert!(core.allocate(attempt, &whole_node, &[], 0.0, T0 + 11_001).unwrap().allocated.is_empty());

    // Stopped: the room comes back and the waiting ask gets it.
    heartbeat(&mut core, big.node.clone(), vec![], T0 + 12_000);
    let granted = core.allocate(attempt, &whole_node, &[], 0.0, T0 + 12_001).unwrap().allocated;
    assert_eq!(granted.iter().map(|c| &c.node).collect::<Vec<_>>(), [&big.node]);
}

/// A launch queued for an AM container whose attempt has since ended is not carried out.
#[test]
fn an_am_launch_is_wanted_only_while_its_attempt_waits_for_it() {
    let mut core = cluster();
    let id = core.new_application();
    core.submit(submission(id), T0).unwrap();
    let effects = core.take_effects();
    let [Effect::LaunchAm { attempt, container, .. }] = effects.as_slice() else { panic!("{effects:?}") };
    assert!(core.am_launch_wanted(*attempt, *container));
    core.kill(id, "killed".into(), T0).unwrap();
    assert!(!core.am_launch_wanted(*attempt, *container));
}

#[test]
fn kill_stops_every_container_and_changes_nothing_the_second_time() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let granted = core.allocate(attempt, &[ask(2)], &[], 0.0, T0).unwrap().allocated;
    for c in &granted {
        heartbeat(&mut core, c.node.clone(), vec![ReportedContainer::running(c.id)], T0 + 1);
    }
    assert!(core.kill(attempt.application, "killed by user".into(), T0 + 2).unwrap());
    let app = core.app(attempt.application).unwrap();
    assert_eq!((app.state, app.final_status), (AppState::KILLED, FinalStatus::KILLED));
    let mut to_cleanup = Vec::new();
    for i in 1..=2 {
        to_cleanup.extend(heartbeat(&mut core, node(i), vec![], T0 + 3).containers_to_cleanup);
    }
    to_cleanup.sort();
    let mut expected: Vec<ContainerId> = granted.iter().map(|c| c.id).chain([am]).collect();
    expected.sort();
    assert_eq!(to_cleanup, expected);
    assert!(!core.kill(attempt.application, String::new(), T0 + 4).unwrap());
}

#[test]
fn refusals_change_nothing() {
    let mut core = cluster();
    let (attempt, _) = running_app(&mut core, T0);
    let before = core.metrics();
    let big = AskRequest { priority: 1, capability: Resource::new(12288, 1), num_containers: 1 };
    assert!(matches!(core.allocate(attempt, &[big], &[], 0.0, T0), Err(RmError::Allocation(_))));
    assert!(matches!(core.allocate(attempt, &[ask(-1)], &[], 0.0, T0), Err(RmError::NegativeContainerCount(-1))));
    let unknown = ApplicationId::new(T0, 99);
    assert!(matches!(core.kill(unknown, String::new(), T0), Err(RmError::UnknownApplication(_))));
    let mut sub = submission(unknown);
    assert!(matches!(core.submit(sub.clone(), T0), Err(RmError::NotIssued { .. })));
    sub.id = core.new_application();
    sub.am_resource = Resource::new(9000, 1);
    assert!(matches!(core.submit(sub, T0), Err(RmError::Allocation(_))));
    assert_eq!(core.metrics(), before);
}

#[test]
fn scheduling_waits_for_room_and_uses_freed_resources() {
    let mut core = cluster();
    let (attempt, _) = running_app(&mut core, T0);
    // 8 GiB in all, 1 GiB for the AM: 7 more fit.
    let reply = core.allocate(attempt, &[ask(9)], &[], 0.0, T0).unwrap();
    assert_eq!(reply.allocated.len(), 7);
    assert_eq!(core.metrics().containers_pending, 2);
    let first = reply.allocated[0].clone();
    heartbeat(&mut core, first.node.clone(), vec![ReportedContainer::complete(first.id, 0, "")], T0 + 1);
    let reply = core.allocate(attempt, &[ask(2)], &[], 0.0, T0 + 2).unwrap();
    assert_eq!(reply.allocated.len(), 1);
}

#[test]
fn the_nodemanagers_kill_reason_and_usage_reach_the_kill_feed_and_the_am() {
    let mut core = cluster();
    let (attempt, _) = running_app(&mut core, T0);
    let c = core.allocate(attempt, &[ask(1)], &[], 0.0, T0).unwrap().allocated.remove(0);
    let usage = MemoryUsage {
        peak_physical_bytes: 1_100 << 20,
        peak_virtual_bytes: 1_300 << 20,
        physical_limit_bytes: 1 << 30,
        virtual_limit_bytes: 2_254_857_830,
    };
    let mut report = ReportedContainer::complete(c.id, exit_status::KILLED_EXCEEDED_PMEM, "Container [pid=1,…");
    report.usage = usage;
    report.kill = Some(("kernel_oom".into(), T0 + 5));
    heartbeat(&mut core, c.node.clone(), vec![report], T0 + 10);
    let kills = core.kills(&KillFilter { reason: Some(KillReason::KernelOom), ..Default::default() });
    assert_eq!(kills.len(), 1);
    assert_eq!((kills[0].at_ms, kills[0].usage, kills[0].exit_status), (T0 + 5, usage, -104));
    assert_eq!(core.container(c.id).unwrap().usage, usage);
    let completed = core.allocate(attempt, &[], &[], 0.0, T0 + 11).unwrap().completed;
    assert_eq!(completed[0].usage, usage);
    assert_eq!(completed[0].kill, Some(("kernel_oom".into(), T0 + 5)));
    // Without a reason from the NodeManager, the exit status decides.
    assert!(core.kills(&KillFilter { reason: Some(KillReason::PhysicalMemory), ..Default::default() }).is_empty());
}

#[test]
fn the_app_diagnostics_name_the_containers_the_cluster_killed() {
    let mut core = cluster();
    let (attempt, _) = running_app(&mut core, T0);
    let granted = core.allocate(attempt, &[ask(2)], &[], 0.0, T0).unwrap().allocated;
    let (hog, calm) = (&granted[0], &granted[1]);
    let diagnostics = "[2026-11-23 10:00:00.000]Container [pid=42,containerID=x] is running 1048576B beyond the 'PHYSICAL' memory limit. Current usage: 1.0 GB of 1 GB physical memory used; 1.2 GB of 2.1 GB virtual memory used. Killing container.\nDump of the process-tree";
    heartbeat(&mut core, hog.node.clone(), vec![ReportedContainer::complete(hog.id, -104, diagnostics)], T0 + 1);
    heartbeat(&mut core, calm.node.clone(), vec![ReportedContainer::complete(calm.id, 0, "")], T0 + 2);
    core.finish_am(attempt, "FAILED", "container failed".into(), String::new(), T0 + 3).unwrap();
    let text = &core.app(attempt.application).unwrap().diagnostics;
    assert!(text.starts_with("container failed\n"), "{text}");
    assert!(
        text.contains(&format!(
            "Container {} on {} was killed (physical_memory, exit status -104): Container [pid=42",
            hog.id, hog.node
        )),
        "{text}"
    );
    assert!(text.contains("1.0 GB of 1 GB physical memory used"), "{text}");
    assert!(!text.contains(&calm.id.to_string()), "{text}");
}

/// Two heartbeats of `n` that report nothing running: the first carries the stops out, the second
/// shows the NodeManager did not start what it was told to stop.
fn two_quiet_heartbeats(core: &mut RmCore, n: &NodeId, now: u64) {
    heartbeat(core, n.clone(), vec![], now);
    heartbeat(core, n.clone(), vec![], now);
}

#[test]
fn unstarted_containers_end_with_the_status_of_whoever_gave_them_up() {
    let mut core = cluster();
    let (attempt, _) = running_app(&mut core, T0);
    let granted = core.allocate(attempt, &[ask(2)], &[], 0.0, T0).unwrap().allocated;
    assert!(core.allocate(attempt, &[], &[granted[0].id], 0.0, T0 + 1).unwrap().completed.is_empty());
    two_quiet_heartbeats(&mut core, &granted[0].node, T0 + 1);
    let completed = core.allocate(attempt, &[], &[], 0.0, T0 + 1).unwrap().completed;
    assert_eq!(
        (completed[0].exit_status, completed[0].diagnostics.as_str()),
        (-100, "Container released by application")
    );
    core.kill(attempt.application, "Application killed by user.".into(), T0 + 2).unwrap();
    two_quiet_heartbeats(&mut core, &granted[1].node, T0 + 2);
    let other = core.container(granted[1].id).unwrap();
    assert_eq!((other.exit_status, other.diagnostics.as_str()), (-106, "Container Killed by ResourceManager"));
    let app = core.app(attempt.application).unwrap();
    assert_eq!(app.diagnostics, "Application killed by user.", "the user's own kill is not listed as a cluster kill");
}

/// A 4096 MB and a 2048 MB node; the AM takes 1024 MB of the first.
fn lopsided_cluster() -> RmCore {
    let mut core = RmCore::new(CoreConfig::with_defaults(T0));
    core.register_node(node(1), "127.0.0.1:8001".into(), "test".into(), Resource::new(4096, 4), vec![], T0);
    core.register_node(node(2), "127.0.0.1:8002".into(), "test".into(), Resource::new(2048, 4), vec![], T0);
    core
}

fn executor_ask(n: i64) -> AskRequest {
    AskRequest { priority: 1, capability: Resource::new(2560, 1), num_containers: n }
}

fn assert_no_capacity_held(core: &RmCore) {
    for n in core.nodes() {
        assert_eq!(n.allocated, Resource::ZERO, "node {} still holds {:?}: {:?}", n.id, n.allocated, n.containers);
        assert!(n.containers.is_empty(), "node {} still lists {:?}", n.id, n.containers);
    }
}

#[test]
fn a_grant_made_between_a_release_and_the_unregister_goes_back_to_the_cluster() {
    let mut core = lopsided_cluster();
    let (attempt, am) = running_app(&mut core, T0);
    // Two executors of 2g + 384m overhead are asked for; only one fits (beside the AM on node 1).
    let reply = core.allocate(attempt, &[executor_ask(2)], &[], 0.1, T0).unwrap();
    assert_eq!(reply.allocated.len(), 1);
    let executor = reply.allocated[0].id;
    heartbeat(&mut core, node(1), vec![ReportedContainer::running(am), ReportedContainer::running(executor)], T0);
    // The job is done: the AM releases its executor; the NodeManager stops it and reports it.
    core.allocate(attempt, &[executor_ask(2)], &[executor], 1.0, T0 + 100).unwrap();
    heartbeat(&mut core, node(1), vec![ReportedContainer::complete(executor, -105, "")], T0 + 200);
    // The freed room went to the still-outstanding ask: a container nobody will start.
    let late: Vec<ContainerId> = core
        .attempt_containers(attempt)
        .unwrap()
        .iter()
        .filter(|c| !c.is_complete() && !c.is_am)
        .map(|c| c.id)
        .collect();
    assert_eq!(late.len(), 1, "the outstanding ask is granted while the attempt runs");
    core.finish_am(attempt, "SUCCEEDED", String::new(), String::new(), T0 + 300).unwrap();
    let late_id = late[0];
    // Its AM was never handed it, so nobody can have started it: it ends at once.
    let late = core.container(late_id).unwrap();
    assert_eq!(late.state, ContainerState::COMPLETE);
    assert_eq!(late.exit_status, exit_status::ABORTED);
    assert_eq!(late.diagnostics, "Container of a completed application");
    heartbeat(&mut core, node(1), vec![ReportedContainer::complete(am, 0, "")], T0 + 400);
    assert_eq!(core.app(attempt.application).unwrap().state, AppState::FINISHED);
    assert_eq!(core.app_allocated(attempt.application).0, Resource::ZERO);
    assert_no_capacity_held(&core);
    let kills = core.kills(&KillFilter::default());
    assert!(kills.iter().all(|k| k.container != late_id), "an unused grant is not a kill: {kills:?}");
    // The next application gets the whole cluster again.
    let (next, _) = running_app(&mut core, T0 + 500);
    let reply = core.allocate(next, &[executor_ask(1)], &[], 0.1, T0 + 500).unwrap();
    assert_eq!(reply.allocated.len(), 1);
}

#[test]
fn a_grant_its_am_was_never_handed_goes_back_at_once_and_one_it_was_waits_for_its_node() {
    let mut core = lopsided_cluster();
    let (attempt, _) = running_app(&mut core, T0);
    // One executor fits beside the AM on node 1 and is handed out; node 3 comes and the second is
    // granted there between calls.
    let handed = core.allocate(attempt, &[executor_ask(2)], &[], 0.1, T0).unwrap().allocated[0].id;
    core.register_node(node(3), "127.0.0.1:8003".into(), "test".into(), Resource::new(4096, 4), vec![], T0 + 1);
    let unseen: Vec<ContainerId> = core.node(&node(3)).unwrap().containers.iter().copied().collect();
    assert_eq!(unseen.len(), 1);
    core.kill(attempt.application, "Application killed by user.".into(), T0 + 2).unwrap();
    assert_eq!(core.container(unseen[0]).unwrap().state, ContainerState::COMPLETE);
    assert_eq!(core.node(&node(3)).unwrap().allocated, Resource::ZERO, "nobody could have started it");
    assert_eq!(core.container(handed).unwrap().state, ContainerState::NEW, "its AM may have started it");
    two_quiet_heartbeats(&mut core, &node(1), T0 + 3);
    assert_eq!(core.container(handed).unwrap().state, ContainerState::COMPLETE);
}

#[test]
fn nothing_is_granted_to_an_attempt_that_unregistered() {
    let mut core = lopsided_cluster();
    let (attempt, am) = running_app(&mut core, T0);
    core.allocate(attempt, &[executor_ask(5)], &[], 0.1, T0).unwrap();
    core.finish_am(attempt, "SUCCEEDED", String::new(), String::new(), T0 + 100).unwrap();
    // The AM container runs on through the grace period; whatever frees up is not handed to it.
    let granted_before = core.attempt_containers(attempt).unwrap().len();
    core.register_node(node(3), "127.0.0.1:8003".into(), "test".into(), Resource::new(8192, 8), vec![], T0 + 200);
    assert_eq!(core.attempt_containers(attempt).unwrap().len(), granted_before);
    heartbeat(&mut core, node(1), vec![ReportedContainer::complete(am, 0, "")], T0 + 300);
    heartbeat(&mut core, node(1), vec![], T0 + 400);
    assert_no_capacity_held(&core);
}

#[test]
fn a_granted_container_nobody_starts_expires_and_its_room_comes_back() {
    let mut core = lopsided_cluster();
    let expiry = core.config().container_allocation_expiry_ms;
    let (attempt, am) = running_app(&mut core, T0);
    let reply = core.allocate(attempt, &[executor_ask(1)], &[], 0.1, T0).unwrap();
    let unused = reply.allocated[0].id;
    heartbeat(&mut core, node(1), vec![ReportedContainer::running(am)], T0 + expiry - 1);
    core.tick(T0 + expiry - 1);
    assert_eq!(core.container(unused).unwrap().state, ContainerState::NEW, "not before the interval");
    heartbeat(&mut core, node(1), vec![ReportedContainer::running(am)], T0 + expiry);
    core.tick(T0 + expiry);
    let c = core.container(unused).unwrap();
    assert_eq!((c.state, c.exit_status), (ContainerState::COMPLETE, exit_status::ABORTED));
    assert_eq!(c.diagnostics, "Container expired since it was unused");
    let reply = core.allocate(attempt, &[executor_ask(0)], &[], 0.5, T0 + expiry).unwrap();
    assert_eq!(reply.completed.len(), 1, "the AM hears the grant is gone");
    assert_eq!(reply.completed[0].exit_status, exit_status::ABORTED);
    assert_eq!(core.node(&node(1)).unwrap().allocated, Resource::new(1024, 1), "only the AM is left");
    // The AM container itself was reported running, so it never expires.
    assert_eq!(core.container(am).unwrap().state, ContainerState::RUNNING);
}

#[test]
fn grants_made_between_ticks_each_expire_at_their_own_time() {
    let mut core = lopsided_cluster();
    let expiry = core.config().container_allocation_expiry_ms;
    let (attempt, am) = running_app(&mut core, T0);
    core.tick(T0 + 1);
    let ask = |n| [AskRequest { priority: 1, capability: Resource::new(1024, 1), num_containers: n }];
    let first = core.allocate(attempt, &ask(1), &[], 0.1, T0 + 5).unwrap().allocated[0].id;
    let second = core.allocate(attempt, &ask(1), &[], 0.1, T0 + 10).unwrap().allocated[0].id;
    let state = |core: &RmCore, c| core.container(c).unwrap().state;
    for (at, expected) in [
        (T0 + 4 + expiry, [ContainerState::NEW, ContainerState::NEW]),
        (T0 + 5 + expiry, [ContainerState::COMPLETE, ContainerState::NEW]),
        (T0 + 9 + expiry, [ContainerState::COMPLETE, ContainerState::NEW]),
        (T0 + 10 + expiry, [ContainerState::COMPLETE, ContainerState::COMPLETE]),
    ] {
        heartbeat(&mut core, node(1), vec![ReportedContainer::running(am)], at);
        heartbeat(&mut core, node(2), vec![], at);
        core.tick(at);
        assert_eq!([state(&core, first), state(&core, second)], expected, "at T0 + {}", at - T0);
    }
}

#[test]
fn a_node_that_unregisters_is_shutdown_at_once_and_its_containers_end() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let reply = core.allocate(attempt, &[ask(2)], &[], 0.1, T0).unwrap();
    let on_node: Vec<ContainerId> = reply.allocated.iter().map(|c| c.id).collect();
    let am_node = core.container(am).unwrap().node.clone();
    let other = if am_node == node(1) { node(2) } else { node(1) };
    core.unregister_node(&other, T0 + 10);
    let n = core.node(&other).unwrap();
    assert_eq!(n.state, NodeState::SHUTDOWN);
    assert_eq!(n.available(), Resource::ZERO);
    assert_eq!(core.metrics().shutdown_nodes, 1);
    for c in on_node.iter().filter(|c| core.container(**c).unwrap().node == other) {
        assert_eq!(core.container(*c).unwrap().exit_status, exit_status::ABORTED);
    }
    // Nothing new lands on it; a heartbeat from it is told to register again.
    let reply = core.allocate(attempt, &[ask(8)], &[], 0.2, T0 + 20).unwrap();
    assert!(reply.allocated.iter().all(|c| c.node != other));
    assert!(heartbeat(&mut core, other.clone(), vec![], T0 + 30).resync);
    core.register_node(other.clone(), "x".into(), "test".into(), Resource::new(4096, 4), vec![], T0 + 40);
    assert_eq!(core.node(&other).unwrap().state, NodeState::RUNNING);
}

#[test]
fn staged_files_are_in_use_while_their_application_has_not_ended() {
    let mut core = cluster();
    let file = |sha: &str| LocalFile { name: "f".into(), sha256: sha.into(), size: 1, executable: false };
    let id = core.new_application();
    let mut s = submission(id);
    s.am_launch.local_files = vec![file("aa"), file("bb")];
    core.submit(s, T0).unwrap();
    let other = core.new_application();
    let mut s = submission(other);
    s.unmanaged_am = true;
    s.am_launch = LaunchSpec { local_files: vec![file("cc")], ..Default::default() };
    core.submit(s, T0).unwrap();
    let in_use: Vec<String> = core.blobs_in_use().into_iter().collect();
    assert_eq!(in_use, ["aa", "bb", "cc"]);
    core.kill(id, "done".into(), T0 + 1).unwrap();
    assert_eq!(core.blobs_in_use().into_iter().collect::<Vec<_>>(), ["cc"]);
}

#[test]
fn with_acls_on_only_allowed_callers_get_an_application_and_a_forgotten_one_is_hidden() {
    let mut config = CoreConfig::with_defaults(T0);
    config.acls = AclPolicy::new(true, "admin", "yarn");
    let mut core = RmCore::new(config);
    let id = core.new_application();
    let modify_bob = AppAcls { view: None, modify: Some(AccessControlList::parse("bob")) };
    core.submit(Submission { acls: modify_bob, ..submission(id) }, T0).unwrap();
    let who = |user: &str| Caller::new(user, Vec::new());
    assert!(core.authorized(id, &who("alice"), AccessType::ModifyApp).is_ok());
    assert!(core.authorized(id, &who("bob"), AccessType::ModifyApp).is_ok());
    assert!(core.authorized(id, &who("admin"), AccessType::ViewApp).is_ok());
    let refused = core.authorized(id, &who("bob"), AccessType::ViewApp).unwrap_err();
    assert_eq!(refused.to_string(), format!("User bob cannot perform operation VIEW_APP on {id}"));
    assert!(core.may_view(id, &who("alice")) && !core.may_view(id, &who("mallory")));
    let forgotten = ApplicationId::new(T0, 99);
    assert!(!core.may_view(forgotten, &who("alice")), "an unknown owner cannot be checked");
    let unknown = core.authorized(forgotten, &who("alice"), AccessType::ViewApp).unwrap_err();
    assert_eq!(unknown, RmError::UnknownApplication(forgotten));
    let off = cluster();
    assert!(off.may_view(forgotten, &who("mallory")), "with ACLs off every kill record is shown");
}

/// What a restarted core with recovery is given: the stored applications, a later epoch.
fn restarted(before: &RmCore, epoch: u32, now: u64) -> RmCore {
    let mut config = before.config().clone();
    config.cluster_timestamp = now;
    config.epoch = epoch;
    config.am_liveness_expiry_ms = 60_000;
    config.nm_expiry_ms = 600_000;
    let apps: Vec<App> = before.apps(&Default::default()).into_iter().cloned().collect();
    let mut core = RmCore::new(config);
    core.recover(apps, now);
    core
}

fn running(id: ContainerId, resource: Resource) -> ReportedContainer {
    ReportedContainer { resource, ..ReportedContainer::running(id) }
}

#[test]
fn a_restart_keeps_running_work_and_the_application_finishes_succeeded() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let reply = core.allocate(attempt, &[ask(2)], &[], 0.1, T0).unwrap();
    let [a, b] = [reply.allocated[0].id, reply.allocated[1].id];
    let [node_a, node_b] = [reply.allocated[0].node.clone(), reply.allocated[1].node.clone()];
    let am_node = core.container(am).unwrap().node.clone();
    assert_eq!(core.take_changed().into_iter().collect::<Vec<_>>(), vec![attempt.application]);

    let t1 = T0 + 10_000;
    let mut core = restarted(&core, 1, t1);
    assert_eq!(core.app(attempt.application).unwrap().state, AppState::ACCEPTED);
    // The AM's next allocate is told to register again (YARN's words), and nothing changes.
    let refused = core.allocate(attempt, &[ask(2)], &[], 0.2, t1).unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!("AM is not registered for known application attempt: {attempt} or RM had restarted after AM registered. AM should re-register.")
    );
    // The nodes come back with what they hold: a finished while the RM was down.
    let gb = Resource::new(1024, 1);
    let mut by_node: std::collections::BTreeMap<NodeId, Vec<ReportedContainer>> = Default::default();
    by_node.entry(am_node.clone()).or_default().push(running(am, gb));
    by_node
        .entry(node_a.clone())
        .or_default()
        .push(ReportedContainer { resource: gb, ..ReportedContainer::complete(a, 0, "done") });
    by_node.entry(node_b.clone()).or_default().push(running(b, gb));
    for i in 1..=2 {
        let n = node(i);
        let held = by_node.remove(&n).unwrap_or_default();
        core.register_node(n, format!("127.0.0.1:{}", 8000 + i), "test".into(), Resource::new(4096, 4), held, t1);
    }
    let allocated: i64 = core.nodes().map(|n| n.allocated.memory_mb).sum();
    assert_eq!(allocated, 2048, "the AM and b run on");
    core.register_am(attempt, "h".into(), 1, String::new(), t1).unwrap();
    assert_eq!(core.app(attempt.application).unwrap().state, AppState::RUNNING);
    // The outstanding ask sent again (one, to replace a); the completion that happened during the
    // restart reaches the AM; a new grant carries the epoch.
    let reply = core.allocate(attempt, &[ask(1)], &[], 0.5, t1).unwrap();
    assert_eq!(reply.completed.iter().map(|c| (c.id, c.exit_status)).collect::<Vec<_>>(), vec![(a, 0)]);
    assert_eq!(reply.allocated.len(), 1);
    let c = reply.allocated[0].id;
    assert!(c.to_string().starts_with("container_e01_"), "{c}");
    let n = core.container(c).unwrap().node.clone();
    heartbeat(&mut core, n, vec![ReportedContainer::complete(c, 0, "")], t1 + 1000);
    heartbeat(&mut core, node_b, vec![ReportedContainer::complete(b, 0, "")], t1 + 1000);
    core.finish_am(attempt, "SUCCEEDED", String::new(), String::new(), t1 + 1000).unwrap();
    heartbeat(&mut core, am_node, vec![ReportedContainer::complete(am, 0, "")], t1 + 2000);
    let app = core.app(attempt.application).unwrap();
    assert_eq!((app.state, app.final_status), (AppState::FINISHED, FinalStatus::SUCCEEDED));
    assert!(core.nodes().all(|n| n.allocated == Resource::ZERO));
}

/// An AM releases a container just before the ResourceManager restarts, and sends the release again
/// after registering with the new one (YARN's AM client re-sends its pending releases) before the
/// container's NodeManager has come back: the container is stopped when its node reports it, not
/// kept for the rest of the application.
#[test]
fn a_release_sent_again_after_a_restart_stops_the_container_once_its_node_reports_it() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let granted = core.allocate(attempt, &[ask(1)], &[], 0.1, T0).unwrap().allocated;
    let (c, c_node) = (granted[0].id, granted[0].node.clone());
    let am_node = core.container(am).unwrap().node.clone();
    let t1 = T0 + 10_000;
    let mut core = restarted(&core, 1, t1);
    core.register_am(attempt, "h".into(), 1, String::new(), t1).unwrap();
    let gb = Resource::new(1024, 1);
    let half = Resource::new(512, 1);
    core.register_node(am_node.clone(), "x".into(), "t".into(), Resource::new(4096, 4), vec![running(am, gb)], t1);
    // Released again before its node came back: nothing known to stop yet, nothing refused.
    let reply = core.allocate(attempt, &[ask(0)], &[c], 0.5, t1).unwrap();
    assert!(reply.completed.is_empty());
    let held = if c_node == am_node { vec![running(am, gb), running(c, half)] } else { vec![running(c, half)] };
    core.register_node(c_node.clone(), "x".into(), "t".into(), Resource::new(4096, 4), held, t1 + 1);
    let reply = heartbeat(&mut core, c_node.clone(), vec![running(c, half)], t1 + 2);
    assert_eq!(reply.containers_to_cleanup, [c], "the released container is stopped");
    let still = if c_node == am_node { vec![running(am, gb)] } else { vec![] };
    heartbeat(&mut core, c_node.clone(), [still, vec![ReportedContainer::complete(c, -105, "")]].concat(), t1 + 3);
    let reply = core.allocate(attempt, &[ask(0)], &[], 0.5, t1 + 3).unwrap();
    assert_eq!(reply.completed.iter().map(|r| r.id).collect::<Vec<_>>(), [c]);
    assert_eq!(core.app_allocated(attempt.application).0, gb, "only the AM holds anything");
}

#[test]
fn after_a_restart_containers_of_unknown_or_ended_applications_are_cleaned_up() {
    let mut core = cluster();
    let (attempt, am) = running_app(&mut core, T0);
    let am_node = core.container(am).unwrap().node.clone();
    // Without recovery the new ResourceManager knows nothing: the AM container goes.
    let mut config = core.config().clone();
    config.epoch = 0;
    let mut fresh = RmCore::new(config);
    fresh.register_node(
        am_node.clone(),
        "x".into(),
        "t".into(),
        Resource::new(4096, 4),
        vec![running(am, Resource::new(1024, 1))],
        T0 + 1,
    );
    let reply = heartbeat(&mut fresh, am_node.clone(), vec![], T0 + 2);
    assert_eq!(reply.containers_to_cleanup, vec![am]);
    assert_eq!(fresh.nodes().next().unwrap().allocated, Resource::ZERO);
    // With recovery, a container of an application that had been killed goes too.
    core.kill(attempt.application, "killed".into(), T0 + 3).unwrap();
    let mut recovered = restarted(&core, 1, T0 + 4);
    recovered.register_node(
        am_node.clone(),
        "x".into(),
        "t".into(),
        Resource::new(4096, 4),
        vec![running(am, Resource::new(1024, 1))],
        T0 + 5,
    );
    let reply = heartbeat(&mut recovered, am_node, vec![], T0 + 6);
    assert_eq!(reply.containers_to_cleanup, vec![am]);
    assert_eq!(recovered.app(attempt.application).unwrap().state, AppState::KILLED);
}

#[test]
fn a_recovered_attempt_whose_master_never_returns_times_out_and_the_next_attempt_starts() {
    let mut core = cluster();
    let (attempt, _am) = running_app(&mut core, T0);
    let t1 = T0 + 1000;
    let mut core = restarted(&core, 1, t1);
    for i in 1..=2 {
        core.register_node(node(i), "x".into(), "t".into(), Resource::new(4096, 4), vec![], t1);
    }
    core.tick(t1 + 59_000);
    assert_eq!(core.app(attempt.application).unwrap().attempts.len(), 1);
    core.tick(t1 + 60_000);
    let app = core.app(attempt.application).unwrap();
    assert_eq!(app.attempts[0].state, AttemptState::FAILED);
    assert_eq!(app.attempts[0].diagnostics, format!("ApplicationMaster for attempt {attempt} timed out"));
    assert_eq!(app.attempts.len(), 2);
    let effects = core.take_effects();
    let [Effect::LaunchAm { container, .. }] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(container.epoch, 1);
}

#[test]
fn a_submission_is_marked_for_the_store_and_retention_drops_it_from_the_store() {
    let mut config = CoreConfig::with_defaults(T0);
    config.max_completed_apps = 1;
    let mut core = RmCore::new(config);
    let first = core.new_application();
    core.submit(submission(first), T0).unwrap();
    assert_eq!(core.take_changed().into_iter().collect::<Vec<_>>(), vec![first]);
    core.kill(first, String::new(), T0).unwrap();
    let second = core.new_application();
    core.submit(submission(second), T0).unwrap();
    core.kill(second, String::new(), T0).unwrap();
    // The first is forgotten: marked, and no longer there, so the store removes it.
    assert_eq!(core.take_changed().into_iter().collect::<Vec<_>>(), vec![first, second]);
    assert!(core.app(first).is_err());
}

#[test]
fn an_id_issued_before_a_restart_can_still_be_submitted_once() {
    let mut core = cluster();
    let issued = core.new_application();
    let core_before = core;
    let mut core = restarted(&core_before, 1, T0 + 5_000);
    core.submit(submission(issued), T0 + 5_000).unwrap();
    assert_eq!(core.submit(submission(issued), T0 + 5_000).unwrap_err(), RmError::AlreadySubmitted(issued));
    // Without recovery (epoch 0) an id of another cluster timestamp is still refused.
    let mut fresh = RmCore::new(CoreConfig::with_defaults(T0 + 9_000));
    assert!(matches!(fresh.submit(submission(issued), T0 + 9_000), Err(RmError::NotIssued { .. })));
}

mod nm_tokens;
