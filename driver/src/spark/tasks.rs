//! The task scheduler: task sets (one per stage attempt) waiting for cores, offered free cores of
//! registered executors one task per core, in FIFO (job, then stage) or FAIR order (fewest running
//! tasks first), with delay scheduling for locality (`spark.locality.wait` per level), retries up to
//! `spark.task.maxFailures`, and Spark's abort message. Plain state machine; no I/O, `now_ms` given.

use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Fifo,
    Fair,
}

/// Spark's locality levels, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Locality {
    ProcessLocal,
    NodeLocal,
    NoPref,
    Any,
}

impl Locality {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Locality::ProcessLocal => "PROCESS_LOCAL",
            Locality::NodeLocal => "NODE_LOCAL",
            Locality::NoPref => "NO_PREF",
            Locality::Any => "ANY",
        }
    }
}

/// Where a task would rather run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Prefs {
    pub(crate) executors: Vec<String>,
    pub(crate) hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SlotState {
    Pending,
    Running(u64),
    Done,
}

#[derive(Debug)]
struct Slot {
    prefs: Prefs,
    attempts: u32,
    failures: u32,
    state: SlotState,
}

#[derive(Debug)]
struct TaskSet {
    stage: u32,
    attempt: u32,
    job: u32,
    slots: Vec<Slot>,
    /// Task index → RDD partition (result stages compute a subset).
    running: usize,
    zombie: bool,
    level: usize,
    last_launch_ms: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct ExecutorSlot {
    pub(crate) host: String,
    pub(crate) free: usize,
}

/// A task to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    pub(crate) task_id: u64,
    pub(crate) stage: u32,
    pub(crate) stage_attempt: u32,
    pub(crate) index: usize,
    pub(crate) attempt: u32,
    pub(crate) executor: String,
    pub(crate) locality: Locality,
}

#[derive(Debug, Clone)]
struct Running {
    stage: u32,
    stage_attempt: u32,
    index: usize,
    attempt: u32,
    executor: String,
}

/// What became of a finished or failed task.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// First success of this index in the stage attempt.
    Succeeded { stage: u32, stage_attempt: u32, index: usize },
    /// Already done, or the attempt was zombie: ignore the result.
    Ignored,
    /// The task will be retried.
    Retry,
    /// The task failed `max_failures` times: Spark's `Task 3 in stage 1.0 failed 4 times, …`.
    Abort { stage: u32, message: String },
}

pub(crate) struct TaskScheduler {
    sets: Vec<TaskSet>,
    pub(crate) executors: BTreeMap<String, ExecutorSlot>,
    running: HashMap<u64, Running>,
    next_task_id: u64,
    max_failures: u32,
    mode: Mode,
    locality_wait_ms: u64,
}

impl TaskScheduler {
    pub(crate) fn new(mode: Mode, max_failures: u32, locality_wait_ms: u64) -> TaskScheduler {
        TaskScheduler {
            sets: Vec::new(),
            executors: BTreeMap::new(),
            running: HashMap::new(),
            next_task_id: 0,
            max_failures: max_failures.max(1),
            mode,
            locality_wait_ms,
        }
    }

    pub(crate) fn add_executor(&mut self, id: &str, host: &str, cores: usize) {
        self.executors.insert(id.to_owned(), ExecutorSlot { host: host.to_owned(), free: cores });
    }

    /// Forgets an executor; its running tasks go back to pending without counting as failures.
    pub(crate) fn remove_executor(&mut self, id: &str) -> Vec<u64> {
        self.executors.remove(id);
        let lost: Vec<u64> = self.running.iter().filter(|(_, r)| r.executor == id).map(|(t, _)| *t).collect();
        for task in &lost {
            if let Some(r) = self.running.remove(task) {
                if let Some(set) = self.set_mut(r.stage, r.stage_attempt) {
                    set.running -= 1;
                    if set.slots[r.index].state == SlotState::Running(*task) {
                        set.slots[r.index].state = SlotState::Pending;
                    }
                }
            }
        }
        lost
    }

    /// A stage attempt's tasks: `prefs[i]` for task index `i`; indexes not listed are already done.
    pub(crate) fn submit(
        &mut self,
        stage: u32,
        attempt: u32,
        job: u32,
        total: usize,
        tasks: Vec<(usize, Prefs)>,
        now_ms: u64,
    ) {
        let mut slots: Vec<Slot> = (0..total)
            .map(|_| Slot { prefs: Prefs::default(), attempts: 0, failures: 0, state: SlotState::Done })
            .collect();
        for (index, prefs) in tasks {
            slots[index] = Slot { prefs, attempts: 0, failures: 0, state: SlotState::Pending };
        }
        self.cancel(stage);
        self.sets.push(TaskSet {
            stage,
            attempt,
            job,
            slots,
            running: 0,
            zombie: false,
            level: 0,
            last_launch_ms: now_ms,
        });
    }

    /// Stops launching a stage's tasks (running ones finish; their results are ignored).
    pub(crate) fn cancel(&mut self, stage: u32) {
        for set in self.sets.iter_mut().filter(|s| s.stage == stage) {
            set.zombie = true;
        }
        self.sets.retain(|s| !(s.zombie && s.running == 0));
    }

    fn set_mut(&mut self, stage: u32, attempt: u32) -> Option<&mut TaskSet> {
        self.sets.iter_mut().find(|s| s.stage == stage && s.attempt == attempt)
    }

    fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.sets.len()).filter(|&i| !self.sets[i].zombie).collect();
        match self.mode {
            Mode::Fifo => order.sort_by_key(|&i| (self.sets[i].job, self.sets[i].stage)),
            Mode::Fair => order.sort_by_key(|&i| (self.sets[i].running, self.sets[i].job, self.sets[i].stage)),
        }
        order
    }

    /// One task per free core, as long as there is work the locality rules allow.
    pub(crate) fn offer(&mut self, now_ms: u64) -> Vec<Launch> {
        let mut launches = Vec::new();
        loop {
            let mut launched_any = false;
            let executors: Vec<(String, String)> =
                self.executors.iter().filter(|(_, e)| e.free > 0).map(|(id, e)| (id.clone(), e.host.clone())).collect();
            for (executor, host) in executors {
                for i in self.order() {
                    if let Some(launch) = self.launch_one(i, &executor, &host, now_ms) {
                        if let Some(e) = self.executors.get_mut(&executor) {
                            e.free -= 1;
                        }
                        launches.push(launch);
                        launched_any = true;
                        break;
                    }
                }
            }
            if !launched_any {
                return launches;
            }
        }
    }

    fn allowed(&mut self, i: usize, now_ms: u64) -> Locality {
        let wait = self.locality_wait_ms;
        let set = &mut self.sets[i];
        let levels = [Locality::ProcessLocal, Locality::NodeLocal, Locality::Any];
        let any_prefs = set.slots.iter().any(|s| s.state == SlotState::Pending && !s.prefs.executors.is_empty());
        if !any_prefs {
            return Locality::Any;
        }
        while set.level < levels.len() - 1 && now_ms.saturating_sub(set.last_launch_ms) >= wait {
            set.level += 1;
            set.last_launch_ms += wait;
        }
        levels[set.level]
    }

    fn launch_one(&mut self, i: usize, executor: &str, host: &str, now_ms: u64) -> Option<Launch> {
        let allowed = self.allowed(i, now_ms);
        let set = &self.sets[i];
        let pending = |s: &&Slot| s.state == SlotState::Pending;
        let pick = |want: Locality| -> Option<usize> {
            set.slots.iter().enumerate().filter(|(_, s)| pending(s)).find_map(|(index, s)| {
                let fits = match want {
                    Locality::ProcessLocal => s.prefs.executors.iter().any(|e| e == executor),
                    Locality::NodeLocal => s.prefs.hosts.iter().any(|h| h == host),
                    Locality::NoPref => s.prefs.executors.is_empty() && s.prefs.hosts.is_empty(),
                    Locality::Any => true,
                };
                fits.then_some(index)
            })
        };
        let (index, locality) = [Locality::ProcessLocal, Locality::NodeLocal, Locality::NoPref, Locality::Any]
            .into_iter()
            .filter(|l| *l <= allowed || *l == Locality::NoPref)
            .find_map(|l| pick(l).map(|index| (index, l)))?;
        let task_id = self.next_task_id;
        self.next_task_id += 1;
        let set = &mut self.sets[i];
        let slot = &mut set.slots[index];
        let attempt = slot.attempts;
        slot.attempts += 1;
        slot.state = SlotState::Running(task_id);
        set.running += 1;
        if locality != Locality::NoPref && locality != Locality::Any {
            set.level = 0;
        }
        set.last_launch_ms = now_ms;
        let (stage, stage_attempt) = (set.stage, set.attempt);
        self.running.insert(task_id, Running { stage, stage_attempt, index, attempt, executor: executor.to_owned() });
        Some(Launch { task_id, stage, stage_attempt, index, attempt, executor: executor.to_owned(), locality })
    }

    fn release(&mut self, task_id: u64) -> Option<Running> {
        let r = self.running.remove(&task_id)?;
        if let Some(e) = self.executors.get_mut(&r.executor) {
            e.free += 1;
        }
        if let Some(set) = self.set_mut(r.stage, r.stage_attempt) {
            set.running -= 1;
        }
        Some(r)
    }

    pub(crate) fn describe(&self, task_id: u64) -> Option<(u32, u32, usize, u32, String)> {
        self.running.get(&task_id).map(|r| (r.stage, r.stage_attempt, r.index, r.attempt, r.executor.clone()))
    }

    pub(crate) fn succeeded(&mut self, task_id: u64) -> Outcome {
        let Some(r) = self.release(task_id) else { return Outcome::Ignored };
        let Some(set) = self.set_mut(r.stage, r.stage_attempt) else { return Outcome::Ignored };
        let first = set.slots[r.index].state != SlotState::Done;
        set.slots[r.index].state = SlotState::Done;
        self.sets.retain(|s| !(s.running == 0 && (s.zombie || s.slots.iter().all(|x| x.state == SlotState::Done))));
        if first {
            Outcome::Succeeded { stage: r.stage, stage_attempt: r.stage_attempt, index: r.index }
        } else {
            Outcome::Ignored
        }
    }

    /// A failed attempt. `counts`: whether it counts toward `spark.task.maxFailures`; `lost` is
    /// Spark's `Lost task 1.0 in stage 0.0 (TID 1) (host executor 1): reason` text.
    pub(crate) fn failed(&mut self, task_id: u64, counts: bool, lost: &str) -> Outcome {
        let Some(r) = self.release(task_id) else { return Outcome::Ignored };
        let max = self.max_failures;
        let Some(set) = self.set_mut(r.stage, r.stage_attempt) else { return Outcome::Ignored };
        if set.zombie {
            return Outcome::Ignored;
        }
        let slot = &mut set.slots[r.index];
        if slot.state == SlotState::Done {
            return Outcome::Ignored;
        }
        slot.state = SlotState::Pending;
        if counts {
            slot.failures += 1;
        }
        if slot.failures >= max {
            let message = format!(
                "Task {} in stage {}.{} failed {} times, most recent failure: {lost}",
                r.index, r.stage, r.stage_attempt, slot.failures
            );
            set.zombie = true;
            return Outcome::Abort { stage: r.stage, message };
        }
        Outcome::Retry
    }

    /// Whether a stage attempt has tasks waiting or running (for the progress bar).
    pub(crate) fn counts(&self, stage: u32) -> Option<(usize, usize, usize)> {
        let set = self.sets.iter().rev().find(|s| s.stage == stage)?;
        let done = set.slots.iter().filter(|s| s.state == SlotState::Done).count();
        Some((done, set.running, set.slots.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(n: usize) -> Vec<(usize, Prefs)> {
        (0..n).map(|i| (i, Prefs::default())).collect()
    }

    #[test]
    fn one_task_per_free_core() {
        let mut ts = TaskScheduler::new(Mode::Fifo, 4, 3000);
        ts.add_executor("1", "h", 2);
        ts.submit(0, 0, 0, 5, none(5), 0);
        let launches = ts.offer(0);
        assert_eq!(launches.len(), 2);
        assert!(ts.offer(0).is_empty());
        assert_eq!(ts.succeeded(launches[0].task_id), Outcome::Succeeded { stage: 0, stage_attempt: 0, index: 0 });
        assert_eq!(ts.offer(0).len(), 1);
    }

    #[test]
    fn failures_retry_then_abort_with_sparks_message() {
        let mut ts = TaskScheduler::new(Mode::Fifo, 2, 3000);
        ts.add_executor("1", "h", 1);
        ts.submit(3, 0, 0, 1, none(1), 0);
        let t = ts.offer(0)[0].task_id;
        assert_eq!(ts.failed(t, true, "Lost task 0.0 …: boom"), Outcome::Retry);
        let l = ts.offer(0).remove(0);
        assert_eq!(l.attempt, 1);
        match ts.failed(l.task_id, true, "Lost task 0.1 in stage 3.0 (TID 1) (h executor 1): boom") {
            Outcome::Abort { stage, message } => {
                assert_eq!(stage, 3);
                assert_eq!(
                    message,
                    "Task 0 in stage 3.0 failed 2 times, most recent failure: Lost task 0.1 in stage 3.0 (TID 1) (h executor 1): boom"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uncounted_failures_and_lost_executors_do_not_abort() {
        let mut ts = TaskScheduler::new(Mode::Fifo, 1, 3000);
        ts.add_executor("1", "h", 1);
        ts.submit(0, 0, 0, 1, none(1), 0);
        let t = ts.offer(0)[0].task_id;
        assert_eq!(ts.failed(t, false, "fetch failed"), Outcome::Retry);
        let t = ts.offer(0)[0].task_id;
        assert_eq!(ts.remove_executor("1"), vec![t]);
        ts.add_executor("2", "h", 1);
        assert_eq!(ts.offer(0)[0].executor, "2");
    }

    #[test]
    fn locality_waits_then_falls_back() {
        let mut ts = TaskScheduler::new(Mode::Fifo, 4, 3000);
        ts.add_executor("1", "a", 1);
        let prefs = Prefs { executors: vec!["2".into()], hosts: vec!["b".into()] };
        ts.submit(0, 0, 0, 1, vec![(0, prefs)], 0);
        assert!(ts.offer(1000).is_empty(), "waits for executor 2");
        let l = ts.offer(6000);
        assert_eq!(l[0].locality, Locality::Any);
    }

    #[test]
    fn fair_mode_shares_cores_between_jobs() {
        let mut ts = TaskScheduler::new(Mode::Fair, 4, 0);
        ts.add_executor("1", "h", 4);
        ts.submit(0, 0, 0, 10, none(10), 0);
        ts.submit(1, 0, 1, 10, none(10), 0);
        let launches = ts.offer(0);
        let first = launches.iter().filter(|l| l.stage == 0).count();
        assert_eq!((first, launches.len()), (2, 4));
        let mut fifo = TaskScheduler::new(Mode::Fifo, 4, 0);
        fifo.add_executor("1", "h", 4);
        fifo.submit(0, 0, 0, 10, none(10), 0);
        fifo.submit(1, 0, 1, 10, none(10), 0);
        assert!(fifo.offer(0).iter().all(|l| l.stage == 0));
    }
}
