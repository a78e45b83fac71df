//! A Spark program for the end-to-end tests of failure and memory pressure, `spark_pressure MODE …`.
//! Every mode checks its own answer against one computed without the cluster and fails otherwise.
//!
//! - `kill-in map|reduce MARKDIR`: a counting job (8 map and 8 reduce partitions); the task of
//!   partition 5 of the named stage writes its executor's pid to `MARKDIR/victim` and waits there to
//!   be killed (at most 120 s); its rerun, and every other task, goes on. Prints `counts ok`.
//! - `refetch MARKDIR`: job 0 writes a shuffle and counts it; the program then writes `MARKDIR/ready`
//!   and waits (at most 120 s) for `MARKDIR/go`, so the test can delete shuffle files; job 1 reuses
//!   the shuffle. Prints `sums ok`.
//! - `hog MB`: partition 0 of a 4-partition job allocates and touches MB MiB, holds it for 2 s, and
//!   frees it. Prints `hog survived`.
//! - `big-collect BYTES`: collects about BYTES bytes, which is expected to fail; prints the error
//!   as `collect failed: …`, then runs another job and prints `next job counted N`.
//! - `cache memory_only|memory_and_disk MB`: persists MB MiB of generated strings at the level,
//!   reads them twice; prints `computed N partitions for 2 reads of 8; answer X`.
//! - `sort MB`: generates MB MiB of 100-byte TeraSort-like records, sorts them by key, and checks
//!   order, count and content; prints `sorted N records` and `spilled M bytes`.
//! - `group MB KEYS`: generates MB MiB of records over KEYS keys, groups them by key, and checks
//!   every group's size and sum exactly; prints `grouped N records into KEYS keys`.
//! - `skew-group KV OUT` / `skew-join KV DIM OUT`: the shared benchmark's skewed groupByKey and
//!   skewed join over its kv layout, written as `key TAB sum TAB count` lines.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use weft_spark::{Rdd, SparkContext, StorageLevel};

type AppResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match args.as_slice() {
            ["kill-in", stage, dir] => kill_in(sc, stage, dir),
            ["refetch", dir] => refetch(sc, dir),
            ["hog", mb] => hog(sc, mb.parse()?),
            ["big-collect", bytes] => big_collect(sc, bytes.parse()?),
            ["cache", level, mb] => cache(sc, level, mb.parse()?),
            ["sort", mb] => sort(sc, mb.parse()?),
            ["group", mb, keys] => group(sc, mb.parse()?, keys.parse()?),
            ["skew-group", kv, out] => skew_group(sc, kv, out),
            ["skew-join", kv, dim, out] => skew_join(sc, kv, dim, out),
            _ => Err(format!("unknown arguments {args:?}: see the header of spark_pressure.rs").into()),
        }
    })
}

/// Waits for `path` to exist, at most `limit`; true if it does.
fn wait_for_file(path: &Path, limit: Duration) -> bool {
    let started = Instant::now();
    while !path.exists() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// In the task of partition 5, the first time only: tell the test this executor's pid, then wait to
/// be killed. The wait is the point: the test kills the process while the task runs.
fn victim(dir: &str, partition: u32) {
    if partition != 5 {
        return;
    }
    let marker = Path::new(dir).join("victim");
    let Ok(mut file) = std::fs::OpenOptions::new().write(true).create_new(true).open(&marker) else { return };
    use std::io::Write;
    let _ = write!(file, "{}", std::process::id());
    drop(file);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill_in(sc: &SparkContext, stage: &str, dir: &str) -> AppResult {
    let n = 200_000u64;
    let numbers = sc.parallelize((0..n).collect(), 8);
    let keyed = if stage == "map" {
        numbers.map_partitions_with_index(dir.to_owned(), |dir, index, records| {
            victim(dir, index);
            records.map(|x| (x % 97, 1u64)).collect::<Vec<_>>()
        })
    } else {
        numbers.map(|x| (x % 97, 1u64))
    };
    let counts = keyed.reduce_by_key_into(|a, b| a + b, 8);
    let counts = if stage == "reduce" {
        counts.map_partitions_with_index(dir.to_owned(), |dir, index, records| {
            victim(dir, index);
            records.collect::<Vec<_>>()
        })
    } else {
        counts
    };
    let mut got = counts.collect()?;
    got.sort();
    let expected: Vec<(u64, u64)> = (0..97).map(|k| (k, (n - k).div_ceil(97))).collect();
    if got != expected {
        return Err(format!("wrong counts: {} keys, first {:?}", got.len(), got.first()).into());
    }
    println!("counts ok");
    Ok(())
}

fn refetch(sc: &SparkContext, dir: &str) -> AppResult {
    let n = 100_000u64;
    let sums = sc.parallelize((0..n).collect(), 8).map(|x| (x % 10, x)).reduce_by_key_into(|a, b| a + b, 4);
    let groups = sums.count()?;
    std::fs::write(Path::new(dir).join("ready"), b"")?;
    if !wait_for_file(&Path::new(dir).join("go"), Duration::from_secs(120)) {
        return Err("nobody wrote MARKDIR/go within 120 s".into());
    }
    let mut got = sums.collect()?;
    got.sort();
    let expected: Vec<(u64, u64)> = (0..10).map(|k| (k, (0..n).filter(|x| x % 10 == k).sum())).collect();
    if groups != 10 || got != expected {
        return Err(format!("wrong sums: {got:?}").into());
    }
    println!("sums ok");
    Ok(())
}

fn hog(sc: &SparkContext, mb: usize) -> AppResult {
    let n = sc
        .parallelize((0..4u64).collect(), 4)
        .map_partitions_with_index(mb, |mb, index, records| {
            if index == 0 {
                let mut block = vec![0u8; mb << 20];
                // Touch every page: memory that is only reserved is not resident.
                for page in block.chunks_mut(4096) {
                    page[0] = 1;
                }
                // Hold it across several of the NodeManager's memory checks.
                std::thread::sleep(Duration::from_secs(2));
                std::hint::black_box(&block);
            }
            records.collect::<Vec<_>>()
        })
        .count()?;
    println!("hog survived ({n} records)");
    Ok(())
}

fn big_collect(sc: &SparkContext, bytes: usize) -> AppResult {
    let per_partition = bytes / 4 / 1000;
    let rdd = sc
        .parallelize((0..4u64).collect(), 4)
        .flat_map_with(per_partition, |n, p| (0..*n).map(move |i| format!("{p:>4}{i:>996}")).collect::<Vec<String>>());
    match rdd.collect() {
        Ok(v) => println!("collect returned {} records", v.len()),
        Err(e) => println!("collect failed: {e}"),
    }
    let n = sc.parallelize((0..1000u64).collect(), 4).count()?;
    println!("next job counted {n}");
    Ok(())
}

fn cache(sc: &SparkContext, level: &str, mb: usize) -> AppResult {
    let level = match level {
        "memory_only" => StorageLevel::MEMORY_ONLY,
        "memory_and_disk" => StorageLevel::MEMORY_AND_DISK,
        other => return Err(format!("unknown level {other}").into()),
    };
    let computed = sc.accumulator::<u64>("computed partitions");
    let per_partition = (mb << 20) / 8 / 1024;
    let data = sc
        .parallelize((0..8u64).collect(), 8)
        .map_partitions_with_index((computed.clone(), per_partition), |(computed, n), index, _| {
            computed.add(1);
            (0..*n).map(move |i| format!("{index}:{i:>1022}")).collect::<Vec<String>>()
        })
        .persist(level);
    let first = data.map(|s| s.len() as u64).reduce(|a, b| a + b)?;
    let second = data.map(|s| s.len() as u64).reduce(|a, b| a + b)?;
    if first != second || first != 8 * per_partition as u64 * 1024 {
        return Err(format!("the reads disagree: {first} and {second}").into());
    }
    println!("computed {} partitions for 2 reads of 8; answer {first}", computed.value());
    Ok(())
}

/// SplitMix64 of a counter: the key of record `i` of seed `seed` is a pure function of the two, so
/// any record can be checked where it lands.
fn mix(counter: u64) -> u64 {
    let mut z = counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn terasort_key(id: u64) -> String {
    let mut r = mix(id + 1);
    (0..10)
        .map(|_| {
            let c = b'a' + (r % 26) as u8;
            r /= 26;
            c as char
        })
        .collect()
}

/// Record `id`: a 10-letter key and a 90-byte payload that names the record.
fn terasort_record(id: u64) -> (String, String) {
    (terasort_key(id), format!("{id:>22}{:>68}", "x"))
}

/// Generates MB MiB of 100-byte records, ids 0…n, in 16 partitions.
fn generated(sc: &SparkContext, mb: u64) -> (Rdd<(String, String)>, u64) {
    let seeds = 64u64;
    let per_seed = (mb << 20) / 100 / seeds;
    // Lazily, batch by batch: a partition's records are never all in memory at once.
    let rdd = sc.parallelize((0..seeds).collect(), 16).map_partitions_with_index(per_seed, |per_seed, _, seeds| {
        let per_seed = *per_seed;
        seeds.flat_map(move |seed| (seed * per_seed..(seed + 1) * per_seed).map(terasort_record))
    });
    (rdd, seeds * per_seed)
}

fn sort(sc: &SparkContext, mb: u64) -> AppResult {
    let (records, n) = generated(sc, mb);
    // Per sorted partition: its index, count, sum of ids, sum of squared ids, first and last key,
    // and whether it is in order with every record intact. Ids 0…n, each once, give the sums below.
    let summaries = records
        .sort_by_key(true)
        .map_partitions_with_index((), |_, index, it| {
            let (mut count, mut ids, mut squares, mut good) = (0u64, 0u128, 0u128, true);
            let (mut first, mut last): (Option<String>, Option<String>) = (None, None);
            for (k, v) in it {
                let id: u64 = v[..22].trim().parse().unwrap_or(u64::MAX);
                if last.as_ref().is_some_and(|l| *l > k) || terasort_key(id) != k {
                    good = false;
                }
                count += 1;
                ids += u128::from(id);
                squares += u128::from(id) * u128::from(id);
                if first.is_none() {
                    first = Some(k.clone());
                }
                last = Some(k);
            }
            vec![(index, count, ids, squares, first, last, good)]
        })
        .collect()?;
    let mut summaries = summaries;
    summaries.sort_by_key(|s| s.0);
    let mut previous: Option<String> = None;
    for (index, _, _, _, first, last, good) in &summaries {
        if !good {
            return Err(format!("partition {index} is out of order or holds a damaged record").into());
        }
        if let (Some(p), Some(f)) = (&previous, first) {
            if p > f {
                return Err(format!("partition {index} starts before the previous one ends").into());
            }
        }
        if last.is_some() {
            previous = last.clone();
        }
    }
    let count: u64 = summaries.iter().map(|s| s.1).sum();
    let ids: u128 = summaries.iter().map(|s| s.2).sum();
    let squares: u128 = summaries.iter().map(|s| s.3).sum();
    let m = u128::from(n);
    let expected = (m * (m - 1) / 2, (m - 1) * m * (2 * m - 1) / 6);
    if (count, ids, squares) != (n, expected.0, expected.1) {
        return Err(format!("sorted {count} records (id sums {ids}, {squares}), expected {n} {expected:?}").into());
    }
    println!("sorted {count} records in {} partitions", summaries.len());
    print_spills(sc);
    Ok(())
}

fn group(sc: &SparkContext, mb: u64, keys: u64) -> AppResult {
    let seeds = 64u64;
    let per_seed = (mb << 20) / 100 / seeds;
    let total = per_seed * seeds;
    // Record i (numbered across seeds) has key i % keys and carries i, padded to about 100 bytes.
    let records = sc.parallelize((0..seeds).collect(), 16).map_partitions_with_index(
        (per_seed, keys),
        |&(per_seed, keys), _, seeds| {
            seeds.flat_map(move |seed| {
                (seed * per_seed..(seed + 1) * per_seed).map(move |i| (i % keys, (i, format!("{i:>80}"))))
            })
        },
    );
    let groups = records
        .group_by_key()
        .map(|(k, values)| {
            let sum: u64 = values.iter().map(|(i, pad)| if pad.trim() == i.to_string() { *i } else { u64::MAX }).sum();
            (k, values.len() as u64, sum)
        })
        .collect()?;
    let mut groups = groups;
    groups.sort();
    if groups.len() as u64 != keys {
        return Err(format!("{} groups for {keys} keys", groups.len()).into());
    }
    for (k, n, sum) in &groups {
        // The records of key k are k, k + keys, …, below total.
        let count = (total - k).div_ceil(keys);
        let expected = count * k + keys * count * (count - 1) / 2;
        if (*n, *sum) != (count, expected) {
            return Err(format!("key {k}: {n} values summing to {sum}, expected {count} and {expected}").into());
        }
    }
    println!("grouped {total} records into {keys} keys");
    print_spills(sc);
    Ok(())
}

fn print_spills(sc: &SparkContext) {
    let (memory, disk) =
        sc.stage_metrics().iter().fold((0u64, 0u64), |a, s| (a.0 + s.memory_bytes_spilled, a.1 + s.disk_bytes_spilled));
    println!("spilled {memory} bytes (memory) {disk} bytes (disk)");
}

fn kv_num(line: &str) -> (String, u64) {
    (line[..10].to_owned(), line[11..19].parse().unwrap_or(0))
}

fn skew_group(sc: &SparkContext, kv: &str, out: &str) -> AppResult {
    sc.text_file(kv)?
        .map(|line| kv_num(&line))
        .group_by_key()
        .map(|(k, values)| format!("{k}\t{}\t{}", values.iter().sum::<u64>(), values.len()))
        .save_as_text_file(out)?;
    print_spills(sc);
    Ok(())
}

fn skew_join(sc: &SparkContext, kv: &str, dim: &str, out: &str) -> AppResult {
    let dim = sc.text_file(dim)?.map(|line| (line[..10].to_owned(), line[11..].parse::<u32>().unwrap_or(0)));
    sc.text_file(kv)?
        .map(|line| kv_num(&line))
        .join(&dim)
        .map(|(_, (n, region))| (region, (n, 1u64)))
        .reduce_by_key(|a, b| (a.0 + b.0, a.1 + b.1))
        .map(|(region, (sum, count))| format!("{region}\t{sum}\t{count}"))
        .save_as_text_file(out)?;
    print_spills(sc);
    Ok(())
}
