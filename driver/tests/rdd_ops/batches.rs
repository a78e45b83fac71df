//! Partitions of many batches (an operator's batch holds 4096 records)

use super::*;

pub(crate) fn twice(records: Records<u64>) -> impl Iterator<Item = u64> + 'static {
    records.flat_map(|x| [x, x + 1])
}

pub(crate) fn batches(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(50_000, 19, 1_000_000);
    let rdd = t.sc.parallelize(data.clone(), 3);
    suite.check("many batches: narrow ops, take, sample", || {
        same("map", &rdd.map(|x: u64| x + 1).collect()?, &data.iter().map(|x| x + 1).collect())?;
        let want: Vec<u64> = data.iter().copied().filter(|x| x % 3 == 0).collect();
        same("filter", &rdd.filter(|x: &u64| x.is_multiple_of(3)).collect()?, &want)?;
        let want: Vec<u64> = data.iter().flat_map(|&x| [x, x + 1]).collect();
        same("flat_map", &rdd.flat_map(|x: u64| [x, x + 1]).collect()?, &want)?;
        same("map_partitions growing its input", &rdd.map_partitions(twice).collect()?, &want)?;
        let exact = rdd.map_partitions(|it: Records<u64>| it.take(8192));
        same("map_partitions of exactly two batches", &exact.count()?, &(3 * 8192))?;
        same("take(20000)", &rdd.take(20_000)?, &data[..20_000].to_vec())?;
        same("count", &rdd.count()?, &50_000)?;
        same("sample", &rdd.sample(false, 0.5, 3).collect()?, &rdd.sample(false, 0.5, 3).collect()?)?;
        same("sample fraction 1", &rdd.sample(false, 1.0, 3).count()?, &50_000)
    });
    suite.check("many batches: shuffles", || {
        let pairs = pairs_of(&data, 1000);
        let keyed = t.sc.parallelize(pairs.clone(), 3);
        same("reduce_by_key", &sorted(keyed.reduce_by_key(sum).collect()?), &reference_reduce(&pairs))?;
        let want: Vec<(u64, Vec<u64>)> = reference_group(&pairs).into_iter().collect();
        same("group_by_key", &sorted_groups(keyed.group_by_key().collect()?), &want)?;
        check_sorted_pairs("sort_by_key", &keyed.sort_by_key(true).collect()?, &pairs, true)?;
        let want: Vec<u64> = data.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        same("distinct", &sorted(rdd.distinct().collect()?), &want)?;
        same("repartition", &sorted(rdd.repartition(2).collect()?), &sorted(data.clone()))
    });
    suite.check("many batches: cache and text_file", || {
        let cached = rdd.map(|x: u64| x * 2).persist(StorageLevel::MEMORY_AND_DISK);
        let want: Vec<u64> = data.iter().map(|x| x * 2).collect();
        same("cached", &cached.collect()?, &want)?;
        same("cached again", &cached.collect()?, &want)?;
        cached.unpersist();
        let text: String = data
            .iter()
            .enumerate()
            .map(|(i, x)| if i % 2 == 0 { format!("{x}\r\n") } else { format!("{x}\n") })
            .collect();
        let path = t.write("numbers.txt", text.as_bytes())?;
        let lines = t.sc.text_file_with_min_partitions(&path, 3)?;
        same("text_file lines", &lines.collect()?, &lines_of(&text))?;
        same("text_file of gzip", &t.sc.text_file(&t.write("numbers.gz", &gzip(&text))?)?.count()?, &50_000)
    });
}
