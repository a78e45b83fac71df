//! Exclusion on failure (`spark.excludeOnFailure.*`, off unless enabled), Spark's three levels:
//! - task: a task that failed on an executor is not retried there (`task.maxTaskAttemptsPerExecutor`,
//!   1), nor on a node where it failed `task.maxTaskAttemptsPerNode` (2) times;
//! - stage: an executor with `stage.maxFailedTasksPerExecutor` (2) failed tasks is excluded for the
//!   stage attempt, and a node with `stage.maxFailedExecutorsPerNode` (2) such executors too;
//! - application: once a task set succeeds, its failures are charged to their executors; one with
//!   `application.maxFailedTasksPerExecutor` (2) failures within `spark.excludeOnFailure.timeout`
//!   (1h) is excluded for that long, and a node with `application.maxFailedExecutorsPerNode` (2)
//!   excluded executors too.
//!
//! Only failures that count toward `spark.task.maxFailures` are recorded (a fetch failure, a kill or
//! a loss unrelated to the tasks never is). A task set with a task that can run nowhere gives up after
//! `spark.scheduler.excludeOnFailure.unschedulableTaskSetTimeout` (120s) with Spark's message.

use std::collections::{BTreeMap, BTreeSet};

use super::{Effect, TaskScheduler, TaskSet};

/// `spark.excludeOnFailure.*`, Spark's defaults (`facts/spark.md` §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExclusionConf {
    pub(crate) max_task_attempts_per_executor: u32,
    pub(crate) max_task_attempts_per_node: u32,
    pub(crate) stage_max_failed_tasks_per_executor: u32,
    pub(crate) stage_max_failed_executors_per_node: u32,
    pub(crate) app_max_failed_tasks_per_executor: u32,
    pub(crate) app_max_failed_executors_per_node: u32,
    /// `spark.excludeOnFailure.timeout`.
    pub(crate) timeout_ms: u64,
    /// `spark.excludeOnFailure.killExcludedExecutors`.
    pub(crate) kill_excluded_executors: bool,
    /// `spark.scheduler.excludeOnFailure.unschedulableTaskSetTimeout`.
    pub(crate) unschedulable_timeout_ms: u64,
}

impl Default for ExclusionConf {
    fn default() -> ExclusionConf {
        ExclusionConf {
            max_task_attempts_per_executor: 1,
            max_task_attempts_per_node: 2,
            stage_max_failed_tasks_per_executor: 2,
            stage_max_failed_executors_per_node: 2,
            app_max_failed_tasks_per_executor: 2,
            app_max_failed_executors_per_node: 2,
            timeout_ms: 3_600_000,
            kill_excluded_executors: false,
            unschedulable_timeout_ms: 120_000,
        }
    }
}

/// One executor's failures in a task set: task index → (failures, when the last one happened).
#[derive(Debug, Default)]
pub(super) struct ExecutorFailures {
    host: String,
    tasks: BTreeMap<usize, (u32, u64)>,
}

/// Exclusion within one task set (Spark's `TaskSetExcludelist`).
#[derive(Debug, Default)]
pub(super) struct TaskSetExcludelist {
    by_executor: BTreeMap<String, ExecutorFailures>,
    /// Host → its executors with failures (kept after they are gone).
    executors_with_failures: BTreeMap<String, BTreeSet<String>>,
    /// Host → task indexes excluded on the whole host.
    node_excluded_tasks: BTreeMap<String, BTreeSet<usize>>,
    excluded_executors: BTreeSet<String>,
    excluded_nodes: BTreeSet<String>,
    latest_failure: String,
}

impl TaskSetExcludelist {
    /// Records a counted failure of task `index` on `executor`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_failure(
        &mut self,
        conf: &ExclusionConf,
        stage: u32,
        host: &str,
        executor: &str,
        index: usize,
        reason: &str,
        now_ms: u64,
    ) {
        self.latest_failure = reason.to_owned();
        let unique_failed_tasks = {
            let failures = self
                .by_executor
                .entry(executor.to_owned())
                .or_insert_with(|| ExecutorFailures { host: host.to_owned(), tasks: BTreeMap::new() });
            let entry = failures.tasks.entry(index).or_insert((0, now_ms));
            *entry = (entry.0 + 1, now_ms);
            failures.tasks.len() as u32
        };
        self.executors_with_failures.entry(host.to_owned()).or_default().insert(executor.to_owned());
        let failures_on_host: u32 = self.executors_with_failures[host].iter().map(|e| self.failures_of(e, index)).sum();
        if failures_on_host >= conf.max_task_attempts_per_node {
            self.node_excluded_tasks.entry(host.to_owned()).or_default().insert(index);
        }
        if unique_failed_tasks >= conf.stage_max_failed_tasks_per_executor
            && self.excluded_executors.insert(executor.to_owned())
        {
            tracing::info!("Excluding executor {executor} for stage {stage}");
            let on_host = &self.executors_with_failures[host];
            let excluded_on_host = on_host.iter().filter(|e| self.excluded_executors.contains(*e)).count() as u32;
            if excluded_on_host >= conf.stage_max_failed_executors_per_node
                && self.excluded_nodes.insert(host.to_owned())
            {
                tracing::info!("Excluding {host} for stage {stage}");
            }
        }
    }

    fn failures_of(&self, executor: &str, index: usize) -> u32 {
        self.by_executor.get(executor).and_then(|f| f.tasks.get(&index)).map_or(0, |(n, _)| *n)
    }

    /// Task-level exclusion: task `index` may not run on this executor or host again.
    pub(super) fn excluded_for_task(&self, conf: &ExclusionConf, executor: &str, host: &str, index: usize) -> bool {
        self.failures_of(executor, index) >= conf.max_task_attempts_per_executor
            || self.node_excluded_tasks.get(host).is_some_and(|tasks| tasks.contains(&index))
    }

    /// Stage-level exclusion of an executor.
    pub(super) fn executor_excluded(&self, executor: &str) -> bool {
        self.excluded_executors.contains(executor)
    }

    /// Stage-level exclusion of a node.
    pub(super) fn node_excluded(&self, host: &str) -> bool {
        self.excluded_nodes.contains(host)
    }
}

/// An executor excluded for the application, until `until_ms`.
#[derive(Debug)]
struct Excluded {
    host: String,
    until_ms: u64,
}

/// Application-level exclusion (Spark's `HealthTracker`): it learns of failures only when their task
/// set succeeds.
#[derive(Debug, Default)]
pub(super) struct HealthTracker {
    /// Executor → (stage, stage attempt, task index, expiry) of failures in successful task sets.
    failures: BTreeMap<String, Vec<(u32, u32, usize, u64)>>,
    excluded_executors: BTreeMap<String, Excluded>,
    excluded_nodes: BTreeMap<String, u64>,
    /// Host → its executors excluded (kept after they are gone, until their exclusion times out).
    excluded_on_node: BTreeMap<String, BTreeSet<String>>,
}

/// What became excluded for the application when a task set succeeded.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct NewlyExcluded {
    pub(super) executors: Vec<String>,
    pub(super) nodes: Vec<String>,
}

impl HealthTracker {
    /// Whether an executor gets no offers: it or its host is excluded for the application.
    pub(super) fn excludes(&self, executor: &str, host: &str) -> bool {
        self.excluded_executors.contains_key(executor) || self.excluded_nodes.contains_key(host)
    }

    /// Charges a successful task set's failures to their executors.
    pub(super) fn task_set_succeeded(
        &mut self,
        conf: &ExclusionConf,
        stage: u32,
        attempt: u32,
        list: &TaskSetExcludelist,
        now_ms: u64,
    ) -> NewlyExcluded {
        let mut newly = NewlyExcluded::default();
        for (executor, in_set) in &list.by_executor {
            let failures = self.failures.entry(executor.clone()).or_default();
            for (&index, &(_, failed_at)) in &in_set.tasks {
                failures.push((stage, attempt, index, failed_at.saturating_add(conf.timeout_ms)));
            }
            failures.retain(|&(.., expiry)| expiry >= now_ms);
            let total = failures.len() as u32;
            if total < conf.app_max_failed_tasks_per_executor || self.excluded_executors.contains_key(executor) {
                continue;
            }
            tracing::info!(
                "Excluding executor id: {executor} because it has {total} task failures in successful task sets"
            );
            let until_ms = now_ms.saturating_add(conf.timeout_ms);
            self.excluded_executors.insert(executor.clone(), Excluded { host: in_set.host.clone(), until_ms });
            self.failures.remove(executor);
            newly.executors.push(executor.clone());
            let on_node = self.excluded_on_node.entry(in_set.host.clone()).or_default();
            on_node.insert(executor.clone());
            if on_node.len() as u32 >= conf.app_max_failed_executors_per_node
                && !self.excluded_nodes.contains_key(&in_set.host)
            {
                let names: Vec<&str> = on_node.iter().map(String::as_str).collect();
                tracing::info!(
                    "Excluding node {} because it has {} executors excluded: {}",
                    in_set.host,
                    on_node.len(),
                    names.join(", ")
                );
                self.excluded_nodes.insert(in_set.host.clone(), until_ms);
                newly.nodes.push(in_set.host.clone());
            }
        }
        newly
    }

    /// Lets executors and nodes whose exclusion timed out run tasks again.
    pub(super) fn apply_timeout(&mut self, now_ms: u64) {
        let expired: Vec<String> =
            self.excluded_executors.iter().filter(|(_, e)| e.until_ms < now_ms).map(|(id, _)| id.clone()).collect();
        if !expired.is_empty() {
            tracing::info!(
                "Removing executors {} from exclude list because their exclusion timed out",
                expired.join(", ")
            );
        }
        for id in expired {
            if let Some(excluded) = self.excluded_executors.remove(&id) {
                if let Some(on_node) = self.excluded_on_node.get_mut(&excluded.host) {
                    on_node.remove(&id);
                    if on_node.is_empty() {
                        self.excluded_on_node.remove(&excluded.host);
                    }
                }
            }
        }
        let nodes: Vec<String> =
            self.excluded_nodes.iter().filter(|(_, until)| **until < now_ms).map(|(n, _)| n.clone()).collect();
        if !nodes.is_empty() {
            tracing::info!("Removing nodes {} from exclude list because their exclusion timed out", nodes.join(", "));
        }
        for node in nodes {
            self.excluded_nodes.remove(&node);
        }
    }

    /// A gone executor's failures are forgotten; its exclusion stays until it times out, so a node
    /// losing excluded executors one after the other is still noticed.
    pub(super) fn executor_removed(&mut self, executor: &str) {
        self.failures.remove(executor);
    }
}

impl TaskScheduler {
    /// A task set finished every task: its failures now count for the application.
    pub(super) fn task_set_succeeded(&mut self, i: usize, now_ms: u64) {
        let Some(conf) = self.conf.exclusion.clone() else { return };
        let set = &self.sets[i];
        let newly = self.health.task_set_succeeded(&conf, set.stage, set.attempt, &set.excluded, now_ms);
        if !conf.kill_excluded_executors {
            return;
        }
        for executor in &newly.executors {
            tracing::info!(
                "Killing excluded executor id {executor} since spark.excludeOnFailure.killExcludedExecutors is set."
            );
            self.effects.push(Effect::KillExecutor { executor: executor.clone() });
        }
        for node in &newly.nodes {
            tracing::info!(
                "Killing all executors on excluded host {node} since spark.excludeOnFailure.killExcludedExecutors is set."
            );
            let on_node: Vec<String> = self
                .executors
                .iter()
                .filter(|(id, e)| &e.host == node && !newly.executors.contains(id))
                .map(|(id, _)| id.clone())
                .collect();
            self.effects.extend(on_node.into_iter().map(|executor| Effect::KillExecutor { executor }));
        }
    }

    /// Spark's unschedulable task sets: when nothing launched, a task set with a waiting task that
    /// every executor is excluded for waits `unschedulableTaskSetTimeout`, then gives up. A launch
    /// anywhere resets every wait.
    pub(super) fn check_unschedulable(&mut self, launched_any: bool, now_ms: u64) {
        let Some(conf) = self.conf.exclusion.clone() else { return };
        if launched_any {
            for set in &mut self.sets {
                set.unschedulable_until_ms = None;
            }
            return;
        }
        for i in 0..self.sets.len() {
            if self.sets[i].zombie {
                continue;
            }
            match self.completely_excluded_task(&self.sets[i], &conf) {
                None => self.sets[i].unschedulable_until_ms = None,
                Some(index) => self.unschedulable(i, index, &conf, now_ms),
            }
        }
        self.sweep();
    }

    fn unschedulable(&mut self, i: usize, index: usize, conf: &ExclusionConf, now_ms: u64) {
        let set = &mut self.sets[i];
        match set.unschedulable_until_ms {
            None => {
                set.unschedulable_until_ms = Some(now_ms.saturating_add(conf.unschedulable_timeout_ms));
                tracing::info!(
                    "Waiting for {} ms for completely excluded task to be schedulable again before aborting stage {}.",
                    conf.unschedulable_timeout_ms,
                    set.stage
                );
            }
            Some(until) if now_ms >= until => {
                tracing::info!(
                    "Cannot schedule any task because all executors excluded due to failures. Wait time for \
                     scheduling expired. Aborting stage {}.",
                    set.stage
                );
                let message = format!(
                    "\nAborting TaskSet {} because task {index} (partition {})\ncannot run anywhere due to node and \
                     executor excludeOnFailure.\nMost recent failure:\n{}\n\nExcludeOnFailure behavior can be \
                     configured via spark.excludeOnFailure.*.\n",
                    set.name(),
                    set.slots[index].partition,
                    set.excluded.latest_failure
                );
                set.zombie = true;
                self.effects.push(Effect::Abort { stage: set.stage, message });
            }
            Some(_) => {}
        }
    }

    /// A waiting task of the set that no registered executor may run (Spark checks one: the last).
    fn completely_excluded_task(&self, set: &TaskSet, conf: &ExclusionConf) -> Option<usize> {
        if self.executors.is_empty() {
            return None;
        }
        let index = set.slots.iter().rposition(|s| s.waiting())?;
        let blocked = |executor: &str, host: &str| {
            self.health.excludes(executor, host)
                || set.excluded.executor_excluded(executor)
                || set.excluded.node_excluded(host)
                || set.excluded.excluded_for_task(conf, executor, host, index)
        };
        self.executors.iter().all(|(id, e)| blocked(id, &e.host)).then_some(index)
    }
}
