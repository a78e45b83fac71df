//! Partitioners: which reduce partition a key goes to. The hash is fixed (FxHash of `Hash`), so every
//! process of one build agrees; range partitioning uses bounds sampled by the driver, as Spark's
//! `RangePartitioner` does.

use std::hash::{Hash, Hasher};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Maps a key to a partition in `0..num_partitions()`.
pub trait Partitioner<K>: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    fn num_partitions(&self) -> usize;
    fn partition(&self, key: &K) -> usize;
    /// Identifies equal partitioners, so a shuffle into the same layout can be skipped.
    fn describe(&self) -> String;
}

/// Spark's `HashPartitioner`: the key's hash modulo the number of partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashPartitioner(pub usize);

impl<K: Hash> Partitioner<K> for HashPartitioner {
    fn num_partitions(&self) -> usize {
        self.0
    }

    #[inline]
    fn partition(&self, key: &K) -> usize {
        let mut h = rustc_hash::FxHasher::default();
        key.hash(&mut h);
        // Fx leaves the low bits weak for short keys; mix before the modulo.
        let x = h.finish();
        let x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        ((x ^ (x >> 33)) % self.0 as u64) as usize
    }

    fn describe(&self) -> String {
        format!("hash({})", self.0)
    }
}

/// Spark's `RangePartitioner`: partition `i` holds the keys between bound `i - 1` and bound `i`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangePartitioner<K> {
    pub bounds: Vec<K>,
    pub ascending: bool,
}

impl<K> RangePartitioner<K>
where
    K: Ord + Clone,
{
    /// Bounds that cut `sample` (any order) into `partitions` ranges of about equal size.
    pub fn from_sample(mut sample: Vec<K>, partitions: usize, ascending: bool) -> RangePartitioner<K> {
        sample.sort();
        sample.dedup();
        let mut bounds = Vec::new();
        if partitions > 1 && !sample.is_empty() {
            for i in 1..partitions {
                let at = i * sample.len() / partitions;
                let candidate = &sample[at.min(sample.len() - 1)];
                if bounds.last() != Some(candidate) {
                    bounds.push(candidate.clone());
                }
            }
        }
        if !ascending {
            bounds.reverse();
        }
        RangePartitioner { bounds, ascending }
    }
}

impl<K> Partitioner<K> for RangePartitioner<K>
where
    K: Ord + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn num_partitions(&self) -> usize {
        self.bounds.len() + 1
    }

    #[inline]
    fn partition(&self, key: &K) -> usize {
        if self.ascending {
            self.bounds.partition_point(|b| b < key)
        } else {
            self.bounds.partition_point(|b| b > key)
        }
    }

    /// The bounds are part of the identity (Spark's `RangePartitioner.equals`): two range layouts
    /// of as many partitions but other bounds are different layouts.
    fn describe(&self) -> String {
        let mut h = rustc_hash::FxHasher::default();
        h.write(&bincode::serialize(&self.bounds).unwrap_or_default());
        format!("range({}, {}, {:016x})", self.bounds.len() + 1, self.ascending, h.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_partitions_are_in_range_and_stable() {
        let p = HashPartitioner(7);
        for k in 0..1000u64 {
            let i = Partitioner::<u64>::partition(&p, &k);
            assert!(i < 7);
            assert_eq!(i, Partitioner::<u64>::partition(&p, &k));
        }
        let spread: std::collections::BTreeSet<usize> =
            (0..100u64).map(|k| Partitioner::<u64>::partition(&p, &k)).collect();
        assert_eq!(spread.len(), 7, "small integer keys reach every partition");
    }

    #[test]
    fn range_partitions_keep_order() {
        let p = RangePartitioner::from_sample((0..100).collect::<Vec<i32>>(), 4, true);
        assert_eq!(p.num_partitions(), 4);
        let parts: Vec<usize> = (0..100).map(|k| p.partition(&k)).collect();
        assert!(parts.windows(2).all(|w| w[0] <= w[1]));
        let d = RangePartitioner::from_sample((0..100).collect::<Vec<i32>>(), 4, false);
        let parts: Vec<usize> = (0..100).map(|k| d.partition(&k)).collect();
        assert!(parts.windows(2).all(|w| w[0] >= w[1]), "{parts:?}");
        assert_eq!(RangePartitioner::from_sample(Vec::<i32>::new(), 4, true).num_partitions(), 1);
    }
}
