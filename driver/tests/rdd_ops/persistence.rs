//! Persistence

use super::*;

pub(crate) fn counted_double(computed: &Accumulator<i64>, x: u64) -> u64 {
    computed.add(1);
    x * 2
}

pub(crate) fn persistence(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 14, 10_000);
    let want: Vec<u64> = data.iter().map(|x| x * 2).collect();
    let levels = [
        ("MEMORY_ONLY", StorageLevel::MEMORY_ONLY),
        ("MEMORY_AND_DISK", StorageLevel::MEMORY_AND_DISK),
        ("DISK_ONLY", StorageLevel::DISK_ONLY),
        ("MEMORY_ONLY_2", StorageLevel::MEMORY_ONLY_2),
    ];
    for (name, level) in levels {
        suite.check(&format!("persist({name}): computed once, same answers, unpersist recomputes"), || {
            let computed = t.sc.long_accumulator("computed");
            let rdd = t.sc.parallelize(data.clone(), 4).map_with(computed.clone(), counted_double).persist(level);
            same("storage level", &rdd.get_storage_level(), &level)?;
            same("first collect", &rdd.collect()?, &want)?;
            same("records computed by the first job", &computed.value(), &1000)?;
            same("second collect", &rdd.collect()?, &want)?;
            same("a child's count", &rdd.map(|x: u64| x + 1).count()?, &1000)?;
            same("records computed after reading the cache twice", &computed.value(), &1000)?;
            rdd.unpersist();
            same("storage level after unpersist", &rdd.get_storage_level(), &StorageLevel::NONE)?;
            same("collect after unpersist", &rdd.collect()?, &want)?;
            same("records computed after unpersist", &computed.value(), &2000)?;
            rdd.persist(level);
            same("collect after persisting again", &rdd.collect()?, &want)?;
            // unpersist dropped the executors' blocks: persisting again recomputes, as in Spark.
            same("records computed after persisting again", &computed.value(), &3000)
        });
    }
    suite.check("cache() is MEMORY_ONLY", || {
        let rdd = t.sc.parallelize(data.clone(), 2).cache();
        same("storage level", &rdd.get_storage_level(), &StorageLevel::MEMORY_ONLY)?;
        same("collect", &rdd.collect()?, &data)?;
        same("collect again", &rdd.collect()?, &data)
    });
}
