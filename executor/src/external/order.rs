//! The in-memory sort of a sorter's buffer: stable, by key, either way. Keys that are byte strings
//! (`String`, `Vec<u8>`) are sorted as Spark's sorter sorts them, through an 8-byte prefix: a
//! vector of (prefix, index) pairs is sorted, comparing whole keys only when prefixes tie, and the
//! records are then moved once into their places. Sorting the records themselves (48 bytes each for
//! two strings) moves each of them at every merge level and follows two pointers per comparison.

use std::any::Any;
use std::cmp::Ordering;

/// Sorts `records` by key, ascending or descending; records of equal keys keep their order.
pub(super) fn sort_by_key<K: Ord + 'static, V>(records: &mut [(K, V)], ascending: bool) {
    let direction = |o: Ordering| if ascending { o } else { o.reverse() };
    let Some(prefixes) = byte_prefixes(records) else {
        records.sort_by(|a, b| direction(a.0.cmp(&b.0)));
        return;
    };
    let mut order: Vec<(u64, u32)> = prefixes.into_iter().zip(0u32..).collect();
    order.sort_unstable_by(|a, b| {
        direction(a.0.cmp(&b.0))
            .then_with(|| direction(records[a.1 as usize].0.cmp(&records[b.1 as usize].0)))
            .then(a.1.cmp(&b.1))
    });
    let mut source: Vec<u32> = order.into_iter().map(|(_, i)| i).collect();
    permute(records, &mut source);
}

/// The first 8 bytes of each key, big-endian (zero-padded), when keys are byte strings and there are
/// fewer than 2³² records; `None` otherwise. Byte strings compare as their prefixes do, unless the
/// prefixes are equal.
fn byte_prefixes<K: 'static, V>(records: &[(K, V)]) -> Option<Vec<u64>> {
    if u32::try_from(records.len()).is_err() {
        return None;
    }
    let first = &records.first()?.0 as &dyn Any;
    let bytes: fn(&dyn Any) -> &[u8] = if first.is::<String>() {
        |k| k.downcast_ref::<String>().map_or(&[], |s| s.as_bytes())
    } else if first.is::<Vec<u8>>() {
        |k| k.downcast_ref::<Vec<u8>>().map_or(&[], |v| v.as_slice())
    } else {
        return None;
    };
    Some(records.iter().map(|(k, _)| prefix(bytes(k))).collect())
}

fn prefix(bytes: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    let n = bytes.len().min(8);
    head[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(head)
}

/// Puts `records[source[i]]` at `i`, for every `i`, following each cycle of the permutation with
/// swaps (each record moves about once). `source` is used up.
fn permute<T>(records: &mut [T], source: &mut [u32]) {
    for start in 0..records.len() {
        let mut at = start;
        loop {
            let from = source[at] as usize;
            source[at] = at as u32;
            if from == start {
                break;
            }
            records.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference<K: Ord + Clone, V: Clone>(records: &[(K, V)], ascending: bool) -> Vec<(K, V)> {
        let mut want = records.to_vec();
        if ascending {
            want.sort_by(|a, b| a.0.cmp(&b.0));
        } else {
            want.sort_by(|a, b| b.0.cmp(&a.0));
        }
        want
    }

    #[test]
    fn string_keys_sort_as_a_stable_sort_does_both_ways_with_ties_and_shared_prefixes() {
        // Keys shorter than, equal to and longer than the prefix, sharing their first 8 bytes,
        // empty, non-ASCII; many ties, so stability shows.
        let keys = ["", "a", "ab", "abcdefgh", "abcdefghi", "abcdefghj", "abcdefgh\u{e9}", "\u{e9}", "b", "abcdefg"];
        let records: Vec<(String, usize)> = (0..5_000).map(|i| (keys[(i * 7) % keys.len()].to_owned(), i)).collect();
        for ascending in [true, false] {
            let mut got = records.clone();
            sort_by_key(&mut got, ascending);
            assert_eq!(got, reference(&records, ascending), "ascending {ascending}");
        }
    }

    #[test]
    fn byte_vector_keys_and_other_keys_sort_stably_too() {
        let records: Vec<(Vec<u8>, u32)> = (0..3_000u32).map(|i| (vec![(i % 13) as u8, 0, (i % 3) as u8], i)).collect();
        let mut got = records.clone();
        sort_by_key(&mut got, true);
        assert_eq!(got, reference(&records, true));
        let numbers: Vec<(i64, u32)> = (0..3_000u32).map(|i| (i64::from(i % 17) - 8, i)).collect();
        let mut got = numbers.clone();
        sort_by_key(&mut got, false);
        assert_eq!(got, reference(&numbers, false));
    }

    #[test]
    fn a_permutation_puts_each_record_where_its_source_says() {
        let mut records = vec!['a', 'b', 'c', 'd', 'e'];
        permute(&mut records, &mut [2, 0, 1, 4, 3]);
        assert_eq!(records, ['c', 'a', 'b', 'e', 'd']);
    }
}
