//! What a running task can reach: its ids, its metrics, the executor's services (shuffle fetches,
//! cached blocks, broadcast values, execution memory and spill space), the accumulator updates it
//! makes, and whether the driver has killed it ([`KillFlag`]). The runner installs the context of the
//! task a thread is running, so broadcast variables and accumulators find it.

use std::any::Any;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::encoding::{FrameCodec, RawFrame};
use crate::error::TaskError;
use crate::memory::MemoryManager;

/// A task's context, shared by the operators of its pipeline (one thread).
pub type TaskCtx = Rc<TaskContext>;

/// Where one map task's output of a shuffle lives, as the driver tells a reducer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapLocation {
    pub map_index: u32,
    pub executor_id: String,
    /// The executor's endpoint, `host:port`.
    pub address: String,
    /// The executor's host and the directory of its shuffle files ("" if unknown): a reducer on the
    /// same host reads the block from there.
    pub host: String,
    pub shuffle_dir: String,
    /// The size of this reducer's block in that map output (0: nothing to fetch).
    pub size: u64,
}

/// Counters a task reports, named after Spark's task metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMetrics {
    pub executor_run_time_ms: u64,
    pub executor_cpu_time_ns: u64,
    pub result_size: u64,
    pub input_bytes: u64,
    pub input_records: u64,
    pub output_bytes: u64,
    pub output_records: u64,
    pub shuffle_read_bytes: u64,
    pub shuffle_read_records: u64,
    pub shuffle_remote_bytes: u64,
    pub shuffle_write_bytes: u64,
    pub shuffle_write_records: u64,
    pub memory_bytes_spilled: u64,
    pub disk_bytes_spilled: u64,
}

/// A cached block the task stored (the driver tracks where each cached partition lives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockUpdate {
    pub rdd_id: u32,
    pub partition: u32,
    pub memory_bytes: u64,
    pub disk_bytes: u64,
}

/// Turns a broadcast value's bytes into the value.
pub type DecodeBroadcast = dyn Fn(&[u8]) -> Result<Arc<dyn Any + Send + Sync>, TaskError>;

/// Serializes a cached value for disk when it is evicted from memory (a `MEMORY_AND_DISK` block).
pub type SerializeBlock = Box<dyn Fn(&(dyn Any + Send + Sync)) -> Result<Vec<u8>, TaskError> + Send + Sync>;

/// One frame of a reducer's input, as fetched.
#[derive(Debug)]
pub struct FetchedFrame {
    /// The frame's bincode bytes (a `Vec` of records).
    pub raw: RawFrame,
    /// What it took in the shuffle file (and on the wire, when remote).
    pub stored_bytes: u64,
    pub remote: bool,
}

/// A reducer's input, a frame at a time, fetched lazily; a failed fetch is an `Err(FetchFailed)`
/// naming the map output, whenever it happens.
pub type FetchedFrames = Box<dyn Iterator<Item = Result<FetchedFrame, TaskError>>>;

/// The executor's side of a task: implemented by the executor runtime.
pub trait Services: Send + Sync {
    /// The frames of `reduce`'s blocks in the map outputs of `shuffle_id`: local blocks read one at a
    /// time, remote ones fetched with at most `spark.reducer.maxSizeInFlight` in flight.
    fn fetch_shuffle(&self, shuffle_id: u32, reduce: u32, maps: &[MapLocation]) -> FetchedFrames;
    /// A cached partition held in memory (`rdd_<id>_<partition>`).
    fn cached(&self, rdd_id: u32, partition: u32) -> Option<Arc<dyn Any + Send + Sync>>;
    /// A cached partition held on disk, serialized.
    fn cached_on_disk(&self, rdd_id: u32, partition: u32) -> Option<Vec<u8>>;
    /// Stores a computed partition in memory, if storage memory can be had; `size` estimates its
    /// bytes. With `to_disk`, the block is written to disk rather than dropped when it is evicted.
    fn cache_in_memory(
        &self,
        rdd_id: u32,
        partition: u32,
        value: Arc<dyn Any + Send + Sync>,
        size: u64,
        to_disk: Option<SerializeBlock>,
    ) -> bool;
    /// Stores a computed partition on disk, serialized.
    fn cache_on_disk(&self, rdd_id: u32, partition: u32, bytes: &[u8]) -> Result<(), TaskError>;
    /// The value of a broadcast variable (fetched from the driver once per executor, then kept).
    fn broadcast(&self, id: u64, decode: &DecodeBroadcast) -> Result<Arc<dyn Any + Send + Sync>, TaskError>;
    /// A directory of this executor's for scratch files.
    fn local_dir(&self) -> PathBuf;
    fn executor_id(&self) -> &str;
    /// The executor's unified memory manager.
    fn memory(&self) -> &MemoryManager;
    /// How spill files store frames (`spark.shuffle.spill.compress`).
    fn spill_codec(&self) -> FrameCodec;
}

/// Where a task's spill files go: `<local dir>/spill/task-<id>`, deleted when the task ends.
pub fn spill_dir(local_dir: &Path, task_id: u64) -> PathBuf {
    local_dir.join("spill").join(format!("task-{task_id}"))
}

/// A task attempt's kill switch: the executor registers one per task id when the task arrives, its
/// `KillTask` handler sets it (from any thread), and the runner reads it between batches and before
/// writing output, ending the attempt with [`TaskError::Killed`].
#[derive(Debug, Default)]
pub struct KillFlag {
    killed: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl KillFlag {
    /// Asks the attempt to stop; the first reason given is the one reported.
    pub fn kill(&self, reason: &str) {
        self.reason.lock().expect("kill reason lock").get_or_insert_with(|| reason.to_owned());
        self.killed.store(true, Ordering::Release);
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Why the attempt was killed; `None` while it was not.
    pub fn reason(&self) -> Option<String> {
        if !self.is_killed() {
            return None;
        }
        Some(self.reason.lock().expect("kill reason lock").clone().unwrap_or_default())
    }

    /// `Err(Killed)` with the reason once the attempt was killed.
    pub fn check(&self) -> Result<(), TaskError> {
        match self.reason() {
            None => Ok(()),
            Some(reason) => Err(TaskError::Killed { reason }),
        }
    }
}

/// One task attempt's context.
pub struct TaskContext {
    pub stage_id: u32,
    pub stage_attempt: u32,
    pub partition: u32,
    pub attempt: u32,
    pub task_id: u64,
    services: Arc<dyn Services>,
    metrics: RefCell<TaskMetrics>,
    accumulators: RefCell<Vec<(u64, Vec<u8>)>>,
    blocks: RefCell<Vec<BlockUpdate>>,
    kill: Arc<KillFlag>,
}

impl TaskContext {
    pub fn new(
        stage_id: u32,
        stage_attempt: u32,
        partition: u32,
        attempt: u32,
        task_id: u64,
        services: Arc<dyn Services>,
    ) -> TaskContext {
        TaskContext {
            stage_id,
            stage_attempt,
            partition,
            attempt,
            task_id,
            services,
            metrics: RefCell::default(),
            accumulators: RefCell::default(),
            blocks: RefCell::default(),
            kill: Arc::default(),
        }
    }

    /// The context with the executor's kill switch for this attempt.
    pub fn with_kill_flag(mut self, kill: Arc<KillFlag>) -> TaskContext {
        self.kill = kill;
        self
    }

    pub fn services(&self) -> &dyn Services {
        &*self.services
    }

    /// Updates the task's metrics.
    pub fn metrics(&self, update: impl FnOnce(&mut TaskMetrics)) {
        update(&mut self.metrics.borrow_mut());
    }

    pub fn metrics_snapshot(&self) -> TaskMetrics {
        self.metrics.borrow().clone()
    }

    /// Records an accumulator update (merged by the driver when the attempt succeeds).
    pub fn add_accumulator_update(&self, id: u64, merge: impl FnOnce(Option<&[u8]>) -> Vec<u8>) {
        let mut updates = self.accumulators.borrow_mut();
        match updates.iter_mut().find(|(i, _)| *i == id) {
            Some((_, bytes)) => *bytes = merge(Some(bytes)),
            None => updates.push((id, merge(None))),
        }
    }

    pub fn record_block(&self, update: BlockUpdate) {
        self.blocks.borrow_mut().push(update);
    }

    pub(crate) fn take_reports(&self) -> (Vec<(u64, Vec<u8>)>, Vec<BlockUpdate>) {
        (self.accumulators.take(), self.blocks.take())
    }

    /// Whether the driver killed this attempt (another attempt succeeded, or its stage was
    /// cancelled). Long-running user code may poll it and return early, as with Spark's
    /// `TaskContext.isInterrupted`.
    pub fn is_killed(&self) -> bool {
        self.kill.is_killed()
    }

    /// `Err(Killed)` once the driver killed this attempt.
    pub fn check_killed(&self) -> Result<(), TaskError> {
        self.kill.check()
    }

    /// Asks for `bytes` of execution memory; fewer (even 0) means the caller must spill.
    pub fn acquire_execution_memory(&self, bytes: u64) -> u64 {
        self.services.memory().acquire_execution(self.task_id, bytes)
    }

    pub fn release_execution_memory(&self, bytes: u64) {
        self.services.memory().release_execution(self.task_id, bytes);
    }

    /// The task's spill directory (created by the first spill).
    pub fn spill_dir(&self) -> PathBuf {
        spill_dir(&self.services.local_dir(), self.task_id)
    }

    pub fn spill_codec(&self) -> FrameCodec {
        self.services.spill_codec()
    }

    /// Counts a spill: its estimated size in memory and its bytes on disk, as Spark's task metrics.
    pub fn record_spill(&self, memory_bytes: u64, disk_bytes: u64) {
        self.metrics(|m| {
            m.memory_bytes_spilled += memory_bytes;
            m.disk_bytes_spilled += disk_bytes;
        });
    }
}

thread_local! {
    static CURRENT: RefCell<Option<TaskCtx>> = const { RefCell::new(None) };
}

/// The context of the task this thread runs, if any (none on the driver).
pub fn current() -> Option<TaskCtx> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Installs `ctx` as this thread's task for the guard's lifetime.
pub(crate) fn enter(ctx: TaskCtx) -> CurrentGuard {
    CURRENT.with(|c| *c.borrow_mut() = Some(ctx));
    CurrentGuard(())
}

pub(crate) struct CurrentGuard(());

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}
