//! Sources: parallelize, text_file

use super::*;

pub(crate) fn sources(suite: &mut Suite, t: &Ctx) {
    suite.check("parallelize: partitions are Spark's slices", || {
        let data = scrambled(1000, 1, 10_000);
        for slices in [1, 4, 7] {
            let rdd = t.sc.parallelize(data.clone(), slices);
            same("partitions", &rdd.get_num_partitions(), &slices)?;
            same(&format!("slices of {slices}"), &glom(&rdd)?, &slices_of(&data, slices))?;
        }
        Ok(())
    });
    suite.check("parallelize: 3 records in 8 slices, and no records", || {
        let few = t.sc.parallelize(vec![10u64, 20, 30], 8);
        same("slices", &glom(&few)?, &slices_of(&[10u64, 20, 30], 8))?;
        same("count", &few.count()?, &3)?;
        let none = t.sc.parallelize(Vec::<u64>::new(), 4);
        same("partitions", &none.get_num_partitions(), &4)?;
        same("count", &none.count()?, &0)?;
        same("collect", &none.collect()?, &Vec::new())?;
        same("unit records", &t.sc.parallelize(vec![(); 10], 3).count()?, &10)
    });
    text_files(suite, t);
}

/// Hadoop's lines: ends at `\n`, a `\r` before it dropped, no line after a final `\n`.
pub(crate) fn lines_of(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect();
    if text.is_empty() || text.ends_with('\n') {
        lines.pop();
    }
    lines
}

/// Lines of varied length (empty to a few hundred characters, some multi-byte), some ending in
/// CRLF, the last without a newline.
pub(crate) fn varied_text(lines: usize, seed: u64) -> String {
    let alphabet = ["a", "b", "c", " ", "é", "日", "xyz", "\t"];
    let mut rng = Lcg(seed);
    let mut text = String::new();
    for _ in 0..lines {
        let len = match rng.next() % 10 {
            0 => 0,
            1..=6 => rng.next() % 30,
            _ => rng.next() % 300,
        };
        for _ in 0..len {
            text.push_str(alphabet[rng.next() as usize % alphabet.len()]);
        }
        text.push_str(if rng.next().is_multiple_of(3) { "\r\n" } else { "\n" });
    }
    text.push_str("the last line has no newline");
    text
}

pub(crate) fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

pub(crate) fn text_files(suite: &mut Suite, t: &Ctx) {
    suite.check("text_file: lines across many splits (varied lengths, CRLF, no final newline)", || {
        let text = varied_text(400, 7);
        let path = t.write("varied.txt", text.as_bytes())?;
        let want = lines_of(&text);
        for min in [1, 2, 3, 7, 16, 50, 97, 300] {
            let rdd = t.sc.text_file_with_min_partitions(&path, min)?;
            ensure!(rdd.get_num_partitions() >= min, "{} splits for min_partitions {min}", rdd.get_num_partitions());
            same(&format!("lines with min_partitions {min}"), &rdd.collect()?, &want)?;
        }
        Ok(())
    });
    suite.check("text_file: split boundaries at a line start, inside CRLF, on empty lines", || {
        // 10-byte lines: min 10 and 20 cut exactly at line starts; min 7 inside lines.
        let plain: String = (0..100).map(|i| format!("line-{i:03}\n")).collect();
        // 10-byte CRLF lines; min 52 gives 19-byte splits, so boundaries fall on `\n`, on `\r`, ….
        let crlf: String = (0..100).map(|i| format!("crlf-{i:03}\r\n")).collect();
        let empty_lines = "\n".repeat(50);
        for (name, text, mins) in [
            ("plain.txt", plain, &[10usize, 20, 7][..]),
            ("crlf.txt", crlf, &[52, 100, 3][..]),
            ("empty-lines.txt", empty_lines, &[25, 50, 4][..]),
        ] {
            let path = t.write(name, text.as_bytes())?;
            for &min in mins {
                let got = t.sc.text_file_with_min_partitions(&path, min)?.collect()?;
                same(&format!("{name} with min_partitions {min}"), &got, &lines_of(&text))?;
            }
        }
        Ok(())
    });
    suite.check("text_file: a lone CR ends a line, as in Hadoop's LineReader", || {
        let text = "one\rtwo\r\nthree\n\rfive\r\rseven\r";
        let path = t.write("cr.txt", text.as_bytes())?;
        let want: Vec<String> = ["one", "two", "three", "", "five", "", "seven"].map(str::to_owned).to_vec();
        for min in [1, 5, 40] {
            let got = t.sc.text_file_with_min_partitions(&path, min)?.collect()?;
            same(&format!("lines with min_partitions {min}"), &got, &want)?;
        }
        Ok(())
    });
    suite.check("text_file: an empty file has no lines", || {
        let path = t.write("empty.txt", b"")?;
        same("count", &t.sc.text_file(&path)?.count()?, &0)
    });
    suite.check("text_file: a .gz file is one split, read whole (two gzip members too)", || {
        let text = varied_text(300, 11);
        let path = t.write("whole.txt.gz", &gzip(&text))?;
        let rdd = t.sc.text_file_with_min_partitions(&path, 8)?;
        same("partitions", &rdd.get_num_partitions(), &1)?;
        same("lines", &rdd.collect()?, &lines_of(&text))?;
        let (first, second) = ("one\ntwo\n", "three\r\nfour");
        let members = [gzip(first), gzip(second)].concat();
        let path = t.write("members.gz", &members)?;
        same("two members", &t.sc.text_file(&path)?.collect()?, &lines_of(&format!("{first}{second}")))
    });
    suite.check("text_file: a directory's visible files in name order, and a glob", || {
        let (a, b, c) = (varied_text(50, 21), varied_text(60, 22), "gz one\ngz two\n".to_owned());
        t.write("in/part-a.txt", a.as_bytes())?;
        t.write("in/part-b.txt", b.as_bytes())?;
        t.write("in/part-c.txt.gz", &gzip(&c))?;
        t.write("in/_SUCCESS", b"not input\n")?;
        t.write("in/.part-a.txt.crc", b"not input\n")?;
        let all = [lines_of(&a), lines_of(&b), lines_of(&c)].concat();
        same("directory", &t.sc.text_file_with_min_partitions(&t.path("in"), 6)?.collect()?, &all)?;
        let glob = t.sc.text_file(&t.path("in/*.txt"))?.collect()?;
        same("glob *.txt", &glob, &[lines_of(&a), lines_of(&b)].concat())?;
        let glob = t.sc.text_file(&t.path("in/part-[bc]*"))?.collect()?;
        same("glob part-[bc]*", &glob, &[lines_of(&b), lines_of(&c)].concat())
    });
    suite.check("text_file: a missing path and an empty glob are errors", || {
        let missing = t.sc.text_file(&t.path("no-such-file.txt")).map(|r| r.id());
        ensure!(matches!(&missing, Err(e) if e.to_string().contains("Input path does not exist")), "{missing:?}");
        let empty = t.sc.text_file(&t.path("in/*.none")).map(|r| r.id());
        ensure!(matches!(&empty, Err(e) if e.to_string().contains("matches 0 files")), "{empty:?}");
        Ok(())
    });
}
