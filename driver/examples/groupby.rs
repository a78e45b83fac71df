//! GroupBy-aggregate: `groupby INPUT OUTPUT` reads the bench's kv records
//! (`key(10 chars) TAB num(8 digits) payload(80 letters)`) and writes, for each distinct key, the
//! sum of its numbers and its number of records as `key TAB sum TAB count` lines into OUTPUT,
//! Spark's directory of part files (keys in no particular order). The columns are in the order of
//! the bench's Spark programs, so its `check_sum_count` reads Weft's output as it reads Spark's.
//! Prints `Grouped N records into G keys`.
//!
//!     target/release/examples/groupby /tmp/benchdata_m/kv /tmp/groups       # local[*]
//!     weft submit --master weft://127.0.0.1:8032 target/release/examples/groupby in/ out/
//!
//! As Spark's `map(l => (key, (num, 1L))).reduceByKey((a, b) => (a._1 + b._1, a._2 + b._2))`:
//! `reduce_by_key` combines on the map side, so each map task ships one record per key.

mod common;

use std::process::ExitCode;

use common::{counted, key_str, kv_key, kv_num};

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let [input, output] = args.as_slice() else {
            return Err("usage: groupby INPUT OUTPUT".into());
        };
        let records = sc.accumulator::<u64>("records");
        let groups = sc.accumulator::<u64>("groups");
        let sums = sc
            .text_file(input)?
            .map_partitions_with_index(records.clone(), |records, _, lines| {
                counted(records.clone(), lines.map(|line| (kv_key(&line), (kv_num(&line), 1u64))))
            })
            .reduce_by_key(|(sum_a, count_a), (sum_b, count_b)| (sum_a + sum_b, count_a + count_b));
        sums.map_partitions_with_index(groups.clone(), |groups, _, it| {
            counted(groups.clone(), it.map(|(key, (sum, count))| format!("{}\t{sum}\t{count}", key_str(&key))))
        })
        .save_as_text_file(output)?;
        println!("Grouped {} records into {} keys", records.value(), groups.value());
        Ok(())
    })
}
