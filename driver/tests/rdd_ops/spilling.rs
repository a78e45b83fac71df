//! Memory: sorts, groups, joins and caches in a tiny unified memory, on a context of its own

use super::*;

/// A reduce task's records; then the task's spill metrics, read inside the task, go to the
/// accumulators (memory bytes, disk bytes).
pub(crate) fn note_spills<T: Data>(
    spilled: &(Accumulator<u64>, Accumulator<u64>),
    _: u32,
    records: Records<T>,
) -> Vec<T> {
    let all: Vec<T> = records.collect();
    let metrics = task_context().expect("inside a task").metrics_snapshot();
    spilled.0.add(metrics.memory_bytes_spilled);
    spilled.1.add(metrics.disk_bytes_spilled);
    all
}

pub(crate) fn spilled(what: &str, spills: &(Accumulator<u64>, Accumulator<u64>)) -> Outcome {
    let (memory, disk) = (spills.0.value(), spills.1.value());
    ensure!(memory > 0 && disk > 0, "{what}: the reduce tasks spilled {memory} bytes (memory), {disk} (disk)");
    Ok(())
}

pub(crate) fn spilling(suite: &mut Suite) {
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
