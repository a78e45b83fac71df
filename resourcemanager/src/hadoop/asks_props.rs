//! Property: YARN's ask table through Weft's core. Whatever rows an application master sends
//! (absolute counts for two priorities, re-sent or not) and whatever it releases, no allocate
//! answer hands out more containers for a priority than are outstanding under YARN's rule (the last
//! count sent, less what was granted since), every container carries the priority it was asked
//! with, and every released container comes back completed exactly once with its capacity returned
//! (once the node, which never starts anything here, has heartbeated past the stop).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use weft_hadoop_ipc::yarn::{PriorityProto, ResourceProto, ResourceRequestProto};
use weft_proto::{ContainerId, NodeId, Resource};

use super::asks::{to_yarn_priority, AskTable, ANY};
use crate::core::{CoreConfig, LaunchSpec, RmCore, Submission};

const T0: u64 = 1_700_000_000_000;
const MB: i64 = 1024;

#[derive(Debug, Clone)]
struct Call {
    /// Per YARN priority 0 and 1: the absolute count to send, or nothing (the row unchanged).
    rows: [Option<i32>; 2],
    /// Which live containers to give back (indices into the live list, modulo its length).
    releases: Vec<usize>,
    /// Host and rack rows sent beside the `*` rows: preferences only.
    with_locality: bool,
}

fn call() -> impl Strategy<Value = Call> {
    let row = prop::option::of(0..6i32);
    (row.clone(), row, prop::collection::vec(0..8usize, 0..3), any::<bool>())
        .prop_map(|(a, b, releases, with_locality)| Call { rows: [a, b], releases, with_locality })
}

fn row(priority: i32, name: &str, count: i32) -> ResourceRequestProto {
    ResourceRequestProto {
        priority: Some(PriorityProto { priority: Some(priority) }),
        resource_name: Some(name.into()),
        capability: Some(ResourceProto { memory: Some(MB), virtual_cores: Some(1), resource_value_map: vec![] }),
        num_containers: Some(count),
        allocation_request_id: Some(i64::from(priority) * 10),
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases(200)))]

    #[test]
    fn never_more_than_outstanding_and_releases_come_back_once(calls in prop::collection::vec(call(), 1..25)) {
        let mut core = RmCore::new(CoreConfig::with_defaults(T0));
        let node = NodeId::new("127.0.0.1", 8041);
        // Room for 6 containers of 1 GB: asks can outrun the cluster.
        core.register_node(node.clone(), "127.0.0.1:8042".into(), "t".into(), Resource::new(6 * MB, 16), vec![], T0);
        let id = core.new_application();
        let submission = Submission {
            id,
            name: "asks".into(),
            queue: String::new(),
            application_type: "SPARK".into(),
            user: "u".into(),
            am_resource: Resource::new(MB, 1),
            am_launch: LaunchSpec::default(),
            max_app_attempts: 0,
            unmanaged_am: true,
            tags: vec![],
            acls: Default::default(),
        };
        core.submit(submission, T0).unwrap();
        let attempt = id.attempt(1);
        core.register_am(attempt, "h".into(), 1, String::new(), T0).unwrap();

        let mut table = AskTable::default();
        let mut outstanding = [0i64; 2];
        let mut live: Vec<ContainerId> = Vec::new();
        let mut released: BTreeSet<ContainerId> = BTreeSet::new();
        let mut completed: BTreeMap<ContainerId, u32> = BTreeMap::new();
        let mut given_back_before: Vec<ContainerId> = Vec::new();
        // Granted by a heartbeat after the last call, not handed out yet.
        let mut between_calls: BTreeSet<ContainerId> = BTreeSet::new();
        for (step, call) in calls.into_iter().enumerate() {
            let mut rows = Vec::new();
            for (p, count) in call.rows.iter().enumerate() {
                let Some(count) = *count else { continue };
                rows.push(row(p as i32, ANY, count));
                if call.with_locality {
                    rows.push(row(p as i32, "127.0.0.1", count));
                    rows.push(row(p as i32, "/default-rack", count));
                }
                outstanding[p] = i64::from(count);
            }
            let asks = table.update(&rows).unwrap();
            let give_back: Vec<ContainerId> = if live.is_empty() {
                Vec::new()
            } else {
                call.releases.iter().map(|i| live[i % live.len()]).collect::<BTreeSet<_>>().into_iter().collect()
            };
            let reply = core.allocate(attempt, &asks, &give_back, 0.5, T0 + step as u64).unwrap();

            let mut granted = [0i64; 2];
            for c in &reply.allocated {
                let p = to_yarn_priority(c.priority);
                prop_assert!((0..2).contains(&p), "container {} has priority {} (core {})", c.id, p, c.priority);
                prop_assert_eq!(table.allocation_request_id(c.priority), i64::from(p) * 10);
                prop_assert!(!live.contains(&c.id) && !released.contains(&c.id), "{} granted twice", c.id);
                if !between_calls.remove(&c.id) {
                    granted[p as usize] += 1;
                }
                live.push(c.id);
            }
            prop_assert!(between_calls.is_empty(), "grants made between calls not handed out: {:?}", between_calls);
            for p in 0..2 {
                prop_assert!(granted[p] <= outstanding[p], "step {}: priority {} got {} with {} outstanding", step, p, granted[p], outstanding[p]);
                outstanding[p] -= granted[p];
            }
            live.retain(|c| !give_back.contains(c));
            released.extend(give_back.iter().copied());
            for c in &reply.completed {
                *completed.entry(c.id).or_default() += 1;
            }
            for c in &given_back_before {
                prop_assert_eq!(completed.get(c).copied(), Some(1), "released {} is reported completed once, by the next call", c);
            }
            given_back_before = give_back;

            // The NodeManager hears of the stops and heartbeats again without those containers: their
            // room comes back, and what is still outstanding may be granted into it.
            for _ in 0..2 {
                core.node_heartbeat(&node, vec![], Default::default(), String::new(), T0 + step as u64);
            }
            for c in core.attempt_containers(attempt).unwrap() {
                if c.is_complete() {
                    continue;
                }
                prop_assert!(!released.contains(&c.id), "released {} still holds its room", c.id);
                if !live.contains(&c.id) && between_calls.insert(c.id) {
                    let p = to_yarn_priority(c.priority) as usize;
                    prop_assert!(outstanding[p] > 0, "step {}: priority {} granted between calls with none outstanding", step, p);
                    outstanding[p] -= 1;
                }
            }
            let allocated = core.node(&node).unwrap().allocated;
            prop_assert_eq!(allocated.memory_mb, (live.len() + between_calls.len()) as i64 * MB, "capacity held = live containers");
        }
        for c in core.allocate(attempt, &[], &[], 0.5, T0 + 100).unwrap().completed {
            *completed.entry(c.id).or_default() += 1;
        }
        prop_assert_eq!(completed.keys().copied().collect::<BTreeSet<_>>(), released, "every release comes back");
        prop_assert!(completed.values().all(|&n| n == 1), "a container reported twice: {:?}", completed);
    }
}
