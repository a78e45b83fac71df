//! Issue 17: an attempt is sent a node's NM token with its first grant on that node only, as YARN's
//! ResourceManager sends them, and once more per node after a restart.

use std::collections::BTreeSet;

use super::*;

fn token_nodes(reply: &AllocateReply) -> Vec<NodeId> {
    reply.nm_token_nodes().cloned().collect()
}

/// The nodes of `reply`'s grants that `tokened` does not hold, each once in grant order: what the
/// reply must ask NM tokens for. They are tokened from then on.
fn check_tokens(reply: &AllocateReply, tokened: &mut BTreeSet<NodeId>) {
    let mut expected: Vec<NodeId> = Vec::new();
    for c in &reply.allocated {
        if !tokened.contains(&c.node) && !expected.contains(&c.node) {
            expected.push(c.node.clone());
        }
    }
    assert_eq!(token_nodes(reply), expected, "grants: {:?}", reply.allocated);
    tokened.extend(expected);
}

#[test]
fn an_nm_token_comes_with_the_first_grant_on_each_node_and_again_after_a_restart() {
    let mut core = RmCore::new(CoreConfig::with_defaults(T0));
    core.register_node(node(1), "127.0.0.1:8001".into(), "test".into(), Resource::new(8192, 8), vec![], T0);
    let (attempt, am) = running_app(&mut core, T0);
    let mut tokened = BTreeSet::new();
    // The AM container's node is not tokened by the AM's own grant: the first executor there is.
    let reply = core.allocate(attempt, &[ask(2)], &[], 0.1, T0).unwrap();
    assert_eq!((reply.allocated.len(), token_nodes(&reply)), (2, vec![node(1)]));
    check_tokens(&reply, &mut tokened);
    // More grants on the same node: no token.
    let reply = core.allocate(attempt, &[ask(2)], &[], 0.1, T0).unwrap();
    assert_eq!(reply.allocated.len(), 2);
    assert_eq!(token_nodes(&reply), []);
    // A new node: its token comes with the first grant there, and only once.
    core.register_node(node(2), "127.0.0.1:8002".into(), "test".into(), Resource::new(8192, 8), vec![], T0);
    let reply = core.allocate(attempt, &[ask(6)], &[], 0.1, T0).unwrap();
    assert!(reply.allocated.iter().any(|c| c.node == node(2)), "{:?}", reply.allocated);
    assert_eq!(token_nodes(&reply), [node(2)]);
    check_tokens(&reply, &mut tokened);
    // Grants made between allocate calls (room freed by a heartbeat) bring theirs with the next reply.
    let held: Vec<ContainerId> =
        core.app(attempt.application).unwrap().current_attempt().containers.iter().copied().collect();
    let done: Vec<ReportedContainer> =
        held.iter().filter(|c| **c != am).map(|c| ReportedContainer::complete(*c, 0, "")).collect();
    let (on_1, on_2): (Vec<_>, Vec<_>) = done.into_iter().partition(|c| core.container(c.id).unwrap().node == node(1));
    heartbeat(&mut core, node(1), on_1, T0 + 1);
    heartbeat(&mut core, node(2), on_2, T0 + 1);
    let reply = core.allocate(attempt, &[ask(4)], &[], 0.1, T0 + 1).unwrap();
    assert_eq!(reply.allocated.len(), 4);
    assert_eq!(token_nodes(&reply), [], "both nodes were tokened before");

    // After a restart the attempt registers again and is sent each node's token once more.
    let t1 = T0 + 10_000;
    let am_node = core.container(am).unwrap().node.clone();
    let mut core = restarted(&core, 1, t1);
    for i in 1..=2 {
        let held = if node(i) == am_node { vec![running(am, Resource::new(1024, 1))] } else { vec![] };
        core.register_node(node(i), format!("127.0.0.1:{}", 8000 + i), "test".into(), Resource::new(8192, 8), held, t1);
    }
    core.register_am(attempt, "h".into(), 1, String::new(), t1).unwrap();
    let mut tokened = BTreeSet::new();
    let reply = core.allocate(attempt, &[ask(4)], &[], 0.5, t1).unwrap();
    assert_eq!(reply.allocated.len(), 4);
    assert!(!reply.nm_token_grants.is_empty());
    check_tokens(&reply, &mut tokened);
    let reply = core.allocate(attempt, &[ask(4)], &[], 0.5, t1).unwrap();
    check_tokens(&reply, &mut tokened);
    assert_eq!(tokened, BTreeSet::from([node(1), node(2)]));
}

#[test]
fn a_second_attempt_is_sent_its_own_tokens_and_an_ended_one_keeps_none() {
    let mut core = cluster();
    let (first, am) = running_app(&mut core, T0);
    let reply = core.allocate(first, &[ask(2)], &[], 0.1, T0).unwrap();
    check_tokens(&reply, &mut BTreeSet::new());
    // The AM container fails: the next attempt starts with no node tokened.
    let am_node = core.container(am).unwrap().node.clone();
    heartbeat(&mut core, am_node, vec![ReportedContainer::complete(am, 1, "boom")], T0 + 1);
    let ended = core.app(first.application).unwrap().attempts[0].clone();
    assert!(ended.is_ended());
    assert_eq!((ended.nm_tokened, ended.newly_tokened), (Default::default(), vec![]));
    let effects = core.take_effects();
    let [Effect::LaunchAm { attempt: second, .. }] = effects.as_slice() else { panic!("{effects:?}") };
    core.am_launched(*second, Ok(()), T0 + 1);
    core.register_am(*second, "h".into(), 1, String::new(), T0 + 1).unwrap();
    let reply = core.allocate(*second, &[ask(2)], &[], 0.1, T0 + 1).unwrap();
    assert_eq!(reply.allocated.len(), 2);
    check_tokens(&reply, &mut BTreeSet::new());
}

#[test]
fn a_first_grant_that_expired_unheard_leaves_the_token_to_the_next_grant_on_its_node() {
    let mut config = CoreConfig::with_defaults(T0);
    config.nm_expiry_ms = u64::MAX / 4;
    let expiry = config.container_allocation_expiry_ms;
    let gb = Resource::new(1024, 1);
    let mut core = RmCore::new(config);
    core.register_node(node(1), "127.0.0.1:8001".into(), "test".into(), gb, vec![], T0);
    let (attempt, am) = running_app(&mut core, T0);
    assert!(core.allocate(attempt, &[ask(2)], &[], 0.1, T0).unwrap().allocated.is_empty(), "node 1 is full");
    // Node 2 comes: both are granted there between calls, and expire before the AM calls again.
    core.register_node(node(2), "127.0.0.1:8002".into(), "test".into(), Resource::new(2048, 2), vec![], T0);
    let t1 = T0 + expiry;
    heartbeat(&mut core, node(1), vec![running(am, gb)], t1);
    core.tick(t1);
    // The grant the AM hears of brings node 2's token.
    let reply = core.allocate(attempt, &[ask(1)], &[], 0.1, t1).unwrap();
    assert_eq!(reply.completed.len(), 2, "the expired grants");
    assert_eq!(reply.allocated.iter().map(|c| c.node.clone()).collect::<Vec<_>>(), [node(2)]);
    assert_eq!(token_nodes(&reply), [node(2)]);
    let first = reply.allocated[0].id;
    let reply = core.allocate(attempt, &[ask(1)], &[], 0.1, t1).unwrap();
    assert_eq!((reply.allocated.len(), token_nodes(&reply)), (1, vec![]));
    let on_2 = vec![running(first, gb), running(reply.allocated[0].id, gb)];
    assert!(core.allocate(attempt, &[ask(1)], &[], 0.1, t1).unwrap().allocated.is_empty(), "node 2 is full");
    // Node 3's only grant expires unheard: no reply brought its token, so the next grant there does.
    core.register_node(node(3), "127.0.0.1:8003".into(), "test".into(), gb, vec![], t1);
    let t2 = t1 + expiry;
    heartbeat(&mut core, node(1), vec![running(am, gb)], t2);
    heartbeat(&mut core, node(2), on_2, t2);
    core.tick(t2);
    let reply = core.allocate(attempt, &[ask(0)], &[], 0.1, t2).unwrap();
    assert_eq!((reply.completed.len(), reply.allocated.len(), token_nodes(&reply)), (1, 0, vec![]));
    let reply = core.allocate(attempt, &[ask(1)], &[], 0.1, t2).unwrap();
    assert_eq!(reply.allocated.iter().map(|c| c.node.clone()).collect::<Vec<_>>(), [node(3)]);
    assert_eq!(token_nodes(&reply), [node(3)]);
}
