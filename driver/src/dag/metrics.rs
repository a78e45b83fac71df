//! Per-stage figures for skew and spill: the successful tasks' metrics summed per stage (run time,
//! bytes spilled in memory and on disk, shuffle bytes), and for a shuffle map stage the sizes of its
//! reduce partitions (each summed over the map outputs): the largest against the median. The driver
//! logs one line per stage when it finishes ([`StageMetrics::report`]) and keeps the figures for
//! [`SparkContext::stage_metrics`](crate::SparkContext::stage_metrics). Pure data.

use std::collections::BTreeMap;

use weft_executor::context::TaskMetrics;
use weft_executor::error::bytes_to_string;

/// How many stages' figures are kept (Spark's `spark.ui.retainedStages` default); older ones go first.
pub(crate) const RETAINED_STAGES: usize = 1000;

/// One stage's figures, summed over its successful tasks (of every attempt).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageMetrics {
    pub stage_id: u32,
    /// `reduceByKey at wordcount.rs:33`.
    pub name: String,
    /// Whether the stage has finished (its figures are final unless it runs again).
    pub completed: bool,
    pub tasks: u64,
    pub executor_run_time_ms: u64,
    pub memory_bytes_spilled: u64,
    pub disk_bytes_spilled: u64,
    pub shuffle_read_bytes: u64,
    pub shuffle_write_bytes: u64,
    /// A shuffle map stage's output, per reduce partition: the largest, the median, the total.
    pub largest_partition_bytes: u64,
    pub median_partition_bytes: u64,
    pub shuffle_partition_bytes: u64,
    /// How many reduce partitions the stage's output has (0 for a result stage).
    pub shuffle_partitions: usize,
}

impl StageMetrics {
    /// The stage-end line: `Stage 1 (reduceByKey at …) spilled 2.5 GiB (memory) / 310.4 MiB (disk);
    /// largest shuffle partition 95.3 MiB of 312.0 MiB total (median 2.1 MiB)`, sizes as Spark prints
    /// them (a unit is used from twice its size: 1.2 GiB prints as `1228.8 MiB`).
    pub fn report(&self) -> String {
        let spilled = format!(
            "Stage {} ({}) spilled {} (memory) / {} (disk)",
            self.stage_id,
            self.name,
            bytes_to_string(self.memory_bytes_spilled),
            bytes_to_string(self.disk_bytes_spilled)
        );
        if self.shuffle_partitions == 0 {
            return spilled;
        }
        format!(
            "{spilled}; largest shuffle partition {} of {} total (median {})",
            bytes_to_string(self.largest_partition_bytes),
            bytes_to_string(self.shuffle_partition_bytes),
            bytes_to_string(self.median_partition_bytes)
        )
    }
}

/// The figures of recent stages, by stage id.
#[derive(Debug, Default)]
pub(crate) struct StageMetricsBook {
    stages: BTreeMap<u32, StageMetrics>,
}

impl StageMetricsBook {
    fn entry(&mut self, stage: u32) -> &mut StageMetrics {
        if !self.stages.contains_key(&stage) && self.stages.len() >= RETAINED_STAGES {
            self.stages.pop_first();
        }
        self.stages.entry(stage).or_insert_with(|| StageMetrics { stage_id: stage, ..StageMetrics::default() })
    }

    /// A successful task's metrics.
    pub(crate) fn task_succeeded(&mut self, stage: u32, m: &TaskMetrics) {
        let s = self.entry(stage);
        s.tasks += 1;
        s.executor_run_time_ms += m.executor_run_time_ms;
        s.memory_bytes_spilled += m.memory_bytes_spilled;
        s.disk_bytes_spilled += m.disk_bytes_spilled;
        s.shuffle_read_bytes += m.shuffle_read_bytes;
        s.shuffle_write_bytes += m.shuffle_write_bytes;
    }

    /// The stage finished; `reduce_partition_bytes` is its shuffle output per reduce partition
    /// (`None` for a result stage). Returns the stage's figures.
    pub(crate) fn stage_completed(
        &mut self,
        stage: u32,
        name: &str,
        reduce_partition_bytes: Option<&[u64]>,
    ) -> StageMetrics {
        let s = self.entry(stage);
        s.name = name.to_owned();
        s.completed = true;
        if let Some(sizes) = reduce_partition_bytes {
            let mut sorted = sizes.to_vec();
            sorted.sort_unstable();
            s.shuffle_partitions = sorted.len();
            s.largest_partition_bytes = sorted.last().copied().unwrap_or(0);
            s.shuffle_partition_bytes = sorted.iter().sum();
            s.median_partition_bytes = median(&sorted);
        }
        s.clone()
    }

    /// Every kept stage's figures, by stage id.
    pub(crate) fn snapshot(&self) -> Vec<StageMetrics> {
        self.stages.values().cloned().collect()
    }
}

/// The median of sorted sizes (the lower middle one for an even count, so it is a real partition's).
fn median(sorted: &[u64]) -> u64 {
    match sorted.len() {
        0 => 0,
        n => sorted[(n - 1) / 2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spilled(memory: u64, disk: u64) -> TaskMetrics {
        TaskMetrics { memory_bytes_spilled: memory, disk_bytes_spilled: disk, ..TaskMetrics::default() }
    }

    #[test]
    fn a_map_stage_reports_its_spills_and_its_largest_partition_against_the_median() {
        let mut book = StageMetricsBook::default();
        book.task_succeeded(1, &spilled(2 << 30, 100 << 20));
        book.task_succeeded(1, &spilled(1 << 29, 210 << 20));
        let mib = 1 << 20;
        let sizes = [2 * mib, 95 * mib, mib, 3 * mib, 2 * mib];
        let s = book.stage_completed(1, "reduceByKey at wordcount.rs:33", Some(&sizes));
        assert_eq!((s.tasks, s.largest_partition_bytes, s.median_partition_bytes), (2, 95 * mib, 2 * mib));
        assert_eq!(
            s.report(),
            "Stage 1 (reduceByKey at wordcount.rs:33) spilled 2.5 GiB (memory) / 310.0 MiB (disk); largest shuffle \
             partition 95.0 MiB of 103.0 MiB total (median 2.0 MiB)"
        );
        assert_eq!(book.snapshot(), vec![s]);
    }

    #[test]
    fn a_result_stage_reports_its_spills_only() {
        let mut book = StageMetricsBook::default();
        let s = book.stage_completed(4, "collect at main.rs:9", None);
        assert_eq!(s.report(), "Stage 4 (collect at main.rs:9) spilled 0.0 B (memory) / 0.0 B (disk)");
        assert!(s.completed && s.tasks == 0);
    }

    #[test]
    fn only_the_most_recent_stages_are_kept() {
        let mut book = StageMetricsBook::default();
        for stage in 0..RETAINED_STAGES as u32 + 5 {
            book.task_succeeded(stage, &TaskMetrics::default());
        }
        let kept = book.snapshot();
        assert_eq!((kept.len(), kept[0].stage_id), (RETAINED_STAGES, 5));
    }
}
