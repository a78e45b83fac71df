//! The DAG scheduler: turns a job (an RDD, the partitions wanted, a result function) into stages cut
//! at shuffle dependencies, submits each stage once its parents' shuffle outputs exist, tracks map
//! outputs per executor, and reuses them across jobs (a stage whose outputs exist is skipped).
//! A fetch failure unregisters the lost map output and, after [`RESUBMIT_TIMEOUT_MS`] to gather more
//! of them, resubmits the map stage and the failed one; a stage that failed
//! `spark.stage.maxConsecutiveAttempts` attempts in a row aborts its jobs. An aborted job's stages
//! that no other job needs are cancelled and their running tasks killed (Spark's `cancelTasks`).
//! Plain state machine: events in, [`DagEvent`]s out; no I/O.

pub(crate) mod metrics;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use weft_executor::plan::ResultCtor;
use weft_executor::FnRef;

use super::lineage::{Dep, RddNode, ShuffleDep};

/// Where a map task's output lives and its block sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MapOut {
    pub(crate) executor: String,
    pub(crate) sizes: Vec<u64>,
}

pub(crate) struct ResultSpec {
    pub(crate) job: u32,
    pub(crate) ctor: FnRef<ResultCtor>,
    pub(crate) env: Vec<u8>,
}

pub(crate) struct Stage {
    pub(crate) id: u32,
    pub(crate) rdd: Arc<RddNode>,
    pub(crate) shuffle: Option<Arc<ShuffleDep>>,
    pub(crate) result: Option<ResultSpec>,
    pub(crate) parents: Vec<u32>,
    /// The RDD partition each task index computes.
    pub(crate) partitions: Vec<usize>,
    /// Attempts made so far (the next attempt's number).
    pub(crate) attempts: u32,
    /// Attempts that ended in a fetch failure since the stage last completed (Spark's
    /// `fetchFailedAttemptIds`), against `spark.stage.maxConsecutiveAttempts`.
    pub(crate) fetch_failed_attempts: BTreeSet<u32>,
    pub(crate) pending: BTreeSet<usize>,
    pub(crate) jobs: BTreeSet<u32>,
    /// `reduceByKey at wordcount.rs:33`: the scope of the stage's last RDD.
    pub(crate) name: String,
}

pub(crate) struct Job {
    results: Vec<Option<Vec<u8>>>,
    remaining: usize,
    pub(crate) stage_ids: Vec<u32>,
    pub(crate) skipped: BTreeSet<u32>,
}

/// What the DAG scheduler asks of the rest of the driver.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DagEvent {
    /// Run these task indexes of the stage as its attempt `attempt`.
    Submit {
        stage: u32,
        attempt: u32,
        indexes: Vec<usize>,
    },
    /// Stop scheduling a stage's attempts: its inputs are being recomputed (`kill: None`; running
    /// tasks finish), or its jobs failed (`kill`: the reason its running tasks are killed with).
    Cancel {
        stage: u32,
        kill: Option<String>,
    },
    /// Call [`Dag::resubmit_failed_stages`] in `delay_ms`, to gather further fetch failures first.
    ResubmitAfter {
        delay_ms: u64,
    },
    StageCompleted {
        stage: u32,
        name: String,
    },
    JobSucceeded {
        job: u32,
        results: Vec<Vec<u8>>,
    },
    JobFailed {
        job: u32,
        message: String,
    },
}

/// Spark's `DAGScheduler.RESUBMIT_TIMEOUT`: how long fetch failures are gathered before the failed
/// stages are resubmitted, so a dead node's outputs are regenerated in one pass.
pub(crate) const RESUBMIT_TIMEOUT_MS: u64 = 200;

pub(crate) struct Dag {
    /// `spark.stage.maxConsecutiveAttempts`.
    max_consecutive_attempts: u32,
    next_job: u32,
    next_stage: u32,
    pub(crate) stages: BTreeMap<u32, Stage>,
    shuffle_stage: HashMap<u32, u32>,
    pub(crate) outputs: HashMap<u32, Vec<Option<MapOut>>>,
    pub(crate) jobs: BTreeMap<u32, Job>,
    waiting: BTreeSet<u32>,
    running: BTreeSet<u32>,
    /// Stages waiting for [`Dag::resubmit_failed_stages`] after a fetch failure.
    failed: BTreeSet<u32>,
    /// Cached partitions: (rdd, partition) → executor.
    pub(crate) cached: HashMap<(u32, u32), String>,
}

impl Dag {
    pub(crate) fn new(max_consecutive_attempts: u32) -> Dag {
        Dag {
            max_consecutive_attempts: max_consecutive_attempts.max(1),
            next_job: 0,
            next_stage: 0,
            stages: BTreeMap::new(),
            shuffle_stage: HashMap::new(),
            outputs: HashMap::new(),
            jobs: BTreeMap::new(),
            waiting: BTreeSet::new(),
            running: BTreeSet::new(),
            failed: BTreeSet::new(),
            cached: HashMap::new(),
        }
    }

    /// A new job; its events (stages to run, or at once its end for zero partitions).
    pub(crate) fn submit_job(
        &mut self,
        rdd: Arc<RddNode>,
        partitions: Vec<usize>,
        ctor: FnRef<ResultCtor>,
        env: Vec<u8>,
        name: String,
    ) -> (u32, Vec<DagEvent>) {
        let job = self.next_job;
        self.next_job += 1;
        if partitions.is_empty() {
            return (job, vec![DagEvent::JobSucceeded { job, results: Vec::new() }]);
        }
        let parents = self.parent_stages(&rdd, job);
        let id = self.new_stage_id();
        let stage = Stage {
            id,
            rdd,
            shuffle: None,
            result: Some(ResultSpec { job, ctor, env }),
            parents,
            pending: BTreeSet::new(),
            partitions: partitions.clone(),
            attempts: 0,
            fetch_failed_attempts: BTreeSet::new(),
            jobs: BTreeSet::from([job]),
            name,
        };
        self.stages.insert(id, stage);
        let mut stage_ids = Vec::new();
        self.collect_stages(id, &mut stage_ids);
        stage_ids.sort();
        let n = partitions.len();
        self.jobs.insert(job, Job { results: vec![None; n], remaining: n, stage_ids, skipped: BTreeSet::new() });
        let mut events = Vec::new();
        self.submit_stage(id, &mut events);
        // Stages of the job that never ran because their outputs already existed.
        let skipped: BTreeSet<u32> = {
            let job = &self.jobs[&job];
            job.stage_ids.iter().copied().filter(|s| !self.running.contains(s) && !self.waiting.contains(s)).collect()
        };
        if let Some(j) = self.jobs.get_mut(&job) {
            j.skipped = skipped;
        }
        (job, events)
    }

    fn new_stage_id(&mut self) -> u32 {
        let id = self.next_stage;
        self.next_stage += 1;
        id
    }

    fn collect_stages(&self, id: u32, out: &mut Vec<u32>) {
        if out.contains(&id) {
            return;
        }
        out.push(id);
        for p in self.stages[&id].parents.clone() {
            self.collect_stages(p, out);
        }
    }

    /// The shuffle map stages `rdd` reads directly (through narrow dependencies), created as needed.
    fn parent_stages(&mut self, rdd: &Arc<RddNode>, job: u32) -> Vec<u32> {
        let mut parents = Vec::new();
        let mut stack = vec![rdd.clone()];
        let mut seen = BTreeSet::new();
        while let Some(node) = stack.pop() {
            if !seen.insert(node.id) || self.fully_cached(&node) {
                continue;
            }
            for dep in node.live_deps() {
                match dep {
                    Dep::Narrow(parent) => stack.push(parent.clone()),
                    Dep::Shuffle(shuffle) => {
                        let stage = self.shuffle_map_stage(shuffle, job);
                        if !parents.contains(&stage) {
                            parents.push(stage);
                        }
                    }
                }
            }
        }
        parents
    }

    fn fully_cached(&self, node: &RddNode) -> bool {
        node.storage_level() != super::lineage::StorageLevel::NONE
            && (0..node.num_partitions).all(|p| self.cached.contains_key(&(node.id, p as u32)))
    }

    fn shuffle_map_stage(&mut self, dep: &Arc<ShuffleDep>, job: u32) -> u32 {
        if let Some(&id) = self.shuffle_stage.get(&dep.shuffle_id) {
            if let Some(stage) = self.stages.get_mut(&id) {
                stage.jobs.insert(job);
            }
            return id;
        }
        let parents = self.parent_stages(&dep.parent, job);
        let id = self.new_stage_id();
        let n = dep.parent.num_partitions;
        self.outputs.entry(dep.shuffle_id).or_insert_with(|| vec![None; n]);
        self.stages.insert(
            id,
            Stage {
                id,
                rdd: dep.parent.clone(),
                shuffle: Some(dep.clone()),
                result: None,
                parents,
                partitions: (0..n).collect(),
                attempts: 0,
                fetch_failed_attempts: BTreeSet::new(),
                pending: BTreeSet::new(),
                jobs: BTreeSet::from([job]),
                name: dep.parent.scope.clone(),
            },
        );
        self.shuffle_stage.insert(dep.shuffle_id, id);
        id
    }

    fn available(&self, stage: u32) -> bool {
        let Some(shuffle) = self.stages[&stage].shuffle.as_ref() else { return false };
        self.outputs.get(&shuffle.shuffle_id).is_some_and(|o| o.iter().all(Option::is_some))
    }

    fn missing_indexes(&self, stage: &Stage) -> Vec<usize> {
        match (&stage.shuffle, &stage.result) {
            (Some(shuffle), _) => {
                let outputs = &self.outputs[&shuffle.shuffle_id];
                (0..stage.partitions.len()).filter(|&i| outputs[i].is_none()).collect()
            }
            (None, Some(spec)) => {
                let job = &self.jobs[&spec.job];
                (0..stage.partitions.len()).filter(|&i| job.results[i].is_none()).collect()
            }
            (None, None) => Vec::new(),
        }
    }

    fn submit_stage(&mut self, id: u32, events: &mut Vec<DagEvent>) {
        if self.running.contains(&id) || self.waiting.contains(&id) {
            return;
        }
        let missing: Vec<u32> = self.stages[&id].parents.iter().copied().filter(|&p| !self.available(p)).collect();
        if missing.is_empty() {
            let indexes = self.missing_indexes(&self.stages[&id]);
            if indexes.is_empty() {
                return;
            }
            let stage = self.stages.get_mut(&id).expect("stage exists");
            let attempt = stage.attempts;
            stage.attempts += 1;
            stage.pending = indexes.iter().copied().collect();
            self.running.insert(id);
            events.push(DagEvent::Submit { stage: id, attempt, indexes });
        } else {
            for parent in missing {
                self.submit_stage(parent, events);
            }
            self.waiting.insert(id);
        }
    }

    /// Submits waiting stages whose parents are now all available.
    fn submit_waiting(&mut self, events: &mut Vec<DagEvent>) {
        let ready: Vec<u32> = self
            .waiting
            .iter()
            .copied()
            .filter(|&s| self.stages[&s].parents.iter().all(|&p| self.available(p)))
            .collect();
        for id in ready {
            self.waiting.remove(&id);
            self.submit_stage(id, events);
        }
    }

    /// A map task's output (any attempt of the stage: outputs of an older attempt are still valid).
    pub(crate) fn map_task_succeeded(&mut self, stage: u32, index: usize, out: MapOut) -> Vec<DagEvent> {
        let mut events = Vec::new();
        let Some(s) = self.stages.get_mut(&stage) else { return events };
        let Some(shuffle) = s.shuffle.clone() else { return events };
        s.pending.remove(&index);
        let done = s.pending.is_empty();
        if let Some(slot) = self.outputs.get_mut(&shuffle.shuffle_id).and_then(|o| o.get_mut(index)) {
            *slot = Some(out);
        }
        if done && self.running.remove(&stage) {
            let name = match self.stages.get_mut(&stage) {
                Some(s) => {
                    s.fetch_failed_attempts.clear();
                    s.name.clone()
                }
                None => String::new(),
            };
            events.push(DagEvent::StageCompleted { stage, name });
            if self.available(stage) {
                self.submit_waiting(&mut events);
            } else {
                // Some outputs were lost while it ran: run the missing ones again.
                self.submit_stage(stage, &mut events);
            }
        }
        events
    }

    pub(crate) fn result_task_succeeded(&mut self, stage: u32, index: usize, result: Vec<u8>) -> Vec<DagEvent> {
        let mut events = Vec::new();
        let Some(job_id) = self.stages.get(&stage).and_then(|s| s.result.as_ref()).map(|r| r.job) else {
            return events;
        };
        let Some(job) = self.jobs.get_mut(&job_id) else { return events };
        if job.results[index].is_none() {
            job.results[index] = Some(result);
            job.remaining -= 1;
        }
        if let Some(s) = self.stages.get_mut(&stage) {
            s.pending.remove(&index);
        }
        if job.remaining == 0 {
            let job = self.jobs.remove(&job_id).expect("job exists");
            self.running.remove(&stage);
            let name = self.stages.get(&stage).map(|s| s.name.clone()).unwrap_or_default();
            // Spark: "Job N is finished. Cancelling potential speculative or zombie tasks for this job".
            let kill = Some(format!("Stage cancelled: Job {job_id} is finished."));
            events.push(DagEvent::Cancel { stage, kill });
            events.push(DagEvent::StageCompleted { stage, name });
            events.push(DagEvent::JobSucceeded { job: job_id, results: job.results.into_iter().flatten().collect() });
            self.forget_job(job_id);
        }
        events
    }

    /// `ShuffleMapStage 2` or `ResultStage 3`, as Spark names stages in its messages.
    fn describe(&self, stage: u32) -> String {
        match self.stages.get(&stage) {
            Some(s) if s.result.is_some() => format!("ResultStage {stage} ({})", s.name),
            Some(s) => format!("ShuffleMapStage {stage} ({})", s.name),
            None => format!("Stage {stage}"),
        }
    }

    /// A stage's task set gave up (a task failed too often, a result was too large, a task could run
    /// nowhere): every job that needs it fails, and their stages no other job needs are cancelled,
    /// their running tasks killed.
    pub(crate) fn stage_aborted(&mut self, stage: u32, reason: &str) -> Vec<DagEvent> {
        let jobs: BTreeSet<u32> = self.stages.get(&stage).map(|s| s.jobs.clone()).unwrap_or_default();
        let failing: BTreeSet<u32> = jobs.into_iter().filter(|j| self.jobs.contains_key(j)).collect();
        let message = format!("Job aborted due to stage failure: {reason}");
        let independent: Vec<u32> =
            self.stages.values().filter(|s| !s.jobs.is_empty() && s.jobs.is_subset(&failing)).map(|s| s.id).collect();
        let mut events = Vec::new();
        for id in independent {
            self.waiting.remove(&id);
            self.failed.remove(&id);
            if self.running.remove(&id) {
                tracing::info!("Cancelling stage {id}");
                events.push(DagEvent::Cancel { stage: id, kill: Some(format!("Stage cancelled: {message}")) });
            }
        }
        for job in failing {
            if self.jobs.remove(&job).is_some() {
                events.push(DagEvent::JobFailed { job, message: message.clone() });
                self.forget_job(job);
            }
        }
        events
    }

    /// A reducer could not fetch a map output: the output is gone. The failed stage attempt stops;
    /// after [`RESUBMIT_TIMEOUT_MS`] the map stage's missing partitions run again, then the
    /// reducers. `stage_attempt` is the failed task's: an older attempt's failure only unregisters
    /// the output.
    pub(crate) fn fetch_failed(
        &mut self,
        stage: u32,
        stage_attempt: u32,
        shuffle_id: u32,
        map_index: u32,
        executor: &str,
        message: &str,
    ) -> Vec<DagEvent> {
        let mut events = Vec::new();
        if let Some(slot) = self.outputs.get_mut(&shuffle_id).and_then(|o| o.get_mut(map_index as usize)) {
            *slot = None;
        }
        // Without an external shuffle service an executor's shuffle files live and die together:
        // as Spark does, every map output on the executor that failed a fetch is taken as lost, so
        // the map stages regenerate them in one pass rather than one fetch failure at a time.
        self.unregister_outputs_on(executor);
        let Some(s) = self.stages.get_mut(&stage) else { return events };
        if !self.running.contains(&stage) || s.attempts.checked_sub(1) != Some(stage_attempt) {
            return events;
        }
        s.fetch_failed_attempts.insert(stage_attempt);
        let consecutive = s.fetch_failed_attempts.len() as u32;
        self.running.remove(&stage);
        events.push(DagEvent::Cancel { stage, kill: None });
        let map_stage = self.shuffle_stage.get(&shuffle_id).copied();
        let (failed, from) = (self.describe(stage), map_stage.map(|m| self.describe(m)).unwrap_or_default());
        tracing::info!("Marking {failed} as failed due to a fetch failure from {from}");
        if consecutive >= self.max_consecutive_attempts {
            let reason = format!(
                "{failed} has failed the maximum allowable number of times: {}. Most recent failure reason: {message}",
                self.max_consecutive_attempts
            );
            events.extend(self.stage_aborted(stage, &reason));
            return events;
        }
        if self.failed.is_empty() {
            tracing::info!("Resubmitting {from} and {failed} due to fetch failure");
            events.push(DagEvent::ResubmitAfter { delay_ms: RESUBMIT_TIMEOUT_MS });
        }
        self.failed.insert(stage);
        self.failed.extend(map_stage);
        events
    }

    /// Spark's `ResubmitFailedStages`: the stages failed by fetch failures since the last call are
    /// submitted again (each first submits its parents' missing partitions), oldest job first.
    pub(crate) fn resubmit_failed_stages(&mut self) -> Vec<DagEvent> {
        let mut events = Vec::new();
        if self.failed.is_empty() {
            return events;
        }
        tracing::info!("Resubmitting failed stages");
        let mut failed: Vec<(u32, u32)> = std::mem::take(&mut self.failed)
            .into_iter()
            .filter_map(|id| self.stages.get(&id).and_then(|s| s.jobs.first().map(|job| (*job, id))))
            .collect();
        failed.sort();
        for (_, id) in failed {
            self.submit_stage(id, &mut events);
        }
        events
    }

    /// An executor is gone: its map outputs and cached blocks with it.
    pub(crate) fn executor_lost(&mut self, executor: &str) -> Vec<DagEvent> {
        self.unregister_outputs_on(executor);
        self.cached.retain(|_, e| e != executor);
        // Running stages whose inputs vanished go back to waiting for their parents.
        let mut events = Vec::new();
        let broken: Vec<u32> = self
            .running
            .iter()
            .copied()
            .filter(|&s| self.stages[&s].parents.iter().any(|&p| !self.available(p)))
            .collect();
        for stage in broken {
            self.running.remove(&stage);
            events.push(DagEvent::Cancel { stage, kill: None });
            self.submit_stage(stage, &mut events);
        }
        events
    }

    /// Forgets every map output held by `executor`.
    fn unregister_outputs_on(&mut self, executor: &str) {
        for outputs in self.outputs.values_mut() {
            for slot in outputs.iter_mut() {
                if slot.as_ref().is_some_and(|o| o.executor == executor) {
                    *slot = None;
                }
            }
        }
    }

    /// Drops the job's result stage; shuffle stages stay, so later jobs reuse their outputs.
    fn forget_job(&mut self, job: u32) {
        let result_stages: Vec<u32> =
            self.stages.values().filter(|s| s.result.as_ref().is_some_and(|r| r.job == job)).map(|s| s.id).collect();
        for id in result_stages {
            self.stages.remove(&id);
            self.running.remove(&id);
            self.waiting.remove(&id);
            self.failed.remove(&id);
        }
        for stage in self.stages.values_mut() {
            stage.jobs.remove(&job);
        }
        let orphaned: Vec<u32> = self.waiting.iter().copied().filter(|s| self.stages[s].jobs.is_empty()).collect();
        for id in orphaned {
            self.waiting.remove(&id);
        }
    }

    pub(crate) fn is_running(&self, stage: u32) -> bool {
        self.running.contains(&stage)
    }

    /// The bytes of each reduce partition of a shuffle map stage's output, summed over its map
    /// outputs (`None` for a result stage); missing outputs count as empty.
    pub(crate) fn reduce_partition_bytes(&self, stage: u32) -> Option<Vec<u64>> {
        let shuffle = self.stages.get(&stage)?.shuffle.as_ref()?;
        let mut sizes = vec![0u64; shuffle.num_reduce];
        for out in self.outputs.get(&shuffle.shuffle_id)?.iter().flatten() {
            for (total, size) in sizes.iter_mut().zip(&out.sizes) {
                *total += size;
            }
        }
        Some(sizes)
    }
}
