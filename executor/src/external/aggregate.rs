//! A hash table of combiners by key that spills (Spark's `ExternalAppendOnlyMap`): map-side combine,
//! the reduce side of combineByKey, groupByKey and cogroup. A spill writes the table as a run sorted
//! by (output partition, key hash); the output merges the runs and the table partition by partition,
//! taking each key hash in turn from every source and combining the entries of equal keys.

use std::collections::hash_map::{Entry, OccupiedEntry};
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::heap::MinHeap;
use super::{key_hash, FxMap, Holding, MemoryBudget, RunBuilder};
use crate::batch::{batches_of, Batch, Batches, BATCH_SIZE};
use crate::context::TaskCtx;
use crate::encoding::FrameBuilder;
use crate::error::TaskError;
use crate::plan::ShuffleSink;
use crate::size::{table_bytes, SizeTracker};
use crate::spill::{spill_read_error, Run, RunRecords};

/// How a table's combiners grow, which decides how its size is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// A combiner keeps about its size as values merge into it (sums, counts, small structs):
    /// entries of the table are sampled.
    Combining,
    /// A combiner is the group of its key's values (groupByKey, cogroup): values are counted as they
    /// come (one key may hold most of them), keys sampled.
    Grouping,
}

/// A spilling hash table of combiners `C` by key `K`.
pub struct Aggregator<K, C> {
    map: FxMap<K, C>,
    growth: Growth,
    /// Combining: the table's entries; Grouping: its keys.
    entry_sizes: SizeTracker,
    /// Grouping: the values added since the last spill, their sampled sizes and inline bytes.
    value_sizes: SizeTracker,
    values: u64,
    values_inline: u64,
    budget: MemoryBudget,
    runs: Vec<Run>,
}

impl<K, C> Aggregator<K, C>
where
    K: Eq + Hash + Serialize + DeserializeOwned + 'static,
    C: Serialize + DeserializeOwned + 'static,
{
    pub fn new(ctx: &TaskCtx, growth: Growth) -> Aggregator<K, C> {
        Aggregator {
            map: FxMap::default(),
            growth,
            entry_sizes: SizeTracker::new(),
            value_sizes: SizeTracker::new(),
            values: 0,
            values_inline: 0,
            budget: MemoryBudget::new(ctx),
            runs: Vec::new(),
        }
    }

    /// Adds `value` to `key`'s combiner: `create` makes the first one, `merge` folds in the others.
    #[inline(always)]
    pub fn insert_with<V>(&mut self, key: K, value: V, create: impl FnOnce(V) -> C, merge: impl FnOnce(C, V) -> C) {
        match self.map.entry(key) {
            Entry::Occupied(e) => merge_entry(e, |c| merge(c, value)),
            Entry::Vacant(e) => {
                e.insert(create(value));
            }
        }
    }

    /// Adds `value` to `key`'s combiner in place (a group's vector): `create` makes the first one.
    #[inline(always)]
    pub fn insert_mut<V>(&mut self, key: K, value: V, create: impl FnOnce(V) -> C, update: impl FnOnce(&mut C, V)) {
        match self.map.entry(key) {
            Entry::Occupied(e) => update(e.into_mut(), value),
            Entry::Vacant(e) => {
                e.insert(create(value));
            }
        }
    }

    /// Notes a batch about to be grouped (before its records are inserted): its values are counted
    /// and, now and then, its keys and values measured.
    pub fn note_values<V: Serialize>(&mut self, records: &[(K, V)]) {
        if records.is_empty() {
            return;
        }
        self.values += records.len() as u64;
        // A group's vector doubles as it grows: about twice its values' inline bytes.
        self.values_inline += (records.len() * 2 * std::mem::size_of::<V>()) as u64;
        let step = (records.len() / 16).max(1);
        if self.value_sizes.due(self.values as usize) {
            self.value_sizes.sample(self.values as usize, records.iter().step_by(step).map(|r| &r.1));
        }
        if self.entry_sizes.due(self.map.len()) {
            self.entry_sizes.sample(self.map.len(), records.iter().step_by(step).map(|r| &r.0));
        }
    }

    /// The table's estimated bytes.
    pub fn estimate(&self) -> u64 {
        let table = table_bytes::<K, C>(self.map.capacity());
        match self.growth {
            Growth::Combining => table + self.entry_sizes.estimate(self.map.len()),
            Growth::Grouping => {
                table
                    + self.entry_sizes.estimate(self.map.len())
                    + self.value_sizes.estimate(self.values as usize)
                    + self.values_inline
            }
        }
    }

    /// After a batch: spills the table if it outgrew the memory its task can give it. `partition`
    /// is each key's output partition (0 on the reduce side).
    pub fn maybe_spill(&mut self, partition: impl Fn(&K) -> usize) -> Result<(), TaskError> {
        if self.growth == Growth::Combining && self.entry_sizes.due(self.map.len()) {
            self.entry_sizes.sample(self.map.len(), self.map.iter());
        }
        let estimate = self.estimate();
        if self.budget.must_spill(estimate) {
            self.spill(&partition, estimate)?;
        }
        Ok(())
    }

    fn spill(&mut self, partition: &impl Fn(&K) -> usize, estimate: u64) -> Result<(), TaskError> {
        let sorted = sorted_by_hash(std::mem::take(&mut self.map), partition);
        let ctx = self.budget.ctx().clone();
        let mut run = RunBuilder::create(&ctx)?;
        for (p, h, k, c) in &sorted {
            run.push(*p as usize, &(h, k, c))?;
        }
        drop(sorted);
        self.runs.push(run.finish(&ctx, estimate)?);
        self.budget.release();
        self.values = 0;
        self.values_inline = 0;
        Ok(())
    }

    /// Whether the table spilled (its output merges runs).
    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// The reduce side's output: every key with its combiner, in batches. `merge` combines the
    /// combiners of a key from different runs.
    pub fn into_batches<F>(self, merge: F) -> Result<Batches, TaskError>
    where
        F: FnMut(C, C) -> C + 'static,
    {
        let Aggregator { map, budget, runs, .. } = self;
        if runs.is_empty() {
            let batches = batches_of(map.into_iter().collect::<Vec<(K, C)>>());
            return Ok(Box::new(Holding { batches, _budget: budget }));
        }
        let memory = vec![sorted_by_hash(map, &|_: &K| 0).into_iter().map(|(_, h, k, c)| (h, k, c)).collect()];
        let mut merged = HashMerge::new(runs, memory, merge)?;
        merged.start_partition(0)?;
        Ok(Box::new(MergedBatches { merged, _budget: budget, done: false }))
    }

    /// A map task's output: every key with its combiner, partition by partition, into `sink`.
    /// Returns the records written.
    pub fn write_to<F>(
        self,
        sink: &mut dyn ShuffleSink,
        partition: impl Fn(&K) -> usize,
        merge: F,
    ) -> Result<u64, TaskError>
    where
        F: FnMut(C, C) -> C,
    {
        let Aggregator { map, budget, runs, .. } = self;
        let n = sink.num_reduce();
        let mut frame = FrameBuilder::new();
        let mut written = 0u64;
        if runs.is_empty() {
            let mut buckets: Vec<Vec<(K, C)>> = (0..n).map(|_| Vec::new()).collect();
            for (k, c) in map {
                buckets[partition(&k)].push((k, c));
            }
            for (p, bucket) in buckets.into_iter().enumerate() {
                written += bucket.len() as u64;
                write_records(sink, p, bucket.iter(), &mut frame)?;
            }
            drop(budget);
            return Ok(written);
        }
        let mut memory: Vec<Vec<(u64, K, C)>> = (0..n).map(|_| Vec::new()).collect();
        for (p, h, k, c) in sorted_by_hash(map, &partition) {
            memory[p as usize].push((h, k, c));
        }
        let mut merged = HashMerge::new(runs, memory, merge)?;
        let mut group = Vec::new();
        for p in 0..n {
            merged.start_partition(p)?;
            while merged.next_group(&mut group)? {
                written += group.len() as u64;
                write_records(sink, p, group.iter(), &mut frame)?;
                group.clear();
            }
            flush(sink, p, &mut frame)?;
        }
        drop(budget);
        Ok(written)
    }
}

/// Writes records into `p`'s block, cutting frames as they fill (the last one is flushed too).
fn write_records<'a, R: Serialize + 'a>(
    sink: &mut dyn ShuffleSink,
    p: usize,
    records: impl Iterator<Item = &'a R>,
    frame: &mut FrameBuilder,
) -> Result<(), TaskError> {
    for r in records {
        frame.push(r)?;
        if frame.is_full() {
            sink.write_frame(p, frame.finish())?;
        }
    }
    flush(sink, p, frame)
}

fn flush(sink: &mut dyn ShuffleSink, p: usize, frame: &mut FrameBuilder) -> Result<(), TaskError> {
    if !frame.is_empty() {
        sink.write_frame(p, frame.finish())?;
    }
    Ok(())
}

/// The table's entries with their partition and key hash, sorted by both.
#[allow(clippy::type_complexity)]
fn sorted_by_hash<K: Hash, C>(map: FxMap<K, C>, partition: &impl Fn(&K) -> usize) -> Vec<(u32, u64, K, C)> {
    let mut entries: Vec<(u32, u64, K, C)> =
        map.into_iter().map(|(k, c)| (partition(&k) as u32, key_hash(&k), k, c)).collect();
    entries.sort_unstable_by_key(|e| (e.0, e.1));
    entries
}

/// Replaces an entry's value with `f(old)` without requiring `Default`. A panic in `f` (the user's
/// merge function) fails the task like any other: the entry is removed and the panic goes on.
#[inline]
pub fn merge_entry<K, C>(mut entry: OccupiedEntry<'_, K, C>, f: impl FnOnce(C) -> C) {
    // SAFETY: `old` is a bitwise copy of the entry's value, and nothing touches the table until
    // one of two things happens: the merged value overwrites the entry without dropping what was
    // there (`ptr::write`), or `f` panicked having consumed `old`, and the entry's stale copy is
    // removed from the table and forgotten. Either way the value is dropped exactly once.
    let old = unsafe { std::ptr::read(entry.get()) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(old))) {
        Ok(new) => unsafe { std::ptr::write(entry.get_mut(), new) },
        Err(panic) => {
            std::mem::forget(entry.remove());
            std::panic::resume_unwind(panic);
        }
    }
}

/// One source of a merge: a run, or the part of the table left in memory, sorted by key hash.
enum Source<K, C> {
    Run(RunRecords<(u64, K, C)>),
    Memory(std::vec::IntoIter<(u64, K, C)>),
}

impl<K: DeserializeOwned, C: DeserializeOwned> Source<K, C> {
    fn next(&mut self) -> Result<Option<(u64, K, C)>, TaskError> {
        match self {
            Source::Run(records) => records.next_record(),
            Source::Memory(entries) => Ok(entries.next()),
        }
    }
}

type ByHashThenSource = fn(&(u64, usize), &(u64, usize)) -> bool;

/// Merges runs and memory partition by partition, a key hash at a time.
struct HashMerge<K, C, F> {
    runs: Vec<Run>,
    memory: Vec<Vec<(u64, K, C)>>,
    sources: Vec<Source<K, C>>,
    heads: Vec<Option<(u64, K, C)>>,
    heap: MinHeap<(u64, usize), ByHashThenSource>,
    merge: F,
}

impl<K, C, F> HashMerge<K, C, F>
where
    K: Eq + DeserializeOwned,
    C: DeserializeOwned,
    F: FnMut(C, C) -> C,
{
    fn new(runs: Vec<Run>, memory: Vec<Vec<(u64, K, C)>>, merge: F) -> Result<HashMerge<K, C, F>, TaskError> {
        let mut sources = Vec::with_capacity(runs.len() + 1);
        for run in &runs {
            sources.push(Source::Run(RunRecords::new(run.open().map_err(spill_read_error)?)));
        }
        sources.push(Source::Memory(Vec::new().into_iter()));
        Ok(HashMerge {
            runs,
            memory,
            heads: sources.iter().map(|_| None).collect(),
            sources,
            heap: MinHeap::new(|a, b| a < b),
            merge,
        })
    }

    fn start_partition(&mut self, p: usize) -> Result<(), TaskError> {
        let memory = self.memory.get_mut(p).map(std::mem::take).unwrap_or_default();
        *self.sources.last_mut().expect("the memory source") = Source::Memory(memory.into_iter());
        self.heap = MinHeap::new(|a, b| a < b);
        for (i, source) in self.sources.iter_mut().enumerate() {
            if let Source::Run(records) = source {
                records.start_partition(p);
            }
            self.heads[i] = source.next()?;
            if let Some((h, ..)) = &self.heads[i] {
                self.heap.push((*h, i));
            }
        }
        Ok(())
    }

    /// Appends the entries of the next key hash, equal keys combined; false when the partition is done.
    fn next_group(&mut self, out: &mut Vec<(K, C)>) -> Result<bool, TaskError> {
        let Some(&(hash, _)) = self.heap.peek() else { return Ok(false) };
        let start = out.len();
        while let Some(&(h, i)) = self.heap.peek() {
            if h != hash {
                break;
            }
            self.heap.pop();
            while let Some((_, k, c)) = self.heads[i].take() {
                match out[start..].iter().position(|(other, _)| *other == k) {
                    Some(at) => {
                        let (k, earlier) = out.swap_remove(start + at);
                        out.push((k, (self.merge)(earlier, c)));
                    }
                    None => out.push((k, c)),
                }
                self.heads[i] = self.sources[i].next()?;
                match &self.heads[i] {
                    Some((next, ..)) if *next == hash => continue,
                    Some((next, ..)) => self.heap.push((*next, i)),
                    None => {}
                }
                break;
            }
        }
        Ok(true)
    }
}

impl<K, C, F> Drop for HashMerge<K, C, F> {
    fn drop(&mut self) {
        // The readers go before their files.
        self.sources.clear();
        self.runs.clear();
    }
}

/// The merged output of a spilled reduce-side table, in batches.
struct MergedBatches<K, C, F> {
    merged: HashMerge<K, C, F>,
    _budget: MemoryBudget,
    done: bool,
}

impl<K, C, F> Iterator for MergedBatches<K, C, F>
where
    K: Eq + DeserializeOwned + 'static,
    C: DeserializeOwned + 'static,
    F: FnMut(C, C) -> C,
{
    type Item = Result<Batch, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut out: Vec<(K, C)> = Vec::with_capacity(BATCH_SIZE);
        while out.len() < BATCH_SIZE {
            match self.merged.next_group(&mut out) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        (!out.is_empty()).then(|| Ok(Box::new(out) as Batch))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::testing::task;
    use super::*;
    use crate::encoding::{decode_records, FrameCodec};

    fn records_of<K: 'static, C: 'static>(batches: Batches) -> Vec<(K, C)> {
        batches.flat_map(|b| *b.unwrap().downcast::<Vec<(K, C)>>().unwrap()).collect()
    }

    fn words(n: usize) -> Vec<(String, u64)> {
        (0..n).map(|i| (format!("key-{}", (i * 7919) % 5000), i as u64)).collect()
    }

    fn sums(data: &[(String, u64)]) -> BTreeMap<String, u64> {
        let mut want = BTreeMap::new();
        for (k, v) in data {
            *want.entry(k.clone()).or_insert(0) += v;
        }
        want
    }

    fn combine_all(ctx: &TaskCtx, data: &[(String, u64)]) -> Aggregator<String, u64> {
        let mut agg = Aggregator::new(ctx, Growth::Combining);
        for batch in data.chunks(1000) {
            for (k, v) in batch.iter().cloned() {
                agg.insert_with(k, v, |v| v, |c, v| c + v);
            }
            agg.maybe_spill(|_| 0).unwrap();
        }
        agg
    }

    #[test]
    fn a_table_in_a_tiny_budget_spills_and_merges_to_the_same_sums() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, services) = task(64 << 10, dir.path());
        let data = words(100_000);
        let agg = combine_all(&ctx, &data);
        assert!(agg.spilled(), "64 KiB cannot hold 5000 keys");
        let metrics = ctx.metrics_snapshot();
        assert!(metrics.memory_bytes_spilled > 0 && metrics.disk_bytes_spilled > 0, "{metrics:?}");
        let got: BTreeMap<String, u64> = records_of(agg.into_batches(|a, b| a + b).unwrap()).into_iter().collect();
        assert_eq!(got, sums(&data));
        assert_eq!(services.memory.snapshot().execution_used(), 0, "the table's memory is given back");
        let spill_dir = ctx.spill_dir();
        assert_eq!(std::fs::read_dir(&spill_dir).map(|d| d.count()).unwrap_or(0), 0, "runs are deleted");
    }

    #[test]
    fn with_memory_enough_nothing_spills() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _) = task(256 << 20, dir.path());
        let data = words(100_000);
        let agg = combine_all(&ctx, &data);
        assert!(!agg.spilled());
        assert_eq!(ctx.metrics_snapshot().disk_bytes_spilled, 0);
        let got: BTreeMap<String, u64> = records_of(agg.into_batches(|a, b| a + b).unwrap()).into_iter().collect();
        assert_eq!(got, sums(&data));
    }

    /// Keys whose hashes collide: merged by equality within a hash.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
    struct Collide(u32);

    impl Hash for Collide {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            state.write_u8((self.0 % 3) as u8);
        }
    }

    #[test]
    fn groups_with_a_hot_key_and_colliding_hashes_come_out_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _) = task(32 << 10, dir.path());
        let mut agg: Aggregator<Collide, Vec<u32>> = Aggregator::new(&ctx, Growth::Grouping);
        let data: Vec<(Collide, u32)> =
            (0..30_000u32).map(|i| (Collide(if i % 3 == 0 { 0 } else { i % 40 }), i)).collect();
        for batch in data.chunks(500) {
            agg.note_values(batch);
            for (k, v) in batch.iter().cloned() {
                agg.insert_mut(k, v, |v| vec![v], |c, v| c.push(v));
            }
            agg.maybe_spill(|_| 0).unwrap();
        }
        assert!(agg.spilled());
        let got = records_of::<Collide, Vec<u32>>(
            agg.into_batches(|mut a, mut b| {
                a.append(&mut b);
                a
            })
            .unwrap(),
        );
        let mut want: BTreeMap<Collide, Vec<u32>> = BTreeMap::new();
        for (k, v) in &data {
            want.entry(k.clone()).or_default().push(*v);
        }
        assert_eq!(got.len(), want.len(), "one entry per key");
        for (k, values) in got {
            assert_eq!(Some(&values), want.get(&k), "{k:?}: values in the order they came");
        }
    }

    struct Blocks(Vec<Vec<Vec<u8>>>);

    impl ShuffleSink for Blocks {
        fn num_reduce(&self) -> usize {
            self.0.len()
        }
        fn codec(&self) -> FrameCodec {
            FrameCodec::new(false)
        }
        fn write_frame(&mut self, reduce: usize, raw: &[u8]) -> Result<(), TaskError> {
            self.0[reduce].push(raw.to_vec());
            Ok(())
        }
        fn write_stored(&mut self, reduce: usize, payload: &[u8]) -> Result<(), TaskError> {
            self.write_frame(reduce, payload)
        }
    }

    #[test]
    fn a_map_side_table_writes_each_partition_merged_with_or_without_spills() {
        for budget in [32 << 10, 256 << 20] {
            let dir = tempfile::tempdir().unwrap();
            let (ctx, _) = task(budget, dir.path());
            let data = words(50_000);
            let partition = |k: &String| k.len() % 3;
            let mut agg = Aggregator::new(&ctx, Growth::Combining);
            for batch in data.chunks(1000) {
                for (k, v) in batch.iter().cloned() {
                    agg.insert_with(k, v, |v| v, |c, v| c + v);
                }
                agg.maybe_spill(partition).unwrap();
            }
            assert_eq!(agg.spilled(), budget < 1 << 20);
            let mut sink = Blocks(vec![Vec::new(); 3]);
            let written = agg.write_to(&mut sink, partition, |a, b| a + b).unwrap();
            let mut got = BTreeMap::new();
            for (p, frames) in sink.0.iter().enumerate() {
                for raw in frames {
                    for (k, v) in decode_records::<(String, u64)>(raw).unwrap() {
                        assert_eq!(partition(&k), p, "{k} in partition {p}");
                        assert!(got.insert(k, v).is_none(), "a key written twice");
                    }
                }
            }
            assert_eq!(written, got.len() as u64);
            assert_eq!(got, sums(&data));
        }
    }
}
