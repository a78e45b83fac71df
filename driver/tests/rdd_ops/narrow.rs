//! Narrow transformations

use super::*;

pub(crate) fn times(k: &u64, x: u64) -> u64 {
    x * k
}

pub(crate) fn narrow(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 2, 5000);
    let rdd = t.sc.parallelize(data.clone(), 4);
    suite.check("map and map_with", || {
        let want: Vec<u64> = data.iter().map(|x| x * 3 + 1).collect();
        same("map", &rdd.map(|x: u64| x * 3 + 1).collect()?, &want)?;
        let want: Vec<u64> = data.iter().map(|x| x * 7).collect();
        same("map_with(7)", &rdd.map_with(7u64, times).collect()?, &want)?;
        let want: Vec<String> = data.iter().map(|x| format!("n-{x}")).collect();
        same(
            "map_with(String)",
            &rdd.map_with("n-".to_owned(), |p: &String, x: u64| format!("{p}{x}")).collect()?,
            &want,
        )
    });
    suite.check("flat_map and flat_map_with", || {
        let want: Vec<u64> = data.iter().flat_map(|&x| (0..x % 4).map(move |i| x * 10 + i)).collect();
        same("flat_map", &rdd.flat_map(|x: u64| (0..x % 4).map(move |i| x * 10 + i)).collect()?, &want)?;
        let want: Vec<u64> = data.iter().flat_map(|&x| vec![x; (x % 3) as usize]).collect();
        let got = rdd.flat_map_with(3u64, |m: &u64, x: u64| vec![x; (x % m) as usize]).collect()?;
        same("flat_map_with", &got, &want)
    });
    suite.check("filter and filter_with", || {
        let want: Vec<u64> = data.iter().copied().filter(|x| x % 3 == 0).collect();
        same("filter", &rdd.filter(|x: &u64| x.is_multiple_of(3)).collect()?, &want)?;
        let want: Vec<u64> = data.iter().copied().filter(|x| x % 5 == 0).collect();
        same("filter_with", &rdd.filter_with(5u64, |m: &u64, x: &u64| x.is_multiple_of(*m)).collect()?, &want)?;
        same("filter to nothing", &rdd.filter(|_: &u64| false).count()?, &0)
    });
    suite.check("map_partitions: one sum per partition, empty partitions included", || {
        for (input, slices) in [(data.clone(), 4), (vec![1, 2, 3], 8)] {
            let sums = t.sc.parallelize(input.clone(), slices).map_partitions(|it: Records<u64>| [it.sum::<u64>()]);
            let want: Vec<u64> = slices_of(&input, slices).iter().map(|s| s.iter().sum()).collect();
            same(&format!("sums over {slices} slices"), &sums.collect()?, &want)?;
        }
        Ok(())
    });
    suite.check("map_partitions_with_index: the index and the environment", || {
        let got = rdd
            .map_partitions_with_index(100u32, |base: &u32, i: u32, it: Records<u64>| {
                let tag = base + i;
                it.map(move |x| (tag, x))
            })
            .collect()?;
        let want: Vec<(u32, u64)> = slices_of(&data, 4)
            .into_iter()
            .enumerate()
            .flat_map(|(i, s)| s.into_iter().map(move |x| (100 + i as u32, x)))
            .collect();
        same("tagged", &got, &want)
    });
    suite.check("union: both RDDs' partitions, one after the other", || {
        let other = t.sc.parallelize(vec![7u64, 8, 9], 3);
        let both = rdd.union(&other);
        same("partitions", &both.get_num_partitions(), &7)?;
        same("union", &both.collect()?, &[data.clone(), vec![7, 8, 9]].concat())?;
        let empty = t.sc.parallelize(Vec::<u64>::new(), 2);
        same("with an empty RDD", &empty.union(&other).union(&empty).collect()?, &vec![7, 8, 9])
    });
    suite.check("key_by, keys, values, map_values, flat_map_values", || {
        let pairs = rdd.key_by(|x: &u64| x % 10);
        let want: Vec<(u64, u64)> = data.iter().map(|&x| (x % 10, x)).collect();
        same("key_by", &pairs.collect()?, &want)?;
        same("keys", &pairs.keys().collect()?, &want.iter().map(|p| p.0).collect())?;
        same("values", &pairs.values().collect()?, &data)?;
        let doubled: Vec<(u64, u64)> = want.iter().map(|&(k, v)| (k, v * 2)).collect();
        same("map_values", &pairs.map_values(|v: u64| v * 2).collect()?, &doubled)?;
        let tripled: Vec<(u64, u64)> = want.iter().map(|&(k, v)| (k, v * 3)).collect();
        same("map_values_with", &pairs.map_values_with(3u64, times).collect()?, &tripled)?;
        let spread: Vec<(u64, u64)> = want.iter().flat_map(|&(k, v)| (0..v % 3).map(move |i| (k, v + i))).collect();
        same("flat_map_values", &pairs.flat_map_values(|v: u64| (0..v % 3).map(move |i| v + i)).collect()?, &spread)
    });
}
