//! WordCount's input and its check, for every test that runs it: a deterministic corpus, the counts
//! a plain Rust reference gets from it, and the counts Spark's output layout holds.

use std::collections::BTreeMap;
use std::path::Path;

/// A deterministic text of `lines` lines over a small vocabulary (`seed` picks which).
pub fn corpus(lines: usize, seed: u64) -> String {
    let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"];
    let mut state = seed;
    let mut text = String::new();
    for _ in 0..lines {
        let n = 1 + (state % 9) as usize;
        for i in 0..n {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if i > 0 {
                text.push(' ');
            }
            text.push_str(words[(state >> 33) as usize % words.len()]);
        }
        text.push('\n');
    }
    text
}

/// Each word of `text` with how often it occurs.
pub fn reference_counts(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Reads Spark's output layout: `_SUCCESS` and `part-NNNNN` files of `word<TAB>count` lines; a word
/// written twice fails the test.
pub fn read_counts(dir: &Path) -> BTreeMap<String, u64> {
    assert!(dir.join("_SUCCESS").exists(), "{} has no _SUCCESS", dir.display());
    let mut parts: Vec<_> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
    parts.sort();
    assert!(parts.iter().any(|p| p == "part-00000"), "{parts:?}");
    let mut counts = BTreeMap::new();
    for part in parts.iter().filter(|p| p.starts_with("part-")) {
        for line in std::fs::read_to_string(dir.join(part)).unwrap().lines() {
            let (word, n) = line.split_once('\t').unwrap_or_else(|| panic!("not word<TAB>count: {line:?}"));
            assert!(counts.insert(word.to_owned(), n.parse().unwrap()).is_none(), "{word} twice");
        }
    }
    counts
}
