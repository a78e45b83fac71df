//! A map task's records by reduce partition, without combining (groupByKey, sorts, joins,
//! repartition), that spill: the buckets are written as one run in partition order whenever they
//! outgrow their memory; the output is, for each partition, its frames from every run (copied as
//! stored when the codecs agree) and then what is left in memory, so records keep their order.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{MemoryBudget, RunBuilder};
use crate::context::TaskCtx;
use crate::encoding::FrameBuilder;
use crate::error::TaskError;
use crate::plan::ShuffleSink;
use crate::size::{vec_bytes, SizeTracker};
use crate::spill::{spill_read_error, Run};

/// Records `R` in `n` buckets.
pub struct PartitionedBuffer<R> {
    buckets: Vec<Vec<R>>,
    records: usize,
    sizes: SizeTracker,
    budget: MemoryBudget,
    runs: Vec<Run>,
}

impl<R: Serialize + DeserializeOwned + 'static> PartitionedBuffer<R> {
    pub fn new(ctx: &TaskCtx, partitions: usize) -> PartitionedBuffer<R> {
        PartitionedBuffer {
            buckets: (0..partitions).map(|_| Vec::new()).collect(),
            records: 0,
            sizes: SizeTracker::new(),
            budget: MemoryBudget::new(ctx),
            runs: Vec::new(),
        }
    }

    /// Adds a batch, each record to the bucket `partition` gives it; spills if the buckets outgrew
    /// their memory.
    #[inline]
    pub fn insert_batch(&mut self, batch: Vec<R>, partition: impl Fn(&R) -> usize) -> Result<(), TaskError> {
        self.records += batch.len();
        self.sizes.observe(self.records, &batch);
        for record in batch {
            let p = partition(&record);
            self.buckets[p].push(record);
        }
        let estimate = self.estimate();
        if self.budget.must_spill(estimate) {
            self.spill(estimate)?;
        }
        Ok(())
    }

    fn estimate(&self) -> u64 {
        self.buckets.iter().map(vec_bytes).sum::<u64>() + self.sizes.estimate(self.records)
    }

    fn spill(&mut self, estimate: u64) -> Result<(), TaskError> {
        let ctx = self.budget.ctx().clone();
        let mut run = RunBuilder::create(&ctx)?;
        for (p, bucket) in self.buckets.iter_mut().enumerate() {
            for record in bucket.iter() {
                run.push(p, record)?;
            }
            *bucket = Vec::new();
        }
        self.records = 0;
        self.runs.push(run.finish(&ctx, estimate)?);
        self.budget.release();
        Ok(())
    }

    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Writes every partition's records into `sink`, in order.
    pub fn write_to(self, sink: &mut dyn ShuffleSink) -> Result<(), TaskError> {
        let PartitionedBuffer { buckets, budget, runs, .. } = self;
        let mut readers = Vec::with_capacity(runs.len());
        for run in &runs {
            readers.push(run.open().map_err(spill_read_error)?);
        }
        let mut frame = FrameBuilder::new();
        for (p, bucket) in buckets.into_iter().enumerate() {
            for reader in &mut readers {
                let same_codec = reader.codec() == sink.codec();
                while let Some(payload) = reader.next_stored(p).map_err(spill_read_error)? {
                    if same_codec {
                        sink.write_stored(p, &payload)?;
                    } else {
                        sink.write_frame(p, &reader.codec().decode(payload).map_err(spill_read_error)?)?;
                    }
                }
            }
            for record in &bucket {
                frame.push(record)?;
                if frame.is_full() {
                    sink.write_frame(p, frame.finish())?;
                }
            }
            if !frame.is_empty() {
                sink.write_frame(p, frame.finish())?;
            }
        }
        drop(readers);
        drop(runs);
        drop(budget);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::task;
    use super::*;
    use crate::encoding::{decode_records, FrameCodec};

    /// Frames stored with a codec, decoded back on the way in.
    struct Blocks(Vec<Vec<Vec<u8>>>, FrameCodec);

    impl ShuffleSink for Blocks {
        fn num_reduce(&self) -> usize {
            self.0.len()
        }
        fn codec(&self) -> FrameCodec {
            self.1
        }
        fn write_frame(&mut self, reduce: usize, raw: &[u8]) -> Result<(), TaskError> {
            self.0[reduce].push(raw.to_vec());
            Ok(())
        }
        fn write_stored(&mut self, reduce: usize, payload: &[u8]) -> Result<(), TaskError> {
            let raw = self.1.decode(payload.to_vec())?;
            self.write_frame(reduce, &raw)
        }
    }

    #[test]
    fn buckets_keep_their_order_through_spills_with_either_codec() {
        for (budget, compress) in [(16u64 << 10, true), (16 << 10, false), (256 << 20, true)] {
            let dir = tempfile::tempdir().unwrap();
            let (ctx, _) = task(budget, dir.path());
            let data: Vec<(u64, String)> = (0..40_000u64).map(|i| (i % 7, format!("{i}"))).collect();
            let partition = |r: &(u64, String)| (r.0 % 4) as usize;
            let mut buffer = PartitionedBuffer::new(&ctx, 4);
            for batch in data.chunks(1000) {
                buffer.insert_batch(batch.to_vec(), partition).unwrap();
            }
            assert_eq!(buffer.spilled(), budget < 1 << 20);
            let mut sink = Blocks(vec![Vec::new(); 4], FrameCodec::new(compress));
            buffer.write_to(&mut sink).unwrap();
            for (p, frames) in sink.0.iter().enumerate() {
                let got: Vec<(u64, String)> =
                    frames.iter().flat_map(|raw| decode_records::<(u64, String)>(raw).unwrap()).collect();
                let want: Vec<(u64, String)> = data.iter().filter(|r| partition(r) == p).cloned().collect();
                assert_eq!(got, want, "partition {p}");
            }
        }
    }
}
