//! WordCount's program without Weft: how much of the example's time is its own idiom, not the runtime.
//!
//! Both variants run in this one process, on the bench corpus (`bench/compare.sh`'s data), two
//! threads taking whole files in turn and one hash table per thread merged at the end, as the
//! harness's single-process Rust floor does; the global allocator is the example's (mimalloc, from
//! `weft-spark`'s default feature):
//! - `floor`: the floor's loop — a file's bytes split at ASCII whitespace, each word looked up by
//!   slice, a key allocated only for a word not seen before;
//! - `idiom`: `examples/wordcount.rs`'s closures with no runtime around them — each line an owned
//!   `String` (as `text_file` hands it), `split_ascii_whitespace().map(str::to_owned).collect()` into
//!   a `Vec` per line, `(word, 1)` into the table by `entry` (the map-side combine's call).
//!
//! Run: `cargo bench -p weft-spark --bench wordcount_idiom -- /tmp/benchdata_m/corpus [RUNS]`

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use rustc_hash::FxHasher;
// The example's allocator: linking the library brings its `#[global_allocator]`.
use weft_spark as _;

type Table<K> = HashMap<K, u64, BuildHasherDefault<FxHasher>>;

/// Runs `count` over every file on two threads; returns (distinct words, words).
fn on_two_threads<K: Eq + std::hash::Hash + Send>(
    files: &[PathBuf],
    count: impl Fn(&[u8], &mut Table<K>) + Sync,
) -> (usize, u64) {
    let next = AtomicUsize::new(0);
    let tables = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut table = Table::<K>::default();
                while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                    count(&bytes, &mut table);
                }
                tables.lock().unwrap().push(table);
            });
        }
    });
    let mut tables = tables.into_inner().unwrap().into_iter();
    let mut all = tables.next().unwrap_or_default();
    for table in tables {
        for (k, v) in table {
            *all.entry(k).or_insert(0) += v;
        }
    }
    (all.len(), all.values().sum())
}

fn floor(bytes: &[u8], table: &mut Table<Vec<u8>>) {
    for w in bytes.split(|b| b.is_ascii_whitespace()) {
        if w.is_empty() {
            continue;
        }
        if let Some(c) = table.get_mut(w) {
            *c += 1;
        } else {
            table.insert(w.to_vec(), 1);
        }
    }
}

fn idiom(bytes: &[u8], table: &mut Table<String>) {
    let text = std::str::from_utf8(bytes).expect("the corpus is UTF-8");
    for line in text.lines().map(str::to_owned) {
        // examples/wordcount.rs: its flat_map, its map, and reduce_by_key's map-side combine.
        let words = line.split_ascii_whitespace().map(str::to_owned).collect::<Vec<_>>();
        for (word, one) in words.into_iter().map(|word| (word, 1u64)) {
            *table.entry(word).or_insert(0) += one;
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/benchdata_m/corpus".into()));
    let runs: usize = args.next().map_or(3, |r| r.parse().expect("RUNS is a number"));
    let files = part_files(&dir);
    let bytes: u64 = files.iter().map(|f| f.metadata().map_or(0, |m| m.len())).sum();
    println!("corpus: {} files, {:.0} MB, in {}", files.len(), bytes as f64 / 1e6, dir.display());
    let (mut floors, mut idioms) = (Vec::new(), Vec::new());
    let mut counted = [(0, 0); 2];
    for run in 1..=runs {
        let start = Instant::now();
        counted[0] = on_two_threads(&files, floor);
        floors.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        counted[1] = on_two_threads(&files, idiom);
        idioms.push(start.elapsed().as_secs_f64());
        println!("run {run}: floor {:.3} s, idiom {:.3} s", floors[run - 1], idioms[run - 1]);
    }
    assert_eq!(counted[0], counted[1], "both count the same (distinct words, words)");
    let (f, i) = (median(floors), median(idioms));
    println!(
        "{} distinct words, {} words; median of {runs}: floor {f:.3} s, idiom {i:.3} s, idiom ÷ floor {:.2}",
        counted[0].0,
        counted[0].1,
        i / f
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn part_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (bench/compare.sh makes the corpus)", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no part- files", dir.display());
    files
}
