//! Volume: task environments, results, shuffle blocks and broadcasts of several MiB

use super::*;

pub(crate) fn volume(suite: &mut Suite, t: &Ctx) {
    // 600,000 u64 are 4.8 MB: above gRPC's default 4 MiB message, in one task's environment, one
    // task's result, one shuffle block (9.6 MB of pairs) and one broadcast.
    suite.check("600,000 records in one partition: parallelize, collect, one shuffle block, a broadcast", || {
        let data: Vec<u64> = (0..600_000).collect();
        let rdd = t.sc.parallelize(data.clone(), 1);
        ensure!(rdd.collect()? == data, "collect differs");
        let grouped = rdd
            .map(|x: u64| (x % 2, x))
            .group_by_key_into(1)
            .map_values(|vs: Vec<u64>| (vs.len(), vs.iter().sum::<u64>()));
        let half: u64 = data.iter().filter(|x| *x % 2 == 0).sum();
        let want = vec![(0u64, (300_000usize, half)), (1, (300_000, data.iter().sum::<u64>() - half))];
        same("grouped", &sorted(grouped.collect()?), &want)?;
        let big = t.sc.broadcast(data.clone());
        let total =
            t.sc.parallelize(vec![0u64, 1, 2, 3], 4)
                .map_with(big, |b: &Broadcast<Vec<u64>>, i: u64| b.value().len() as u64 + i);
        same("broadcast", &total.collect()?, &vec![600_000, 600_001, 600_002, 600_003])
    });
}
