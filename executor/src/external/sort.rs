//! Records sorted by key that spill (the reduce side of `sortByKey`, Spark's `ExternalSorter` with an
//! ordering): a buffer sorted into a run whenever it outgrows its memory, then a k-way merge of the
//! runs and the buffer that streams batches out. The sort is stable: among equal keys, records keep
//! the order they came in (runs are merged oldest first).

use std::cmp::Ordering;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::heap::MinHeap;
use super::{Holding, MemoryBudget, RunBuilder};
use crate::batch::{batches_of, Batch, Batches, BATCH_SIZE};
use crate::context::TaskCtx;
use crate::error::TaskError;
use crate::size::{vec_bytes, SizeTracker};
use crate::spill::{spill_read_error, Run, RunRecords};

/// A spilling sort of `(K, V)` by `K`.
pub struct Sorter<K, V> {
    /// The batches added since the last spill, as they came: they are put together once, at their
    /// size, when sorted (a vector grown by doubling copied its records about twice and had the
    /// kernel zero each bigger block it moved to).
    batches: Vec<Vec<(K, V)>>,
    records: usize,
    /// The bytes of the batches' vectors.
    inline_bytes: u64,
    ascending: bool,
    sizes: SizeTracker,
    budget: MemoryBudget,
    runs: Vec<Run>,
}

impl<K, V> Sorter<K, V>
where
    K: Ord + Serialize + DeserializeOwned + 'static,
    V: Serialize + DeserializeOwned + 'static,
{
    pub fn new(ctx: &TaskCtx, ascending: bool) -> Sorter<K, V> {
        Sorter {
            batches: Vec::new(),
            records: 0,
            inline_bytes: 0,
            ascending,
            sizes: SizeTracker::new(),
            budget: MemoryBudget::new(ctx),
            runs: Vec::new(),
        }
    }

    /// Adds a batch; the records held are sorted into a run if they outgrew their memory.
    pub fn insert_batch(&mut self, batch: Vec<(K, V)>) -> Result<(), TaskError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.records += batch.len();
        self.sizes.observe(self.records, &batch);
        self.inline_bytes += vec_bytes(&batch);
        self.batches.push(batch);
        let estimate = self.inline_bytes + self.sizes.estimate(self.records);
        if self.budget.must_spill(estimate) {
            self.spill(estimate)?;
        }
        Ok(())
    }

    /// The records held, in one vector, sorted.
    fn take_sorted(&mut self) -> Vec<(K, V)> {
        let mut batches = std::mem::take(&mut self.batches);
        let mut records = if batches.len() == 1 {
            batches.pop().expect("one batch")
        } else {
            let mut all = Vec::with_capacity(self.records);
            for batch in batches {
                all.extend(batch);
            }
            all
        };
        self.records = 0;
        self.inline_bytes = 0;
        super::order::sort_by_key(&mut records, self.ascending);
        records
    }

    fn spill(&mut self, estimate: u64) -> Result<(), TaskError> {
        let sorted = self.take_sorted();
        let ctx = self.budget.ctx().clone();
        let mut run = RunBuilder::create(&ctx)?;
        for record in &sorted {
            run.push(0, record)?;
        }
        drop(sorted);
        self.runs.push(run.finish(&ctx, estimate)?);
        self.budget.release();
        Ok(())
    }

    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// The records in order, in batches.
    pub fn into_batches(mut self) -> Result<Batches, TaskError> {
        let buffer = self.take_sorted();
        let Sorter { ascending, budget, runs, .. } = self;
        if runs.is_empty() {
            return Ok(Box::new(Holding { batches: batches_of(buffer), _budget: budget }));
        }
        let mut sources: Vec<Source<K, V>> = Vec::with_capacity(runs.len() + 1);
        for run in &runs {
            sources.push(Source::Run(RunRecords::new(run.open().map_err(spill_read_error)?)));
        }
        sources.push(Source::Memory(buffer.into_iter()));
        let less: Less<K, V> = if ascending { ascending_first } else { descending_first };
        let mut heap = MinHeap::new(less);
        for (i, source) in sources.iter_mut().enumerate() {
            if let Some((k, v)) = source.next()? {
                heap.push((k, v, i));
            }
        }
        Ok(Box::new(Merged { heap, sources, _runs: runs, _budget: budget, done: false }))
    }
}

type Less<K, V> = fn(&(K, V, usize), &(K, V, usize)) -> bool;

fn ascending_first<K: Ord, V>(a: &(K, V, usize), b: &(K, V, usize)) -> bool {
    match a.0.cmp(&b.0) {
        Ordering::Equal => a.2 < b.2,
        order => order == Ordering::Less,
    }
}

fn descending_first<K: Ord, V>(a: &(K, V, usize), b: &(K, V, usize)) -> bool {
    match b.0.cmp(&a.0) {
        Ordering::Equal => a.2 < b.2,
        order => order == Ordering::Less,
    }
}

enum Source<K, V> {
    Run(RunRecords<(K, V)>),
    Memory(std::vec::IntoIter<(K, V)>),
}

impl<K: DeserializeOwned, V: DeserializeOwned> Source<K, V> {
    fn next(&mut self) -> Result<Option<(K, V)>, TaskError> {
        match self {
            Source::Run(records) => records.next_record(),
            Source::Memory(records) => Ok(records.next()),
        }
    }
}

/// The k-way merge of the runs and the sorted buffer.
struct Merged<K, V> {
    heap: MinHeap<(K, V, usize), Less<K, V>>,
    sources: Vec<Source<K, V>>,
    _runs: Vec<Run>,
    _budget: MemoryBudget,
    done: bool,
}

impl<K: DeserializeOwned + 'static, V: DeserializeOwned + 'static> Merged<K, V> {
    fn fill(&mut self) -> Result<Vec<(K, V)>, TaskError> {
        let mut out = Vec::with_capacity(BATCH_SIZE);
        while out.len() < BATCH_SIZE {
            let Some((k, v, i)) = self.heap.pop() else { break };
            out.push((k, v));
            if let Some((k, v)) = self.sources[i].next()? {
                self.heap.push((k, v, i));
            }
        }
        Ok(out)
    }
}

impl<K: DeserializeOwned + 'static, V: DeserializeOwned + 'static> Iterator for Merged<K, V> {
    type Item = Result<Batch, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.fill() {
            Ok(out) if out.is_empty() => {
                self.done = true;
                None
            }
            Ok(out) => Some(Ok(Box::new(out) as Batch)),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::task;
    use super::*;

    fn sorted_records(batches: Batches) -> Vec<(u64, String)> {
        batches.flat_map(|b| *b.unwrap().downcast::<Vec<(u64, String)>>().unwrap()).collect()
    }

    #[test]
    fn a_sort_in_a_tiny_budget_spills_and_equals_a_stable_sort_both_ways() {
        for ascending in [true, false] {
            for budget in [48u64 << 10, 256 << 20] {
                let dir = tempfile::tempdir().unwrap();
                let (ctx, _) = task(budget, dir.path());
                let data: Vec<(u64, String)> = (0..60_000u64).map(|i| ((i * 7919) % 1000, format!("v{i}"))).collect();
                let mut sorter = Sorter::new(&ctx, ascending);
                for batch in data.chunks(1500) {
                    sorter.insert_batch(batch.to_vec()).unwrap();
                }
                assert_eq!(sorter.spilled(), budget < 1 << 20);
                let mut want = data.clone();
                if ascending {
                    want.sort_by_key(|a| a.0);
                } else {
                    want.sort_by_key(|b| std::cmp::Reverse(b.0));
                }
                assert_eq!(sorted_records(sorter.into_batches().unwrap()), want, "ascending {ascending}, {budget}");
                let metrics = ctx.metrics_snapshot();
                assert_eq!(metrics.disk_bytes_spilled > 0, budget < 1 << 20, "{metrics:?}");
            }
        }
    }
}
