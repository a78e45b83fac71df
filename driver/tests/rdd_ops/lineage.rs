//! Lineages: chains of shuffles, one shuffle read twice, no partitions, jobs at once

use super::*;

pub(crate) fn lineage(suite: &mut Suite, t: &Ctx) {
    let text = words(3000, 20);
    let left = pairs_of(&scrambled(800, 21, 10_000), 23);
    suite.check("lineage: three shuffles in a row", || {
        let by_count =
            t.sc.parallelize(text.clone(), 4)
                .map(|w: String| (w, 1u64))
                .reduce_by_key(sum)
                .map(|(w, n): (String, u64)| (n % 7, w))
                .group_by_key()
                .map_values(|ws: Vec<String>| ws.len() as u64)
                .sort_by_key(true);
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        text.iter().for_each(|w| *counts.entry(w.clone()).or_default() += 1);
        let mut want: BTreeMap<u64, u64> = BTreeMap::new();
        counts.values().for_each(|n| *want.entry(n % 7).or_default() += 1);
        same("words per count class", &by_count.collect()?, &want.into_iter().collect())
    });
    suite.check("lineage: one shuffle read twice in a job; self-join", || {
        let a = t.sc.parallelize(left.clone(), 4);
        let reduced = a.reduce_by_key(sum);
        let want = reference_reduce(&left);
        same(
            "union with itself",
            &sorted(reduced.union(&reduced).collect()?),
            &sorted([want.clone(), want.clone()].concat()),
        )?;
        let doubled = reduced.map_values(|v: u64| v * 2);
        let want_join: Vec<(u64, (u64, u64))> = want.iter().map(|&(k, v)| (k, (v, v * 2))).collect();
        same("join with its own child", &sorted(reduced.join(&doubled).collect()?), &want_join)?;
        same("self-join", &sorted(a.join(&a).collect()?), &reference_join(&left, &left))
    });
    suite.check("lineage: an empty directory is an RDD of no partitions", || {
        std::fs::create_dir_all(t.dir.join("empty-dir"))?;
        let lines = t.sc.text_file(&t.path("empty-dir"))?;
        same("count", &lines.count()?, &0)?;
        same("collect", &lines.collect()?, &Vec::new())?;
        same("take", &lines.take(3)?, &Vec::new())?;
        ensure!(lines.first().is_err(), "first of no partitions");
        let counts = lines.map(|l: String| (l, 1u64)).reduce_by_key(sum);
        same("reduce_by_key", &counts.collect()?, &Vec::new())?;
        same("sort_by_key", &counts.sort_by_key(true).count()?, &0)?;
        same("coalesce", &lines.coalesce(2).count()?, &0)?;
        same("union", &lines.union(&t.sc.parallelize(vec!["x".to_owned()], 1)).collect()?, &vec!["x".to_owned()])
    });
    suite.check("lineage: 200 map and 200 reduce partitions", || {
        let data = scrambled(2000, 22, 1000);
        let pairs = pairs_of(&data, 301);
        let counts = t.sc.parallelize(pairs.clone(), 200).reduce_by_key_into(sum, 200);
        same("reduce_by_key", &sorted(counts.collect()?), &reference_reduce(&pairs))
    });
    suite.check("two jobs at once from two threads", || {
        let a = t.sc.parallelize(left.clone(), 4);
        let (sums, groups) = std::thread::scope(|s| {
            let sums = s.spawn(|| a.reduce_by_key(sum).collect());
            let groups = s.spawn(|| a.group_by_key().collect());
            (sums.join(), groups.join())
        });
        let (sums, groups) = (sums.map_err(|_| "a job thread panicked")?, groups.map_err(|_| "a job thread panicked")?);
        same("reduce_by_key", &sorted(sums?), &reference_reduce(&left))?;
        same("group_by_key", &sorted_groups(groups?), &reference_group(&left).into_iter().collect())
    });
}
