//! Key-value RDDs: Spark's `PairRDDFunctions` and the shuffles behind them (combine, group,
//! partition, cogroup and joins, sorts, distinct, repartition).

use std::hash::Hash;
use std::sync::Arc;

use weft_executor::plan::{Node, NodeCtor, ShuffleCtor};
use weft_executor::FnRef;

use super::ops::{self, ReadEnv, WriteEnv};
use super::{scope, Data, Dep, NewRdd, PlanCtx, Rdd, RddNode, ShuffleDep};
use crate::partitioner::{HashPartitioner, Partitioner, RangePartitioner};

/// What `cogroup` makes: each key with its values from both sides.
pub type CoGrouped<K, V, W> = Rdd<(K, (Vec<V>, Vec<W>))>;

/// The reading side of a shuffle: one node per reduce partition.
fn read_node(ctx: &dyn PlanCtx, read: FnRef<NodeCtor>, shuffle_id: u32, split: usize) -> Node {
    let env = ReadEnv { shuffle_id, reduce: split as u32, maps: ctx.map_locations(shuffle_id, split as u32) };
    Node { ctor: read, env: ops::encode(&env), inputs: Vec::new() }
}

impl<K: Data + Eq + Hash, V: Data> Rdd<(K, V)> {
    fn shuffle_dep(&self, writer: FnRef<ShuffleCtor>, env: Vec<u8>, num_reduce: usize) -> Arc<ShuffleDep> {
        Arc::new(ShuffleDep {
            shuffle_id: self.sc.next_shuffle_id(),
            parent: self.node.clone(),
            num_reduce,
            writer,
            env,
        })
    }

    /// An RDD whose partitions are the reduce side of `dep`, read as `(K2, C)` and then turned into
    /// records by `reduce` (or handed on as they are).
    fn shuffled<K2: Data, C: Data, R: Data>(
        &self,
        kind: &'static str,
        scope: String,
        dep: Arc<ShuffleDep>,
        reduce: Option<(FnRef<NodeCtor>, Vec<u8>)>,
        partitioner: Option<String>,
    ) -> Rdd<R> {
        let read = FnRef::new(NodeCtor(ops::shuffle_read::<K2, C>));
        let spec = NewRdd {
            kind,
            scope,
            label: String::new(),
            num_partitions: dep.num_reduce,
            deps: vec![Dep::Shuffle(dep.clone())],
            partitioner,
        };
        let shuffle_id = dep.shuffle_id;
        Rdd::create(&self.sc, spec, move |ctx, split| {
            let input = read_node(ctx, read, shuffle_id, split);
            match &reduce {
                Some((ctor, env)) => Node { ctor: *ctor, env: env.clone(), inputs: vec![input] },
                None => input,
            }
        })
    }

    /// The number of reduce partitions when none is given: `spark.default.parallelism`, else the
    /// largest number of partitions among the parents.
    fn default_partitions(&self, others: &[&Arc<RddNode>]) -> usize {
        self.sc.explicit_parallelism().unwrap_or_else(|| {
            others.iter().map(|n| n.num_partitions).chain([self.node.num_partitions]).max().unwrap_or(1)
        })
    }

    #[track_caller]
    pub fn keys(&self) -> Rdd<K> {
        self.map_scoped(scope("keys"), (), |_: &(), (k, _): (K, V)| k)
    }

    #[track_caller]
    pub fn values(&self) -> Rdd<V> {
        self.map_scoped(scope("values"), (), |_: &(), (_, v): (K, V)| v)
    }

    /// Spark's `mapValues`: keeps the partitioning.
    #[track_caller]
    pub fn map_values<U: Data, F>(&self, f: F) -> Rdd<(K, U)>
    where
        F: Fn(V) -> U + Copy + 'static,
    {
        self.map_values_with((), move |_: &(), v| f(v))
    }

    #[track_caller]
    pub fn map_values_with<C: Data, U: Data, F>(&self, env: C, f: F) -> Rdd<(K, U)>
    where
        F: Fn(&C, V) -> U + Copy + 'static,
    {
        self.map_keeping(scope("mapValues"), env, move |c: &C, (k, v): (K, V)| (k, f(c, v)), true)
    }

    /// Spark's `combineByKey`, with an environment for the three functions. `map_side_combine`
    /// combines within each map task before the shuffle.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn combine_by_key_impl<C: Data, E: Data, P: Partitioner<K>, FC, FV, FM>(
        &self,
        scope: String,
        env: E,
        partitioner: P,
        _create: FC,
        _merge_value: FV,
        _merge_combiners: FM,
    ) -> Rdd<(K, C)>
    where
        FC: Fn(&E, V) -> C + Copy + 'static,
        FV: Fn(&E, C, V) -> C + Copy + 'static,
        FM: Fn(&E, C, C) -> C + Copy + 'static,
    {
        let n = partitioner.num_partitions();
        let described = partitioner.describe();
        let writer = FnRef::new(ShuffleCtor(ops::shuffle_write_combine::<K, V, C, E, P, FC, FV, FM>));
        let write_env = ops::encode(&WriteEnv { partitioner, env: env.clone() });
        let dep = self.shuffle_dep(writer, write_env, n);
        let merge = FnRef::new(NodeCtor(ops::merge_combiners::<K, C, E, FM>));
        self.shuffled::<K, C, (K, C)>("ShuffledRDD", scope, dep, Some((merge, ops::encode(&env))), Some(described))
    }

    #[track_caller]
    pub fn reduce_by_key<F>(&self, f: F) -> Rdd<(K, V)>
    where
        F: Fn(V, V) -> V + Copy + 'static,
    {
        let n = self.default_partitions(&[]);
        self.reduce_by_key_impl(scope("reduceByKey"), (), HashPartitioner(n), move |_: &(), a, b| f(a, b))
    }

    /// `reduceByKey(func, numPartitions)`.
    #[track_caller]
    pub fn reduce_by_key_into<F>(&self, f: F, partitions: usize) -> Rdd<(K, V)>
    where
        F: Fn(V, V) -> V + Copy + 'static,
    {
        self.reduce_by_key_impl(scope("reduceByKey"), (), HashPartitioner(partitions.max(1)), move |_: &(), a, b| {
            f(a, b)
        })
    }

    #[track_caller]
    pub fn reduce_by_key_with<C: Data, F>(&self, env: C, f: F) -> Rdd<(K, V)>
    where
        F: Fn(&C, V, V) -> V + Copy + 'static,
    {
        let n = self.default_partitions(&[]);
        self.reduce_by_key_impl(scope("reduceByKey"), env, HashPartitioner(n), f)
    }

    fn reduce_by_key_impl<C: Data, P: Partitioner<K>, F>(&self, scope: String, env: C, p: P, _f: F) -> Rdd<(K, V)>
    where
        F: Fn(&C, V, V) -> V + Copy + 'static,
    {
        self.combine_by_key_impl(
            scope,
            env,
            p,
            |_: &C, v: V| v,
            // SAFETY: `F: Fn…`, inhabited and zero-sized (see `ops`' module header).
            |e: &C, a: V, b: V| unsafe { weft_executor::conjure::<F>() }(e, a, b),
            // SAFETY: as above.
            |e: &C, a: V, b: V| unsafe { weft_executor::conjure::<F>() }(e, a, b),
        )
    }

    /// Spark's `aggregateByKey(zero)(seqOp, combOp)`.
    #[track_caller]
    pub fn aggregate_by_key<U: Data, FS, FC>(&self, zero: U, seq: FS, comb: FC) -> Rdd<(K, U)>
    where
        FS: Fn(U, V) -> U + Copy + 'static,
        FC: Fn(U, U) -> U + Copy + 'static,
    {
        let n = self.default_partitions(&[]);
        self.combine_by_key_impl(
            scope("aggregateByKey"),
            zero,
            HashPartitioner(n),
            move |z: &U, v: V| seq(z.clone(), v),
            move |_: &U, u: U, v: V| seq(u, v),
            move |_: &U, a: U, b: U| comb(a, b),
        )
    }

    /// Spark's `groupByKey`: no map-side combine; the values of a key in no particular order.
    #[track_caller]
    pub fn group_by_key(&self) -> Rdd<(K, Vec<V>)> {
        let n = self.default_partitions(&[]);
        self.group_by_key_impl(scope("groupByKey"), n)
    }

    #[track_caller]
    pub fn group_by_key_into(&self, partitions: usize) -> Rdd<(K, Vec<V>)> {
        self.group_by_key_impl(scope("groupByKey"), partitions.max(1))
    }

    fn group_by_key_impl(&self, scope: String, n: usize) -> Rdd<(K, Vec<V>)> {
        let p = HashPartitioner(n);
        let described = Partitioner::<K>::describe(&p);
        let dep = self.plain_shuffle(p);
        let group = FnRef::new(NodeCtor(ops::group_values::<K, V>));
        self.shuffled::<K, V, (K, Vec<V>)>("ShuffledRDD", scope, dep, Some((group, Vec::new())), Some(described))
    }

    fn plain_shuffle<P: Partitioner<K>>(&self, p: P) -> Arc<ShuffleDep> {
        let n = p.num_partitions();
        let writer = FnRef::new(ShuffleCtor(ops::shuffle_write_plain::<K, V, P>));
        self.shuffle_dep(writer, ops::encode(&WriteEnv { partitioner: p, env: () }), n)
    }

    /// Spark's `partitionBy`: the records moved to the partitions `partitioner` gives their keys.
    #[track_caller]
    pub fn partition_by<P: Partitioner<K>>(&self, partitioner: P) -> Rdd<(K, V)> {
        let described = partitioner.describe();
        if self.node.partitioner.as_deref() == Some(described.as_str()) {
            return self.clone();
        }
        let dep = self.plain_shuffle(partitioner);
        self.shuffled::<K, V, (K, V)>("ShuffledRDD", scope("partitionBy"), dep, None, Some(described))
    }

    /// Spark's `cogroup`: for each key, the values from both RDDs. A side already partitioned the
    /// same way is read in place (no shuffle).
    #[track_caller]
    pub fn cogroup<W: Data>(&self, other: &Rdd<(K, W)>) -> CoGrouped<K, V, W> {
        let n = self.join_partitions(&other.node);
        self.cogroup_impl(scope("cogroup"), other, n)
    }

    fn join_partitions(&self, other: &Arc<RddNode>) -> usize {
        // Spark's defaultPartitioner: reuse an existing hash partitioning, else the default count.
        let existing = [&self.node, other].iter().filter_map(|n| n.partitioner.as_deref().and_then(parse_hash)).max();
        existing.unwrap_or_else(|| self.default_partitions(&[other]))
    }

    fn cogroup_impl<W: Data>(&self, scope: String, other: &Rdd<(K, W)>, n: usize) -> CoGrouped<K, V, W> {
        let layout = Partitioner::<K>::describe(&HashPartitioner(n));
        let left = self.side(&layout, n);
        let right = other.side(&layout, n);
        let deps = [&left, &right]
            .iter()
            .map(|s| match s {
                Side::InPlace(node) => Dep::Narrow(node.clone()),
                Side::Shuffled(dep, _) => Dep::Shuffle(dep.clone()),
            })
            .collect();
        let spec = NewRdd {
            kind: "CoGroupedRDD",
            scope,
            label: String::new(),
            num_partitions: n,
            deps,
            partitioner: Some(layout),
        };
        let ctor = FnRef::new(NodeCtor(ops::cogroup::<K, V, W>));
        Rdd::create(&self.sc, spec, move |ctx, split| Node {
            ctor,
            env: Vec::new(),
            inputs: vec![left.node(ctx, split), right.node(ctx, split)],
        })
    }

    fn side(&self, layout: &str, n: usize) -> Side {
        if self.node.partitioner.as_deref() == Some(layout) {
            Side::InPlace(self.node.clone())
        } else {
            Side::Shuffled(self.plain_shuffle(HashPartitioner(n)), FnRef::new(NodeCtor(ops::shuffle_read::<K, V>)))
        }
    }

    /// Spark's `join`: every pair of values of a key present in both.
    #[track_caller]
    pub fn join<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (V, W))> {
        let n = self.join_partitions(&other.node);
        let grouped = self.cogroup_impl(scope("join"), other, n);
        grouped.flat_map_values_keep(scope("join"), |(vs, ws): (Vec<V>, Vec<W>)| {
            let mut out = Vec::with_capacity(vs.len() * ws.len());
            for v in &vs {
                for w in &ws {
                    out.push((v.clone(), w.clone()));
                }
            }
            out
        })
    }

    /// Spark's `leftOuterJoin`.
    #[track_caller]
    pub fn left_outer_join<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (V, Option<W>))> {
        let n = self.join_partitions(&other.node);
        let grouped = self.cogroup_impl(scope("leftOuterJoin"), other, n);
        grouped.flat_map_values_keep(scope("leftOuterJoin"), |(vs, ws): (Vec<V>, Vec<W>)| {
            let mut out = Vec::with_capacity(vs.len() * ws.len().max(1));
            for v in &vs {
                if ws.is_empty() {
                    out.push((v.clone(), None));
                }
                for w in &ws {
                    out.push((v.clone(), Some(w.clone())));
                }
            }
            out
        })
    }

    /// `flatMapValues`, keeping the partitioning.
    #[track_caller]
    pub fn flat_map_values<U: Data, I, F>(&self, f: F) -> Rdd<(K, U)>
    where
        I: IntoIterator<Item = U>,
        F: Fn(V) -> I + Copy + 'static,
    {
        self.flat_map_values_keep(scope("flatMapValues"), f)
    }

    fn flat_map_values_keep<U: Data, I, F>(&self, scope: String, f: F) -> Rdd<(K, U)>
    where
        I: IntoIterator<Item = U>,
        F: Fn(V) -> I + Copy + 'static,
    {
        let per_record = move |_: &(), (k, v): (K, V)| {
            let values = f(v).into_iter();
            values.map(move |u| (k.clone(), u)).collect::<Vec<(K, U)>>()
        };
        self.flat_map_keeping(scope, (), per_record, true)
    }
}

/// One side of a cogroup: read in place, or through its own shuffle.
enum Side {
    InPlace(Arc<RddNode>),
    Shuffled(Arc<ShuffleDep>, FnRef<NodeCtor>),
}

impl Side {
    fn node(&self, ctx: &dyn PlanCtx, split: usize) -> Node {
        match self {
            Side::InPlace(node) => node.plan(ctx, split),
            Side::Shuffled(dep, read) => read_node(ctx, *read, dep.shuffle_id, split),
        }
    }
}

fn parse_hash(described: &str) -> Option<usize> {
    described.strip_prefix("hash(")?.strip_suffix(')')?.parse().ok()
}

impl<T: Data + Eq + Hash> Rdd<T> {
    /// Spark's `distinct`.
    #[track_caller]
    pub fn distinct(&self) -> Rdd<T> {
        let s = scope("distinct");
        let n = self.sc.explicit_parallelism().unwrap_or(self.node.num_partitions);
        let pairs: Rdd<(T, ())> = self.map_scoped(s.clone(), (), |_: &(), x: T| (x, ()));
        let reduced = pairs.reduce_by_key_impl(s.clone(), (), HashPartitioner(n), |_: &(), _: (), _: ()| ());
        reduced.map_scoped(s, (), |_: &(), (x, _): (T, ())| x)
    }
}

impl<T: Data> Rdd<T> {
    /// Spark's `repartition`: a shuffle into `n` partitions of about equal size.
    #[track_caller]
    pub fn repartition(&self, n: usize) -> Rdd<T> {
        let s = scope("repartition");
        let n = n.max(1);
        let keyed: Rdd<(u64, T)> =
            self.map_partitions_with_index_env(s.clone(), n as u64, |n: &u64, index: u32, it| {
                let n = *n;
                let mut position = u64::from(index).wrapping_mul(0x9e37_79b9) % n;
                it.map(move |x| {
                    position = (position + 1) % n;
                    (position, x)
                })
            });
        let dep = keyed.plain_shuffle(RoundRobin(n));
        let shuffled: Rdd<(u64, T)> = keyed.shuffled::<u64, T, (u64, T)>("ShuffledRDD", s.clone(), dep, None, None);
        shuffled.map_scoped(s, (), |_: &(), (_, x): (u64, T)| x)
    }
}

/// Sends key `k` to partition `k` (repartition's positions are already spread).
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
struct RoundRobin(usize);

impl Partitioner<u64> for RoundRobin {
    fn num_partitions(&self) -> usize {
        self.0
    }
    fn partition(&self, key: &u64) -> usize {
        (*key % self.0 as u64) as usize
    }
    fn describe(&self) -> String {
        format!("roundrobin({})", self.0)
    }
}

impl<K: Data + Eq + Hash + Ord, V: Data> Rdd<(K, V)> {
    /// Spark's `sortByKey`: samples the keys (a job of its own, as in Spark) to cut ranges of about
    /// equal size, shuffles by range, and sorts each partition.
    #[track_caller]
    pub fn sort_by_key(&self, ascending: bool) -> Rdd<(K, V)> {
        let n = self.node.num_partitions;
        self.sort_by_key_impl(scope("sortByKey"), ascending, n)
    }

    #[track_caller]
    pub fn sort_by_key_into(&self, ascending: bool, partitions: usize) -> Rdd<(K, V)> {
        self.sort_by_key_impl(scope("sortByKey"), ascending, partitions.max(1))
    }

    fn sort_by_key_impl(&self, scope: String, ascending: bool, n: usize) -> Rdd<(K, V)> {
        let bounds = if n > 1 { self.sample_keys(scope.clone(), n) } else { Vec::new() };
        let partitioner = RangePartitioner::from_sample(bounds, n, ascending);
        let described = partitioner.describe();
        let dep = self.plain_shuffle(partitioner);
        let sort = FnRef::new(NodeCtor(ops::sort_by_key::<K, V>));
        self.shuffled::<K, V, (K, V)>("ShuffledRDD", scope, dep, Some((sort, ops::encode(&ascending))), Some(described))
    }

    /// Up to `20 × partitions` keys in all, sampled evenly from every partition (reservoir sampling).
    fn sample_keys(&self, scope: String, partitions: usize) -> Vec<K> {
        let per = ((20 * partitions) as f64 * 3.0 / self.node.num_partitions.max(1) as f64).ceil() as usize;
        let sampled: Rdd<K> = self.map_partitions_with_index_env(scope, per as u64, |per: &u64, index: u32, it| {
            let per = *per as usize;
            let mut rng = ops::SplitMix(0x5eed ^ u64::from(index));
            let mut reservoir: Vec<K> = Vec::with_capacity(per);
            for (i, (k, _)) in it.enumerate() {
                if reservoir.len() < per {
                    reservoir.push(k);
                } else {
                    let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                    if j < per {
                        reservoir[j] = k;
                    }
                }
            }
            reservoir
        });
        sampled.collect().unwrap_or_default()
    }
}

impl<T: Data> Rdd<T> {
    /// Spark's `sortBy`: records ordered by `f(record)`.
    #[track_caller]
    pub fn sort_by<K: Data + Eq + Hash + Ord, F>(&self, f: F, ascending: bool) -> Rdd<T>
    where
        F: Fn(&T) -> K + Copy + 'static,
    {
        let s = scope("sortBy");
        let keyed: Rdd<(K, T)> = self.map_scoped(s.clone(), (), move |_: &(), x: T| (f(&x), x));
        let n = self.node.num_partitions;
        keyed.sort_by_key_impl(s.clone(), ascending, n).map_scoped(s, (), |_: &(), (_, x): (K, T)| x)
    }
}
