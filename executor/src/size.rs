//! Estimated in-memory sizes of collections that may spill, after Spark's `SizeTracker`: a few
//! records are measured now and then (more rarely as the collection grows) and the average is
//! extrapolated, so tracking costs nothing per record. What a record owns on the heap (strings,
//! vectors) is taken to be its serialized size, which errs high; its inline bytes are counted from the
//! capacity of the vector or table holding it.

use serde::Serialize;

/// Records measured per sample.
const SAMPLE_RECORDS: usize = 16;
/// A new sample is taken when the collection has grown by this factor since the last one.
const SAMPLE_GROWTH: f64 = 1.1;

/// The average size of a collection's records, sampled as it grows.
#[derive(Debug, Clone)]
pub struct SizeTracker {
    bytes_per_record: f64,
    next_sample_at: u64,
}

impl Default for SizeTracker {
    fn default() -> Self {
        SizeTracker::new()
    }
}

impl SizeTracker {
    pub fn new() -> SizeTracker {
        SizeTracker { bytes_per_record: 0.0, next_sample_at: 0 }
    }

    /// Whether a collection of `len` records is due for a new sample.
    #[inline]
    pub fn due(&self, len: usize) -> bool {
        len as u64 >= self.next_sample_at
    }

    /// Measures `records` (a few representative ones) of a collection now holding `len`.
    pub fn sample<T: Serialize>(&mut self, len: usize, records: impl Iterator<Item = T>) {
        let (mut bytes, mut n) = (0u64, 0u64);
        for record in records.take(SAMPLE_RECORDS) {
            bytes += owned_size(&record);
            n += 1;
        }
        if n > 0 {
            let measured = bytes as f64 / n as f64;
            // The previous estimate still counts: one sample of 16 records is noisy.
            self.bytes_per_record =
                if self.bytes_per_record == 0.0 { measured } else { (self.bytes_per_record + measured) / 2.0 };
        }
        self.next_sample_at = ((len as f64 * SAMPLE_GROWTH) as u64).max(len as u64 + 1);
    }

    /// Samples `batch`, spread over it, if a collection of `len` records is due.
    #[inline]
    pub fn observe<T: Serialize>(&mut self, len: usize, batch: &[T]) {
        if self.due(len) && !batch.is_empty() {
            let step = (batch.len() / SAMPLE_RECORDS).max(1);
            self.sample(len, batch.iter().step_by(step));
        }
    }

    /// The estimated bytes of `records` records.
    #[inline]
    pub fn estimate(&self, records: usize) -> u64 {
        (records as f64 * self.bytes_per_record) as u64
    }

    pub fn bytes_per_record(&self) -> f64 {
        self.bytes_per_record
    }

    /// Forgets the measurements (the collection was emptied and may hold other records next).
    pub fn reset(&mut self) {
        self.next_sample_at = 0;
    }
}

/// What one record owns, estimated: its serialized size.
pub fn owned_size<T: Serialize>(record: &T) -> u64 {
    bincode::serialized_size(record).unwrap_or(0)
}

/// The bytes of a vector's buffer (capacity, not length: reserved space is memory too).
pub fn vec_bytes<T>(v: &Vec<T>) -> u64 {
    (v.capacity() * std::mem::size_of::<T>()) as u64
}

/// The bytes of a hash table's slots: one entry and one control byte per bucket.
pub fn table_bytes<K, V>(capacity: usize) -> u64 {
    // hashbrown keeps at least 1/8 of its buckets empty: capacity is at most 7/8 of the buckets.
    let buckets = capacity + capacity / 7;
    (buckets * (std::mem::size_of::<(K, V)>() + 1)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_owns_its_serialized_size_and_a_container_its_capacity() {
        assert_eq!(owned_size(&7u64), 8);
        assert_eq!(owned_size(&"abc".to_owned()), 8 + 3);
        assert_eq!(owned_size(&vec![1u32; 100]), 8 + 400);
        assert_eq!(vec_bytes(&Vec::<u64>::with_capacity(10)), 80);
        assert_eq!(table_bytes::<u64, u64>(7), 8 * 17);
    }

    #[test]
    fn samples_grow_rarer_and_the_estimate_extrapolates() {
        let mut t = SizeTracker::new();
        assert!(t.due(0));
        let batch: Vec<String> = (0..1000).map(|i| format!("{i:>20}")).collect();
        t.observe(1000, &batch);
        assert_eq!(t.bytes_per_record(), (8 + 20) as f64);
        assert_eq!(t.estimate(1_000_000), 28_000_000);
        assert!(!t.due(1099), "the next sample is due at 10% more records");
        assert!(t.due(1100));
        let mut sampled = 0;
        for len in (1000..200_000).step_by(1000) {
            if t.due(len) {
                sampled += 1;
                t.observe(len, &batch);
            }
        }
        assert!(sampled < 60, "{sampled} samples for 200 batches");
        t.reset();
        assert!(t.due(1));
    }
}
