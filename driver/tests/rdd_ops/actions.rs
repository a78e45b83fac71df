//! Actions

use super::*;

pub(crate) fn actions(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 15, 10_000);
    let rdd = t.sc.parallelize(data.clone(), 4);
    let empty = t.sc.parallelize(Vec::<u64>::new(), 3);
    let few = t.sc.parallelize(vec![5u64, 6, 7], 8);
    suite.check("count and collect", || {
        same("count", &rdd.count()?, &1000)?;
        same("collect", &rdd.collect()?, &data)?;
        same("count of empty", &empty.count()?, &0)
    });
    suite.check("first; first of an empty RDD is an error", || {
        same("first", &rdd.first()?, &data[0])?;
        same("first past empty partitions", &few.first()?, &5)?;
        let late = rdd.filter(|x: &u64| *x >= 9990).collect()?;
        let got = rdd.filter(|x: &u64| *x >= 9990).first();
        same("first of a filter", &got.ok(), &late.first().copied())?;
        let none = empty.first();
        ensure!(matches!(&none, Err(e) if e.to_string().contains("empty collection")), "{none:?}");
        Ok(())
    });
    suite.check("take: across partitions, more than there is, none", || {
        same("take(5)", &rdd.take(5)?, &data[..5].to_vec())?;
        same("take(300) crosses a partition", &rdd.take(300)?, &data[..300].to_vec())?;
        same("take(999)", &rdd.take(999)?, &data[..999].to_vec())?;
        same("take(1500)", &rdd.take(1500)?, &data)?;
        same("take(0)", &rdd.take(0)?, &Vec::new())?;
        same("take(2) past empty partitions", &few.take(2)?, &vec![5, 6])?;
        same("take(10) of 3 in 8 partitions", &few.take(10)?, &vec![5, 6, 7])?;
        same("take of empty", &empty.take(3)?, &Vec::new())
    });
    suite.check("reduce; reduce of an empty RDD is an error", || {
        same("sum", &rdd.reduce(sum)?, &data.iter().sum())?;
        same("max", &rdd.reduce(|a: u64, b: u64| a.max(b))?, data.iter().max().ok_or("no data")?)?;
        same("with empty partitions", &few.reduce(sum)?, &18)?;
        same("reduce_with", &few.reduce_with(1u64, |one: &u64, a: u64, b: u64| a + b + one)?, &20)?;
        let none = empty.reduce(sum);
        ensure!(matches!(&none, Err(e) if e.to_string().contains("empty collection")), "{none:?}");
        Ok(())
    });
    suite.check("fold and aggregate (zero per partition and once more)", || {
        let total: u64 = data.iter().sum();
        same("fold(0)", &rdd.fold(0, sum)?, &total)?;
        same("fold(1) over 4 partitions", &rdd.fold(1, sum)?, &(total + 5))?;
        same("fold(0) of empty", &empty.fold(0, sum)?, &0)?;
        let stats = rdd.aggregate(
            (0u64, 0u64),
            |(s, c): (u64, u64), x: u64| (s + x, c + 1),
            |a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1),
        )?;
        same("aggregate (sum, count)", &stats, &(total, 1000))?;
        let strings =
            few.aggregate(String::new(), |s: String, x: u64| format!("{s}{x}"), |a: String, b: String| a + &b)?;
        same("aggregate in partition order", &strings, &"567".to_owned())
    });
    suite.check("foreach with an accumulator counting records", || {
        let seen = t.sc.long_accumulator("seen");
        rdd.foreach_with(seen.clone(), |seen: &Accumulator<i64>, _: u64| seen.add(1))?;
        same("records", &seen.value(), &1000)?;
        empty.foreach_with(seen.clone(), |seen: &Accumulator<i64>, _: u64| seen.add(1))?;
        same("records after an empty foreach", &seen.value(), &1000)
    });
    suite.check("save_as_text_file: part files, _SUCCESS; an existing directory is an error", || {
        let out = t.path("saved");
        let lines = few.map(|x: u64| format!("record {x}"));
        lines.save_as_text_file(&out)?;
        let mut names: Vec<String> =
            std::fs::read_dir(&out)?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        let mut want: Vec<String> = (0..8).map(|i| format!("part-{i:05}")).collect();
        want.push("_SUCCESS".to_owned());
        same("files", &names, &sorted(want))?;
        for (i, part) in glom(&lines)?.iter().enumerate() {
            let text = std::fs::read_to_string(t.dir.join("saved").join(format!("part-{i:05}")))?;
            same(&format!("part-{i:05}"), &text, &part.iter().map(|l| format!("{l}\n")).collect::<String>())?;
        }
        let again = lines.save_as_text_file(&out);
        ensure!(matches!(&again, Err(e) if e.to_string().contains("already exists")), "{again:?}");
        Ok(())
    });
    suite.check("to_debug_string: WordCount's lineage has two stages", || {
        let text: String = words(600, 16).chunks(6).map(|line| line.join(" ") + "\n").collect();
        let path = t.write("wordcount.txt", text.as_bytes())?;
        let counts =
            t.sc.text_file(&path)?
                .flat_map(|line: String| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                .map(|word: String| (word, 1u64))
                .reduce_by_key(sum);
        let debug = counts.to_debug_string();
        let cuts: Vec<&str> = debug.lines().filter(|l| l.starts_with(" +-(")).collect();
        ensure!(cuts.len() == 1, "want one line starting \" +-(\", got {}:\n{debug}", cuts.len());
        ensure!(debug.lines().filter(|l| l.contains("+-(")).count() == 1, "more than one shuffle:\n{debug}");
        ensure!(debug.starts_with('(') && debug.lines().next().is_some_and(|l| l.contains("ShuffledRDD")), "{debug}");
        ensure!(debug.lines().last().is_some_and(|l| l.contains("HadoopRDD") && l.contains(&path)), "{debug}");
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        text.split_whitespace().for_each(|w| *want.entry(w.to_owned()).or_default() += 1);
        same("counts", &counts.collect()?.into_iter().collect::<BTreeMap<_, _>>(), &want)
    });
}
