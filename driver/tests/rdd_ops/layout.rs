//! Layout: partition_by, repartition, coalesce, sample

use super::*;

pub(crate) fn layout(suite: &mut Suite, t: &Ctx) {
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
