//! A map task's records by reduce partition, without combining (groupByKey, sorts, joins,
//! repartition), serialized as they come: each partition's records go straight into its frames, so a
//! record is read once, while it is still in the cache, and its memory is given back at once (records
//! held as they are and serialized at the end were visited a second time, each a cache miss). The
//! frames spill: all of them are written as one run in partition order whenever they outgrow their
//! memory; the output is, for each partition, its frames from every run (copied as stored when the
//! codecs agree) and then those in memory, so records keep their order.

use std::marker::PhantomData;

use serde::Serialize;

use super::{MemoryBudget, RunBuilder};
use crate::context::TaskCtx;
use crate::encoding::FrameBuilder;
use crate::error::TaskError;
use crate::plan::ShuffleSink;
use crate::spill::{spill_read_error, Run};

/// Records `R` in `n` partitions, as frames.
pub struct PartitionedBuffer<R> {
    partitions: Vec<Frames>,
    /// The bytes of every partition's frames, finished or being built.
    bytes: u64,
    budget: MemoryBudget,
    runs: Vec<Run>,
    _records: PhantomData<fn(&R)>,
}

/// One partition's frames in memory: the finished ones and the one being built.
#[derive(Default)]
struct Frames {
    finished: Vec<Vec<u8>>,
    building: FrameBuilder,
}

impl<R: Serialize + 'static> PartitionedBuffer<R> {
    pub fn new(ctx: &TaskCtx, partitions: usize) -> PartitionedBuffer<R> {
        PartitionedBuffer {
            partitions: (0..partitions).map(|_| Frames::default()).collect(),
            bytes: 0,
            budget: MemoryBudget::new(ctx),
            runs: Vec::new(),
            _records: PhantomData,
        }
    }

    /// Adds a batch, each record to the partition `partition` gives it; spills if the frames outgrew
    /// their memory.
    #[inline]
    pub fn insert_batch(&mut self, batch: Vec<R>, partition: impl Fn(&R) -> usize) -> Result<(), TaskError> {
        for record in batch {
            let frames = &mut self.partitions[partition(&record)];
            let before = frames.building.capacity();
            frames.building.push(&record)?;
            self.bytes += (frames.building.capacity() - before) as u64;
            if frames.building.is_full() {
                frames.finished.push(frames.building.take());
            }
        }
        if self.budget.must_spill(self.bytes) {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), TaskError> {
        let ctx = self.budget.ctx().clone();
        let mut run = RunBuilder::create(&ctx)?;
        for (p, frames) in self.partitions.iter_mut().enumerate() {
            for frame in std::mem::take(&mut frames.finished) {
                run.push_frame(p, &frame)?;
            }
            if !frames.building.is_empty() {
                run.push_frame(p, frames.building.finish())?;
            }
            frames.building = FrameBuilder::new();
        }
        self.runs.push(run.finish(&ctx, self.bytes)?);
        self.bytes = 0;
        self.budget.release();
        Ok(())
    }

    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Writes every partition's records into `sink`, in order.
    pub fn write_to(self, sink: &mut dyn ShuffleSink) -> Result<(), TaskError> {
        let PartitionedBuffer { partitions, budget, runs, .. } = self;
        let mut readers = Vec::with_capacity(runs.len());
        for run in &runs {
            readers.push(run.open().map_err(spill_read_error)?);
        }
        for (p, mut frames) in partitions.into_iter().enumerate() {
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
            for frame in frames.finished {
                sink.write_frame(p, &frame)?;
            }
            if !frames.building.is_empty() {
                sink.write_frame(p, frames.building.finish())?;
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
