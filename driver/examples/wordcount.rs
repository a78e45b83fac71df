//! WordCount: `wordcount INPUT OUTPUT` writes one `word<TAB>count` line per distinct word of the
//! input (a file, a directory or a glob) into OUTPUT, Spark's directory of part files. Words are
//! separated by ASCII whitespace, as Spark's `split(col, "\\s+")` separates them (Java's `\s`).
//!
//!     weft submit --master weft://127.0.0.1:8032 --num-executors 2 target/release/examples/wordcount in/ out/

use std::process::ExitCode;

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let [input, output] = args.as_slice() else {
            return Err("usage: wordcount INPUT OUTPUT".into());
        };
        let counts = sc
            .text_file(input)?
            .flat_map(|line: String| line.split_ascii_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .map(|word| (word, 1u64))
            .reduce_by_key(|a, b| a + b);
        println!("{}", counts.to_debug_string());
        counts.map(|(word, n)| format!("{word}\t{n}")).save_as_text_file(output)?;
        Ok(())
    })
}
