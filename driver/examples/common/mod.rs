//! What the example programs share: parsing the bench's key-value records
//! (`key(10 chars) TAB num(8 digits) payload(80 letters)`, see `gen_data.py`) and counting the
//! records a partition hands on, for the summary line, without a job of its own.
//!
//! Included by the examples with `mod common;`; each uses only part of it.
#![allow(dead_code)]

use weft_spark::Accumulator;

/// A kv record's key: its first 10 bytes (printable ASCII), compared and hashed as bytes.
pub(crate) type Key = [u8; 10];

/// The key of a kv record.
pub(crate) fn kv_key(line: &str) -> Key {
    match line.as_bytes().get(..10).and_then(|k| k.try_into().ok()) {
        Some(key) => key,
        None => panic!("not a kv record (10-char key, TAB, 8-digit number, payload): {line:?}"),
    }
}

/// The 8-digit number after a kv record's key and TAB.
pub(crate) fn kv_num(line: &str) -> u64 {
    let bytes = line.as_bytes();
    let digits = bytes.get(11..19).filter(|_| bytes[10] == b'\t');
    match digits {
        Some(d) if d.iter().all(u8::is_ascii_digit) => d.iter().fold(0, |n, c| n * 10 + u64::from(c - b'0')),
        _ => panic!("not a kv record (10-char key, TAB, 8-digit number, payload): {line:?}"),
    }
}

/// The key as text, for output lines.
pub(crate) fn key_str(key: &Key) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(key)
}

/// `records` unchanged; when they run out, their number is added to `acc` (once per partition,
/// so an accumulator update is not paid per record).
pub(crate) fn counted<T, I: Iterator<Item = T>>(acc: Accumulator<u64>, mut records: I) -> impl Iterator<Item = T> {
    let mut n = 0u64;
    let mut done = false;
    std::iter::from_fn(move || match records.next() {
        Some(x) => {
            n += 1;
            Some(x)
        }
        None => {
            if !done {
                done = true;
                acc.add(n);
            }
            None
        }
    })
}
