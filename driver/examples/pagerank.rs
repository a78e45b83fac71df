//! PageRank: `pagerank INPUT ITERATIONS OUTPUT` ranks the nodes of a link graph given as
//! `src dst` lines (node ids are unsigned 32-bit integers; duplicate edges count once), Spark's
//! `SparkPageRank` step for step, and writes one `node TAB rank` line per node that some link
//! points to into OUTPUT, Spark's directory of part files (nodes in no particular order). Ranks are
//! written in full precision: the shortest decimal that reads back as the same `f64` (Rust's `{}`,
//! never an exponent). Prints `Ranked N nodes in I iterations`.
//!
//!     target/release/examples/pagerank /tmp/benchdata_m/edges 10 /tmp/ranks    # local[*]
//!     weft submit --master weft://127.0.0.1:8032 target/release/examples/pagerank in/ 10 out/
//!
//! Each iteration every node splits its rank evenly among the nodes it links to; a node's new rank
//! is `0.15 + 0.85 × (sum of what it received)`. Nodes without outgoing links keep no rank to give
//! (as in Spark's example, rank mass is not conserved), and nodes nobody links to drop out after
//! the first iteration.

mod common;

use std::process::ExitCode;

use common::counted;

/// `src dst` as two node ids; `None` for a blank line.
fn parse_edge(line: &str) -> Option<(u32, u32)> {
    let mut fields = line.split_ascii_whitespace();
    let src = fields.next()?;
    let edge = fields.next().and_then(|dst| Some((src.parse().ok()?, dst.parse().ok()?)));
    match edge {
        Some(edge) => Some(edge),
        None => panic!("not an edge (`src dst`, unsigned 32-bit node ids): {line:?}"),
    }
}

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let [input, iterations, output] = args.as_slice() else {
            return Err("usage: pagerank INPUT ITERATIONS OUTPUT".into());
        };
        let iterations: u32 = iterations.parse().map_err(|e| format!("ITERATIONS {iterations:?}: {e}"))?;
        let links = sc.text_file(input)?.flat_map(|line: String| parse_edge(&line)).distinct().group_by_key().cache();
        let mut ranks = links.map_values(|_| 1.0f64);
        for _ in 0..iterations {
            let contribs = links.join(&ranks).values().flat_map(|(urls, rank): (Vec<u32>, f64)| {
                let share = rank / urls.len() as f64;
                urls.into_iter().map(move |url| (url, share))
            });
            ranks = contribs.reduce_by_key(|a, b| a + b).map_values(|sum| 0.15 + 0.85 * sum);
        }
        let ranked = sc.accumulator::<u64>("ranked nodes");
        ranks
            .map_partitions_with_index(ranked.clone(), |ranked, _, it| {
                counted(ranked.clone(), it.map(|(node, rank)| format!("{node}\t{rank}")))
            })
            .save_as_text_file(output)?;
        links.unpersist();
        println!("Ranked {} nodes in {iterations} iterations", ranked.value());
        Ok(())
    })
}
