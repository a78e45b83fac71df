//! RDDs: Spark's resilient distributed datasets. An [`Rdd<T>`] is lazy: it holds its lineage (its
//! dependencies, narrow or shuffle), its number of partitions and how to compute one partition — a
//! plan [`Node`] whose code references are the monomorphized operators of [`ops`]. Actions hand the
//! lineage to the DAG scheduler.
//!
//! Closures given to RDD operations must not capture anything (they are rebuilt from their type on
//! the executors); values reach them through the `*_with` variants' explicit environment, which is
//! serialized. A capturing closure is a compile error (at `cargo build`), not a runtime surprise.

mod actions;
pub(crate) mod ops;
mod pair;
mod sources;

use std::marker::PhantomData;
use std::panic::Location;
use std::sync::{Arc, Mutex};

use weft_executor::plan::{Node, NodeCtor};
use weft_executor::FnRef;

pub use ops::Records;
pub use pair::CoGrouped;

use super::context::SparkContext;

pub use super::lineage::{Data, StorageLevel};
pub(crate) use super::lineage::{Dep, PlanCtx, RddNode, ShuffleDep};

/// A distributed collection of `T`, partitioned, computed lazily from its lineage.
pub struct Rdd<T> {
    pub(crate) node: Arc<RddNode>,
    pub(crate) sc: SparkContext,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Rdd<T> {
    fn clone(&self) -> Self {
        Rdd { node: self.node.clone(), sc: self.sc.clone(), _t: PhantomData }
    }
}

/// `map at wordcount.rs:31`, from the caller of a public RDD method.
#[track_caller]
pub(crate) fn scope(op: &str) -> String {
    let at = Location::caller();
    let file = std::path::Path::new(at.file()).file_name().map(|f| f.to_string_lossy().into_owned());
    format!("{op} at {}:{}", file.unwrap_or_default(), at.line())
}

pub(crate) struct NewRdd {
    pub(crate) kind: &'static str,
    pub(crate) scope: String,
    pub(crate) label: String,
    pub(crate) num_partitions: usize,
    pub(crate) deps: Vec<Dep>,
    pub(crate) partitioner: Option<String>,
}

impl<T: Data> Rdd<T> {
    pub(crate) fn create(
        sc: &SparkContext,
        spec: NewRdd,
        compute: impl Fn(&dyn PlanCtx, usize) -> Node + Send + Sync + 'static,
    ) -> Rdd<T> {
        let node = RddNode {
            id: sc.next_rdd_id(),
            kind: spec.kind,
            scope: spec.scope,
            label: spec.label,
            num_partitions: spec.num_partitions,
            deps: spec.deps,
            partitioner: spec.partitioner,
            compute: Box::new(compute),
            cache_ctor: FnRef::new(NodeCtor(ops::cache::<T>)),
            checkpoint_ctor: FnRef::new(NodeCtor(ops::read_checkpoint::<T>)),
            storage: Mutex::new(StorageLevel::NONE),
            checkpointed: std::sync::OnceLock::new(),
        };
        Rdd { node: Arc::new(node), sc: sc.clone(), _t: PhantomData }
    }

    /// A one-parent, partition-to-partition transformation.
    pub(crate) fn narrow<U: Data>(
        &self,
        scope: String,
        ctor: FnRef<NodeCtor>,
        env: Vec<u8>,
        keeps_partitioner: bool,
    ) -> Rdd<U> {
        let parent = self.node.clone();
        let spec = NewRdd {
            kind: "MapPartitionsRDD",
            scope,
            label: String::new(),
            num_partitions: parent.num_partitions,
            deps: vec![Dep::Narrow(parent.clone())],
            partitioner: if keeps_partitioner { parent.partitioner.clone() } else { None },
        };
        Rdd::create(&self.sc, spec, move |ctx, split| Node {
            ctor,
            env: env.clone(),
            inputs: vec![parent.plan(ctx, split)],
        })
    }

    pub fn id(&self) -> u32 {
        self.node.id
    }

    pub fn context(&self) -> &SparkContext {
        &self.sc
    }

    pub fn get_num_partitions(&self) -> usize {
        self.node.num_partitions
    }

    /// Spark's `toDebugString`: the lineage, one line per RDD, a `+-` step at each shuffle.
    pub fn to_debug_string(&self) -> String {
        self.node.debug_string()
    }

    // ------------------------------------------------------------------------------------------
    // Narrow transformations

    #[track_caller]
    pub fn map<U: Data, F>(&self, f: F) -> Rdd<U>
    where
        F: Fn(T) -> U + Copy + 'static,
    {
        self.map_scoped(scope("map"), (), move |_: &(), x| f(x))
    }

    /// `map` with an explicit, serialized environment `env` handed to `f` by reference.
    #[track_caller]
    pub fn map_with<C: Data, U: Data, F>(&self, env: C, f: F) -> Rdd<U>
    where
        F: Fn(&C, T) -> U + Copy + 'static,
    {
        self.map_scoped(scope("map"), env, f)
    }

    pub(crate) fn map_scoped<C: Data, U: Data, F>(&self, scope: String, env: C, f: F) -> Rdd<U>
    where
        F: Fn(&C, T) -> U + Copy + 'static,
    {
        self.map_keeping(scope, env, f, false)
    }

    /// `map`, saying whether the keys (and so the partitioning) stay as they are.
    pub(crate) fn map_keeping<C: Data, U: Data, F>(&self, scope: String, env: C, _f: F, keeps: bool) -> Rdd<U>
    where
        F: Fn(&C, T) -> U + Copy + 'static,
    {
        self.narrow(scope, FnRef::new(NodeCtor(ops::map::<T, U, C, F>)), ops::encode(&env), keeps)
    }

    pub(crate) fn flat_map_keeping<C: Data, U: Data, I, F>(&self, scope: String, env: C, _f: F, keeps: bool) -> Rdd<U>
    where
        I: IntoIterator<Item = U>,
        F: Fn(&C, T) -> I + Copy + 'static,
    {
        self.narrow(scope, FnRef::new(NodeCtor(ops::flat_map::<T, U, C, I, F>)), ops::encode(&env), keeps)
    }

    #[track_caller]
    pub fn filter<F>(&self, f: F) -> Rdd<T>
    where
        F: Fn(&T) -> bool + Copy + 'static,
    {
        self.filter_with((), move |_: &(), x: &T| f(x))
    }

    #[track_caller]
    pub fn filter_with<C: Data, F>(&self, env: C, _f: F) -> Rdd<T>
    where
        F: Fn(&C, &T) -> bool + Copy + 'static,
    {
        self.narrow(scope("filter"), FnRef::new(NodeCtor(ops::filter::<T, C, F>)), ops::encode(&env), true)
    }

    #[track_caller]
    pub fn flat_map<U: Data, I, F>(&self, f: F) -> Rdd<U>
    where
        I: IntoIterator<Item = U>,
        F: Fn(T) -> I + Copy + 'static,
    {
        self.flat_map_with((), move |_: &(), x| f(x))
    }

    #[track_caller]
    pub fn flat_map_with<C: Data, U: Data, I, F>(&self, env: C, f: F) -> Rdd<U>
    where
        I: IntoIterator<Item = U>,
        F: Fn(&C, T) -> I + Copy + 'static,
    {
        self.flat_map_keeping(scope("flatMap"), env, f, false)
    }

    /// Spark's `mapPartitions`: `f` gets the partition's records as an iterator.
    #[track_caller]
    pub fn map_partitions<U: Data, I, F>(&self, f: F) -> Rdd<U>
    where
        I: IntoIterator<Item = U>,
        I::IntoIter: 'static,
        F: Fn(Records<T>) -> I + Copy + 'static,
    {
        self.map_partitions_with_index_env(scope("mapPartitions"), (), move |_: &(), _, it| f(it))
    }

    /// `mapPartitionsWithIndex` with an explicit environment.
    #[track_caller]
    pub fn map_partitions_with_index<C: Data, U: Data, I, F>(&self, env: C, f: F) -> Rdd<U>
    where
        I: IntoIterator<Item = U>,
        I::IntoIter: 'static,
        F: Fn(&C, u32, Records<T>) -> I + Copy + 'static,
    {
        self.map_partitions_with_index_env(scope("mapPartitionsWithIndex"), env, f)
    }

    pub(crate) fn map_partitions_with_index_env<C: Data, U: Data, I, F>(&self, scope: String, env: C, _f: F) -> Rdd<U>
    where
        I: IntoIterator<Item = U>,
        I::IntoIter: 'static,
        F: Fn(&C, u32, Records<T>) -> I + Copy + 'static,
    {
        self.narrow(scope, FnRef::new(NodeCtor(ops::map_partitions::<T, U, C, I, F>)), ops::encode(&env), false)
    }

    #[track_caller]
    pub fn key_by<K: Data, F>(&self, f: F) -> Rdd<(K, T)>
    where
        F: Fn(&T) -> K + Copy + 'static,
    {
        self.map_scoped(scope("keyBy"), (), move |_: &(), x: T| (f(&x), x))
    }

    /// Spark's `sample`: each record kept with probability `fraction` (or, with replacement, a
    /// Poisson number of times), deterministic for a given `seed`.
    #[track_caller]
    pub fn sample(&self, with_replacement: bool, fraction: f64, seed: u64) -> Rdd<T> {
        assert!(fraction >= 0.0, "sample: fraction must be non-negative, got {fraction}");
        let env = ops::encode(&ops::SampleEnv { with_replacement, fraction, seed });
        self.narrow(scope("sample"), FnRef::new(NodeCtor(ops::sample::<T>)), env, true)
    }

    /// Spark's `union`: the partitions of both RDDs, one after the other.
    #[track_caller]
    pub fn union(&self, other: &Rdd<T>) -> Rdd<T> {
        let parents = [self.node.clone(), other.node.clone()];
        let counts: Vec<usize> = parents.iter().map(|p| p.num_partitions).collect();
        let spec = NewRdd {
            kind: "UnionRDD",
            scope: scope("union"),
            label: String::new(),
            num_partitions: counts.iter().sum(),
            deps: parents.iter().map(|p| Dep::Narrow(p.clone())).collect(),
            partitioner: None,
        };
        Rdd::create(&self.sc, spec, move |ctx, split| {
            let (which, at) = if split < counts[0] { (0, split) } else { (1, split - counts[0]) };
            parents[which].plan(ctx, at)
        })
    }

    /// Spark's `coalesce` without a shuffle: neighbouring partitions merged into `n` (never more).
    #[track_caller]
    pub fn coalesce(&self, n: usize) -> Rdd<T> {
        let parent = self.node.clone();
        let from = parent.num_partitions;
        let n = n.clamp(1, from.max(1));
        let spec = NewRdd {
            kind: "CoalescedRDD",
            scope: scope("coalesce"),
            label: String::new(),
            num_partitions: n,
            deps: vec![Dep::Narrow(parent.clone())],
            partitioner: None,
        };
        let concat = FnRef::new(NodeCtor(ops::concat));
        Rdd::create(&self.sc, spec, move |ctx, split| {
            let (lo, hi) = (split * from / n, (split + 1) * from / n);
            Node { ctor: concat, env: Vec::new(), inputs: (lo..hi).map(|p| parent.plan(ctx, p)).collect() }
        })
    }

    /// Keeps the computed partitions (in memory, on disk or both) the first time an action computes them.
    pub fn persist(&self, level: StorageLevel) -> Rdd<T> {
        *self.node.storage.lock().expect("storage lock") = level;
        self.clone()
    }

    /// `persist(MEMORY_ONLY)`.
    pub fn cache(&self) -> Rdd<T> {
        self.persist(StorageLevel::MEMORY_ONLY)
    }

    /// Forgets the cached partitions, on every executor.
    pub fn unpersist(&self) -> Rdd<T> {
        *self.node.storage.lock().expect("storage lock") = StorageLevel::NONE;
        self.sc.unpersist(self.node.id);
        self.clone()
    }

    pub fn get_storage_level(&self) -> StorageLevel {
        self.node.storage_level()
    }
}

/// Lineage without a `SparkContext`, for the schedulers' unit tests.
#[cfg(test)]
pub(crate) mod test_lineage {
    use super::*;

    /// An RDD of `u64`s with `num_partitions` partitions over `deps`.
    pub(crate) fn node(id: u32, num_partitions: usize, deps: Vec<Dep>) -> Arc<RddNode> {
        let source = FnRef::new(NodeCtor(ops::source_vec::<u64>));
        Arc::new(RddNode {
            id,
            kind: "TestRDD",
            scope: format!("test at lineage.rs:{id}"),
            label: String::new(),
            num_partitions,
            deps,
            partitioner: None,
            compute: Box::new(move |_, _| Node { ctor: source, env: Vec::new(), inputs: Vec::new() }),
            cache_ctor: FnRef::new(NodeCtor(ops::cache::<u64>)),
            checkpoint_ctor: FnRef::new(NodeCtor(ops::read_checkpoint::<u64>)),
            storage: Mutex::new(StorageLevel::NONE),
            checkpointed: std::sync::OnceLock::new(),
        })
    }

    /// `parent` shuffled into `num_reduce` partitions.
    pub(crate) fn shuffle(shuffle_id: u32, parent: Arc<RddNode>, num_reduce: usize) -> Arc<ShuffleDep> {
        let writer =
            FnRef::new(weft_executor::plan::ShuffleCtor(ops::shuffle_write_plain::<u64, u64, crate::HashPartitioner>));
        Arc::new(ShuffleDep { shuffle_id, parent, num_reduce, writer, env: Vec::new() })
    }
}
