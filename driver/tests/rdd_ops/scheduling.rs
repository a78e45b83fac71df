//! Scheduling under failure, on a context of its own: speculation, and spark.driver.maxResultSize

use super::*;

/// Partition 7's first attempt straggles: it waits (at most a minute) until the driver kills it, and
/// leaves a `killed-7` file in `dir` when it sees the kill. Records are tagged with their attempt.
pub(crate) fn straggle(dir: &String, partition: u32, records: Records<u64>) -> Vec<(u64, u32)> {
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

pub(crate) fn wait_for_file(path: &std::path::Path, within: std::time::Duration) -> Outcome {
    let until = Instant::now() + within;
    while !path.exists() {
        ensure!(Instant::now() < until, "{} did not appear within {within:?}", path.display());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

pub(crate) fn scheduling(suite: &mut Suite, t: &Ctx) {
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
