//! The RDD API against plain Rust, run as a Spark program in `local[*]` mode (one executor child
//! process with real RPC and real shuffle files): every transformation and action of DESIGN.md's
//! list on the same input as a reference computed here; the edge cases of the key operations (no
//! records, empty partitions, one partition, keys that all hash alike); text input whose lines cross
//! split boundaries; the storage levels; task retries, job aborts and shuffle reuse.
//!
//! The binary is its own driver and executor (`weft_driver::spark::run`), so it has no test harness:
//! `main` runs every check, prints `ok  <name>` or `FAIL <name>: <why>` for each, and returns an
//! error (a non-zero exit, so `cargo test` fails) if any failed. Closures given to RDD operations
//! capture nothing: values reach them through the `*_with` variants.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use weft_driver::spark::{
    task_context, Accumulator, Broadcast, Data, HashPartitioner, Partitioner, RangePartitioner, Rdd, Records,
    SparkConf, SparkContext, SparkError, StorageLevel,
};

type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+).into());
        }
    };
}

fn main() -> ExitCode {
    weft_driver::spark::run(|sc, _args| {
        let scratch = tempfile::tempdir()?;
        let t = Ctx { sc: sc.clone(), dir: scratch.path().to_owned() };
        let started = Instant::now();
        let mut suite = Suite::default();
        sources(&mut suite, &t);
        narrow(&mut suite, &t);
        keyed(&mut suite, &t);
        key_edge_cases(&mut suite, &t);
        ordering(&mut suite, &t);
        layout(&mut suite, &t);
        persistence(&mut suite, &t);
        actions(&mut suite, &t);
        shared_variables(&mut suite, &t);
        batches(&mut suite, &t);
        lineage(&mut suite, &t);
        volume(&mut suite, &t);
        failures(&mut suite, &t);
        spilling(&mut suite);
        scheduling(&mut suite, &t);
        let elapsed = started.elapsed().as_secs_f64();
        println!("{} checks, {} failed, {elapsed:.1} s", suite.passed + suite.failed.len(), suite.failed.len());
        if suite.failed.is_empty() {
            Ok(())
        } else {
            Err(format!("{} check(s) failed: {}", suite.failed.len(), suite.failed.join(", ")).into())
        }
    })
}

// ------------------------------------------------------------------------------------------------
// Harness

/// Runs checks one after the other; a failing or panicking check is reported and the rest go on.
#[derive(Default)]
struct Suite {
    passed: usize,
    failed: Vec<String>,
}

impl Suite {
    fn check(&mut self, name: &str, body: impl FnOnce() -> Outcome) {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(body))
            .unwrap_or_else(|panic| Err(format!("panicked: {}", weft_executor_panic_text(&*panic)).into()));
        match outcome {
            Ok(()) => {
                self.passed += 1;
                println!("ok  {name}");
            }
            Err(why) => {
                self.failed.push(name.to_owned());
                println!("FAIL {name}: {why}");
            }
        }
    }
}

fn weft_executor_panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// The context and a scratch directory for input and output files.
struct Ctx {
    sc: SparkContext,
    dir: PathBuf,
}

impl Ctx {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<String, std::io::Error> {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
        Ok(path.to_string_lossy().into_owned())
    }
}

fn same<T: PartialEq + Debug>(what: &str, got: &T, want: &T) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {}, want {}", short(got), short(want)).into())
    }
}

/// A value's `Debug`, cut to a readable length.
fn short<T: Debug>(value: &T) -> String {
    let text = format!("{value:?}");
    match text.char_indices().nth(240) {
        Some((at, _)) => format!("{}… ({} chars)", &text[..at], text.len()),
        None => text,
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Spark's `ParallelCollectionRDD` slicing: slice `i` is `data[i·n/s .. (i+1)·n/s]`.
fn slices_of<T: Clone>(data: &[T], slices: usize) -> Vec<Vec<T>> {
    let n = data.len();
    (0..slices).map(|i| data[i * n / slices..(i + 1) * n / slices].to_vec()).collect()
}

/// Each partition's records, through `map_partitions_with_index`.
fn glom<T: Data>(rdd: &Rdd<T>) -> Result<Vec<Vec<T>>, Box<dyn std::error::Error + Send + Sync>> {
    let tagged =
        rdd.map_partitions_with_index((), |_: &(), i: u32, it: Records<T>| it.map(move |x| (i, x))).collect()?;
    let mut parts: Vec<Vec<T>> = vec![Vec::new(); rdd.get_num_partitions()];
    for (i, x) in tagged {
        let n = parts.len();
        parts.get_mut(i as usize).ok_or(format!("partition index {i} of {n}"))?.push(x);
    }
    Ok(parts)
}

/// A small deterministic generator for test data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn scrambled(n: usize, seed: u64, below: u64) -> Vec<u64> {
    let mut rng = Lcg(seed);
    (0..n).map(|_| rng.next() % below).collect()
}

fn words(n: usize, seed: u64) -> Vec<String> {
    let vocabulary = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "λ"];
    let mut rng = Lcg(seed);
    (0..n).map(|_| vocabulary[rng.next() as usize % vocabulary.len()].to_owned()).collect()
}

/// A key whose hash is the same for every value: every key lands in one partition and every hash
/// table lookup compares by `Eq`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Collide(u32);

impl Hash for Collide {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(7);
    }
}

// ------------------------------------------------------------------------------------------------
// Sources: parallelize, text_file

fn sources(suite: &mut Suite, t: &Ctx) {
    suite.check("parallelize: partitions are Spark's slices", || {
        let data = scrambled(1000, 1, 10_000);
        for slices in [1, 4, 7] {
            let rdd = t.sc.parallelize(data.clone(), slices);
            same("partitions", &rdd.get_num_partitions(), &slices)?;
            same(&format!("slices of {slices}"), &glom(&rdd)?, &slices_of(&data, slices))?;
        }
        Ok(())
    });
    suite.check("parallelize: 3 records in 8 slices, and no records", || {
        let few = t.sc.parallelize(vec![10u64, 20, 30], 8);
        same("slices", &glom(&few)?, &slices_of(&[10u64, 20, 30], 8))?;
        same("count", &few.count()?, &3)?;
        let none = t.sc.parallelize(Vec::<u64>::new(), 4);
        same("partitions", &none.get_num_partitions(), &4)?;
        same("count", &none.count()?, &0)?;
        same("collect", &none.collect()?, &Vec::new())?;
        same("unit records", &t.sc.parallelize(vec![(); 10], 3).count()?, &10)
    });
    text_files(suite, t);
}

/// Hadoop's lines: ends at `\n`, a `\r` before it dropped, no line after a final `\n`.
fn lines_of(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect();
    if text.is_empty() || text.ends_with('\n') {
        lines.pop();
    }
    lines
}

/// Lines of varied length (empty to a few hundred characters, some multi-byte), some ending in
/// CRLF, the last without a newline.
fn varied_text(lines: usize, seed: u64) -> String {
    let alphabet = ["a", "b", "c", " ", "é", "日", "xyz", "\t"];
    let mut rng = Lcg(seed);
    let mut text = String::new();
    for _ in 0..lines {
        let len = match rng.next() % 10 {
            0 => 0,
            1..=6 => rng.next() % 30,
            _ => rng.next() % 300,
        };
        for _ in 0..len {
            text.push_str(alphabet[rng.next() as usize % alphabet.len()]);
        }
        text.push_str(if rng.next().is_multiple_of(3) { "\r\n" } else { "\n" });
    }
    text.push_str("the last line has no newline");
    text
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn text_files(suite: &mut Suite, t: &Ctx) {
    suite.check("text_file: lines across many splits (varied lengths, CRLF, no final newline)", || {
        let text = varied_text(400, 7);
        let path = t.write("varied.txt", text.as_bytes())?;
        let want = lines_of(&text);
        for min in [1, 2, 3, 7, 16, 50, 97, 300] {
            let rdd = t.sc.text_file_with_min_partitions(&path, min)?;
            ensure!(rdd.get_num_partitions() >= min, "{} splits for min_partitions {min}", rdd.get_num_partitions());
            same(&format!("lines with min_partitions {min}"), &rdd.collect()?, &want)?;
        }
        Ok(())
    });
    suite.check("text_file: split boundaries at a line start, inside CRLF, on empty lines", || {
        // 10-byte lines: min 10 and 20 cut exactly at line starts; min 7 inside lines.
        let plain: String = (0..100).map(|i| format!("line-{i:03}\n")).collect();
        // 10-byte CRLF lines; min 52 gives 19-byte splits, so boundaries fall on `\n`, on `\r`, ….
        let crlf: String = (0..100).map(|i| format!("crlf-{i:03}\r\n")).collect();
        let empty_lines = "\n".repeat(50);
        for (name, text, mins) in [
            ("plain.txt", plain, &[10usize, 20, 7][..]),
            ("crlf.txt", crlf, &[52, 100, 3][..]),
            ("empty-lines.txt", empty_lines, &[25, 50, 4][..]),
        ] {
            let path = t.write(name, text.as_bytes())?;
            for &min in mins {
                let got = t.sc.text_file_with_min_partitions(&path, min)?.collect()?;
                same(&format!("{name} with min_partitions {min}"), &got, &lines_of(&text))?;
            }
        }
        Ok(())
    });
    suite.check("text_file: a lone CR ends a line, as in Hadoop's LineReader", || {
        let text = "one\rtwo\r\nthree\n\rfive\r\rseven\r";
        let path = t.write("cr.txt", text.as_bytes())?;
        let want: Vec<String> = ["one", "two", "three", "", "five", "", "seven"].map(str::to_owned).to_vec();
        for min in [1, 5, 40] {
            let got = t.sc.text_file_with_min_partitions(&path, min)?.collect()?;
            same(&format!("lines with min_partitions {min}"), &got, &want)?;
        }
        Ok(())
    });
    suite.check("text_file: an empty file has no lines", || {
        let path = t.write("empty.txt", b"")?;
        same("count", &t.sc.text_file(&path)?.count()?, &0)
    });
    suite.check("text_file: a .gz file is one split, read whole (two gzip members too)", || {
        let text = varied_text(300, 11);
        let path = t.write("whole.txt.gz", &gzip(&text))?;
        let rdd = t.sc.text_file_with_min_partitions(&path, 8)?;
        same("partitions", &rdd.get_num_partitions(), &1)?;
        same("lines", &rdd.collect()?, &lines_of(&text))?;
        let (first, second) = ("one\ntwo\n", "three\r\nfour");
        let members = [gzip(first), gzip(second)].concat();
        let path = t.write("members.gz", &members)?;
        same("two members", &t.sc.text_file(&path)?.collect()?, &lines_of(&format!("{first}{second}")))
    });
    suite.check("text_file: a directory's visible files in name order, and a glob", || {
        let (a, b, c) = (varied_text(50, 21), varied_text(60, 22), "gz one\ngz two\n".to_owned());
        t.write("in/part-a.txt", a.as_bytes())?;
        t.write("in/part-b.txt", b.as_bytes())?;
        t.write("in/part-c.txt.gz", &gzip(&c))?;
        t.write("in/_SUCCESS", b"not input\n")?;
        t.write("in/.part-a.txt.crc", b"not input\n")?;
        let all = [lines_of(&a), lines_of(&b), lines_of(&c)].concat();
        same("directory", &t.sc.text_file_with_min_partitions(&t.path("in"), 6)?.collect()?, &all)?;
        let glob = t.sc.text_file(&t.path("in/*.txt"))?.collect()?;
        same("glob *.txt", &glob, &[lines_of(&a), lines_of(&b)].concat())?;
        let glob = t.sc.text_file(&t.path("in/part-[bc]*"))?.collect()?;
        same("glob part-[bc]*", &glob, &[lines_of(&b), lines_of(&c)].concat())
    });
    suite.check("text_file: a missing path and an empty glob are errors", || {
        let missing = t.sc.text_file(&t.path("no-such-file.txt")).map(|r| r.id());
        ensure!(matches!(&missing, Err(e) if e.to_string().contains("Input path does not exist")), "{missing:?}");
        let empty = t.sc.text_file(&t.path("in/*.none")).map(|r| r.id());
        ensure!(matches!(&empty, Err(e) if e.to_string().contains("matches 0 files")), "{empty:?}");
        Ok(())
    });
}

// ------------------------------------------------------------------------------------------------
// Narrow transformations

fn times(k: &u64, x: u64) -> u64 {
    x * k
}

fn narrow(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 2, 5000);
    let rdd = t.sc.parallelize(data.clone(), 4);
    suite.check("map and map_with", || {
        let want: Vec<u64> = data.iter().map(|x| x * 3 + 1).collect();
        same("map", &rdd.map(|x: u64| x * 3 + 1).collect()?, &want)?;
        let want: Vec<u64> = data.iter().map(|x| x * 7).collect();
        same("map_with(7)", &rdd.map_with(7u64, times).collect()?, &want)?;
        let want: Vec<String> = data.iter().map(|x| format!("n-{x}")).collect();
        same(
            "map_with(String)",
            &rdd.map_with("n-".to_owned(), |p: &String, x: u64| format!("{p}{x}")).collect()?,
            &want,
        )
    });
    suite.check("flat_map and flat_map_with", || {
        let want: Vec<u64> = data.iter().flat_map(|&x| (0..x % 4).map(move |i| x * 10 + i)).collect();
        same("flat_map", &rdd.flat_map(|x: u64| (0..x % 4).map(move |i| x * 10 + i)).collect()?, &want)?;
        let want: Vec<u64> = data.iter().flat_map(|&x| vec![x; (x % 3) as usize]).collect();
        let got = rdd.flat_map_with(3u64, |m: &u64, x: u64| vec![x; (x % m) as usize]).collect()?;
        same("flat_map_with", &got, &want)
    });
    suite.check("filter and filter_with", || {
        let want: Vec<u64> = data.iter().copied().filter(|x| x % 3 == 0).collect();
        same("filter", &rdd.filter(|x: &u64| x.is_multiple_of(3)).collect()?, &want)?;
        let want: Vec<u64> = data.iter().copied().filter(|x| x % 5 == 0).collect();
        same("filter_with", &rdd.filter_with(5u64, |m: &u64, x: &u64| x.is_multiple_of(*m)).collect()?, &want)?;
        same("filter to nothing", &rdd.filter(|_: &u64| false).count()?, &0)
    });
    suite.check("map_partitions: one sum per partition, empty partitions included", || {
        for (input, slices) in [(data.clone(), 4), (vec![1, 2, 3], 8)] {
            let sums = t.sc.parallelize(input.clone(), slices).map_partitions(|it: Records<u64>| [it.sum::<u64>()]);
            let want: Vec<u64> = slices_of(&input, slices).iter().map(|s| s.iter().sum()).collect();
            same(&format!("sums over {slices} slices"), &sums.collect()?, &want)?;
        }
        Ok(())
    });
    suite.check("map_partitions_with_index: the index and the environment", || {
        let got = rdd
            .map_partitions_with_index(100u32, |base: &u32, i: u32, it: Records<u64>| {
                let tag = base + i;
                it.map(move |x| (tag, x))
            })
            .collect()?;
        let want: Vec<(u32, u64)> = slices_of(&data, 4)
            .into_iter()
            .enumerate()
            .flat_map(|(i, s)| s.into_iter().map(move |x| (100 + i as u32, x)))
            .collect();
        same("tagged", &got, &want)
    });
    suite.check("union: both RDDs' partitions, one after the other", || {
        let other = t.sc.parallelize(vec![7u64, 8, 9], 3);
        let both = rdd.union(&other);
        same("partitions", &both.get_num_partitions(), &7)?;
        same("union", &both.collect()?, &[data.clone(), vec![7, 8, 9]].concat())?;
        let empty = t.sc.parallelize(Vec::<u64>::new(), 2);
        same("with an empty RDD", &empty.union(&other).union(&empty).collect()?, &vec![7, 8, 9])
    });
    suite.check("key_by, keys, values, map_values, flat_map_values", || {
        let pairs = rdd.key_by(|x: &u64| x % 10);
        let want: Vec<(u64, u64)> = data.iter().map(|&x| (x % 10, x)).collect();
        same("key_by", &pairs.collect()?, &want)?;
        same("keys", &pairs.keys().collect()?, &want.iter().map(|p| p.0).collect())?;
        same("values", &pairs.values().collect()?, &data)?;
        let doubled: Vec<(u64, u64)> = want.iter().map(|&(k, v)| (k, v * 2)).collect();
        same("map_values", &pairs.map_values(|v: u64| v * 2).collect()?, &doubled)?;
        let tripled: Vec<(u64, u64)> = want.iter().map(|&(k, v)| (k, v * 3)).collect();
        same("map_values_with", &pairs.map_values_with(3u64, times).collect()?, &tripled)?;
        let spread: Vec<(u64, u64)> = want.iter().flat_map(|&(k, v)| (0..v % 3).map(move |i| (k, v + i))).collect();
        same("flat_map_values", &pairs.flat_map_values(|v: u64| (0..v % 3).map(move |i| v + i)).collect()?, &spread)
    });
}

// ------------------------------------------------------------------------------------------------
// Key-value operations

fn sum(a: u64, b: u64) -> u64 {
    a + b
}

fn pairs_of(data: &[u64], keys: u64) -> Vec<(u64, u64)> {
    data.iter().map(|&x| (x % keys, x)).collect()
}

fn reference_reduce<K: Ord + Clone>(data: &[(K, u64)]) -> Vec<(K, u64)> {
    let mut sums: BTreeMap<K, u64> = BTreeMap::new();
    for (k, v) in data {
        *sums.entry(k.clone()).or_default() += v;
    }
    sums.into_iter().collect()
}

fn reference_group<K: Ord + Clone, V: Ord + Clone>(data: &[(K, V)]) -> BTreeMap<K, Vec<V>> {
    let mut groups: BTreeMap<K, Vec<V>> = BTreeMap::new();
    for (k, v) in data {
        groups.entry(k.clone()).or_default().push(v.clone());
    }
    groups.values_mut().for_each(|vs| vs.sort());
    groups
}

fn reference_join<K: Ord + Clone>(left: &[(K, u64)], right: &[(K, u64)]) -> Vec<(K, (u64, u64))> {
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

fn reference_left_outer<K: Ord + Clone>(left: &[(K, u64)], right: &[(K, u64)]) -> Vec<(K, (u64, Option<u64>))> {
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
type Cogrouped<K> = Vec<(K, (Vec<u64>, Vec<u64>))>;

fn reference_cogroup<K: Ord + Clone>(left: &[(K, u64)], right: &[(K, u64)]) -> Cogrouped<K> {
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
fn sorted_groups<K: Ord, V: Ord>(groups: Vec<(K, Vec<V>)>) -> Vec<(K, Vec<V>)> {
    sorted(groups.into_iter().map(|(k, vs)| (k, sorted(vs))).collect())
}

fn keyed(suite: &mut Suite, t: &Ctx) {
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
fn key_ops<K: Data + Eq + Hash + Ord + Debug>(
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

fn key_edge_cases(suite: &mut Suite, t: &Ctx) {
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

// ------------------------------------------------------------------------------------------------
// Ordering: sort_by_key, sort_by, top, take_ordered

fn is_sorted_by<T, K: Ord>(v: &[T], key: impl Fn(&T) -> K, ascending: bool) -> bool {
    v.windows(2).all(|w| if ascending { key(&w[0]) <= key(&w[1]) } else { key(&w[0]) >= key(&w[1]) })
}

fn check_sorted_pairs(what: &str, got: &[(u64, u64)], input: &[(u64, u64)], ascending: bool) -> Outcome {
    ensure!(is_sorted_by(got, |p| p.0, ascending), "{what}: not in {} key order: {}", order(ascending), short(&got));
    same(&format!("{what}: the records"), &sorted(got.to_vec()), &sorted(input.to_vec()))
}

fn order(ascending: bool) -> &'static str {
    if ascending {
        "ascending"
    } else {
        "descending"
    }
}

fn ordering(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(2000, 10, 500);
    let pairs: Vec<(u64, u64)> = data.iter().enumerate().map(|(i, &k)| (k, i as u64)).collect();
    let rdd = t.sc.parallelize(pairs.clone(), 5);
    suite.check("sort_by_key: ascending and descending, global order", || {
        for ascending in [true, false] {
            let sorted_rdd = rdd.sort_by_key(ascending);
            let parts = glom(&sorted_rdd)?;
            ensure!(parts.iter().filter(|p| !p.is_empty()).count() > 1, "one non-empty partition: no range cut");
            let got: Vec<(u64, u64)> = parts.concat();
            check_sorted_pairs(order(ascending), &got, &pairs, ascending)?;
            same("collect", &sorted_rdd.collect()?, &got)?;
        }
        Ok(())
    });
    suite.check("sort_by_key: into 3, one partition, empty, one key", || {
        check_sorted_pairs("into 3", &rdd.sort_by_key_into(true, 3).collect()?, &pairs, true)?;
        let one = t.sc.parallelize(pairs.clone(), 1).sort_by_key(false).collect()?;
        check_sorted_pairs("one partition", &one, &pairs, false)?;
        let none = t.sc.parallelize(Vec::<(u64, u64)>::new(), 4).sort_by_key(true);
        same("empty", &none.collect()?, &Vec::new())?;
        let same_key: Vec<(u64, u64)> = (0..100).map(|i| (5, i)).collect();
        let got = t.sc.parallelize(same_key.clone(), 4).sort_by_key(true).collect()?;
        check_sorted_pairs("one key", &got, &same_key, true)?;
        let few = vec![(3u64, 0u64), (1, 1), (2, 2)];
        check_sorted_pairs(
            "3 records in 8",
            &t.sc.parallelize(few.clone(), 8).sort_by_key(true).collect()?,
            &few,
            true,
        )?;
        let named: Vec<(String, u64)> = pairs.iter().map(|&(k, v)| (format!("k{k}"), v)).collect();
        let got = t.sc.parallelize(named.clone(), 4).sort_by_key(false).collect()?;
        ensure!(is_sorted_by(&got, |p| p.0.clone(), false), "string keys not descending");
        same("string keys: the records", &sorted(got), &sorted(named))
    });
    suite.check("sort_by: by a derived key, both directions", || {
        let text = words(500, 12);
        let by_len = t.sc.parallelize(text.clone(), 4).sort_by(|w: &String| (w.chars().count(), w.clone()), true);
        let mut want = text.clone();
        want.sort_by_key(|w| (w.chars().count(), w.clone()));
        same("by (length, word)", &by_len.collect()?, &want)?;
        let down = t.sc.parallelize(data.clone(), 4).sort_by(|x: &u64| x % 100, false).collect()?;
        ensure!(is_sorted_by(&down, |x| x % 100, false), "not descending by x % 100: {}", short(&down));
        same("the records", &sorted(down), &sorted(data.clone()))
    });
    suite.check("top and take_ordered", || {
        let numbers = t.sc.parallelize(data.clone(), 4);
        let (ascending, descending) =
            (sorted(data.clone()), sorted(data.clone()).into_iter().rev().collect::<Vec<_>>());
        same("top(5)", &numbers.top(5)?, &descending[..5].to_vec())?;
        same("top(all and more)", &numbers.top(5000)?, &descending)?;
        same("top(0)", &numbers.top(0)?, &Vec::new())?;
        same("take_ordered(7)", &numbers.take_ordered(7)?, &ascending[..7].to_vec())?;
        same("take_ordered(all and more)", &numbers.take_ordered(5000)?, &ascending)?;
        let few = t.sc.parallelize(vec![3u64, 1, 2], 8);
        same("top over empty partitions", &few.top(2)?, &vec![3, 2])?;
        same("take_ordered over empty partitions", &few.take_ordered(2)?, &vec![1, 2])
    });
}

// ------------------------------------------------------------------------------------------------
// Layout: partition_by, repartition, coalesce, sample

fn layout(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 13, 10_000);
    let pairs: Vec<(u64, u64)> = data.iter().map(|&x| (x, x % 7)).collect();
    suite.check("partition_by(HashPartitioner): each key in its partition", || {
        let p = HashPartitioner(5);
        let parted = t.sc.parallelize(pairs.clone(), 4).partition_by(p);
        same("partitions", &parted.get_num_partitions(), &5)?;
        let parts = glom(&parted)?;
        for (i, part) in parts.iter().enumerate() {
            let strays: Vec<u64> =
                part.iter().map(|r| r.0).filter(|k| Partitioner::<u64>::partition(&p, k) != i).collect();
            ensure!(strays.is_empty(), "partition {i} holds keys of other partitions: {}", short(&strays));
        }
        ensure!(
            parts.iter().all(|p| !p.is_empty()),
            "an empty partition: {:?}",
            parts.iter().map(Vec::len).collect::<Vec<_>>()
        );
        same("the records", &sorted(parts.concat()), &sorted(pairs.clone()))?;
        same("the same layout again is the same RDD", &parted.partition_by(p).id(), &parted.id())?;
        let named: Vec<(String, u64)> = pairs.iter().map(|&(k, v)| (format!("key {k}"), v)).collect();
        for (i, part) in glom(&t.sc.parallelize(named, 3).partition_by(HashPartitioner(4)))?.iter().enumerate() {
            let strays =
                part.iter().filter(|r| Partitioner::<String>::partition(&HashPartitioner(4), &r.0) != i).count();
            ensure!(strays == 0, "string keys: partition {i} holds {strays} keys of other partitions");
        }
        Ok(())
    });
    suite.check("partition_by(RangePartitioner): ascending and descending ranges", || {
        let keys: Vec<u64> = pairs.iter().map(|p| p.0).collect();
        for ascending in [true, false] {
            let p = RangePartitioner::from_sample(keys.clone(), 4, ascending);
            let parts = glom(&t.sc.parallelize(pairs.clone(), 3).partition_by(p.clone()))?;
            same("partitions", &parts.len(), &4)?;
            for (i, part) in parts.iter().enumerate() {
                ensure!(part.iter().all(|r| p.partition(&r.0) == i), "partition {i} holds keys of other partitions");
            }
            let ranges: Vec<(u64, u64)> = parts
                .iter()
                .map(|part| (part.iter().map(|r| r.0).min().unwrap_or(0), part.iter().map(|r| r.0).max().unwrap_or(0)))
                .collect();
            let ordered = ranges.windows(2).all(|w| if ascending { w[0].1 < w[1].0 } else { w[0].0 > w[1].1 });
            ensure!(ordered, "{} ranges overlap or are out of order: {ranges:?}", order(ascending));
            same("the records", &sorted(parts.concat()), &sorted(pairs.clone()))?;
        }
        Ok(())
    });
    suite.check("partition_by(RangePartitioner): other bounds are another layout", || {
        let keys: Vec<u64> = pairs.iter().map(|p| p.0).collect();
        let wide = RangePartitioner::from_sample(keys, 4, true);
        let narrow = RangePartitioner::from_sample((0..100).collect(), 4, true);
        let by_wide = t.sc.parallelize(pairs.clone(), 3).partition_by(wide);
        for (what, rdd) in [("after partition_by", by_wide.clone()), ("after sort_by_key", by_wide.sort_by_key(true))] {
            let parts = glom(&rdd.partition_by(narrow.clone()))?;
            for (i, part) in parts.iter().enumerate() {
                let strays = part.iter().filter(|r| narrow.partition(&r.0) != i).count();
                ensure!(strays == 0, "{what}: partition {i} holds {strays} keys of other partitions");
            }
        }
        Ok(())
    });
    suite.check("repartition: count kept, n partitions, balanced", || {
        let rdd = t.sc.parallelize(data.clone(), 4);
        for n in [7, 2, 1] {
            let re = rdd.repartition(n);
            same("partitions", &re.get_num_partitions(), &n)?;
            let sizes: Vec<usize> = glom(&re)?.iter().map(Vec::len).collect();
            let (min, max) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
            ensure!(max - min <= 4, "unbalanced into {n}: {sizes:?}");
            same("count", &re.count()?, &1000)?;
            same("the records", &sorted(re.collect()?), &sorted(data.clone()))?;
        }
        let empty = t.sc.parallelize(Vec::<u64>::new(), 3).repartition(5);
        same("empty", &(empty.get_num_partitions(), empty.count()?), &(5, 0))
    });
    suite.check("coalesce: neighbours merged in order, never more partitions", || {
        let rdd = t.sc.parallelize(data.clone(), 10);
        let merged = rdd.coalesce(3);
        same("partitions", &merged.get_num_partitions(), &3)?;
        let parent = slices_of(&data, 10);
        let want: Vec<Vec<u64>> = (0..3).map(|i| parent[i * 10 / 3..(i + 1) * 10 / 3].concat()).collect();
        same("partitions' records", &glom(&merged)?, &want)?;
        same("coalesce(20) keeps 10", &rdd.coalesce(20).get_num_partitions(), &10)?;
        same("coalesce(1)", &rdd.coalesce(1).collect()?, &data)
    });
    suite.check("sample: deterministic per seed; fraction 0 and 1", || {
        let rdd = t.sc.parallelize(data.clone(), 4);
        let first = rdd.sample(false, 0.3, 42).collect()?;
        same("same seed, same sample", &rdd.sample(false, 0.3, 42).collect()?, &first)?;
        ensure!((200..=400).contains(&first.len()), "fraction 0.3 of 1000 kept {}", first.len());
        let input: BTreeSet<u64> = data.iter().copied().collect();
        ensure!(first.iter().all(|x| input.contains(x)), "a sampled record not in the input");
        ensure!(rdd.sample(false, 0.3, 43).collect()? != first, "seeds 42 and 43 sample alike");
        same("fraction 0", &rdd.sample(false, 0.0, 1).count()?, &0)?;
        same("fraction 0 with replacement", &rdd.sample(true, 0.0, 1).count()?, &0)?;
        same("fraction 1 without replacement", &rdd.sample(false, 1.0, 1).collect()?, &data)?;
        let twice = rdd.sample(true, 2.0, 9);
        let n = twice.count()?;
        ensure!((1700..=2300).contains(&n), "fraction 2 with replacement gave {n} of 1000");
        same("with replacement, same seed", &twice.collect()?, &rdd.sample(true, 2.0, 9).collect()?)
    });
}

// ------------------------------------------------------------------------------------------------
// Persistence

fn counted_double(computed: &Accumulator<i64>, x: u64) -> u64 {
    computed.add(1);
    x * 2
}

fn persistence(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 14, 10_000);
    let want: Vec<u64> = data.iter().map(|x| x * 2).collect();
    let levels = [
        ("MEMORY_ONLY", StorageLevel::MEMORY_ONLY),
        ("MEMORY_AND_DISK", StorageLevel::MEMORY_AND_DISK),
        ("DISK_ONLY", StorageLevel::DISK_ONLY),
        ("MEMORY_ONLY_2", StorageLevel::MEMORY_ONLY_2),
    ];
    for (name, level) in levels {
        suite.check(&format!("persist({name}): computed once, same answers, unpersist recomputes"), || {
            let computed = t.sc.long_accumulator("computed");
            let rdd = t.sc.parallelize(data.clone(), 4).map_with(computed.clone(), counted_double).persist(level);
            same("storage level", &rdd.get_storage_level(), &level)?;
            same("first collect", &rdd.collect()?, &want)?;
            same("records computed by the first job", &computed.value(), &1000)?;
            same("second collect", &rdd.collect()?, &want)?;
            same("a child's count", &rdd.map(|x: u64| x + 1).count()?, &1000)?;
            same("records computed after reading the cache twice", &computed.value(), &1000)?;
            rdd.unpersist();
            same("storage level after unpersist", &rdd.get_storage_level(), &StorageLevel::NONE)?;
            same("collect after unpersist", &rdd.collect()?, &want)?;
            same("records computed after unpersist", &computed.value(), &2000)?;
            rdd.persist(level);
            same("collect after persisting again", &rdd.collect()?, &want)?;
            // unpersist dropped the executors' blocks: persisting again recomputes, as in Spark.
            same("records computed after persisting again", &computed.value(), &3000)
        });
    }
    suite.check("cache() is MEMORY_ONLY", || {
        let rdd = t.sc.parallelize(data.clone(), 2).cache();
        same("storage level", &rdd.get_storage_level(), &StorageLevel::MEMORY_ONLY)?;
        same("collect", &rdd.collect()?, &data)?;
        same("collect again", &rdd.collect()?, &data)
    });
}

// ------------------------------------------------------------------------------------------------
// Actions

fn actions(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 15, 10_000);
    let rdd = t.sc.parallelize(data.clone(), 4);
    let empty = t.sc.parallelize(Vec::<u64>::new(), 3);
    let few = t.sc.parallelize(vec![5u64, 6, 7], 8);
    suite.check("count and collect", || {
        same("count", &rdd.count()?, &1000)?;
        same("collect", &rdd.collect()?, &data)?;
        same("count of empty", &empty.count()?, &0)
    });
    suite.check("first; first of an empty RDD is an error", || {
        same("first", &rdd.first()?, &data[0])?;
        same("first past empty partitions", &few.first()?, &5)?;
        let late = rdd.filter(|x: &u64| *x >= 9990).collect()?;
        let got = rdd.filter(|x: &u64| *x >= 9990).first();
        same("first of a filter", &got.ok(), &late.first().copied())?;
        let none = empty.first();
        ensure!(matches!(&none, Err(e) if e.to_string().contains("empty collection")), "{none:?}");
        Ok(())
    });
    suite.check("take: across partitions, more than there is, none", || {
        same("take(5)", &rdd.take(5)?, &data[..5].to_vec())?;
        same("take(300) crosses a partition", &rdd.take(300)?, &data[..300].to_vec())?;
        same("take(999)", &rdd.take(999)?, &data[..999].to_vec())?;
        same("take(1500)", &rdd.take(1500)?, &data)?;
        same("take(0)", &rdd.take(0)?, &Vec::new())?;
        same("take(2) past empty partitions", &few.take(2)?, &vec![5, 6])?;
        same("take(10) of 3 in 8 partitions", &few.take(10)?, &vec![5, 6, 7])?;
        same("take of empty", &empty.take(3)?, &Vec::new())
    });
    suite.check("reduce; reduce of an empty RDD is an error", || {
        same("sum", &rdd.reduce(sum)?, &data.iter().sum())?;
        same("max", &rdd.reduce(|a: u64, b: u64| a.max(b))?, data.iter().max().ok_or("no data")?)?;
        same("with empty partitions", &few.reduce(sum)?, &18)?;
        same("reduce_with", &few.reduce_with(1u64, |one: &u64, a: u64, b: u64| a + b + one)?, &20)?;
        let none = empty.reduce(sum);
        ensure!(matches!(&none, Err(e) if e.to_string().contains("empty collection")), "{none:?}");
        Ok(())
    });
    suite.check("fold and aggregate (zero per partition and once more)", || {
        let total: u64 = data.iter().sum();
        same("fold(0)", &rdd.fold(0, sum)?, &total)?;
        same("fold(1) over 4 partitions", &rdd.fold(1, sum)?, &(total + 5))?;
        same("fold(0) of empty", &empty.fold(0, sum)?, &0)?;
        let stats = rdd.aggregate(
            (0u64, 0u64),
            |(s, c): (u64, u64), x: u64| (s + x, c + 1),
            |a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1),
        )?;
        same("aggregate (sum, count)", &stats, &(total, 1000))?;
        let strings =
            few.aggregate(String::new(), |s: String, x: u64| format!("{s}{x}"), |a: String, b: String| a + &b)?;
        same("aggregate in partition order", &strings, &"567".to_owned())
    });
    suite.check("foreach with an accumulator counting records", || {
        let seen = t.sc.long_accumulator("seen");
        rdd.foreach_with(seen.clone(), |seen: &Accumulator<i64>, _: u64| seen.add(1))?;
        same("records", &seen.value(), &1000)?;
        empty.foreach_with(seen.clone(), |seen: &Accumulator<i64>, _: u64| seen.add(1))?;
        same("records after an empty foreach", &seen.value(), &1000)
    });
    suite.check("save_as_text_file: part files, _SUCCESS; an existing directory is an error", || {
        let out = t.path("saved");
        let lines = few.map(|x: u64| format!("record {x}"));
        lines.save_as_text_file(&out)?;
        let mut names: Vec<String> =
            std::fs::read_dir(&out)?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        let mut want: Vec<String> = (0..8).map(|i| format!("part-{i:05}")).collect();
        want.push("_SUCCESS".to_owned());
        same("files", &names, &sorted(want))?;
        for (i, part) in glom(&lines)?.iter().enumerate() {
            let text = std::fs::read_to_string(t.dir.join("saved").join(format!("part-{i:05}")))?;
            same(&format!("part-{i:05}"), &text, &part.iter().map(|l| format!("{l}\n")).collect::<String>())?;
        }
        let again = lines.save_as_text_file(&out);
        ensure!(matches!(&again, Err(e) if e.to_string().contains("already exists")), "{again:?}");
        Ok(())
    });
    suite.check("to_debug_string: WordCount's lineage has two stages", || {
        let text: String = words(600, 16).chunks(6).map(|line| line.join(" ") + "\n").collect();
        let path = t.write("wordcount.txt", text.as_bytes())?;
        let counts =
            t.sc.text_file(&path)?
                .flat_map(|line: String| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                .map(|word: String| (word, 1u64))
                .reduce_by_key(sum);
        let debug = counts.to_debug_string();
        let cuts: Vec<&str> = debug.lines().filter(|l| l.starts_with(" +-(")).collect();
        ensure!(cuts.len() == 1, "want one line starting \" +-(\", got {}:\n{debug}", cuts.len());
        ensure!(debug.lines().filter(|l| l.contains("+-(")).count() == 1, "more than one shuffle:\n{debug}");
        ensure!(debug.starts_with('(') && debug.lines().next().is_some_and(|l| l.contains("ShuffledRDD")), "{debug}");
        ensure!(debug.lines().last().is_some_and(|l| l.contains("HadoopRDD") && l.contains(&path)), "{debug}");
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        text.split_whitespace().for_each(|w| *want.entry(w.to_owned()).or_default() += 1);
        same("counts", &counts.collect()?.into_iter().collect::<BTreeMap<_, _>>(), &want)
    });
}

// ------------------------------------------------------------------------------------------------
// Broadcast variables and accumulators

fn lookup(table: &Broadcast<Vec<String>>, x: u64) -> String {
    let table = table.value();
    table[x as usize % table.len()].clone()
}

fn shared_variables(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 17, 10_000);
    suite.check("broadcast: the value read in map_with", || {
        let table = words(37, 18);
        let bc = t.sc.broadcast(table.clone());
        same("on the driver", bc.value(), &table)?;
        let got = t.sc.parallelize(data.clone(), 4).map_with(bc.clone(), lookup).collect()?;
        let want: Vec<String> = data.iter().map(|&x| table[x as usize % table.len()].clone()).collect();
        same("looked up", &got, &want)?;
        let again = t.sc.parallelize(data.clone(), 3).map_with(bc, lookup).collect()?;
        same("a second job", &again, &want)
    });
    suite.check("accumulators: sums and vectors after foreach", || {
        let total = t.sc.accumulator::<u64>("total");
        let seen = t.sc.accumulator::<Vec<u64>>("seen");
        let rdd = t.sc.parallelize(data.clone(), 4);
        rdd.foreach_with(total.clone(), |acc: &Accumulator<u64>, x: u64| acc.add(x))?;
        same("sum", &total.value(), &data.iter().sum())?;
        rdd.foreach_with(seen.clone(), |acc: &Accumulator<Vec<u64>>, x: u64| acc.add(vec![x]))?;
        same("records seen", &sorted(seen.value()), &sorted(data.clone()))?;
        total.add(5);
        same("added on the driver", &total.value(), &(data.iter().sum::<u64>() + 5))
    });
}

// ------------------------------------------------------------------------------------------------
// Partitions of many batches (an operator's batch holds 4096 records)

fn twice(records: Records<u64>) -> impl Iterator<Item = u64> + 'static {
    records.flat_map(|x| [x, x + 1])
}

fn batches(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(50_000, 19, 1_000_000);
    let rdd = t.sc.parallelize(data.clone(), 3);
    suite.check("many batches: narrow ops, take, sample", || {
        same("map", &rdd.map(|x: u64| x + 1).collect()?, &data.iter().map(|x| x + 1).collect())?;
        let want: Vec<u64> = data.iter().copied().filter(|x| x % 3 == 0).collect();
        same("filter", &rdd.filter(|x: &u64| x.is_multiple_of(3)).collect()?, &want)?;
        let want: Vec<u64> = data.iter().flat_map(|&x| [x, x + 1]).collect();
        same("flat_map", &rdd.flat_map(|x: u64| [x, x + 1]).collect()?, &want)?;
        same("map_partitions growing its input", &rdd.map_partitions(twice).collect()?, &want)?;
        let exact = rdd.map_partitions(|it: Records<u64>| it.take(8192));
        same("map_partitions of exactly two batches", &exact.count()?, &(3 * 8192))?;
        same("take(20000)", &rdd.take(20_000)?, &data[..20_000].to_vec())?;
        same("count", &rdd.count()?, &50_000)?;
        same("sample", &rdd.sample(false, 0.5, 3).collect()?, &rdd.sample(false, 0.5, 3).collect()?)?;
        same("sample fraction 1", &rdd.sample(false, 1.0, 3).count()?, &50_000)
    });
    suite.check("many batches: shuffles", || {
        let pairs = pairs_of(&data, 1000);
        let keyed = t.sc.parallelize(pairs.clone(), 3);
        same("reduce_by_key", &sorted(keyed.reduce_by_key(sum).collect()?), &reference_reduce(&pairs))?;
        let want: Vec<(u64, Vec<u64>)> = reference_group(&pairs).into_iter().collect();
        same("group_by_key", &sorted_groups(keyed.group_by_key().collect()?), &want)?;
        check_sorted_pairs("sort_by_key", &keyed.sort_by_key(true).collect()?, &pairs, true)?;
        let want: Vec<u64> = data.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        same("distinct", &sorted(rdd.distinct().collect()?), &want)?;
        same("repartition", &sorted(rdd.repartition(2).collect()?), &sorted(data.clone()))
    });
    suite.check("many batches: cache and text_file", || {
        let cached = rdd.map(|x: u64| x * 2).persist(StorageLevel::MEMORY_AND_DISK);
        let want: Vec<u64> = data.iter().map(|x| x * 2).collect();
        same("cached", &cached.collect()?, &want)?;
        same("cached again", &cached.collect()?, &want)?;
        cached.unpersist();
        let text: String = data
            .iter()
            .enumerate()
            .map(|(i, x)| if i % 2 == 0 { format!("{x}\r\n") } else { format!("{x}\n") })
            .collect();
        let path = t.write("numbers.txt", text.as_bytes())?;
        let lines = t.sc.text_file_with_min_partitions(&path, 3)?;
        same("text_file lines", &lines.collect()?, &lines_of(&text))?;
        same("text_file of gzip", &t.sc.text_file(&t.write("numbers.gz", &gzip(&text))?)?.count()?, &50_000)
    });
}

// ------------------------------------------------------------------------------------------------
// Lineages: chains of shuffles, one shuffle read twice, no partitions, jobs at once

fn lineage(suite: &mut Suite, t: &Ctx) {
    let text = words(3000, 20);
    let left = pairs_of(&scrambled(800, 21, 10_000), 23);
    suite.check("lineage: three shuffles in a row", || {
        let by_count =
            t.sc.parallelize(text.clone(), 4)
                .map(|w: String| (w, 1u64))
                .reduce_by_key(sum)
                .map(|(w, n): (String, u64)| (n % 7, w))
                .group_by_key()
                .map_values(|ws: Vec<String>| ws.len() as u64)
                .sort_by_key(true);
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        text.iter().for_each(|w| *counts.entry(w.clone()).or_default() += 1);
        let mut want: BTreeMap<u64, u64> = BTreeMap::new();
        counts.values().for_each(|n| *want.entry(n % 7).or_default() += 1);
        same("words per count class", &by_count.collect()?, &want.into_iter().collect())
    });
    suite.check("lineage: one shuffle read twice in a job; self-join", || {
        let a = t.sc.parallelize(left.clone(), 4);
        let reduced = a.reduce_by_key(sum);
        let want = reference_reduce(&left);
        same(
            "union with itself",
            &sorted(reduced.union(&reduced).collect()?),
            &sorted([want.clone(), want.clone()].concat()),
        )?;
        let doubled = reduced.map_values(|v: u64| v * 2);
        let want_join: Vec<(u64, (u64, u64))> = want.iter().map(|&(k, v)| (k, (v, v * 2))).collect();
        same("join with its own child", &sorted(reduced.join(&doubled).collect()?), &want_join)?;
        same("self-join", &sorted(a.join(&a).collect()?), &reference_join(&left, &left))
    });
    suite.check("lineage: an empty directory is an RDD of no partitions", || {
        std::fs::create_dir_all(t.dir.join("empty-dir"))?;
        let lines = t.sc.text_file(&t.path("empty-dir"))?;
        same("count", &lines.count()?, &0)?;
        same("collect", &lines.collect()?, &Vec::new())?;
        same("take", &lines.take(3)?, &Vec::new())?;
        ensure!(lines.first().is_err(), "first of no partitions");
        let counts = lines.map(|l: String| (l, 1u64)).reduce_by_key(sum);
        same("reduce_by_key", &counts.collect()?, &Vec::new())?;
        same("sort_by_key", &counts.sort_by_key(true).count()?, &0)?;
        same("coalesce", &lines.coalesce(2).count()?, &0)?;
        same("union", &lines.union(&t.sc.parallelize(vec!["x".to_owned()], 1)).collect()?, &vec!["x".to_owned()])
    });
    suite.check("lineage: 200 map and 200 reduce partitions", || {
        let data = scrambled(2000, 22, 1000);
        let pairs = pairs_of(&data, 301);
        let counts = t.sc.parallelize(pairs.clone(), 200).reduce_by_key_into(sum, 200);
        same("reduce_by_key", &sorted(counts.collect()?), &reference_reduce(&pairs))
    });
    suite.check("two jobs at once from two threads", || {
        let a = t.sc.parallelize(left.clone(), 4);
        let (sums, groups) = std::thread::scope(|s| {
            let sums = s.spawn(|| a.reduce_by_key(sum).collect());
            let groups = s.spawn(|| a.group_by_key().collect());
            (sums.join(), groups.join())
        });
        let (sums, groups) = (sums.map_err(|_| "a job thread panicked")?, groups.map_err(|_| "a job thread panicked")?);
        same("reduce_by_key", &sorted(sums?), &reference_reduce(&left))?;
        same("group_by_key", &sorted_groups(groups?), &reference_group(&left).into_iter().collect())
    });
}

// ------------------------------------------------------------------------------------------------
// Volume: task environments, results, shuffle blocks and broadcasts of several MiB

fn volume(suite: &mut Suite, t: &Ctx) {
    // 600,000 u64 are 4.8 MB: above gRPC's default 4 MiB message, in one task's environment, one
    // task's result, one shuffle block (9.6 MB of pairs) and one broadcast.
    suite.check("600,000 records in one partition: parallelize, collect, one shuffle block, a broadcast", || {
        let data: Vec<u64> = (0..600_000).collect();
        let rdd = t.sc.parallelize(data.clone(), 1);
        ensure!(rdd.collect()? == data, "collect differs");
        let grouped = rdd
            .map(|x: u64| (x % 2, x))
            .group_by_key_into(1)
            .map_values(|vs: Vec<u64>| (vs.len(), vs.iter().sum::<u64>()));
        let half: u64 = data.iter().filter(|x| *x % 2 == 0).sum();
        let want = vec![(0u64, (300_000usize, half)), (1, (300_000, data.iter().sum::<u64>() - half))];
        same("grouped", &sorted(grouped.collect()?), &want)?;
        let big = t.sc.broadcast(data.clone());
        let total =
            t.sc.parallelize(vec![0u64, 1, 2, 3], 4)
                .map_with(big, |b: &Broadcast<Vec<u64>>, i: u64| b.value().len() as u64 + i);
        same("broadcast", &total.collect()?, &vec![600_000, 600_001, 600_002, 600_003])
    });
}

// ------------------------------------------------------------------------------------------------
// Failures, retries, shuffle reuse

/// Fails each task's first two attempts after counting its records; the count of a failed attempt
/// must not reach the driver.
fn flaky(counted: &Accumulator<u64>, _: u32, records: Records<u64>) -> Vec<u64> {
    let records: Vec<u64> = records.collect();
    counted.add(records.len() as u64);
    let attempt = task_context().expect("inside a task").attempt;
    if attempt < 2 {
        panic!("flaky failure on attempt {attempt}");
    }
    records
}

/// Fails each task's first two attempts at its partition's last record (of 0..1000 in 4 slices).
fn flaky_late(x: u64) -> u64 {
    let attempt = task_context().expect("inside a task").attempt;
    if attempt < 2 && x % 250 == 249 {
        panic!("flaky failure on attempt {attempt} after 249 records");
    }
    x
}

fn always_fail(x: u64) -> u64 {
    if x == 0 {
        panic!("record 0 always fails");
    }
    x
}

fn counted_pair(computed: &Accumulator<i64>, x: u64) -> (u64, u64) {
    computed.add(1);
    (x % 10, 1)
}

fn check_aborted<T: Debug>(what: &str, outcome: Result<T, SparkError>) -> Outcome {
    let Err(e) = outcome else { return Err(format!("{what}: the job succeeded: {outcome:?}").into()) };
    let message = e.to_string();
    ensure!(matches!(e, SparkError::JobAborted(_)), "{what}: not JobAborted: {e:?}");
    ensure!(message.starts_with("Job aborted due to stage failure: Task "), "{what}: {message}");
    ensure!(message.contains("failed 4 times"), "{what}: {message}");
    ensure!(message.contains("record 0 always fails"), "{what}: the cause is missing: {message}");
    Ok(())
}

fn failures(suite: &mut Suite, t: &Ctx) {
    let data: Vec<u64> = (0..1000).collect();
    suite.check("a task failing on its first two attempts: the job succeeds", || {
        let counted = t.sc.accumulator::<u64>("counted");
        let rdd = t.sc.parallelize(data.clone(), 4).map_partitions_with_index(counted.clone(), flaky);
        same("sum", &rdd.reduce(sum)?, &499_500)?;
        same("records counted by successful attempts only", &counted.value(), &1000)
    });
    suite.check("save_as_text_file: attempts failing mid-file leave one part file each", || {
        let out = t.path("saved-after-retries");
        t.sc.parallelize(data.clone(), 4).map(flaky_late).save_as_text_file(&out)?;
        let mut names: Vec<String> =
            std::fs::read_dir(&out)?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        same(
            "files",
            &names,
            &["_SUCCESS", "part-00000", "part-00001", "part-00002", "part-00003"].map(str::to_owned).to_vec(),
        )?;
        let mut text = String::new();
        for name in &names[1..] {
            text += &std::fs::read_to_string(t.dir.join("saved-after-retries").join(name))?;
        }
        same("contents", &text, &data.iter().map(|x| format!("{x}\n")).collect::<String>())
    });
    suite.check("a task that always fails aborts the job in Spark's words", || {
        check_aborted("count", t.sc.parallelize(data.clone(), 4).map(always_fail).count())
    });
    suite.check("a map stage that always fails aborts the job", || {
        let counts = t.sc.parallelize(data.clone(), 4).map(always_fail).map(|x: u64| (x % 3, x)).reduce_by_key(sum);
        check_aborted("reduce_by_key", counts.collect())
    });
    suite.check("jobs after an aborted job still run", || {
        same("count", &t.sc.parallelize(data.clone(), 4).count()?, &1000)?;
        let counts = t.sc.parallelize(data.clone(), 4).map(|x: u64| (x % 3, x)).reduce_by_key(sum).collect()?;
        same("reduce_by_key", &sorted(counts), &reference_reduce(&pairs_of(&data, 3)))
    });
    suite.check("a second job over one reduce_by_key reuses its shuffle", || {
        let computed = t.sc.long_accumulator("computed");
        let counts = t.sc.parallelize(data.clone(), 4).map_with(computed.clone(), counted_pair).reduce_by_key(sum);
        same("first job: keys", &counts.count()?, &10)?;
        same("first job: map records", &computed.value(), &1000)?;
        let want: Vec<(u64, u64)> = (0..10).map(|k| (k, 100)).collect();
        same("second job: counts", &sorted(counts.collect()?), &want)?;
        same("map records after the second job (map stage skipped)", &computed.value(), &1000)?;
        let child = counts.map_values(|n: u64| n * 2).collect()?;
        same("a child's job", &sorted(child), &(0..10).map(|k| (k, 200)).collect())?;
        same("map records after the child's job", &computed.value(), &1000)
    });
    suite.check("a reduce stage that always fails: its map outputs are reused afterwards", || {
        let computed = t.sc.long_accumulator("computed");
        let counts = t.sc.parallelize(data.clone(), 4).map_with(computed.clone(), counted_pair).reduce_by_key(sum);
        check_aborted("reduce stage", counts.map(|(k, n): (u64, u64)| (always_fail(k), n)).collect())?;
        same("map records", &computed.value(), &1000)?;
        same("counts after the abort", &sorted(counts.collect()?), &(0..10).map(|k| (k, 100)).collect())?;
        same("map records after the next job", &computed.value(), &1000)
    });
    suite.check("a reduce function that panics fails its task, not the executor", || {
        let sc = t.sc.clone();
        let (reply, outcome) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let pairs = sc.parallelize((0..1000u64).collect(), 4).map(|x: u64| (x % 3, x));
            let _ = reply.send(pairs.reduce_by_key(panicking_sum).collect());
        });
        let outcome = outcome.recv_timeout(std::time::Duration::from_secs(20)).map_err(|_| "no answer in 20 s")?;
        let message = match outcome {
            Err(e) => e.to_string(),
            Ok(v) => return Err(format!("the job succeeded: {v:?}").into()),
        };
        ensure!(message.contains("failed 4 times") && message.contains("the reduce function panics"), "{message}");
        same("a later job", &t.sc.parallelize(data.clone(), 4).count()?, &1000)
    });
}

fn panicking_sum(a: u64, b: u64) -> u64 {
    if a + b > 10_000 {
        panic!("the reduce function panics");
    }
    a + b
}

// ------------------------------------------------------------------------------------------------
// Scheduling under failure, on a context of its own: speculation, and spark.driver.maxResultSize

/// Partition 7's first attempt straggles: it waits (at most a minute) until the driver kills it, and
/// leaves a `killed-7` file in `dir` when it sees the kill. Records are tagged with their attempt.
fn straggle(dir: &String, partition: u32, records: Records<u64>) -> Vec<(u64, u32)> {
    let ctx = task_context().expect("inside a task");
    if partition == 7 && ctx.attempt == 0 {
        let until = Instant::now() + std::time::Duration::from_secs(60);
        while !ctx.is_killed() && Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if ctx.is_killed() {
            let _ = std::fs::write(std::path::Path::new(dir).join(format!("killed-{partition}")), b"");
        }
    }
    records.map(|x| (x, ctx.attempt)).collect()
}

fn wait_for_file(path: &std::path::Path, within: std::time::Duration) -> Outcome {
    let until = Instant::now() + within;
    while !path.exists() {
        ensure!(Instant::now() < until, "{} did not appear within {within:?}", path.display());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

fn scheduling(suite: &mut Suite, t: &Ctx) {
    let mut conf = SparkConf::new();
    conf.set("spark.master", "local[3]")
        .set("spark.app.name", "rdd_ops scheduling")
        .set("spark.speculation", "true")
        .set("spark.driver.maxResultSize", "1m")
        .set("spark.ui.showConsoleProgress", "false");
    let sc = match SparkContext::start(conf) {
        Ok(sc) => sc,
        Err(e) => return suite.check("scheduling: a second context starts", || Err(e.to_string().into())),
    };
    suite.check("speculation: a straggler finishes through its copy, and the original is killed", || {
        let dir = t.path("speculation");
        std::fs::create_dir_all(&dir)?;
        let data: Vec<u64> = (0..800).collect();
        let tagged = sc.parallelize(data.clone(), 8).map_partitions_with_index(dir.clone(), straggle).collect()?;
        same("records", &tagged.iter().map(|(x, _)| *x).collect::<Vec<_>>(), &data)?;
        let attempts: BTreeSet<u32> = tagged[700..].iter().map(|(_, attempt)| *attempt).collect();
        same("the attempt that computed partition 7", &attempts, &BTreeSet::from([1]))?;
        wait_for_file(&std::path::Path::new(&dir).join("killed-7"), std::time::Duration::from_secs(20))
    });
    suite.check("maxResultSize: results past it abort the job in Spark's words; the next job runs", || {
        // Four results of 400 KB each: the third takes the total past 1 MiB on the driver.
        let many = sc.parallelize((0..200_000u64).collect(), 4).collect();
        let message = match many {
            Err(SparkError::JobAborted(message)) => message,
            other => return Err(format!("not aborted: {:?}", other.map(|v| v.len())).into()),
        };
        ensure!(
            message.starts_with("Job aborted due to stage failure: Total size of serialized results of ")
                && message.ends_with(" is bigger than spark.driver.maxResultSize (1024.0 KiB)"),
            "{message}"
        );
        // One result of 2.4 MB: the executor drops it and reports its size.
        let one = sc.parallelize((0..300_000u64).collect(), 1).collect();
        let message = match one {
            Err(SparkError::JobAborted(message)) => message,
            other => return Err(format!("not aborted: {:?}", other.map(|v| v.len())).into()),
        };
        same(
            "a single dropped result",
            &message,
            &"Job aborted due to stage failure: Total size of serialized results of 1 tasks (2.3 MiB) is bigger \
              than spark.driver.maxResultSize (1024.0 KiB)"
                .to_owned(),
        )?;
        same("a later job", &sc.parallelize((0..1000u64).collect(), 4).count()?, &1000)
    });
    sc.stop();
}

// ------------------------------------------------------------------------------------------------
// Memory: sorts, groups, joins and caches in a tiny unified memory, on a context of its own

/// A reduce task's records; then the task's spill metrics, read inside the task, go to the
/// accumulators (memory bytes, disk bytes).
fn note_spills<T: Data>(spilled: &(Accumulator<u64>, Accumulator<u64>), _: u32, records: Records<T>) -> Vec<T> {
    let all: Vec<T> = records.collect();
    let metrics = task_context().expect("inside a task").metrics_snapshot();
    spilled.0.add(metrics.memory_bytes_spilled);
    spilled.1.add(metrics.disk_bytes_spilled);
    all
}

fn spilled(what: &str, spills: &(Accumulator<u64>, Accumulator<u64>)) -> Outcome {
    let (memory, disk) = (spills.0.value(), spills.1.value());
    ensure!(memory > 0 && disk > 0, "{what}: the reduce tasks spilled {memory} bytes (memory), {disk} (disk)");
    Ok(())
}

fn spilling(suite: &mut Suite) {
    // spark.testing.memory: 1 MiB to cut the unified memory from, none of it reserved: about 614 KiB
    // for execution and storage, about 300 KiB for each of the two task threads.
    let mut conf = SparkConf::new();
    conf.set("spark.master", "local[2]")
        .set("spark.app.name", "rdd_ops spilling")
        .set("spark.testing.memory", "1048576")
        .set("spark.testing.reservedMemory", "0")
        .set("spark.ui.showConsoleProgress", "false");
    let sc = match SparkContext::start(conf) {
        Ok(sc) => sc,
        Err(e) => return suite.check("spilling: a context with little memory starts", || Err(e.to_string().into())),
    };
    let accumulators = || (sc.accumulator::<u64>("memory spilled"), sc.accumulator::<u64>("disk spilled"));
    suite.check("spilling: sort_by_key of 200000 records in 300 KiB per task", || {
        let pairs: Vec<(u64, u64)> =
            scrambled(200_000, 31, 1_000_000).into_iter().enumerate().map(|(i, k)| (k, i as u64)).collect();
        for ascending in [true, false] {
            let spills = accumulators();
            let got = sc
                .parallelize(pairs.clone(), 4)
                .sort_by_key(ascending)
                .map_partitions_with_index(spills.clone(), note_spills::<(u64, u64)>)
                .collect()?;
            check_sorted_pairs(order(ascending), &got, &pairs, ascending)?;
            spilled(order(ascending), &spills)?;
        }
        Ok(())
    });
    suite.check("spilling: group_by_key with a key holding 30% of the records", || {
        let pairs: Vec<(u64, u64)> = scrambled(150_000, 32, 1000)
            .into_iter()
            .enumerate()
            .map(|(i, r)| (if r < 300 { 7 } else { r * 3 }, i as u64))
            .collect();
        let mut want: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        pairs.iter().for_each(|&(k, v)| want.entry(k).or_default().push(v));
        let hot = want[&7].len();
        ensure!(hot > 40_000, "the hot key has {hot} values");
        let spills = accumulators();
        let groups = sc
            .parallelize(pairs, 4)
            .group_by_key()
            .map_partitions_with_index(spills.clone(), note_spills::<(u64, Vec<u64>)>)
            .collect()?;
        same("keys", &groups.len(), &want.len())?;
        let got: BTreeMap<u64, Vec<u64>> = groups.into_iter().map(|(k, vs)| (k, sorted(vs))).collect();
        same("groups", &got, &want)?;
        spilled("group_by_key", &spills)
    });
    suite.check("spilling: reduce_by_key over 80000 keys, map side and reduce side", || {
        let pairs: Vec<(u64, u64)> = scrambled(200_000, 33, 80_000).into_iter().map(|k| (k, k % 13 + 1)).collect();
        let mut want: BTreeMap<u64, u64> = BTreeMap::new();
        pairs.iter().for_each(|&(k, v)| *want.entry(k).or_default() += v);
        let spills = accumulators();
        let got = sc
            .parallelize(pairs, 4)
            .reduce_by_key(sum)
            .map_partitions_with_index(spills.clone(), note_spills::<(u64, u64)>)
            .collect()?;
        same("keys", &got.len(), &want.len())?;
        same("sums", &got.into_iter().collect::<BTreeMap<_, _>>(), &want)?;
        spilled("reduce_by_key", &spills)
    });
    suite.check("spilling: the driver's /metrics reports each stage's spills and largest partition", || {
        let url = format!("{}/metrics", sc.ui_web_url().ok_or("the driver has no web port")?);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let text = runtime.block_on(async { reqwest::get(&url).await?.text().await })?;
        let spilled: u64 = text
            .lines()
            .filter(|l| l.starts_with("weft_spark_stage_memory_bytes_spilled{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        ensure!(spilled > 0, "no stage reports spilled bytes at {url}:\n{text}");
        let stages = sc.stage_metrics();
        let largest = stages.iter().map(|s| s.largest_partition_bytes).max().unwrap_or(0);
        ensure!(largest > 0, "no shuffle stage reports its largest partition");
        ensure!(
            text.contains(&format!(" {largest}\n")) && text.contains("weft_spark_stage_largest_partition_bytes{"),
            "the largest partition ({largest} B) is not in {url}:\n{text}"
        );
        Ok(())
    });
    suite.check("spilling: join (cogroup) of 60000 records with 6000", || {
        let left: Vec<(u64, u64)> = (0..60_000u64).map(|i| (i * 7 % 6000, i)).collect();
        let right: Vec<(u64, String)> = (0..6000u64).filter(|k| k % 5 != 0).map(|k| (k, format!("r{k}"))).collect();
        let got = sc.parallelize(left.clone(), 4).join(&sc.parallelize(right.clone(), 3)).collect()?;
        let names: HashMap<u64, String> = right.into_iter().collect();
        let want: Vec<(u64, (u64, String))> =
            left.iter().filter_map(|&(k, v)| names.get(&k).map(|n| (k, (v, n.clone())))).collect();
        same("joined", &sorted(got), &sorted(want))
    });
    suite.check("spilling: evicted MEMORY_AND_DISK blocks are read from disk, MEMORY_ONLY ones recomputed", || {
        // Blocks of about 120 KiB: two RDDs of 2 and 4 of them do not fit in 614 KiB together, and a
        // block is never evicted for another of its own RDD.
        let data: Vec<u64> = (0..20_000).collect();
        for (first, second, recomputed) in [
            (StorageLevel::MEMORY_AND_DISK, StorageLevel::MEMORY_ONLY, false),
            (StorageLevel::MEMORY_ONLY, StorageLevel::MEMORY_AND_DISK, true),
        ] {
            let computed = sc.long_accumulator("computed");
            let a =
                sc.parallelize(data[..10_000].to_vec(), 2).map_with(computed.clone(), counted_double).persist(first);
            same("first RDD", &a.count()?, &10_000)?;
            let b = sc.parallelize(data.clone(), 4).map_with(computed.clone(), counted_double).persist(second);
            same("second RDD", &b.count()?, &20_000)?;
            same("records computed", &computed.value(), &30_000)?;
            let want: Vec<u64> = data[..10_000].iter().map(|x| x * 2).collect();
            same("first RDD read again", &a.collect()?, &want)?;
            if recomputed {
                ensure!(computed.value() > 30_000, "MEMORY_ONLY blocks evicted for another RDD are recomputed");
            } else {
                same("records computed after reading the evicted RDD", &computed.value(), &30_000)?;
            }
            a.unpersist();
            b.unpersist();
        }
        Ok(())
    });
    sc.stop();
}
