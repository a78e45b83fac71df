//! The task scheduler: task sets (one per stage attempt) waiting for cores, offered free cores of
//! registered executors one task per core, in FIFO (job, then stage) or FAIR order (fewest running
//! tasks first), with delay scheduling for locality (`spark.locality.wait` per level), retries up to
//! `spark.task.maxFailures` and Spark's abort message; speculative copies of slow tasks
//! ([`speculation`]); exclusion of executors and nodes on which tasks failed ([`exclusion`]); and
//! `spark.driver.maxResultSize` over each task set's results. Plain state machine; no I/O, `now_ms`
//! given. What the driver must do besides launching tasks (kill an attempt, abort a stage, stop an
//! executor) is queued as [`Effect`]s, taken with [`TaskScheduler::take_effects`].

mod exclusion;
mod offer;
mod speculation;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use weft_executor::error::bytes_to_string;

pub(crate) use exclusion::ExclusionConf;
use exclusion::{HealthTracker, TaskSetExcludelist};
pub(crate) use speculation::SpeculationConf;

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

/// One task of a stage attempt: its index in the stage, the RDD partition it computes, its preferences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TaskSpec {
    pub(crate) index: usize,
    pub(crate) partition: usize,
    pub(crate) prefs: Prefs,
}

/// How the task scheduler behaves: Spark's keys, read once by the driver.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SchedulerConf {
    pub(crate) mode: Mode,
    /// `spark.task.maxFailures`.
    pub(crate) max_failures: u32,
    /// `spark.locality.wait`.
    pub(crate) locality_wait_ms: u64,
    /// `spark.speculation.*`; `None` when `spark.speculation` is off.
    pub(crate) speculation: Option<SpeculationConf>,
    /// `spark.excludeOnFailure.*`; `None` when exclusion is off.
    pub(crate) exclusion: Option<ExclusionConf>,
    /// `spark.driver.maxResultSize` in bytes; 0 is unlimited.
    pub(crate) max_result_bytes: u64,
}

impl SchedulerConf {
    /// Spark's defaults for everything but the three given.
    pub(crate) fn new(mode: Mode, max_failures: u32, locality_wait_ms: u64) -> SchedulerConf {
        SchedulerConf {
            mode,
            max_failures: max_failures.max(1),
            locality_wait_ms,
            speculation: None,
            exclusion: None,
            max_result_bytes: 1 << 30,
        }
    }
}

/// One index of a task set.
#[derive(Debug)]
struct Slot {
    partition: usize,
    prefs: Prefs,
    /// Attempts launched so far: the next attempt's number.
    attempts: u32,
    /// Failures that count toward `spark.task.maxFailures`.
    failures: u32,
    done: bool,
    /// Running attempts (task ids): two while a speculative copy runs.
    running: Vec<u64>,
    /// Marked for a speculative copy that has not been launched yet.
    speculatable: bool,
}

impl Slot {
    fn waiting(&self) -> bool {
        !self.done && self.running.is_empty()
    }
}

#[derive(Debug)]
struct TaskSet {
    stage: u32,
    attempt: u32,
    job: u32,
    slots: Vec<Slot>,
    /// Tasks submitted in this attempt (Spark's `numTasks`); other indexes were done before.
    n_tasks: usize,
    running: usize,
    zombie: bool,
    level: usize,
    last_launch_ms: u64,
    /// How long each successful attempt ran, for speculation's median.
    durations_ms: Vec<u64>,
    /// Serialized result bytes accepted so far and of how many tasks (`spark.driver.maxResultSize`).
    result_bytes: u64,
    result_tasks: u32,
    excluded: TaskSetExcludelist,
    /// When a task that can run nowhere (every executor excluded) makes the set give up.
    unschedulable_until_ms: Option<u64>,
}

impl TaskSet {
    fn name(&self) -> String {
        format!("{}.{}", self.stage, self.attempt)
    }

    fn all_done(&self) -> bool {
        self.slots.iter().all(|s| s.done)
    }
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
    /// A copy of a slow task that is still running elsewhere.
    pub(crate) speculative: bool,
}

/// A running attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Running {
    pub(crate) stage: u32,
    pub(crate) stage_attempt: u32,
    pub(crate) index: usize,
    pub(crate) attempt: u32,
    pub(crate) executor: String,
    pub(crate) host: String,
    pub(crate) started_ms: u64,
    pub(crate) speculative: bool,
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
    /// The task set gave up; an [`Effect::Abort`] carries Spark's message.
    Aborted,
}

/// What the driver must do for the task scheduler, besides launching tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Stop a running attempt (Spark's `KillTask`); its end will not count as a failure.
    KillTask { task_id: u64, executor: String, reason: String },
    /// A task set gave up: every job that needs the stage fails with Spark's `message`.
    Abort { stage: u32, message: String },
    /// `spark.excludeOnFailure.killExcludedExecutors`: stop an executor excluded for the application.
    KillExecutor { executor: String },
}

pub(crate) struct TaskScheduler {
    conf: SchedulerConf,
    sets: Vec<TaskSet>,
    executors: BTreeMap<String, ExecutorSlot>,
    running: BTreeMap<u64, Running>,
    /// Running attempts already asked to stop, so each is killed once.
    killing: BTreeSet<u64>,
    next_task_id: u64,
    health: HealthTracker,
    effects: Vec<Effect>,
}

impl TaskScheduler {
    pub(crate) fn new(conf: SchedulerConf) -> TaskScheduler {
        TaskScheduler {
            conf,
            sets: Vec::new(),
            executors: BTreeMap::new(),
            running: BTreeMap::new(),
            killing: BTreeSet::new(),
            next_task_id: 0,
            health: HealthTracker::default(),
            effects: Vec::new(),
        }
    }

    /// The effects queued since the last call.
    pub(crate) fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub(crate) fn add_executor(&mut self, id: &str, host: &str, cores: usize) {
        self.executors.insert(id.to_owned(), ExecutorSlot { host: host.to_owned(), free: cores });
    }

    /// The attempts running on an executor (to fail them when it is lost, before [`Self::remove_executor`]).
    pub(crate) fn running_on(&self, executor: &str) -> Vec<u64> {
        self.running.iter().filter(|(_, r)| r.executor == executor).map(|(t, _)| *t).collect()
    }

    /// Forgets an executor. Attempts still recorded on it go back to waiting, uncounted.
    pub(crate) fn remove_executor(&mut self, id: &str) {
        for task_id in self.running_on(id) {
            self.release(task_id);
        }
        self.executors.remove(id);
        self.health.executor_removed(id);
        self.sweep();
    }

    /// A stage attempt's tasks; indexes up to `total` not listed are already done.
    pub(crate) fn submit(
        &mut self,
        stage: u32,
        attempt: u32,
        job: u32,
        total: usize,
        tasks: Vec<TaskSpec>,
        now_ms: u64,
    ) {
        let done = |index| Slot {
            partition: index,
            prefs: Prefs::default(),
            attempts: 0,
            failures: 0,
            done: true,
            running: Vec::new(),
            speculatable: false,
        };
        let mut slots: Vec<Slot> = (0..total).map(done).collect();
        let n_tasks = tasks.len();
        for TaskSpec { index, partition, prefs } in tasks {
            slots[index] = Slot { partition, prefs, done: false, ..done(index) };
        }
        self.cancel(stage);
        self.sets.push(TaskSet {
            stage,
            attempt,
            job,
            slots,
            n_tasks,
            running: 0,
            zombie: false,
            level: 0,
            last_launch_ms: now_ms,
            durations_ms: Vec::new(),
            result_bytes: 0,
            result_tasks: 0,
            excluded: TaskSetExcludelist::default(),
            unschedulable_until_ms: None,
        });
    }

    /// Stops launching a stage's tasks; running ones finish (their results are ignored).
    pub(crate) fn cancel(&mut self, stage: u32) {
        for set in self.sets.iter_mut().filter(|s| s.stage == stage) {
            set.zombie = true;
        }
        self.sweep();
    }

    /// Spark's `cancelTasks`: stops launching a stage's tasks and kills its running attempts.
    pub(crate) fn kill_stage(&mut self, stage: u32, reason: &str) {
        let running: Vec<u64> = self
            .running
            .iter()
            .filter(|(task_id, r)| r.stage == stage && !self.killing.contains(task_id))
            .map(|(task_id, _)| *task_id)
            .collect();
        if !running.is_empty() {
            tracing::info!("Killing all running tasks in stage {stage}: {reason}");
        }
        for task_id in running {
            self.kill(task_id, reason);
        }
        self.cancel(stage);
    }

    /// Asks for a running attempt to stop, once.
    fn kill(&mut self, task_id: u64, reason: &str) {
        let Some(r) = self.running.get(&task_id) else { return };
        if self.killing.insert(task_id) {
            let executor = r.executor.clone();
            self.effects.push(Effect::KillTask { task_id, executor, reason: reason.to_owned() });
        }
    }

    /// Drops task sets that will launch nothing more and have nothing running.
    fn sweep(&mut self) {
        self.sets.retain(|s| !(s.running == 0 && (s.zombie || s.all_done())));
    }

    fn set_index(&self, stage: u32, attempt: u32) -> Option<usize> {
        self.sets.iter().position(|s| s.stage == stage && s.attempt == attempt)
    }

    fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.sets.len()).filter(|&i| !self.sets[i].zombie).collect();
        match self.conf.mode {
            Mode::Fifo => order.sort_by_key(|&i| (self.sets[i].job, self.sets[i].stage)),
            Mode::Fair => order.sort_by_key(|&i| (self.sets[i].running, self.sets[i].job, self.sets[i].stage)),
        }
        order
    }

    fn release(&mut self, task_id: u64) -> Option<Running> {
        let r = self.running.remove(&task_id)?;
        self.killing.remove(&task_id);
        if let Some(e) = self.executors.get_mut(&r.executor) {
            e.free += 1;
        }
        if let Some(i) = self.set_index(r.stage, r.stage_attempt) {
            let set = &mut self.sets[i];
            set.running -= 1;
            set.slots[r.index].running.retain(|t| *t != task_id);
        }
        Some(r)
    }

    /// A running attempt, by task id.
    pub(crate) fn describe(&self, task_id: u64) -> Option<&Running> {
        self.running.get(&task_id)
    }

    /// An attempt succeeded. The first success of an index kills the index's other attempts
    /// (Spark's "another attempt succeeded").
    pub(crate) fn succeeded(&mut self, task_id: u64, now_ms: u64) -> Outcome {
        let Some(r) = self.release(task_id) else { return Outcome::Ignored };
        let Some(i) = self.set_index(r.stage, r.stage_attempt) else { return Outcome::Ignored };
        let set = &mut self.sets[i];
        let name = set.name();
        let slot = &mut set.slots[r.index];
        if slot.done {
            tracing::info!(
                "Ignoring task-finished event for {}.{} in stage {name} because task {} has already completed \
                 successfully",
                r.index,
                r.attempt,
                r.index
            );
            self.sweep();
            return Outcome::Ignored;
        }
        slot.done = true;
        slot.speculatable = false;
        let others = slot.running.clone();
        set.durations_ms.push(now_ms.saturating_sub(r.started_ms));
        let (finished, n_tasks) = (set.slots.iter().filter(|s| s.done).count(), set.slots.len());
        tracing::debug!(
            "Finished task {}.{} in stage {name} (TID {task_id}) in {} ms on {} (executor {}) ({finished}/{n_tasks})",
            r.index,
            r.attempt,
            now_ms.saturating_sub(r.started_ms),
            r.host,
            r.executor
        );
        for other in others {
            self.kill_other_attempt(other, &r, &name);
        }
        if self.sets[i].all_done() && !self.sets[i].zombie {
            self.task_set_succeeded(i, now_ms);
        }
        self.sweep();
        Outcome::Succeeded { stage: r.stage, stage_attempt: r.stage_attempt, index: r.index }
    }

    fn kill_other_attempt(&mut self, task_id: u64, winner: &Running, set_name: &str) {
        let Some(other) = self.running.get(&task_id) else { return };
        tracing::info!(
            "Killing attempt {} for task {}.{} in stage {set_name} (TID {task_id}) on {} as the attempt {} succeeded \
             on {}",
            other.attempt,
            other.index,
            other.attempt,
            other.host,
            winner.attempt,
            winner.host
        );
        self.kill(task_id, "another attempt succeeded");
    }

    /// Spark's `canFetchMoreResults`: counts a result task's serialized result toward
    /// `spark.driver.maxResultSize`; past it, the task set aborts with Spark's message and the
    /// result must be dropped (`false`).
    pub(crate) fn can_fetch_result(&mut self, task_id: u64, size: u64) -> bool {
        let max = self.conf.max_result_bytes;
        let Some(r) = self.running.get(&task_id) else { return true };
        let Some(i) = self.set_index(r.stage, r.stage_attempt) else { return true };
        let set = &mut self.sets[i];
        if set.slots[r.index].done || set.zombie {
            return true;
        }
        set.result_bytes = set.result_bytes.saturating_add(size);
        set.result_tasks += 1;
        if max == 0 || set.result_bytes <= max {
            return true;
        }
        let message = format!(
            "Total size of serialized results of {} tasks ({}) is bigger than spark.driver.maxResultSize ({})",
            set.result_tasks,
            bytes_to_string(set.result_bytes),
            bytes_to_string(max)
        );
        tracing::error!("{message}");
        set.zombie = true;
        self.effects.push(Effect::Abort { stage: set.stage, message });
        false
    }

    /// A failed attempt. `counts`: whether it counts toward `spark.task.maxFailures` (and toward
    /// exclusion); `lost` is Spark's `Lost task 1.0 in stage 0.0 (TID 1) (host executor 1): reason`.
    pub(crate) fn failed(&mut self, task_id: u64, counts: bool, lost: &str, now_ms: u64) -> Outcome {
        let Some(r) = self.release(task_id) else { return Outcome::Ignored };
        let outcome = self.record_failure(&r, counts, lost, now_ms);
        self.sweep();
        outcome
    }

    fn record_failure(&mut self, r: &Running, counts: bool, lost: &str, now_ms: u64) -> Outcome {
        let max = self.conf.max_failures;
        let Some(i) = self.set_index(r.stage, r.stage_attempt) else { return Outcome::Ignored };
        let set = &mut self.sets[i];
        if set.zombie || set.slots[r.index].done {
            return Outcome::Ignored;
        }
        if !counts {
            return Outcome::Retry;
        }
        if let Some(conf) = &self.conf.exclusion {
            set.excluded.record_failure(conf, r.stage, &r.host, &r.executor, r.index, lost, now_ms);
        }
        let slot = &mut set.slots[r.index];
        slot.failures += 1;
        let failures = slot.failures;
        if failures < max {
            return Outcome::Retry;
        }
        let name = set.name();
        let message = format!("Task {} in stage {name} failed {failures} times, most recent failure: {lost}", r.index);
        tracing::error!("Task {} in stage {name} failed {failures} times; aborting job", r.index);
        set.zombie = true;
        self.effects.push(Effect::Abort { stage: r.stage, message });
        Outcome::Aborted
    }

    /// Completed task counts of a stage's latest attempt: (done, running, total), for the progress bar.
    pub(crate) fn counts(&self, stage: u32) -> Option<(usize, usize, usize)> {
        let set = self.sets.iter().rev().find(|s| s.stage == stage)?;
        let done = set.slots.iter().filter(|s| s.done).count();
        Some((done, set.running, set.slots.len()))
    }
}
