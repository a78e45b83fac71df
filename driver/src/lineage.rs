//! The lineage the schedulers work with: an RDD without its element type ([`RddNode`]), its
//! dependencies (narrow, or a [`ShuffleDep`]), storage levels, and the environments the plan nodes
//! carry. It imports only the executor crate (and serde), so the DAG scheduler depends on it and
//! not on the RDD API, the context or the backend that drive it.

use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use weft_executor::context::MapLocation;
use weft_executor::plan::{Node, NodeCtor, ShuffleCtor};
use weft_executor::FnRef;

/// What an RDD may hold: records travel between processes and may be cached and cloned.
pub trait Data: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> Data for T {}

/// Spark's storage levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageLevel {
    pub use_disk: bool,
    pub use_memory: bool,
    pub replication: u8,
}

impl StorageLevel {
    pub const NONE: StorageLevel = StorageLevel { use_disk: false, use_memory: false, replication: 1 };
    pub const MEMORY_ONLY: StorageLevel = StorageLevel { use_disk: false, use_memory: true, replication: 1 };
    pub const MEMORY_ONLY_2: StorageLevel = StorageLevel { use_disk: false, use_memory: true, replication: 2 };
    pub const MEMORY_AND_DISK: StorageLevel = StorageLevel { use_disk: true, use_memory: true, replication: 1 };
    pub const MEMORY_AND_DISK_2: StorageLevel = StorageLevel { use_disk: true, use_memory: true, replication: 2 };
    pub const DISK_ONLY: StorageLevel = StorageLevel { use_disk: true, use_memory: false, replication: 1 };
    pub const DISK_ONLY_2: StorageLevel = StorageLevel { use_disk: true, use_memory: false, replication: 2 };

    /// Spark's description, e.g. `Memory Deserialized 1x Replicated`.
    pub fn description(&self) -> String {
        let mut parts = Vec::new();
        if self.use_disk {
            parts.push("Disk");
        }
        if self.use_memory {
            parts.push("Memory");
        }
        if self.use_memory {
            parts.push("Deserialized");
        } else {
            parts.push("Serialized");
        }
        format!("{} {}x Replicated", parts.join(" "), self.replication)
    }

    pub(crate) fn is_valid(&self) -> bool {
        self.use_disk || self.use_memory
    }
}

/// Where the shuffle outputs a task reads live; the driver provides it when it builds a task.
pub(crate) trait PlanCtx {
    fn map_locations(&self, shuffle_id: u32, reduce: u32) -> Vec<MapLocation>;
}

pub(crate) type Compute = Box<dyn Fn(&dyn PlanCtx, usize) -> Node + Send + Sync>;

/// An RDD without its element type: what the schedulers work with.
pub(crate) struct RddNode {
    pub(crate) id: u32,
    /// Spark's class name (`MapPartitionsRDD`, `ShuffledRDD`, …).
    pub(crate) kind: &'static str,
    /// `map at wordcount.rs:31`.
    pub(crate) scope: String,
    /// A prefix Spark prints before some RDDs (the path of a text file).
    pub(crate) label: String,
    pub(crate) num_partitions: usize,
    pub(crate) deps: Vec<Dep>,
    /// How the records are partitioned by key, when known (`hash(8)`), so equal layouts skip shuffles.
    pub(crate) partitioner: Option<String>,
    pub(crate) compute: Compute,
    pub(crate) cache_ctor: FnRef<NodeCtor>,
    pub(crate) checkpoint_ctor: FnRef<NodeCtor>,
    pub(crate) storage: Mutex<StorageLevel>,
    /// Set once the RDD is written to the checkpoint directory: it is read from there, its lineage cut.
    pub(crate) checkpointed: std::sync::OnceLock<String>,
}

pub(crate) enum Dep {
    Narrow(Arc<RddNode>),
    Shuffle(Arc<ShuffleDep>),
}

/// A shuffle: the parent's partitions are written by `writer` into `num_reduce` blocks each.
pub(crate) struct ShuffleDep {
    pub(crate) shuffle_id: u32,
    pub(crate) parent: Arc<RddNode>,
    pub(crate) num_reduce: usize,
    pub(crate) writer: FnRef<ShuffleCtor>,
    pub(crate) env: Vec<u8>,
}

impl RddNode {
    /// The plan of one partition, reading from the cache first if the RDD is persisted.
    pub(crate) fn plan(&self, ctx: &dyn PlanCtx, split: usize) -> Node {
        if let Some(dir) = self.checkpointed.get() {
            let path = format!("{dir}/part-{split:05}");
            return Node { ctor: self.checkpoint_ctor, env: encode(&path), inputs: Vec::new() };
        }
        let inner = (self.compute)(ctx, split);
        let level = self.storage_level();
        if !level.is_valid() {
            return inner;
        }
        let env = encode(&CacheEnv { rdd_id: self.id, use_memory: level.use_memory, use_disk: level.use_disk });
        Node { ctor: self.cache_ctor, env, inputs: vec![inner] }
    }

    pub(crate) fn storage_level(&self) -> StorageLevel {
        *self.storage.lock().expect("storage lock")
    }

    /// Spark's `RDD.toString`: `MapPartitionsRDD[3] at map at wordcount.rs:31`.
    pub(crate) fn describe(&self) -> String {
        let label = if self.label.is_empty() { String::new() } else { format!("{} ", self.label) };
        format!("{label}{}[{}] at {}", self.kind, self.id, self.scope)
    }

    fn debug_self(&self) -> String {
        let level = self.storage_level();
        let persisted = if level.is_valid() { level.description() } else { String::new() };
        format!("{} [{persisted}]", self.describe())
    }

    /// The dependencies the schedulers follow (none once checkpointed).
    pub(crate) fn live_deps(&self) -> &[Dep] {
        if self.checkpointed.get().is_some() {
            &[]
        } else {
            &self.deps
        }
    }

    fn debug_children(&self, out: &mut Vec<String>, prefix: &str) {
        if self.checkpointed.get().is_some() {
            out.push(format!("{prefix}ReliableCheckpointRDD[{}] at checkpoint []", self.id));
            return;
        }
        let last = self.deps.len().saturating_sub(1);
        for (i, dep) in self.deps.iter().enumerate() {
            match dep {
                Dep::Narrow(parent) => parent.debug_narrow(out, prefix),
                Dep::Shuffle(shuffle) => shuffle.parent.debug_shuffle(out, prefix, i == last),
            }
        }
    }

    fn debug_narrow(&self, out: &mut Vec<String>, prefix: &str) {
        out.push(format!("{prefix}{}", self.debug_self()));
        self.debug_children(out, prefix);
    }

    /// A shuffle parent: `+-(n)` under its child, its own lineage indented below.
    fn debug_shuffle(&self, out: &mut Vec<String>, prefix: &str, last_child: bool) {
        let count = format!("({})", self.num_partitions);
        let left = (count.len() - 1) / 2;
        let this_prefix = strip_bar(prefix);
        let next = format!(
            "{this_prefix}{}{}|{}",
            if last_child { "  " } else { "| " },
            " ".repeat(left),
            " ".repeat(count.len() - left)
        );
        out.push(format!("{this_prefix}+-{count} {}", self.debug_self()));
        self.debug_children(out, &next);
    }

    /// The whole lineage, as Spark's `toDebugString` prints it.
    pub(crate) fn debug_string(&self) -> String {
        let count = format!("({})", self.num_partitions);
        let left = (count.len() - 1) / 2;
        let next = format!("{}|{}", " ".repeat(left), " ".repeat(count.len() - left));
        let mut out = vec![format!("{count} {}", self.debug_self())];
        self.debug_children(&mut out, &next);
        out.join("\n")
    }
}

/// Drops a trailing `|` and the spaces after it (Spark's `replaceAll("\\|\\s+$", "")`).
fn strip_bar(prefix: &str) -> &str {
    let trimmed = prefix.trim_end_matches(' ');
    if trimmed.len() < prefix.len() && trimmed.ends_with('|') {
        &trimmed[..trimmed.len() - 1]
    } else {
        prefix
    }
}

/// A plan node's environment as bytes (bincode).
pub(crate) fn encode<C: Serialize>(value: &C) -> Vec<u8> {
    bincode::serialize(value).expect("an operator environment always serializes")
}

/// The environment of a cached RDD's plan node.
#[derive(Serialize, Deserialize)]
pub(crate) struct CacheEnv {
    pub(crate) rdd_id: u32,
    pub(crate) use_memory: bool,
    pub(crate) use_disk: bool,
}

/// One split of a text file: lines whose first byte lies in `(start, end]` (or `[0, end]`), as
/// Hadoop's line reader assigns them; a gzip file is one split, read whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TextSplit {
    pub(crate) path: String,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) gzip: bool,
}
