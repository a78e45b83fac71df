//! Key-value operations

use super::*;

pub(crate) fn sum(a: u64, b: u64) -> u64 {
    a + b
}

pub(crate) fn pairs_of(data: &[u64], keys: u64) -> Vec<(u64, u64)> {
    data.iter().map(|&x| (x % keys, x)).collect()
}

pub(crate) fn reference_reduce<K: Ord + Clone>(data: &[(K, u64)]) -> Vec<(K, u64)> {
    let mut sums: BTreeMap<K, u64> = BTreeMap::new();
    for (k, v) in data {
        *sums.entry(k.clone()).or_default() += v;
    }
    sums.into_iter().collect()
}

pub(crate) fn reference_group<K: Ord + Clone, V: Ord + Clone>(data: &[(K, V)]) -> BTreeMap<K, Vec<V>> {
    let mut groups: BTreeMap<K, Vec<V>> = BTreeMap::new();
    for (k, v) in data {
        groups.entry(k.clone()).or_default().push(v.clone());
    }
    groups.values_mut().for_each(|vs| vs.sort());
    groups
}

pub(crate) fn reference_join<K: Ord + Clone>(left: &[(K, u64)], right: &[(K, u64)]) -> Vec<(K, (u64, u64))> {
    let mut out = Vec::new();
    for (k, v) in left {
        for (k2, w) in right {
            if k == k2 {
                out.push((k.clone(), (*v, *w)));
            }
        }
    }
    sorted(out)
}

pub(crate) fn reference_left_outer<K: Ord + Clone>(
    left: &[(K, u64)],
    right: &[(K, u64)],
) -> Vec<(K, (u64, Option<u64>))> {
    let mut out = Vec::new();
    for (k, v) in left {
        let matches: Vec<u64> = right.iter().filter(|(k2, _)| k2 == k).map(|(_, w)| *w).collect();
        if matches.is_empty() {
            out.push((k.clone(), (*v, None)));
        }
        out.extend(matches.into_iter().map(|w| (k.clone(), (*v, Some(w)))));
    }
    sorted(out)
}

/// Cogroup's records: each key with its values from both sides.
pub(crate) type Cogrouped<K> = Vec<(K, (Vec<u64>, Vec<u64>))>;

pub(crate) fn reference_cogroup<K: Ord + Clone>(left: &[(K, u64)], right: &[(K, u64)]) -> Cogrouped<K> {
    let (lg, rg) = (reference_group(left), reference_group(right));
    let keys: BTreeSet<K> = lg.keys().chain(rg.keys()).cloned().collect();
    keys.into_iter()
        .map(|k| {
            let groups = (lg.get(&k).cloned().unwrap_or_default(), rg.get(&k).cloned().unwrap_or_default());
            (k, groups)
        })
        .collect()
}

/// Groups with their value lists sorted, the groups sorted by key.
pub(crate) fn sorted_groups<K: Ord, V: Ord>(groups: Vec<(K, Vec<V>)>) -> Vec<(K, Vec<V>)> {
    sorted(groups.into_iter().map(|(k, vs)| (k, sorted(vs))).collect())
}

pub(crate) fn keyed(suite: &mut Suite, t: &Ctx) {
    let left = pairs_of(&scrambled(1000, 3, 100_000), 37);
    let right = pairs_of(&scrambled(300, 4, 100_000), 53);
    let a = t.sc.parallelize(left.clone(), 4);
    let b = t.sc.parallelize(right.clone(), 3);
    suite.check("reduce_by_key, reduce_by_key_into, reduce_by_key_with", || {
        let want = reference_reduce(&left);
        let reduced = a.reduce_by_key(sum);
        same("partitions (the parent's)", &reduced.get_num_partitions(), &4)?;
        same("reduce_by_key", &sorted(reduced.collect()?), &want)?;
        let into = a.reduce_by_key_into(sum, 5);
        same("reduce_by_key_into partitions", &into.get_num_partitions(), &5)?;
        same("reduce_by_key_into", &sorted(into.collect()?), &want)?;
        let max_plus = a.reduce_by_key_with(1u64, |one: &u64, x: u64, y: u64| x.max(y) + one - 1);
        let mut want_max: BTreeMap<u64, u64> = BTreeMap::new();
        for &(k, v) in &left {
            let e = want_max.entry(k).or_insert(v);
            *e = (*e).max(v);
        }
        same("reduce_by_key_with (max)", &sorted(max_plus.collect()?), &want_max.into_iter().collect())
    });
    suite.check("aggregate_by_key: the zero once per key and partition, as Spark", || {
        let got = sorted(a.aggregate_by_key(1_000_000u64, |u: u64, v: u64| u + v, sum).collect()?);
        let mut want: BTreeMap<u64, u64> = BTreeMap::new();
        for slice in slices_of(&left, 4) {
            let keys: BTreeSet<u64> = slice.iter().map(|p| p.0).collect();
            keys.into_iter().for_each(|k| *want.entry(k).or_default() += 1_000_000);
            slice.iter().for_each(|&(k, v)| *want.entry(k).or_default() += v);
        }
        same("sum with a zero of 1e6", &got, &want.into_iter().collect())?;
        let stats = a.aggregate_by_key(
            (0u64, 0u64),
            |(s, c): (u64, u64), v: u64| (s + v, c + 1),
            |x: (u64, u64), y: (u64, u64)| (x.0 + y.0, x.1 + y.1),
        );
        let want: Vec<(u64, (u64, u64))> =
            reference_group(&left).into_iter().map(|(k, vs)| (k, (vs.iter().sum(), vs.len() as u64))).collect();
        same("(sum, count)", &sorted(stats.collect()?), &want)?;
        let lists = a.aggregate_by_key(
            Vec::new(),
            |mut u: Vec<u64>, v: u64| {
                u.push(v);
                u
            },
            |x: Vec<u64>, y: Vec<u64>| [x, y].concat(),
        );
        let want: Vec<(u64, Vec<u64>)> = reference_group(&left).into_iter().collect();
        same("a Vec zero", &sorted_groups(lists.collect()?), &want)
    });
    suite.check("group_by_key and group_by_key_into", || {
        let want: Vec<(u64, Vec<u64>)> = reference_group(&left).into_iter().collect();
        same("group_by_key", &sorted_groups(a.group_by_key().collect()?), &want)?;
        let into = a.group_by_key_into(3);
        same("partitions", &into.get_num_partitions(), &3)?;
        same("group_by_key_into", &sorted_groups(into.collect()?), &want)
    });
    suite.check("join, left_outer_join, cogroup", || {
        same("join", &sorted(a.join(&b).collect()?), &reference_join(&left, &right))?;
        same("left_outer_join", &sorted(a.left_outer_join(&b).collect()?), &reference_left_outer(&left, &right))?;
        let want = reference_cogroup(&left, &right);
        let got: Cogrouped<u64> =
            sorted(a.cogroup(&b).collect()?.into_iter().map(|(k, (v, w))| (k, (sorted(v), sorted(w)))).collect());
        same("cogroup", &got, &want)
    });
    suite.check("join: a side already hash-partitioned is read in place", || {
        let parted = a.partition_by(HashPartitioner(6));
        let joined = parted.join(&b);
        same("partitions (the existing layout's)", &joined.get_num_partitions(), &6)?;
        same("join", &sorted(joined.collect()?), &reference_join(&left, &right))?;
        let both = parted.join(&b.partition_by(HashPartitioner(6)));
        same("both in place", &sorted(both.collect()?), &reference_join(&left, &right))
    });
    suite.check("distinct", || {
        let data = words(2000, 5);
        let want: Vec<String> = data.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        same("words", &sorted(t.sc.parallelize(data, 5).distinct().collect()?), &want)
    });
    suite.check("count_by_key and count_by_value", || {
        let mut want: HashMap<u64, u64> = HashMap::new();
        left.iter().for_each(|(k, _)| *want.entry(*k).or_default() += 1);
        same("count_by_key", &a.count_by_key()?, &want)?;
        let data = words(1500, 6);
        let mut want: HashMap<String, u64> = HashMap::new();
        data.iter().for_each(|w| *want.entry(w.clone()).or_default() += 1);
        same("count_by_value", &t.sc.parallelize(data, 3).count_by_value()?, &want)
    });
}

/// reduce_by_key, group_by_key, join and distinct on one input, against the references.
pub(crate) fn key_ops<K: Data + Eq + Hash + Ord + Debug>(
    t: &Ctx,
    left: Vec<(K, u64)>,
    right: Vec<(K, u64)>,
    slices: usize,
) -> Outcome {
    let a = t.sc.parallelize(left.clone(), slices);
    let b = t.sc.parallelize(right.clone(), slices.div_ceil(2));
    same("reduce_by_key", &sorted(a.reduce_by_key(sum).collect()?), &reference_reduce(&left))?;
    let want: Vec<(K, Vec<u64>)> = reference_group(&left).into_iter().collect();
    same("group_by_key", &sorted_groups(a.group_by_key().collect()?), &want)?;
    same("join", &sorted(a.join(&b).collect()?), &reference_join(&left, &right))?;
    same("left_outer_join", &sorted(a.left_outer_join(&b).collect()?), &reference_left_outer(&left, &right))?;
    let cogrouped =
        sorted(a.cogroup(&b).collect()?.into_iter().map(|(k, (v, w))| (k, (sorted(v), sorted(w)))).collect());
    same("cogroup", &cogrouped, &reference_cogroup(&left, &right))?;
    let want: Vec<K> = left.iter().map(|p| p.0.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    same("distinct keys", &sorted(a.keys().distinct().collect()?), &want)
}

pub(crate) fn key_edge_cases(suite: &mut Suite, t: &Ctx) {
    let left = pairs_of(&scrambled(600, 8, 1000), 41);
    let right = pairs_of(&scrambled(200, 9, 1000), 29);
    suite.check("key ops: no records", || key_ops::<u64>(t, Vec::new(), Vec::new(), 4));
    suite.check("key ops: one side empty", || key_ops(t, left.clone(), Vec::new(), 4));
    suite.check("key ops: 3 records in 8 partitions", || {
        key_ops(t, vec![(1u64, 10), (2, 20), (1, 30)], vec![(1u64, 5), (3, 6)], 8)
    });
    suite.check("key ops: one partition", || key_ops(t, left.clone(), right.clone(), 1));
    suite.check("key ops: keys that all hash alike", || {
        let collide = |pairs: &[(u64, u64)]| -> Vec<(Collide, u64)> {
            pairs.iter().map(|&(k, v)| (Collide(k as u32), v)).collect()
        };
        key_ops(t, collide(&left), collide(&right), 4)
    });
    suite.check("key ops: string keys, 16 partitions", || {
        let named = |pairs: &[(u64, u64)]| -> Vec<(String, u64)> {
            pairs.iter().map(|&(k, v)| (format!("key-{k}"), v)).collect()
        };
        key_ops(t, named(&left), named(&right), 16)
    });
}
