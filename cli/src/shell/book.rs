//! The distributed shell application master's bookkeeping, as plain data: how many containers it still
//! asks for, which granted containers it runs and which it gives back, how each one ended, and the final
//! status. The adapter (`am.rs`) feeds it allocate replies and start results and carries out what it
//! says; nothing here waits, sleeps or talks to the network.
//!
//! A container's life in the book:
//!
//! ```text
//!   granted ──needed──► Starting ──NodeManager started it──► Running ──completed, exit 0──► Succeeded
//!           │                    └─NodeManager refused──► Failed(NotStarted) (and released)
//!           │                                              Running ──completed, exit ≠ 0──► Failed(Exited)
//!           │                                              Running ──completed, -100──► replaced
//!           └─surplus──► released (its completion is ignored)
//! ```
//!
//! The ask is absolute: `wanted − taken`, so resending it asks for nothing more. A container that
//! ended with -100 (ABORTED: its node was lost or shut down, or the grant expired) is no one's fault:
//! as YARN's distributed shell does, the book forgets it and asks for a replacement. Any other failure
//! is final: the shell runs the command exactly `wanted` times.

use std::collections::{BTreeMap, BTreeSet};

use weft_proto::states::FinalStatus;
use weft_proto::{exit_status, ContainerId, Resource};
pub(crate) use weft_yarn_client::grant::{Ask, Grant};

/// Diagnostics sent to the ResourceManager stay under this many bytes.
const MAX_DIAGNOSTICS_BYTES: usize = 4096;
/// One container's own diagnostics are cut to this many characters.
const MAX_CONTAINER_DIAGNOSTICS_CHARS: usize = 1000;

/// How a container failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Exited { status: i32, diagnostics: String },
    NotStarted { node_id: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// Handed to the adapter to start. Leaves on `started` or `start_failed`.
    Starting {
        node_id: String,
    },
    /// Started by its NodeManager. Leaves on `completed`.
    Running {
        node_id: String,
    },
    Succeeded,
    Failed(Failure),
}

impl Slot {
    fn is_live(&self) -> bool {
        matches!(self, Slot::Starting { .. } | Slot::Running { .. })
    }
}

/// What a completion report meant to the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Completion {
    Succeeded,
    Failed,
    /// Ended with -100 through no fault of its own: a replacement is asked for.
    Replaced,
    /// A container given back as surplus, one already counted, or one the book never took.
    Ignored,
}

/// What the grants of one allocate reply became.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Taken {
    /// Needed: start the command in these.
    pub(crate) to_start: Vec<Grant>,
    /// Not needed: queued for release with the next allocate call.
    pub(crate) surplus: Vec<ContainerId>,
}

/// The application's end, for FinishApplicationMaster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) final_status: FinalStatus,
    pub(crate) diagnostics: String,
}

#[derive(Debug)]
pub(crate) struct Book {
    wanted: u32,
    capability: Resource,
    priority: i32,
    /// Invariant: at most `wanted` entries; every granted container the book took, in id order.
    slots: BTreeMap<ContainerId, Slot>,
    released: BTreeSet<ContainerId>,
    to_release: Vec<ContainerId>,
}

impl Book {
    pub(crate) fn new(wanted: u32, capability: Resource, priority: i32) -> Book {
        Book { wanted, capability, priority, slots: BTreeMap::new(), released: BTreeSet::new(), to_release: Vec::new() }
    }

    fn taken(&self) -> u32 {
        u32::try_from(self.slots.len()).expect("at most `wanted` slots")
    }

    /// Containers still to be granted.
    pub(crate) fn outstanding(&self) -> u32 {
        self.wanted - self.taken()
    }

    pub(crate) fn ask(&self) -> Ask {
        Ask { priority: self.priority, capability: self.capability, num_containers: self.outstanding() }
    }

    /// Containers to give back with the next allocate call (then forgotten by the queue).
    pub(crate) fn take_releases(&mut self) -> Vec<ContainerId> {
        std::mem::take(&mut self.to_release)
    }

    pub(crate) fn has_releases(&self) -> bool {
        !self.to_release.is_empty()
    }

    /// Takes the grants still needed and queues the rest for release. A repeated grant is ignored.
    pub(crate) fn granted(&mut self, grants: Vec<Grant>) -> Taken {
        let mut taken = Taken::default();
        for grant in grants {
            if self.slots.contains_key(&grant.id) || self.released.contains(&grant.id) {
                continue;
            }
            if self.outstanding() > 0 {
                self.slots.insert(grant.id, Slot::Starting { node_id: grant.node_id.clone() });
                taken.to_start.push(grant);
            } else {
                self.release(grant.id);
                taken.surplus.push(grant.id);
            }
        }
        taken
    }

    fn release(&mut self, id: ContainerId) {
        self.released.insert(id);
        self.to_release.push(id);
    }

    /// The NodeManager started the command in `id`.
    pub(crate) fn started(&mut self, id: ContainerId) {
        if let Some(slot) = self.slots.get_mut(&id) {
            if let Slot::Starting { node_id } = slot {
                *slot = Slot::Running { node_id: std::mem::take(node_id) };
            }
        }
    }

    /// The NodeManager could not start `id`: it counts as failed and is given back.
    pub(crate) fn start_failed(&mut self, id: ContainerId, message: String) {
        let Some(slot) = self.slots.get_mut(&id) else { return };
        let Slot::Starting { node_id } = slot else { return };
        *slot = Slot::Failed(Failure::NotStarted { node_id: std::mem::take(node_id), message });
        self.release(id);
    }

    /// The ResourceManager reported `id` complete.
    pub(crate) fn completed(&mut self, id: ContainerId, status: i32, diagnostics: &str) -> Completion {
        let Some(slot) = self.slots.get_mut(&id) else { return Completion::Ignored };
        if !slot.is_live() {
            return Completion::Ignored;
        }
        if status == exit_status::SUCCESS {
            *slot = Slot::Succeeded;
            Completion::Succeeded
        } else if status == exit_status::ABORTED {
            // Forgotten (a late report of it is ignored), so the ask grows by one again.
            self.slots.remove(&id);
            self.released.insert(id);
            Completion::Replaced
        } else {
            *slot = Slot::Failed(Failure::Exited { status, diagnostics: diagnostics.to_owned() });
            Completion::Failed
        }
    }

    /// Every wanted container was granted and has ended.
    pub(crate) fn is_done(&self) -> bool {
        self.outstanding() == 0 && !self.slots.values().any(Slot::is_live)
    }

    /// Something is asked for, starting or running (the adapter then polls faster).
    pub(crate) fn is_busy(&self) -> bool {
        self.outstanding() > 0 || self.slots.values().any(Slot::is_live)
    }

    /// Share of the wanted containers that have ended, 0–1.
    pub(crate) fn progress(&self) -> f32 {
        if self.wanted == 0 {
            return 1.0;
        }
        let ended = self.slots.values().filter(|s| !s.is_live()).count();
        ended as f32 / self.wanted as f32
    }

    /// SUCCEEDED when every container exited 0, else FAILED naming each failed container and how.
    pub(crate) fn outcome(&self) -> Outcome {
        let failures: Vec<(ContainerId, &Failure)> = self
            .slots
            .iter()
            .filter_map(|(id, slot)| match slot {
                Slot::Failed(failure) => Some((*id, failure)),
                _ => None,
            })
            .collect();
        if failures.is_empty() {
            return Outcome { final_status: FinalStatus::SUCCEEDED, diagnostics: String::new() };
        }
        let mut diagnostics = format!("{} of {} containers failed:", failures.len(), self.wanted);
        for (shown, (id, failure)) in failures.iter().enumerate() {
            let line = failure_line(*id, failure);
            if diagnostics.len() + 1 + line.len() > MAX_DIAGNOSTICS_BYTES {
                diagnostics.push_str(&format!("\n… and {} more", failures.len() - shown));
                break;
            }
            diagnostics.push('\n');
            diagnostics.push_str(&line);
        }
        Outcome { final_status: FinalStatus::FAILED, diagnostics }
    }
}

/// `container <id> exited with status 3: <its diagnostics>`, or why it never started.
pub(crate) fn failure_line(id: ContainerId, failure: &Failure) -> String {
    match failure {
        Failure::Exited { status, diagnostics } => {
            let name =
                exit_status::name(*status).filter(|_| *status < 0).map(|n| format!(" ({n})")).unwrap_or_default();
            let diagnostics = shorten(diagnostics.trim(), MAX_CONTAINER_DIAGNOSTICS_CHARS);
            if diagnostics.is_empty() {
                format!("container {id} exited with status {status}{name}")
            } else {
                format!("container {id} exited with status {status}{name}: {diagnostics}")
            }
        }
        Failure::NotStarted { node_id, message } => {
            format!(
                "container {id} could not be started on {node_id}: {}",
                shorten(message, MAX_CONTAINER_DIAGNOSTICS_CHARS)
            )
        }
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
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
            resource: Resource::new(1024, 1),
            token: Vec::new(),
        }
    }

    /// Replays `events` on a book that wants three containers; returns it for the checks.
    fn run(events: &[Event]) -> Book {
        let mut book = Book::new(3, Resource::new(512, 1), 1);
        for event in events {
            match event {
                Event::Granted(ns) => {
                    book.granted(ns.iter().map(|n| grant(*n)).collect());
                }
                Event::Started(n) => book.started(cid(*n)),
                Event::StartFailed(n, message) => book.start_failed(cid(*n), (*message).to_owned()),
                Event::Completed(n, status, diagnostics) => {
                    book.completed(cid(*n), *status, diagnostics);
                }
            }
        }
        book
    }

    enum Event {
        Granted(&'static [u64]),
        Started(u64),
        StartFailed(u64, &'static str),
        Completed(u64, i32, &'static str),
    }
    use Event::*;

    fn check(book: &Book, final_status: FinalStatus, diagnostics: &str) {
        assert!(book.is_done(), "{book:?}");
        assert_eq!(book.outcome(), Outcome { final_status, diagnostics: diagnostics.to_owned() });
    }

    #[test]
    fn all_succeeded() {
        let book = run(&[
            Granted(&[2, 3]),
            Started(2),
            Started(3),
            Granted(&[4]),
            Started(4),
            Completed(3, 0, ""),
            Completed(2, 0, ""),
            Completed(4, 0, ""),
        ]);
        check(&book, FinalStatus::SUCCEEDED, "");
        assert_eq!(book.progress(), 1.0);
    }

    #[test]
    fn one_failed() {
        let book = run(&[
            Granted(&[2, 3, 4]),
            Started(2),
            Started(3),
            Started(4),
            Completed(2, 0, ""),
            Completed(3, 3, "Exception from container-launch.\nExit code: 3"),
            Completed(4, 0, ""),
        ]);
        check(
            &book,
            FinalStatus::FAILED,
            "1 of 3 containers failed:\ncontainer container_1700000000000_0001_01_000003 exited with status 3: \
             Exception from container-launch.\nExit code: 3",
        );
    }

    #[test]
    fn a_start_failure_counts_as_failed_and_is_released() {
        let mut book = run(&[
            Granted(&[2, 3, 4]),
            Started(2),
            StartFailed(3, "cannot reach the NodeManager at node1:8041: refused"),
            Started(4),
        ]);
        assert_eq!(book.take_releases(), [cid(3)]);
        assert!(!book.is_done());
        assert_eq!(book.completed(cid(3), exit_status::ABORTED, "released"), Completion::Ignored);
        book.completed(cid(2), 0, "");
        book.completed(cid(4), exit_status::KILLED_EXCEEDED_PMEM, "Container [pid=1,containerID=x] is running …");
        check(
            &book,
            FinalStatus::FAILED,
            "2 of 3 containers failed:\n\
             container container_1700000000000_0001_01_000003 could not be started on node1:8041: \
             cannot reach the NodeManager at node1:8041: refused\n\
             container container_1700000000000_0001_01_000004 exited with status -104 (KILLED_EXCEEDED_PMEM): \
             Container [pid=1,containerID=x] is running …",
        );
    }

    #[test]
    fn a_container_aborted_with_its_node_is_replaced_and_the_app_still_succeeds() {
        let mut book = Book::new(2, Resource::new(512, 1), 1);
        let taken = book.granted(vec![grant(2), grant(3)]);
        assert_eq!(taken.to_start.len(), 2);
        book.started(cid(2));
        book.started(cid(3));
        let lost = "Container released on a *lost* node";
        assert_eq!(book.completed(cid(3), exit_status::ABORTED, lost), Completion::Replaced);
        assert_eq!(book.ask().num_containers, 1, "a replacement is asked for");
        assert!(!book.is_done());
        assert_eq!(book.completed(cid(3), exit_status::ABORTED, lost), Completion::Ignored, "reported once");
        let taken = book.granted(vec![grant(4)]);
        assert_eq!(taken.to_start, [grant(4)]);
        book.started(cid(4));
        book.completed(cid(2), 0, "");
        book.completed(cid(4), 0, "");
        assert!(book.is_done());
        check(&book, FinalStatus::SUCCEEDED, "");
        // Any other failure is final.
        let mut book = Book::new(1, Resource::new(512, 1), 1);
        book.granted(vec![grant(2)]);
        book.started(cid(2));
        assert_eq!(book.completed(cid(2), exit_status::KILLED_BY_RESOURCEMANAGER, ""), Completion::Failed);
        assert_eq!(book.ask().num_containers, 0);
    }

    #[test]
    fn surplus_allocations_are_released_and_their_completion_ignored() {
        let mut book = Book::new(2, Resource::new(512, 1), 1);
        assert_eq!(book.ask().num_containers, 2);
        let taken = book.granted(vec![grant(2), grant(3), grant(4)]);
        assert_eq!(taken.to_start, [grant(2), grant(3)]);
        assert_eq!(taken.surplus, [cid(4)]);
        assert_eq!(book.ask(), Ask { priority: 1, capability: Resource::new(512, 1), num_containers: 0 });
        assert_eq!(book.take_releases(), [cid(4)]);
        assert!(book.take_releases().is_empty(), "a release is sent once");
        let again = book.granted(vec![grant(4), grant(2), grant(5)]);
        assert_eq!(again.to_start, []);
        assert_eq!(again.surplus, [cid(5)], "repeated grants are ignored, new ones are surplus");
        assert_eq!(book.completed(cid(4), exit_status::ABORTED, ""), Completion::Ignored);
        book.started(cid(2));
        book.started(cid(3));
        assert!(book.is_busy() && !book.is_done());
        assert_eq!(book.completed(cid(2), 0, ""), Completion::Succeeded);
        assert_eq!(book.completed(cid(2), 0, ""), Completion::Ignored, "a completion counts once");
        assert_eq!(book.completed(cid(3), 1, ""), Completion::Failed);
        assert!(book.is_done() && !book.is_busy());
        assert_eq!(book.outcome().final_status, FinalStatus::FAILED);
    }

    #[test]
    fn the_ask_shrinks_as_grants_arrive() {
        let mut book = Book::new(3, Resource::new(512, 1), 1);
        assert_eq!(book.ask().num_containers, 3);
        book.granted(vec![grant(2)]);
        assert_eq!(book.ask().num_containers, 2);
        assert_eq!(book.progress(), 0.0);
        assert!(book.is_busy());
    }

    #[test]
    fn diagnostics_stay_short() {
        let mut book = Book::new(50, Resource::new(512, 1), 1);
        let grants: Vec<Grant> = (2..52).map(grant).collect();
        book.granted(grants);
        let long = "x".repeat(5000);
        for n in 2..52 {
            book.started(cid(n));
            book.completed(cid(n), 1, &long);
        }
        let outcome = book.outcome();
        assert!(outcome.diagnostics.len() <= MAX_DIAGNOSTICS_BYTES + 32, "{}", outcome.diagnostics.len());
        assert!(outcome.diagnostics.starts_with("50 of 50 containers failed:"));
        assert!(outcome.diagnostics.ends_with("more"), "{}", outcome.diagnostics);
    }
}
