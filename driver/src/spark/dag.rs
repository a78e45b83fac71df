//! The DAG scheduler: turns a job (an RDD, the partitions wanted, a result function) into stages cut
//! at shuffle dependencies, submits each stage once its parents' shuffle outputs exist, tracks map
//! outputs per executor, and reuses them across jobs (a stage whose outputs exist is skipped).
//! Plain state machine: events in, [`DagEvent`]s out; no I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use weft_executor::plan::ResultCtor;
use weft_executor::FnRef;

use super::rdd::{Dep, RddNode, ShuffleDep};

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
    pub(crate) failed_attempts: u32,
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
    /// Stop scheduling a stage attempt (its outputs are being recomputed elsewhere).
    Cancel {
        stage: u32,
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

/// Spark's `spark.stage.maxConsecutiveAttempts`.
pub(crate) const MAX_CONSECUTIVE_STAGE_ATTEMPTS: u32 = 4;

#[derive(Default)]
pub(crate) struct Dag {
    next_job: u32,
    next_stage: u32,
    pub(crate) stages: BTreeMap<u32, Stage>,
    shuffle_stage: HashMap<u32, u32>,
    pub(crate) outputs: HashMap<u32, Vec<Option<MapOut>>>,
    pub(crate) jobs: BTreeMap<u32, Job>,
    waiting: BTreeSet<u32>,
    running: BTreeSet<u32>,
    /// Cached partitions: (rdd, partition) → executor.
    pub(crate) cached: HashMap<(u32, u32), String>,
}

impl Dag {
    pub(crate) fn new() -> Dag {
        Dag::default()
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
            failed_attempts: 0,
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
        node.storage_level() != super::rdd::StorageLevel::NONE
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
                failed_attempts: 0,
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
                    s.failed_attempts = 0;
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
            events.push(DagEvent::StageCompleted { stage, name });
            events.push(DagEvent::JobSucceeded { job: job_id, results: job.results.into_iter().flatten().collect() });
            self.forget_job(job_id);
        }
        events
    }

    /// A stage's task set gave up (a task failed too often): every job that needs it fails.
    pub(crate) fn stage_aborted(&mut self, stage: u32, reason: &str) -> Vec<DagEvent> {
        let jobs: Vec<u32> = self.stages.get(&stage).map(|s| s.jobs.iter().copied().collect()).unwrap_or_default();
        let mut events = Vec::new();
        for job in jobs {
            if self.jobs.remove(&job).is_some() {
                events
                    .push(DagEvent::JobFailed { job, message: format!("Job aborted due to stage failure: {reason}") });
                self.forget_job(job);
            }
        }
        events
    }

    /// A reducer could not fetch a map output: it is gone; re-run the map stage's missing
    /// partitions, then the reducers.
    pub(crate) fn fetch_failed(&mut self, stage: u32, shuffle_id: u32, map_index: u32, message: &str) -> Vec<DagEvent> {
        let mut events = Vec::new();
        if let Some(slot) = self.outputs.get_mut(&shuffle_id).and_then(|o| o.get_mut(map_index as usize)) {
            *slot = None;
        }
        let Some(s) = self.stages.get_mut(&stage) else { return events };
        if !self.running.contains(&stage) {
            return events;
        }
        s.failed_attempts += 1;
        let attempts = s.failed_attempts;
        let name = s.name.clone();
        self.running.remove(&stage);
        events.push(DagEvent::Cancel { stage });
        if attempts >= MAX_CONSECUTIVE_STAGE_ATTEMPTS {
            let reason = format!(
                "ResultStage {stage} ({name}) has failed the maximum allowable number of times: \
                 {MAX_CONSECUTIVE_STAGE_ATTEMPTS}. Most recent failure reason: {message}"
            );
            events.extend(self.stage_aborted(stage, &reason));
            return events;
        }
        self.submit_stage(stage, &mut events);
        events
    }

    /// An executor is gone: its map outputs and cached blocks with it.
    pub(crate) fn executor_lost(&mut self, executor: &str) -> Vec<DagEvent> {
        for outputs in self.outputs.values_mut() {
            for slot in outputs.iter_mut() {
                if slot.as_ref().is_some_and(|o| o.executor == executor) {
                    *slot = None;
                }
            }
        }
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
            events.push(DagEvent::Cancel { stage });
            self.submit_stage(stage, &mut events);
        }
        events
    }

    /// Drops the job's result stage; shuffle stages stay, so later jobs reuse their outputs.
    fn forget_job(&mut self, job: u32) {
        let result_stages: Vec<u32> =
            self.stages.values().filter(|s| s.result.as_ref().is_some_and(|r| r.job == job)).map(|s| s.id).collect();
        for id in result_stages {
            self.stages.remove(&id);
            self.running.remove(&id);
            self.waiting.remove(&id);
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
}
