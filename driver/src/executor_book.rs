//! The Spark application master's executor bookkeeping, as plain data: how many executor containers it
//! still asks for, which executor id runs in which container, which grants it gives back, which
//! completions count as executor failures, and when there have been too many. The adapter
//! (`yarn_am.rs`) feeds it allocate replies, start results and the driver's kills, and carries out
//! what it returns; nothing here waits, sleeps or talks to the network.
//!
//! An executor's life in the book:
//!
//! ```text
//!   grant ──needed: next id──► Starting ──NodeManager started it──► Running ──completed──► gone (Exited)
//!         │                            └─NodeManager refused──► gone (Exited, released)
//!         └─surplus──► released          Starting/Running ──kill / stop──► gone (released; no event)
//! ```
//!
//! The target stays `instances`: an executor that is gone is replaced by asking for one more
//! container, until `max_failures` executors have failed (Spark's check, `failed >= maxNumFailures`);
//! from then on nothing more is asked for. The ask is absolute (`target − live executors`), as the
//! protocol replaces the previous ask with it. Executor ids are `1`, `2`, … in the order grants are
//! taken, and never reused.
//!
//! Which endings are failures follows Spark's `exitCausedByApp` as `facts/yarn.md` §2.4 records it:
//! exit 0, preemption (-102) and the cluster's own endings (-100, -101, -105, -106, -107) are not;
//! memory kills (-103, -104), any other exit status, and a NodeManager refusing to start the
//! container are. Containers the application released or killed are never failures.

use std::collections::{BTreeMap, BTreeSet};

use weft_proto::{exit_status, ContainerId, Resource};

use weft_yarn_client::grant::{Ask, Grant, ToStop};

/// The one priority executors are asked at.
pub(crate) const EXECUTOR_PRIORITY: i32 = 1;

/// What the application master tells the driver, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AmEvent {
    /// The NodeManager started the executor's container.
    Launched { executor_id: String, container: ContainerId, host: String },
    /// The container could not be started, or completed (exited, killed, node lost). `exit_status` is
    /// YARN's (-1000, INVALID, when the NodeManager did not start it); `diagnostics` is the
    /// ResourceManager's text (or the NodeManager's refusal); `external` is true when the cluster ended
    /// it (-100 … -108: released, lost node, preempted, memory kills) rather than the process exiting
    /// by itself.
    Exited { executor_id: String, container: ContainerId, exit_status: i32, diagnostics: String, external: bool },
    /// `max_failures` executors have failed: Spark's message, `Max number of executor failures (N) reached`.
    /// Sent once; no executor is replaced after it.
    TooManyFailures { message: String },
}

/// Whether an ending with this exit status counts toward `spark.executor.maxNumFailures`.
pub(crate) fn counts_as_failure(status: i32) -> bool {
    !matches!(
        status,
        exit_status::SUCCESS
            | exit_status::PREEMPTED
            | exit_status::ABORTED
            | exit_status::DISKS_FAILED
            | exit_status::KILLED_BY_APPMASTER
            | exit_status::KILLED_BY_RESOURCEMANAGER
            | exit_status::KILLED_AFTER_APP_COMPLETION
    )
}

/// Whether the cluster ended the container (YARN's negative statuses -100 … -108).
pub(crate) fn is_external(status: i32) -> bool {
    (exit_status::KILLED_BY_CONTAINER_SCHEDULER..=exit_status::ABORTED).contains(&status)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Handed to the adapter to start. Leaves on `started` or `start_failed` (or a completion).
    Starting,
    /// Started by its NodeManager. Leaves on `completed`.
    Running,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Executor {
    executor_id: String,
    node_id: String,
    node_address: String,
    phase: Phase,
}

/// What the grants of one allocate reply became.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Taken {
    /// Needed: start an executor in each, with the id given.
    pub(crate) to_start: Vec<(String, Grant)>,
    /// Not needed: queued for release with the next allocate call.
    pub(crate) surplus: Vec<ContainerId>,
}

#[derive(Debug)]
pub(crate) struct ExecutorBook {
    target: usize,
    capability: Resource,
    max_failures: usize,
    /// Executor ids handed out so far; the next one is `issued + 1`.
    issued: u64,
    /// Invariant: at most `target` entries; the executors starting or running, by container.
    live: BTreeMap<ContainerId, Executor>,
    /// Containers given back (surplus, refused, killed); their completions are not failures.
    released: BTreeSet<ContainerId>,
    to_release: Vec<ContainerId>,
    failures: usize,
    /// Set once `failures` reached `max_failures`: nothing more is asked for.
    gave_up: bool,
    /// Set by `stop`: nothing more is asked for or started.
    stopping: bool,
}

impl ExecutorBook {
    pub(crate) fn new(instances: usize, capability: Resource, max_failures: usize) -> ExecutorBook {
        ExecutorBook {
            target: instances,
            capability,
            max_failures,
            issued: 0,
            live: BTreeMap::new(),
            released: BTreeSet::new(),
            to_release: Vec::new(),
            failures: 0,
            gave_up: false,
            stopping: false,
        }
    }

    /// Executors still to be granted.
    pub(crate) fn outstanding(&self) -> usize {
        if self.gave_up || self.stopping {
            return 0;
        }
        self.target - self.live.len()
    }

    pub(crate) fn ask(&self) -> Ask {
        Ask {
            priority: EXECUTOR_PRIORITY,
            capability: self.capability,
            num_containers: u32::try_from(self.outstanding()).unwrap_or(u32::MAX),
        }
    }

    /// Containers to give back with the next allocate call (then forgotten by the queue).
    pub(crate) fn take_releases(&mut self) -> Vec<ContainerId> {
        std::mem::take(&mut self.to_release)
    }

    /// Something is asked for or starting (the adapter then polls faster).
    pub(crate) fn is_pending(&self) -> bool {
        self.outstanding() > 0 || self.live.values().any(|e| e.phase == Phase::Starting)
    }

    /// Executor failures counted so far.
    pub(crate) fn failures(&self) -> usize {
        self.failures
    }

    /// Executors starting or running.
    #[cfg(test)]
    fn live(&self) -> usize {
        self.live.len()
    }

    /// Takes the grants still needed, giving each the next executor id, and queues the rest for
    /// release. A repeated grant is ignored.
    pub(crate) fn granted(&mut self, grants: Vec<Grant>) -> Taken {
        let mut taken = Taken::default();
        for grant in grants {
            if self.live.contains_key(&grant.id) || self.released.contains(&grant.id) {
                continue;
            }
            if self.outstanding() == 0 {
                self.release(grant.id);
                taken.surplus.push(grant.id);
                continue;
            }
            self.issued += 1;
            let executor_id = self.issued.to_string();
            let executor = Executor {
                executor_id: executor_id.clone(),
                node_id: grant.node_id.clone(),
                node_address: grant.node_address.clone(),
                phase: Phase::Starting,
            };
            self.live.insert(grant.id, executor);
            taken.to_start.push((executor_id, grant));
        }
        taken
    }

    fn release(&mut self, id: ContainerId) {
        if self.released.insert(id) {
            self.to_release.push(id);
        }
    }

    /// The NodeManager started `id`: the executor is launched.
    pub(crate) fn started(&mut self, id: ContainerId) -> Option<AmEvent> {
        let executor = self.live.get_mut(&id).filter(|e| e.phase == Phase::Starting)?;
        executor.phase = Phase::Running;
        let host = host_of(&executor.node_id).to_owned();
        Some(AmEvent::Launched { executor_id: executor.executor_id.clone(), container: id, host })
    }

    /// The NodeManager could not start `id`: the executor failed, and its container is given back.
    pub(crate) fn start_failed(&mut self, id: ContainerId, message: String) -> Vec<AmEvent> {
        if self.live.get(&id).is_none_or(|e| e.phase != Phase::Starting) {
            return Vec::new();
        }
        self.release(id);
        self.ended(id, exit_status::INVALID, message, true)
    }

    /// The ResourceManager reported `id` complete. Completions of released containers, or of
    /// containers the book never took, mean nothing.
    pub(crate) fn completed(&mut self, id: ContainerId, status: i32, diagnostics: &str) -> Vec<AmEvent> {
        if self.released.contains(&id) || !self.live.contains_key(&id) {
            return Vec::new();
        }
        self.ended(id, status, diagnostics.to_owned(), counts_as_failure(status))
    }

    fn ended(&mut self, id: ContainerId, status: i32, diagnostics: String, failed: bool) -> Vec<AmEvent> {
        let executor = self.live.remove(&id).expect("callers checked the executor is live");
        let mut events = vec![AmEvent::Exited {
            executor_id: executor.executor_id,
            container: id,
            exit_status: status,
            diagnostics,
            external: is_external(status),
        }];
        if failed {
            self.failures += 1;
            if self.failures >= self.max_failures && !self.gave_up {
                self.gave_up = true;
                let message = format!("Max number of executor failures ({}) reached", self.max_failures);
                events.push(AmEvent::TooManyFailures { message });
            }
        }
        events
    }

    /// The driver gave up on `executor_id`: its container is released and should be stopped; a
    /// replacement is asked for. `None` when no such executor is starting or running.
    pub(crate) fn kill(&mut self, executor_id: &str) -> Option<ToStop> {
        let id = *self.live.iter().find(|(_, e)| e.executor_id == executor_id)?.0;
        let executor = self.live.remove(&id).expect("found above");
        self.release(id);
        Some(ToStop { container: id, node_id: executor.node_id, node_address: executor.node_address })
    }

    /// The application is ending: every executor's container is released and should be stopped, and
    /// nothing more is asked for or started.
    pub(crate) fn stop(&mut self) -> Vec<ToStop> {
        self.stopping = true;
        let live = std::mem::take(&mut self.live);
        live.into_iter()
            .map(|(id, executor)| {
                self.release(id);
                ToStop { container: id, node_id: executor.node_id, node_address: executor.node_address }
            })
            .collect()
    }
}

/// `host` of a `host:port` node id.
fn host_of(node_id: &str) -> &str {
    node_id.rsplit_once(':').map_or(node_id, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(n: u64) -> ContainerId {
        weft_proto::ApplicationId::new(1700000000000, 1).attempt(1).container(n)
    }

    fn grant(n: u64) -> Grant {
        Grant {
            id: cid(n),
            node_id: format!("node{}:8041", n % 2),
            node_address: format!("node{}:8041", n % 2),
            resource: Resource::new(2048, 2),
            token: Vec::new(),
        }
    }

    fn book(instances: usize, max_failures: usize) -> ExecutorBook {
        ExecutorBook::new(instances, Resource::new(1408, 2), max_failures)
    }

    /// Grants and starts containers `ns`; returns the executor ids they got.
    fn launch(book: &mut ExecutorBook, ns: &[u64]) -> Vec<String> {
        let taken = book.granted(ns.iter().map(|n| grant(*n)).collect());
        for (_, g) in &taken.to_start {
            assert!(book.started(g.id).is_some());
        }
        taken.to_start.into_iter().map(|(id, _)| id).collect()
    }

    fn exited(executor_id: &str, n: u64, exit_status: i32, diagnostics: &str, external: bool) -> AmEvent {
        AmEvent::Exited {
            executor_id: executor_id.into(),
            container: cid(n),
            exit_status,
            diagnostics: diagnostics.into(),
            external,
        }
    }

    fn too_many(n: usize) -> AmEvent {
        AmEvent::TooManyFailures { message: format!("Max number of executor failures ({n}) reached") }
    }

    #[test]
    fn asks_for_the_target_then_for_what_is_still_missing() {
        let mut book = book(3, 6);
        assert_eq!(book.ask(), Ask { priority: 1, capability: Resource::new(1408, 2), num_containers: 3 });
        assert!(book.is_pending());
        let taken = book.granted(vec![grant(2), grant(3)]);
        assert_eq!(taken.to_start, [("1".to_owned(), grant(2)), ("2".to_owned(), grant(3))]);
        assert_eq!(book.ask().num_containers, 1);
        assert_eq!(
            book.started(cid(2)),
            Some(AmEvent::Launched { executor_id: "1".into(), container: cid(2), host: "node0".into() })
        );
        assert_eq!(book.started(cid(2)), None, "a launch is reported once");
        book.started(cid(3));
        assert!(book.is_pending(), "one more is asked for");
        assert_eq!(launch(&mut book, &[4]), ["3"]);
        assert_eq!(book.ask().num_containers, 0);
        assert!(!book.is_pending(), "steady: every executor runs");
        assert_eq!(book.live(), 3);
    }

    #[test]
    fn surplus_grants_are_released_once_and_repeats_ignored() {
        let mut book = book(2, 4);
        let taken = book.granted(vec![grant(2), grant(3), grant(4)]);
        assert_eq!(taken.to_start.len(), 2);
        assert_eq!(taken.surplus, [cid(4)]);
        assert_eq!(book.take_releases(), [cid(4)]);
        assert!(book.take_releases().is_empty(), "a release is sent once");
        let again = book.granted(vec![grant(4), grant(2), grant(5)]);
        assert_eq!(again, Taken { to_start: Vec::new(), surplus: vec![cid(5)] });
        assert_eq!(book.completed(cid(4), exit_status::ABORTED, "Container released by application"), []);
    }

    #[test]
    fn an_exited_executor_is_replaced_with_a_new_id() {
        let mut book = book(2, 4);
        assert_eq!(launch(&mut book, &[2, 3]), ["1", "2"]);
        let events = book.completed(cid(3), 1, "Exception from container-launch.");
        assert_eq!(events, [exited("2", 3, 1, "Exception from container-launch.", false)]);
        assert_eq!(book.failures(), 1);
        assert_eq!(book.ask().num_containers, 1, "the target stays 2");
        assert_eq!(launch(&mut book, &[4]), ["3"], "ids are never reused");
        assert_eq!(book.completed(cid(3), 1, ""), [], "a completion counts once");
    }

    #[test]
    fn which_endings_are_failures() {
        let check = |status: i32, failure: bool, external: bool| {
            assert_eq!((counts_as_failure(status), is_external(status)), (failure, external), "status {status}");
        };
        check(exit_status::SUCCESS, false, false);
        check(1, true, false);
        check(143, true, false);
        check(exit_status::ABORTED, false, true);
        check(exit_status::DISKS_FAILED, false, true);
        check(exit_status::PREEMPTED, false, true);
        check(exit_status::KILLED_EXCEEDED_VMEM, true, true);
        check(exit_status::KILLED_EXCEEDED_PMEM, true, true);
        check(exit_status::KILLED_BY_APPMASTER, false, true);
        check(exit_status::KILLED_BY_RESOURCEMANAGER, false, true);
        check(exit_status::KILLED_AFTER_APP_COMPLETION, false, true);
        check(exit_status::KILLED_BY_CONTAINER_SCHEDULER, true, true);
        check(exit_status::INVALID, true, false);
    }

    #[test]
    fn a_lost_node_or_preemption_is_replaced_without_counting() {
        let mut book = book(2, 1);
        launch(&mut book, &[2, 3]);
        let lost = book.completed(cid(2), exit_status::ABORTED, "Container released on a *lost* node");
        assert_eq!(lost, [exited("1", 2, -100, "Container released on a *lost* node", true)]);
        let preempted = book.completed(cid(3), exit_status::PREEMPTED, "preempted");
        assert_eq!(preempted, [exited("2", 3, -102, "preempted", true)]);
        assert_eq!((book.failures(), book.ask().num_containers), (0, 2));
    }

    #[test]
    fn the_failure_that_reaches_max_failures_stops_replacement() {
        let mut book = book(2, 2);
        launch(&mut book, &[2, 3]);
        let pmem = "Container [pid=7,containerID=c] is running 1B beyond the 'PHYSICAL' memory limit. \
                    Current usage: 2.1 GB of 2 GB physical memory used";
        assert_eq!(book.completed(cid(2), exit_status::KILLED_EXCEEDED_PMEM, pmem), [exited("1", 2, -104, pmem, true)]);
        assert_eq!(book.ask().num_containers, 1);
        assert_eq!(launch(&mut book, &[4]), ["3"]);
        let events = book.completed(cid(3), 52, "");
        assert_eq!(events, [exited("2", 3, 52, "", false), too_many(2)]);
        assert_eq!(book.ask().num_containers, 0, "no replacement after too many failures");
        let late = book.granted(vec![grant(5)]);
        assert_eq!(late.surplus, [cid(5)]);
        assert_eq!(book.completed(cid(4), 1, ""), [exited("3", 4, 1, "", false)], "said once");
        assert_eq!(book.failures(), 3);
    }

    #[test]
    fn a_refused_start_is_a_failure_and_its_container_released() {
        let mut book = book(1, 3);
        let taken = book.granted(vec![grant(2)]);
        assert_eq!(taken.to_start[0].0, "1");
        let events = book.start_failed(cid(2), "the NodeManager at node0:8041 refused: no such user".into());
        assert_eq!(events, [exited("1", 2, -1000, "the NodeManager at node0:8041 refused: no such user", false)]);
        assert_eq!(book.take_releases(), [cid(2)]);
        assert_eq!(book.completed(cid(2), exit_status::ABORTED, "Container released by application"), []);
        assert_eq!((book.failures(), book.ask().num_containers), (1, 1));
        assert_eq!(book.started(cid(2)), None);
    }

    #[test]
    fn max_failures_zero_gives_up_at_the_first_failure() {
        let mut book = book(1, 0);
        launch(&mut book, &[2]);
        assert_eq!(book.completed(cid(2), 1, ""), [exited("1", 2, 1, "", false), too_many(0)]);
    }

    #[test]
    fn a_killed_executor_is_released_replaced_and_not_a_failure() {
        let mut book = book(2, 1);
        launch(&mut book, &[2, 3]);
        assert_eq!(book.kill("9"), None);
        assert_eq!(
            book.kill("2"),
            Some(ToStop { container: cid(3), node_id: "node1:8041".into(), node_address: "node1:8041".into() })
        );
        assert_eq!(book.kill("2"), None, "killed once");
        assert_eq!(book.take_releases(), [cid(3)]);
        assert_eq!(book.completed(cid(3), exit_status::KILLED_BY_APPMASTER, ""), []);
        assert_eq!((book.failures(), book.ask().num_containers), (0, 1));
        assert_eq!(launch(&mut book, &[4]), ["3"]);
    }

    #[test]
    fn stop_releases_everything_and_asks_for_nothing() {
        let mut book = book(3, 6);
        launch(&mut book, &[2, 3]);
        let stops = book.stop();
        assert_eq!(stops.iter().map(|s| s.container).collect::<Vec<_>>(), [cid(2), cid(3)]);
        assert_eq!(book.take_releases(), [cid(2), cid(3)]);
        assert_eq!((book.ask().num_containers, book.live(), book.is_pending()), (0, 0, false));
        assert_eq!(book.granted(vec![grant(4)]).surplus, [cid(4)]);
        assert_eq!(book.completed(cid(2), 143, ""), []);
    }

    #[test]
    fn hosts_come_from_node_ids() {
        assert_eq!(host_of("worker-3.example:8041"), "worker-3.example");
        assert_eq!(host_of("[::1]:8041"), "[::1]");
        assert_eq!(host_of("bare"), "bare");
    }
}
