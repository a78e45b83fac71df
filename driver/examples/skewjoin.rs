//! Skewed join + aggregate: `skewjoin FACTS DIM OUTPUT` joins the bench's kv records (FACTS,
//! `key(10 chars) TAB num(8 digits) payload(80 letters)`; in `kv_skew` 30 % of them carry one key)
//! with the dimension table DIM (`key TAB region` lines, one per key) on the key, and writes, for
//! each region, the sum of the joined records' numbers and their number as
//! `region TAB sum TAB count` lines into OUTPUT, Spark's directory of part files. The columns are
//! in the order of the bench's Spark programs, so its `check_sum_count` reads Weft's output as it
//! reads Spark's. Prints `Joined J of F records with D dimension rows into R regions`.
//!
//!     target/release/examples/skewjoin /tmp/benchdata_m/kv_skew /tmp/benchdata_m/dim /tmp/regions
//!     weft submit --master weft://127.0.0.1:8032 target/release/examples/skewjoin facts/ dim/ out/
//!
//! As Spark's `facts.join(dim).map { case (_, (n, r)) => (r, (n, 1L)) }.reduceByKey(…)`: `join`
//! shuffles both sides by key (a cogroup), so every record of the hot key meets its dimension row
//! in one reduce task; `reduce_by_key` then combines per region on the map side.

mod common;

use std::process::ExitCode;

use common::{counted, kv_key, kv_num};

/// The region after a dimension row's key and TAB.
fn dim_region(line: &str) -> u32 {
    match line.get(11..).filter(|_| line.as_bytes().get(10) == Some(&b'\t')).map(str::parse::<u32>) {
        Some(Ok(region)) => region,
        _ => panic!("not a dimension row (10-char key, TAB, region): {line:?}"),
    }
}

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let [facts, dim, output] = args.as_slice() else {
            return Err("usage: skewjoin FACTS DIM OUTPUT".into());
        };
        let fact_records = sc.accumulator::<u64>("fact records");
        let dim_records = sc.accumulator::<u64>("dimension rows");
        let joined = sc.accumulator::<u64>("joined records");
        let regions = sc.accumulator::<u64>("regions");
        let facts = sc.text_file(facts)?.map_partitions_with_index(fact_records.clone(), |acc, _, lines| {
            counted(acc.clone(), lines.map(|line| (kv_key(&line), kv_num(&line))))
        });
        let dim = sc.text_file(dim)?.map_partitions_with_index(dim_records.clone(), |acc, _, lines| {
            counted(acc.clone(), lines.map(|line| (kv_key(&line), dim_region(&line))))
        });
        let per_region = facts
            .join(&dim)
            .map_partitions_with_index(joined.clone(), |acc, _, pairs| {
                counted(acc.clone(), pairs.map(|(_, (num, region))| (region, (num, 1u64))))
            })
            .reduce_by_key(|(sum_a, count_a), (sum_b, count_b)| (sum_a + sum_b, count_a + count_b));
        per_region
            .map_partitions_with_index(regions.clone(), |acc, _, it| {
                counted(acc.clone(), it.map(|(region, (sum, count))| format!("{region}\t{sum}\t{count}")))
            })
            .save_as_text_file(output)?;
        println!(
            "Joined {} of {} records with {} dimension rows into {} regions",
            joined.value(),
            fact_records.value(),
            dim_records.value(),
            regions.value()
        );
        Ok(())
    })
}
