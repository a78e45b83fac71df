//! Failures, retries, shuffle reuse

use super::*;

/// Fails each task's first two attempts after counting its records; the count of a failed attempt
/// must not reach the driver.
pub(crate) fn flaky(counted: &Accumulator<u64>, _: u32, records: Records<u64>) -> Vec<u64> {
    let records: Vec<u64> = records.collect();
    counted.add(records.len() as u64);
    let attempt = task_context().expect("inside a task").attempt;
    if attempt < 2 {
        panic!("flaky failure on attempt {attempt}");
    }
    records
}

/// Fails each task's first two attempts at its partition's last record (of 0..1000 in 4 slices).
pub(crate) fn flaky_late(x: u64) -> u64 {
    let attempt = task_context().expect("inside a task").attempt;
    if attempt < 2 && x % 250 == 249 {
        panic!("flaky failure on attempt {attempt} after 249 records");
    }
    x
}

pub(crate) fn always_fail(x: u64) -> u64 {
    if x == 0 {
        panic!("record 0 always fails");
    }
    x
}

pub(crate) fn counted_pair(computed: &Accumulator<i64>, x: u64) -> (u64, u64) {
    computed.add(1);
    (x % 10, 1)
}

pub(crate) fn check_aborted<T: Debug>(what: &str, outcome: Result<T, SparkError>) -> Outcome {
    let Err(e) = outcome else { return Err(format!("{what}: the job succeeded: {outcome:?}").into()) };
    let message = e.to_string();
    ensure!(matches!(e, SparkError::JobAborted(_)), "{what}: not JobAborted: {e:?}");
    ensure!(message.starts_with("Job aborted due to stage failure: Task "), "{what}: {message}");
    ensure!(message.contains("failed 4 times"), "{what}: {message}");
    ensure!(message.contains("record 0 always fails"), "{what}: the cause is missing: {message}");
    Ok(())
}

pub(crate) fn failures(suite: &mut Suite, t: &Ctx) {
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

pub(crate) fn panicking_sum(a: u64, b: u64) -> u64 {
    if a + b > 10_000 {
        panic!("the reduce function panics");
    }
    a + b
}
