//! Ordering: sort_by_key, sort_by, top, take_ordered

use super::*;

pub(crate) fn is_sorted_by<T, K: Ord>(v: &[T], key: impl Fn(&T) -> K, ascending: bool) -> bool {
    v.windows(2).all(|w| if ascending { key(&w[0]) <= key(&w[1]) } else { key(&w[0]) >= key(&w[1]) })
}

pub(crate) fn check_sorted_pairs(what: &str, got: &[(u64, u64)], input: &[(u64, u64)], ascending: bool) -> Outcome {
    ensure!(is_sorted_by(got, |p| p.0, ascending), "{what}: not in {} key order: {}", order(ascending), short(&got));
    same(&format!("{what}: the records"), &sorted(got.to_vec()), &sorted(input.to_vec()))
}

pub(crate) fn order(ascending: bool) -> &'static str {
    if ascending {
        "ascending"
    } else {
        "descending"
    }
}

pub(crate) fn ordering(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(2000, 10, 500);
    let pairs: Vec<(u64, u64)> = data.iter().enumerate().map(|(i, &k)| (k, i as u64)).collect();
    let rdd = t.sc.parallelize(pairs.clone(), 5);
    suite.check("sort_by_key: ascending and descending, global order", || {
        for ascending in [true, false] {
            let sorted_rdd = rdd.sort_by_key(ascending);
            let parts = glom(&sorted_rdd)?;
            ensure!(parts.iter().filter(|p| !p.is_empty()).count() > 1, "one non-empty partition: no range cut");
            let got: Vec<(u64, u64)> = parts.concat();
            check_sorted_pairs(order(ascending), &got, &pairs, ascending)?;
            same("collect", &sorted_rdd.collect()?, &got)?;
        }
        Ok(())
    });
    suite.check("sort_by_key: into 3, one partition, empty, one key", || {
        check_sorted_pairs("into 3", &rdd.sort_by_key_into(true, 3).collect()?, &pairs, true)?;
        let one = t.sc.parallelize(pairs.clone(), 1).sort_by_key(false).collect()?;
        check_sorted_pairs("one partition", &one, &pairs, false)?;
        let none = t.sc.parallelize(Vec::<(u64, u64)>::new(), 4).sort_by_key(true);
        same("empty", &none.collect()?, &Vec::new())?;
        let same_key: Vec<(u64, u64)> = (0..100).map(|i| (5, i)).collect();
        let got = t.sc.parallelize(same_key.clone(), 4).sort_by_key(true).collect()?;
        check_sorted_pairs("one key", &got, &same_key, true)?;
        let few = vec![(3u64, 0u64), (1, 1), (2, 2)];
        check_sorted_pairs(
            "3 records in 8",
            &t.sc.parallelize(few.clone(), 8).sort_by_key(true).collect()?,
            &few,
            true,
        )?;
        let named: Vec<(String, u64)> = pairs.iter().map(|&(k, v)| (format!("k{k}"), v)).collect();
        let got = t.sc.parallelize(named.clone(), 4).sort_by_key(false).collect()?;
        ensure!(is_sorted_by(&got, |p| p.0.clone(), false), "string keys not descending");
        same("string keys: the records", &sorted(got), &sorted(named))
    });
    suite.check("sort_by: by a derived key, both directions", || {
        let text = words(500, 12);
        let by_len = t.sc.parallelize(text.clone(), 4).sort_by(|w: &String| (w.chars().count(), w.clone()), true);
        let mut want = text.clone();
        want.sort_by_key(|w| (w.chars().count(), w.clone()));
        same("by (length, word)", &by_len.collect()?, &want)?;
        let down = t.sc.parallelize(data.clone(), 4).sort_by(|x: &u64| x % 100, false).collect()?;
        ensure!(is_sorted_by(&down, |x| x % 100, false), "not descending by x % 100: {}", short(&down));
        same("the records", &sorted(down), &sorted(data.clone()))
    });
    suite.check("top and take_ordered", || {
        let numbers = t.sc.parallelize(data.clone(), 4);
        let (ascending, descending) =
            (sorted(data.clone()), sorted(data.clone()).into_iter().rev().collect::<Vec<_>>());
        same("top(5)", &numbers.top(5)?, &descending[..5].to_vec())?;
        same("top(all and more)", &numbers.top(5000)?, &descending)?;
        same("top(0)", &numbers.top(0)?, &Vec::new())?;
        same("take_ordered(7)", &numbers.take_ordered(7)?, &ascending[..7].to_vec())?;
        same("take_ordered(all and more)", &numbers.take_ordered(5000)?, &ascending)?;
        let few = t.sc.parallelize(vec![3u64, 1, 2], 8);
        same("top over empty partitions", &few.top(2)?, &vec![3, 2])?;
        same("take_ordered over empty partitions", &few.take_ordered(2)?, &vec![1, 2])
    });
}
