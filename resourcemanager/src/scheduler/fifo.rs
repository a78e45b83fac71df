//! The FIFO scheduler: one queue; attempts are served in submission order (application id, then
//! attempt), each ask by priority; nodes are chosen round-robin from a cursor that moves past each
//! grant, which spreads containers across nodes and keeps a pass cheap (no full scan per container
//! while nodes have room).

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use weft_proto::{ApplicationAttemptId, NodeId, Resource};

use super::{Ask, Grant, Scheduler};

#[derive(Debug)]
struct SchedulerNode {
    id: NodeId,
    available: Resource,
    alive: bool,
}

/// One queue, first come first served. Invariant: no node's `available` goes below zero.
#[derive(Debug, Default)]
pub struct FifoScheduler {
    nodes: Vec<SchedulerNode>,
    /// Where each node sits in `nodes`; looked up on every release, so hashed with FxHash.
    index: FxHashMap<NodeId, usize>,
    cursor: usize,
    /// Asks per attempt, keyed by (priority, capability); BTreeMap keeps submission order.
    asks: BTreeMap<ApplicationAttemptId, BTreeMap<(i32, Resource), u32>>,
    /// Hosts each attempt has blacklisted.
    blacklists: FxHashMap<ApplicationAttemptId, BTreeSet<String>>,
    available: Resource,
}

impl FifoScheduler {
    pub fn new() -> Self {
        FifoScheduler::default()
    }

    /// The next live node, from the cursor on, where `capability` fits and whose host is not
    /// `excluded`; the cursor moves past it.
    fn find_node(&mut self, capability: Resource, excluded: &BTreeSet<String>) -> Option<usize> {
        let n = self.nodes.len();
        for step in 0..n {
            let i = (self.cursor + step) % n;
            let node = &self.nodes[i];
            if node.alive && node.available.fits(&capability) && !excluded.contains(&node.id.host) {
                self.cursor = (i + 1) % n;
                return Some(i);
            }
        }
        None
    }
}

impl Scheduler for FifoScheduler {
    fn add_node(&mut self, node: NodeId, total: Resource) {
        match self.index.get(&node) {
            Some(&i) => {
                let slot = &mut self.nodes[i];
                if slot.alive {
                    self.available -= slot.available;
                }
                *slot = SchedulerNode { id: node, available: total, alive: true };
            }
            None => {
                self.index.insert(node.clone(), self.nodes.len());
                self.nodes.push(SchedulerNode { id: node, available: total, alive: true });
            }
        }
        self.available += total;
    }

    fn remove_node(&mut self, node: &NodeId) {
        if let Some(&i) = self.index.get(node) {
            let slot = &mut self.nodes[i];
            if slot.alive {
                self.available -= slot.available;
                slot.alive = false;
                slot.available = Resource::ZERO;
            }
        }
    }

    fn release(&mut self, node: &NodeId, resource: Resource) {
        if let Some(&i) = self.index.get(node) {
            let slot = &mut self.nodes[i];
            if slot.alive {
                slot.available += resource;
                self.available += resource;
            }
        }
    }

    fn update_asks(&mut self, attempt: ApplicationAttemptId, asks: &[Ask]) {
        let entry = self.asks.entry(attempt).or_default();
        for ask in asks {
            if ask.num_containers == 0 {
                entry.remove(&(ask.priority, ask.capability));
            } else {
                entry.insert((ask.priority, ask.capability), ask.num_containers);
            }
        }
    }

    fn update_blacklist(&mut self, attempt: ApplicationAttemptId, additions: &[String], removals: &[String]) {
        let hosts = self.blacklists.entry(attempt).or_default();
        hosts.extend(additions.iter().cloned());
        for host in removals {
            hosts.remove(host);
        }
        if hosts.is_empty() {
            self.blacklists.remove(&attempt);
        }
    }

    fn remove_attempt(&mut self, attempt: ApplicationAttemptId) {
        self.asks.remove(&attempt);
        self.blacklists.remove(&attempt);
    }

    fn allocate(&mut self) -> Vec<Grant> {
        let mut grants = Vec::new();
        if self.nodes.is_empty() {
            return grants;
        }
        let mut asks = std::mem::take(&mut self.asks);
        let none = BTreeSet::new();
        for (attempt, by_size) in asks.iter_mut() {
            let excluded = self.blacklists.get(attempt).cloned().unwrap_or_default();
            let excluded = if excluded.is_empty() { &none } else { &excluded };
            for (&(priority, capability), wanted) in by_size.iter_mut() {
                while *wanted > 0 && self.available.fits(&capability) {
                    let Some(i) = self.find_node(capability, excluded) else { break };
                    let node = &mut self.nodes[i];
                    node.available -= capability;
                    self.available -= capability;
                    *wanted -= 1;
                    grants.push(Grant { attempt: *attempt, node: node.id.clone(), priority, resource: capability });
                }
            }
            by_size.retain(|_, wanted| *wanted > 0);
        }
        asks.retain(|_, by_size| !by_size.is_empty());
        self.asks = asks;
        grants
    }

    fn pending_containers(&self) -> u64 {
        self.asks.values().flat_map(|m| m.values()).map(|&n| n as u64).sum()
    }

    fn available(&self) -> Resource {
        self.available
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use proptest::prelude::*;
    use weft_proto::ApplicationId;

    fn attempt(seq: u32) -> ApplicationAttemptId {
        ApplicationId::new(1, seq).attempt(1)
    }

    fn node(i: u32) -> NodeId {
        NodeId::new(format!("n{i}"), 8041)
    }

    fn ask(n: u32, memory_mb: i64) -> Ask {
        Ask { priority: 1, capability: Resource::new(memory_mb, 1), num_containers: n }
    }

    #[test]
    fn earlier_applications_are_served_first() {
        let mut s = FifoScheduler::new();
        s.add_node(node(1), Resource::new(4096, 8));
        s.update_asks(attempt(2), &[ask(2, 1024)]);
        s.update_asks(attempt(1), &[ask(3, 1024)]);
        let grants = s.allocate();
        let owners: Vec<u32> = grants.iter().map(|g| g.attempt.application.sequence).collect();
        assert_eq!(owners, vec![1, 1, 1, 2]);
        assert_eq!(s.pending_containers(), 1);
        s.release(&node(1), Resource::new(1024, 1));
        assert_eq!(s.allocate().len(), 1);
        assert_eq!(s.pending_containers(), 0);
    }

    #[test]
    fn asks_are_absolute_and_zero_cancels() {
        let mut s = FifoScheduler::new();
        s.update_asks(attempt(1), &[ask(5, 1024)]);
        s.update_asks(attempt(1), &[ask(2, 1024)]);
        assert_eq!(s.pending_containers(), 2);
        s.update_asks(attempt(1), &[ask(0, 1024)]);
        assert_eq!(s.pending_containers(), 0);
    }

    #[test]
    fn consecutive_containers_spread_over_nodes() {
        let mut s = FifoScheduler::new();
        for i in 1..=3 {
            s.add_node(node(i), Resource::new(8192, 8));
        }
        s.update_asks(attempt(1), &[ask(6, 1024)]);
        let mut per_node: HashMap<NodeId, u32> = HashMap::new();
        for g in s.allocate() {
            *per_node.entry(g.node).or_default() += 1;
        }
        assert_eq!(per_node.values().copied().collect::<Vec<_>>(), vec![2, 2, 2]);
    }

    #[test]
    fn blacklisted_hosts_get_none_of_the_attempts_containers_until_removed() {
        let mut s = FifoScheduler::new();
        for i in 1..=2 {
            s.add_node(node(i), Resource::new(8192, 8));
        }
        s.update_blacklist(attempt(1), &["n1".into()], &[]);
        s.update_asks(attempt(1), &[ask(3, 1024)]);
        s.update_asks(attempt(2), &[ask(1, 1024)]);
        let grants = s.allocate();
        let hosts: Vec<(u32, &str)> =
            grants.iter().map(|g| (g.attempt.application.sequence, g.node.host.as_str())).collect();
        assert_eq!(hosts, [(1, "n2"), (1, "n2"), (1, "n2"), (2, "n1")], "another attempt still uses n1");
        s.update_blacklist(attempt(1), &["n2".into()], &[]);
        s.update_asks(attempt(1), &[ask(1, 1024)]);
        assert!(s.allocate().is_empty(), "every host is blacklisted: the ask waits");
        s.update_blacklist(attempt(1), &[], &["n1".into()]);
        assert_eq!(s.allocate()[0].node.host, "n1");
    }

    #[test]
    fn a_big_ask_does_not_block_a_small_one() {
        let mut s = FifoScheduler::new();
        s.add_node(node(1), Resource::new(2048, 8));
        s.update_asks(attempt(1), &[ask(1, 4096)]);
        s.update_asks(attempt(2), &[ask(1, 1024)]);
        let grants = s.allocate();
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].attempt, attempt(2));
    }

    #[test]
    fn removed_nodes_get_nothing_and_return_fresh() {
        let mut s = FifoScheduler::new();
        s.add_node(node(1), Resource::new(2048, 2));
        s.remove_node(&node(1));
        s.update_asks(attempt(1), &[ask(1, 1024)]);
        assert!(s.allocate().is_empty());
        assert_eq!(s.available(), Resource::ZERO);
        s.add_node(node(1), Resource::new(2048, 2));
        assert_eq!(s.allocate().len(), 1);
        assert_eq!(s.available(), Resource::new(1024, 1));
    }

    proptest! {
        #[test]
        fn no_node_goes_over_capacity_and_no_attempt_gets_more_than_it_asked(
            nodes in proptest::collection::vec((1i64..16, 1i32..8), 1..20),
            asks in proptest::collection::vec((1u32..10, 1i64..4, 1i32..3, 0i32..3), 1..30),
        ) {
            let mut s = FifoScheduler::new();
            let mut capacity = HashMap::new();
            for (i, (gb, cores)) in nodes.iter().enumerate() {
                let total = Resource::new(gb * 1024, *cores);
                s.add_node(node(i as u32), total);
                capacity.insert(node(i as u32), total);
            }
            let mut asked: HashMap<ApplicationAttemptId, u32> = HashMap::new();
            for (i, (n, gb, cores, priority)) in asks.iter().enumerate() {
                let a = attempt(i as u32 % 7);
                s.update_asks(a, &[Ask { priority: *priority, capability: Resource::new(gb * 1024, *cores), num_containers: *n }]);
                *asked.entry(a).or_default() += n;
            }
            let grants = s.allocate();
            let mut used: HashMap<NodeId, Resource> = HashMap::new();
            let mut got: HashMap<ApplicationAttemptId, u32> = HashMap::new();
            for g in &grants {
                *used.entry(g.node.clone()).or_default() += g.resource;
                *got.entry(g.attempt).or_default() += 1;
            }
            for (n, u) in &used {
                prop_assert!(capacity[n].fits(u), "node {} over capacity: {:?} > {:?}", n, u, capacity[n]);
            }
            for (a, n) in &got {
                prop_assert!(*n <= asked[a]);
            }
            let total: Resource = capacity.values().fold(Resource::ZERO, |acc, r| acc + *r);
            let used_total: Resource = used.values().fold(Resource::ZERO, |acc, r| acc + *r);
            prop_assert_eq!(s.available(), total - used_total);
        }
    }
}
