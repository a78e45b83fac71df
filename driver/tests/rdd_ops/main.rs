//! The RDD API against plain Rust, run as a Spark program in `local[*]` mode (one executor child
//! process with real RPC and real shuffle files): every transformation and action of DESIGN.md's
//! list on the same input as a reference computed here; the edge cases of the key operations (no
//! records, empty partitions, one partition, keys that all hash alike); text input whose lines cross
//! split boundaries; the storage levels; task retries, job aborts and shuffle reuse.
//!
//! The binary is its own driver and executor (`weft_spark::run`), so it has no test harness:
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
use weft_spark::{
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

mod actions;
mod batches;
mod failures;
mod keyed;
mod layout;
mod lineage;
mod narrow;
mod ordering;
mod persistence;
mod scheduling;
mod shared_variables;
mod sources;
mod spilling;
mod volume;

use actions::*;
use batches::*;
use failures::*;
use keyed::*;
use layout::*;
use lineage::*;
use narrow::*;
use ordering::*;
use persistence::*;
use scheduling::*;
use shared_variables::*;
use sources::*;
use spilling::*;
use volume::*;

fn main() -> ExitCode {
    weft_spark::run(|sc, _args| {
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
