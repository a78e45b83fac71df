//! Collections that spill, after Spark's `util.collection`: they grow in memory while their task can
//! acquire execution memory for their estimated size (`size`), and otherwise write a sorted run to
//! the task's spill directory (`spill`) and start again; their output merges the runs with what is
//! left in memory, holding one frame per run.
//!
//! - [`Aggregator`]: a hash table of combiners by key (Spark's `ExternalAppendOnlyMap`), runs sorted
//!   by (partition, key hash); equal keys are combined across runs by hash, then by equality.
//! - [`Sorter`]: records sorted by key (the reduce side of `sortByKey`), runs merged k-way.
//! - [`PartitionedBuffer`]: records by reduce partition (a map task's output without combining),
//!   runs concatenated per partition.
//!
//! The collections are generic: monomorphized with the operators, the user's functions are inlined
//! into their insert loops, which check memory once per batch.

mod aggregate;
mod heap;
mod order;
mod partitioned;
mod sort;

use std::hash::{BuildHasher, BuildHasherDefault, Hash};

pub use aggregate::{merge_entry, Aggregator, Growth};
pub use partitioned::PartitionedBuffer;
pub use sort::Sorter;

use crate::batch::{Batch, Batches};
use crate::context::TaskCtx;
use crate::encoding::FrameBuilder;
use crate::error::TaskError;
use crate::spill::{Run, RunWriter};

/// The hasher of the collections' tables, and of the key hashes runs are sorted by.
pub type FxBuild = BuildHasherDefault<rustc_hash::FxHasher>;
/// A hash table with the fast non-cryptographic hasher (keys come from the program, not an adversary).
pub type FxMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

/// A key's hash, as runs of an [`Aggregator`] are sorted by it.
#[inline]
pub fn key_hash<K: Hash>(key: &K) -> u64 {
    FxBuild::default().hash_one(key)
}

/// The execution memory one collection holds, grown as its estimate grows (Spark's `Spillable`).
pub struct MemoryBudget {
    ctx: TaskCtx,
    held: u64,
}

impl MemoryBudget {
    pub fn new(ctx: &TaskCtx) -> MemoryBudget {
        MemoryBudget { ctx: ctx.clone(), held: 0 }
    }

    /// Whether a collection of `estimate` bytes must spill: when it has outgrown what it holds, it
    /// asks for twice its size (less what it holds); it spills if that does not cover it.
    #[inline]
    pub fn must_spill(&mut self, estimate: u64) -> bool {
        estimate > self.held && self.grow(estimate)
    }

    #[cold]
    fn grow(&mut self, estimate: u64) -> bool {
        let wanted = 2 * estimate - self.held;
        self.held += self.ctx.acquire_execution_memory(wanted);
        estimate > self.held
    }

    /// Gives back everything (the collection spilled, or is done).
    pub fn release(&mut self) {
        self.ctx.release_execution_memory(std::mem::take(&mut self.held));
    }

    pub fn held(&self) -> u64 {
        self.held
    }

    pub fn ctx(&self) -> &TaskCtx {
        &self.ctx
    }
}

impl Drop for MemoryBudget {
    fn drop(&mut self) {
        self.release();
    }
}

/// Writes one run: records by partition (in increasing order), cut into frames.
pub(crate) struct RunBuilder {
    writer: RunWriter,
    frame: FrameBuilder,
    partition: usize,
}

impl RunBuilder {
    pub(crate) fn create(ctx: &TaskCtx) -> Result<RunBuilder, TaskError> {
        let writer = RunWriter::create(&ctx.spill_dir(), ctx.spill_codec())
            .map_err(|e| TaskError::failed(format!("cannot spill to disk: {e}")))?;
        Ok(RunBuilder { writer, frame: FrameBuilder::new(), partition: 0 })
    }

    #[inline]
    pub(crate) fn push<R: serde::Serialize>(&mut self, partition: usize, record: &R) -> Result<(), TaskError> {
        if partition != self.partition {
            self.flush()?;
            self.partition = partition;
        }
        self.frame.push(record)?;
        if self.frame.is_full() {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends a whole frame (bincode bytes of records) to `partition`, after the records pushed.
    pub(crate) fn push_frame(&mut self, partition: usize, raw: &[u8]) -> Result<(), TaskError> {
        self.flush()?;
        self.partition = partition;
        self.writer.write_frame(partition, raw).map_err(spill_write_error)
    }

    fn flush(&mut self) -> Result<(), TaskError> {
        if !self.frame.is_empty() {
            let raw = self.frame.finish();
            self.writer.write_frame(self.partition, raw).map_err(spill_write_error)?;
        }
        Ok(())
    }

    /// Ends the run and counts the spill in the task's metrics (`memory_bytes`: the estimated size
    /// of what was spilled).
    pub(crate) fn finish(mut self, ctx: &TaskCtx, memory_bytes: u64) -> Result<Run, TaskError> {
        self.flush()?;
        let run = self.writer.finish().map_err(spill_write_error)?;
        ctx.record_spill(memory_bytes, run.disk_bytes());
        tracing::debug!(task = ctx.task_id, memory_bytes, disk_bytes = run.disk_bytes(), "spilled a run to disk");
        Ok(run)
    }
}

/// Batches that keep their collection's memory until they are read.
pub(crate) struct Holding {
    pub(crate) batches: Batches,
    pub(crate) _budget: MemoryBudget,
}

impl Iterator for Holding {
    type Item = Result<Batch, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batches.next()
    }
}

fn spill_write_error(e: std::io::Error) -> TaskError {
    TaskError::failed(format!("cannot spill to disk: {e}"))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A task context over a test executor: a memory manager of a given size and a scratch dir.

    use std::any::Any;
    use std::path::PathBuf;
    use std::rc::Rc;
    use std::sync::Arc;

    use crate::context::{DecodeBroadcast, FetchedFrames, MapLocation, SerializeBlock, Services, TaskContext, TaskCtx};
    use crate::encoding::FrameCodec;
    use crate::error::TaskError;
    use crate::memory::{MemoryConfig, MemoryManager, NoEviction};

    pub(crate) struct TestServices {
        pub(crate) memory: MemoryManager,
        pub(crate) dir: PathBuf,
    }

    impl Services for TestServices {
        fn fetch_shuffle(&self, _: u32, _: u32, _: &[MapLocation]) -> FetchedFrames {
            Box::new(std::iter::empty())
        }
        fn cached(&self, _: u32, _: u32) -> Option<Arc<dyn Any + Send + Sync>> {
            None
        }
        fn cached_on_disk(&self, _: u32, _: u32) -> Option<Vec<u8>> {
            None
        }
        fn cache_in_memory(
            &self,
            _: u32,
            _: u32,
            _: Arc<dyn Any + Send + Sync>,
            _: u64,
            _: Option<SerializeBlock>,
        ) -> bool {
            false
        }
        fn cache_on_disk(&self, _: u32, _: u32, _: &[u8]) -> Result<(), TaskError> {
            Ok(())
        }
        fn broadcast(&self, id: u64, _: &DecodeBroadcast) -> Result<Arc<dyn Any + Send + Sync>, TaskError> {
            Err(TaskError::failed(format!("no broadcast {id} here")))
        }
        fn local_dir(&self) -> PathBuf {
            self.dir.clone()
        }
        fn executor_id(&self) -> &str {
            "test"
        }
        fn memory(&self) -> &MemoryManager {
            &self.memory
        }
        fn spill_codec(&self) -> FrameCodec {
            FrameCodec::new(true)
        }
    }

    /// A task (id 1) whose executor has `execution_bytes` of execution memory, and its services.
    pub(crate) fn task(execution_bytes: u64, dir: &std::path::Path) -> (TaskCtx, Arc<TestServices>) {
        let config =
            MemoryConfig { system_bytes: execution_bytes, reserved_bytes: 0, fraction: 1.0, storage_fraction: 0.0 };
        let services = Arc::new(TestServices {
            memory: MemoryManager::with_wait(&config, Arc::new(NoEviction), std::time::Duration::ZERO),
            dir: dir.to_owned(),
        });
        let ctx = Rc::new(TaskContext::new(0, 0, 0, 0, 1, services.clone()));
        (ctx, services)
    }
}
