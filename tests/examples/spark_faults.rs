//! A Spark program for the end-to-end tests of failures and reuse, `spark_faults MODE`:
//! - `flaky`: every task of the job fails on its first two attempts, then succeeds;
//! - `always-fail`: one task fails on every attempt (the job aborts after spark.task.maxFailures);
//! - `reuse`: two jobs over the same reduceByKey; the second skips the map stage;
//! - `checkpoint DIR`: a reduceByKey checkpointed under DIR; its lineage is cut, its answers unchanged;
//! - `hold FILE`: a reduceByKey whose reduce tasks wait (at most two minutes) until FILE exists, its
//!   map output meanwhile stored on the executor; prints `sums` and the ten sums by key;
//! - `hold-wordcount INPUT OUTPUT FILE`: the wordcount example (`word<TAB>count` part files in OUTPUT)
//!   whose reduce tasks wait (at most two minutes) until FILE exists, so a test can act while it runs.

use std::process::ExitCode;

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let mode = args.first().map(String::as_str).unwrap_or("");
        let numbers = sc.parallelize((0..1000u64).collect(), 4);
        match mode {
            "flaky" => {
                let sum = numbers
                    .map(|x| {
                        let ctx = weft_spark::task_context().expect("inside a task");
                        if ctx.attempt < 2 {
                            panic!("flaky failure on attempt {}", ctx.attempt);
                        }
                        x
                    })
                    .reduce(|a, b| a + b)?;
                println!("sum {sum}");
                if sum != 499_500 {
                    return Err(format!("wrong sum {sum}").into());
                }
            }
            "always-fail" => {
                numbers
                    .map(|x| {
                        if x == 0 {
                            panic!("record 0 always fails");
                        }
                        x
                    })
                    .count()?;
            }
            "reuse" => {
                let counts = numbers.map(|x| (x % 10, 1u64)).reduce_by_key(|a, b| a + b);
                let first = counts.count()?;
                let second = counts.collect()?;
                println!("first {first} second {}", second.len());
                if first != 10 || second.iter().map(|(_, n)| n).sum::<u64>() != 1000 {
                    return Err("wrong counts".into());
                }
            }
            "checkpoint" => {
                sc.set_checkpoint_dir(args.get(1).ok_or("checkpoint needs a directory")?)?;
                let sums = numbers.map(|x| (x % 10, x)).reduce_by_key(|a, b| a + b);
                let before = sums.collect()?;
                sums.checkpoint()?;
                let lineage = sums.to_debug_string();
                println!("{lineage}");
                let mut after = sums.collect()?;
                let mut before = before;
                before.sort();
                after.sort();
                if before != after || !sums.is_checkpointed() || lineage.contains("+-") {
                    return Err(format!("checkpoint changed the answer or kept the lineage: {lineage}").into());
                }
                println!("checkpointed {} keys", after.len());
            }
            "hold" => {
                let release = args.get(1).ok_or("hold needs a file")?.clone();
                let sums = numbers.map(|x| (x % 10, x)).reduce_by_key(|a, b| a + b);
                let held = sums.map_with(release, |release, pair| {
                    wait_for_file(release);
                    pair
                });
                let mut sums = held.collect()?;
                sums.sort();
                println!("sums {sums:?}");
            }
            "hold-wordcount" => {
                let [_, input, output, release] = args.as_slice() else {
                    return Err("usage: spark_faults hold-wordcount INPUT OUTPUT FILE".into());
                };
                let counts = sc
                    .text_file(input)?
                    .flat_map(|line: String| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                    .map(|word| (word, 1u64))
                    .reduce_by_key(|a, b| a + b);
                let held = counts.map_with(release.clone(), |release, (word, n)| {
                    wait_for_file(release);
                    format!("{word}\t{n}")
                });
                held.save_as_text_file(output)?;
            }
            other => {
                return Err(format!(
                    "unknown mode {other:?}: flaky, always-fail, reuse, checkpoint, hold or hold-wordcount"
                )
                .into())
            }
        }
        Ok(())
    })
}

/// Waits until `path` exists, for at most two minutes.
fn wait_for_file(path: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::path::Path::new(path).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
