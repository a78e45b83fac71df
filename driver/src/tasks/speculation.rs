//! Speculative execution (`spark.speculation`): every `spark.speculation.interval`, a task set whose
//! successful tasks reached `spark.speculation.quantile` of its tasks marks each task that has run
//! longer than max(`spark.speculation.minTaskRuntime`, `spark.speculation.multiplier` × the median
//! successful duration) as speculatable; the next free core not already running it launches one copy.
//! The first attempt to succeed wins and the other is killed (in `TaskScheduler::succeeded`).

use super::TaskScheduler;

/// `spark.speculation.*`, Spark 4's defaults (`facts/spark.md` §2).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpeculationConf {
    /// `spark.speculation.interval`: how often [`TaskScheduler::check_speculatable`] runs.
    pub(crate) interval_ms: u64,
    /// `spark.speculation.multiplier`.
    pub(crate) multiplier: f64,
    /// `spark.speculation.quantile`.
    pub(crate) quantile: f64,
    /// `spark.speculation.minTaskRuntime`.
    pub(crate) min_task_runtime_ms: u64,
    /// Whether a copy may run on the executor of the attempt it copies. Spark never launches a
    /// copy on the original's host, so in its local mode a task is marked speculatable and never
    /// copied; Weft's local mode has one executor standing in for the cluster and lets the copy run
    /// beside the original there. Off on a cluster: a copy goes to another executor.
    pub(crate) copies_share_executor: bool,
}

impl Default for SpeculationConf {
    fn default() -> SpeculationConf {
        SpeculationConf {
            interval_ms: 100,
            multiplier: 3.0,
            quantile: 0.9,
            min_task_runtime_ms: 100,
            copies_share_executor: false,
        }
    }
}

/// The median of durations (the mean of the middle two for an even count), as Spark's `MedianHeap`.
pub(super) fn median(durations_ms: &[u64]) -> f64 {
    let mut sorted = durations_ms.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2] as f64,
        _ => (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0,
    }
}

impl TaskScheduler {
    /// Marks slow running tasks as speculatable (Spark's `checkSpeculatableTasks`); returns how many
    /// were marked. Their copies launch at the next offers.
    pub(crate) fn check_speculatable(&mut self, now_ms: u64) -> usize {
        let Some(conf) = self.conf.speculation.clone() else { return 0 };
        let mut marked = 0;
        for i in 0..self.sets.len() {
            marked += self.check_set(i, &conf, now_ms);
        }
        marked
    }

    fn check_set(&mut self, i: usize, conf: &SpeculationConf, now_ms: u64) -> usize {
        let set = &self.sets[i];
        // One task gives no median to compare against.
        if set.zombie || set.n_tasks <= 1 {
            return 0;
        }
        let min_finished = ((conf.quantile * set.n_tasks as f64).floor() as usize).max(1);
        if set.durations_ms.len() < min_finished {
            return 0;
        }
        let threshold = (conf.multiplier * median(&set.durations_ms)).max(conf.min_task_runtime_ms as f64);
        let (stage, attempt) = (set.stage, set.attempt);
        let slow: Vec<(usize, String)> = self
            .running
            .values()
            .filter(|r| r.stage == stage && r.stage_attempt == attempt)
            .filter(|r| now_ms.saturating_sub(r.started_ms) as f64 > threshold)
            .map(|r| (r.index, r.host.clone()))
            .collect();
        let set = &mut self.sets[i];
        let name = set.name();
        let mut marked = 0;
        for (index, host) in slow {
            let already = set.slots.iter().filter(|s| s.speculatable).count();
            let slot = &mut set.slots[index];
            if slot.done || slot.speculatable || slot.running.len() != 1 {
                continue;
            }
            slot.speculatable = true;
            marked += 1;
            // Spark 4's wording, including the missing space before "speculatable tasks".
            tracing::info!(
                "Marking task {index} in stage {name} (on {host}) as speculatable because it ran more than {threshold:?} \
                 ms({}speculatable tasks in this taskset now)",
                already + 1
            );
        }
        marked
    }
}
