//! What a task is made of, as it travels: a tree of [`Node`]s (each a code reference to a
//! monomorphized constructor plus its serialized environment) ending in a [`Sink`] (return a result,
//! or write shuffle output). Plain data; the runner builds it into iterators of record batches.

use serde::{Deserialize, Serialize};

use crate::batch::Batches;
use crate::code::{CodePointer, FnRef, Verified};
use crate::context::{BlockUpdate, TaskCtx, TaskMetrics};
use crate::encoding::FrameCodec;
use crate::error::TaskError;

/// Chunks of large payloads on the wire: task frames, task statuses, shuffle blocks (a reducer's
/// flow control counts a remote block in these).
pub const CHUNK: usize = 1 << 20;

/// Builds one node's iterator from its environment and (lazily) its inputs.
pub type NodeCtorFn = fn(&TaskCtx, &[u8], Inputs) -> Result<Batches, TaskError>;
/// Consumes a partition and returns the serialized result for the driver.
pub type ResultCtorFn = fn(&TaskCtx, &[u8], Batches) -> Result<Vec<u8>, TaskError>;
/// Consumes a partition and writes its records, reduce partition by reduce partition, into the sink.
pub type ShuffleCtorFn = fn(&TaskCtx, &[u8], Batches, &mut dyn ShuffleSink) -> Result<(), TaskError>;

/// Where a map task writes its output: one block per reduce partition, in increasing reduce order,
/// each block any number of record frames (`encoding`), so no block has to be whole in memory.
pub trait ShuffleSink {
    fn num_reduce(&self) -> usize;
    /// How the sink stores frames: a frame spilled with the same codec may be copied as it is stored.
    fn codec(&self) -> FrameCodec;
    /// Appends a frame (the bincode bytes of a `Vec` of records) to `reduce`'s block.
    fn write_frame(&mut self, reduce: usize, raw: &[u8]) -> Result<(), TaskError>;
    /// Appends a frame already stored with [`codec`](ShuffleSink::codec) (its payload).
    fn write_stored(&mut self, reduce: usize, payload: &[u8]) -> Result<(), TaskError>;
}

macro_rules! code_pointer {
    ($(#[$doc:meta])* $name:ident, $fn:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name(pub $fn);

        impl CodePointer for $name {
            fn address(self) -> usize {
                self.0 as *const () as usize
            }
            unsafe fn from_address(address: usize) -> Self {
                // SAFETY: the caller guarantees `address` is a function of exactly this type.
                $name(unsafe { std::mem::transmute::<usize, $fn>(address) })
            }
        }
    };
}

code_pointer!(
    /// A node constructor.
    NodeCtor,
    NodeCtorFn
);
code_pointer!(
    /// A result constructor.
    ResultCtor,
    ResultCtorFn
);
code_pointer!(
    /// A shuffle-write constructor.
    ShuffleCtor,
    ShuffleCtorFn
);

/// One operator of a task's pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    pub ctor: FnRef<NodeCtor>,
    pub env: Vec<u8>,
    pub inputs: Vec<Node>,
}

/// A node's inputs, built only when the node asks (a cache hit never builds its lineage).
pub struct Inputs {
    nodes: Vec<Option<Node>>,
    proof: Verified,
}

impl Inputs {
    pub(crate) fn new(nodes: Vec<Node>, proof: Verified) -> Inputs {
        Inputs { nodes: nodes.into_iter().map(Some).collect(), proof }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Builds input `index` (once).
    pub fn build(&mut self, ctx: &TaskCtx, index: usize) -> Result<Batches, TaskError> {
        let node =
            self.nodes.get_mut(index).and_then(Option::take).ok_or_else(|| {
                TaskError::failed(format!("a plan node asked for input {index}, which it does not have"))
            })?;
        build(ctx, node, &self.proof)
    }

    /// Builds every input, in order.
    pub fn build_all(mut self, ctx: &TaskCtx) -> Result<Vec<Batches>, TaskError> {
        (0..self.nodes.len()).map(|i| self.build(ctx, i)).collect()
    }
}

/// Builds a node into its iterator.
pub(crate) fn build(ctx: &TaskCtx, node: Node, proof: &Verified) -> Result<Batches, TaskError> {
    let Node { ctor, env, inputs } = node;
    let ctor = ctor.resolve(proof).0;
    ctor(ctx, &env, Inputs::new(inputs, proof.clone()))
}

/// Where a task's partition ends up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Sink {
    /// A result stage: the serialized value goes back to the driver.
    Result { ctor: FnRef<ResultCtor>, env: Vec<u8> },
    /// A shuffle map stage: one block per reduce partition, streamed to this executor's disk.
    Shuffle { shuffle_id: u32, num_reduce: u32, ctor: FnRef<ShuffleCtor>, env: Vec<u8> },
}

/// Everything an executor needs to run one task attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskDescription {
    pub task_id: u64,
    /// Spark's attempt number of this partition's task in this stage attempt (0, 1, …).
    pub attempt: u32,
    pub job_id: u32,
    pub stage_id: u32,
    pub stage_attempt: u32,
    pub partition: u32,
    pub root: Node,
    pub sink: Sink,
}

/// A map task's output: the size of each reduce partition's block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapStatus {
    pub sizes: Vec<u64>,
}

/// How a task attempt ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TaskEnd {
    Result(Vec<u8>),
    Map(MapStatus),
    Failed(TaskError),
}

/// What an executor reports when a task attempt ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskStatus {
    pub task_id: u64,
    pub executor_id: String,
    pub end: TaskEnd,
    pub metrics: TaskMetrics,
    /// (accumulator id, serialized partial value) added by this attempt.
    pub accumulators: Vec<(u64, Vec<u8>)>,
    pub blocks: Vec<BlockUpdate>,
}
