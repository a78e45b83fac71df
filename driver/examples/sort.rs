//! Sort (TeraSort-style): `sort INPUT OUTPUT` orders the bench's kv records
//! (`key(10 chars) TAB num(8 digits) payload(80 letters)`) by their 10-character key, ascending
//! (byte order), and writes the original lines in that order into OUTPUT, Spark's directory of
//! part files (`part-00000` holds the smallest keys). Records with equal keys keep no particular
//! order. Prints `Sorted N records into P partitions`.
//!
//!     target/release/examples/sort /tmp/benchdata_m/kv /tmp/sorted          # local[*]
//!     weft submit --master weft://127.0.0.1:8032 target/release/examples/sort in/ out/
//!
//! As Spark's `textFile(in).map(l => (l.substring(0, 10), l)).sortByKey().values.saveAsTextFile(out)`:
//! `sort_by_key` samples the keys in a job of its own, then range-partitions and sorts.

mod common;

use std::process::ExitCode;

use common::{counted, kv_key};

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let [input, output] = args.as_slice() else {
            return Err("usage: sort INPUT OUTPUT".into());
        };
        let records = sc.accumulator::<u64>("records");
        let sorted = sc.text_file(input)?.map(|line: String| (kv_key(&line), line)).sort_by_key(true);
        // `values`, counting what each partition writes.
        let lines = sorted.map_partitions_with_index(records.clone(), |records, _, it| {
            counted(records.clone(), it.map(|(_, line)| line))
        });
        lines.save_as_text_file(output)?;
        println!("Sorted {} records into {} partitions", records.value(), lines.get_num_partitions());
        Ok(())
    })
}
