//! K-means: `kmeans INPUT K ITERATIONS [OUTPUT]` clusters points given as lines of
//! space-separated numbers (all of one dimension; blank lines are skipped), Spark's `SparkKMeans`
//! step for step, and prints `Final centers:` and one center per line; with OUTPUT it also writes
//! them there, one line of space-separated coordinates per center, as Spark's directory of part
//! files. Coordinates are written in full precision (the shortest decimal that reads back as the
//! same `f64`). Prints `KMeans converged after I iterations` (or `stopped after`).
//!
//!     target/release/examples/kmeans points.txt 3 20 /tmp/centers            # local[*]
//!     weft submit --master weft://127.0.0.1:8032 target/release/examples/kmeans in/ 3 20 out/
//!
//! The initial centers are the first K distinct points of the input (Spark's example takes a
//! seeded random sample instead); this is deterministic for a given input. Each iteration assigns
//! every point to its closest center, averages each cluster into its new center (a cluster left
//! empty keeps its center), and stops early once the centers moved less than 1e-9 in all (sum of
//! squared distances), or after ITERATIONS.

use std::process::ExitCode;

use weft_spark::{Rdd, SparkError};

/// When the centers together move less than this (squared distance), the clustering has converged.
const CONVERGE_DIST: f64 = 1e-9;

/// A point's coordinates; `None` for a blank line.
fn parse_point(line: &str) -> Option<Vec<f64>> {
    let point: Vec<f64> = line
        .split_ascii_whitespace()
        .map(|x| x.parse().unwrap_or_else(|e| panic!("not a point (space-separated numbers): {line:?}: {e}")))
        .collect();
    (!point.is_empty()).then_some(point)
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "a point of {} coordinates among centers of {}", a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The index of the center closest to `p` (the first one on ties).
fn closest_point(p: &[f64], centers: &[Vec<f64>]) -> u32 {
    let mut best = (0, f64::INFINITY);
    for (i, c) in centers.iter().enumerate() {
        let d = squared_distance(p, c);
        if d < best.1 {
            best = (i as u32, d);
        }
    }
    best.0
}

/// The first `k` distinct points, reading further into the input until it has them.
fn initial_centers(points: &Rdd<Vec<f64>>, k: usize) -> Result<Vec<Vec<f64>>, SparkError> {
    let mut want = k;
    loop {
        let taken = points.take(want)?;
        let mut centers: Vec<Vec<f64>> = Vec::with_capacity(k);
        for p in &taken {
            if centers.len() < k && !centers.contains(p) {
                centers.push(p.clone());
            }
        }
        if centers.len() == k || taken.len() < want {
            return Ok(centers);
        }
        want *= 4;
    }
}

/// One step: each cluster's mean, by center index.
fn cluster_means(points: &Rdd<Vec<f64>>, centers: &[Vec<f64>]) -> Result<Vec<(u32, Vec<f64>)>, SparkError> {
    points
        .map_with(centers.to_vec(), |centers, p| (closest_point(&p, centers), (p, 1u64)))
        .reduce_by_key(|(mut sum, n), (p, m)| {
            sum.iter_mut().zip(&p).for_each(|(s, x)| *s += x);
            (sum, n + m)
        })
        .map_values(|(sum, n)| sum.into_iter().map(|s| s / n as f64).collect::<Vec<f64>>())
        .collect()
}

fn format_point(p: &[f64]) -> String {
    p.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ")
}

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let (input, k, iterations, output) = match args.as_slice() {
            [input, k, iterations] => (input, k, iterations, None),
            [input, k, iterations, output] => (input, k, iterations, Some(output)),
            _ => return Err("usage: kmeans INPUT K ITERATIONS [OUTPUT]".into()),
        };
        let k: usize = k.parse().map_err(|e| format!("K {k:?}: {e}"))?;
        let iterations: u32 = iterations.parse().map_err(|e| format!("ITERATIONS {iterations:?}: {e}"))?;
        if k == 0 {
            return Err("K must be at least 1".into());
        }
        let points = sc.text_file(input)?.flat_map(|line: String| parse_point(&line)).cache();
        let mut centers = initial_centers(&points, k)?;
        if centers.len() < k {
            return Err(format!("K is {k} but {input} holds only {} distinct points", centers.len()).into());
        }
        let mut moved = f64::INFINITY;
        let mut done = 0;
        while done < iterations && moved > CONVERGE_DIST {
            moved = 0.0;
            for (i, mean) in cluster_means(&points, &centers)? {
                moved += squared_distance(&centers[i as usize], &mean);
                centers[i as usize] = mean;
            }
            done += 1;
        }
        let verb = if moved <= CONVERGE_DIST { "converged" } else { "stopped" };
        println!("KMeans {verb} after {done} iterations");
        println!("Final centers:");
        let lines: Vec<String> = centers.iter().map(|c| format_point(c)).collect();
        for line in &lines {
            println!("{line}");
        }
        if let Some(output) = output {
            sc.parallelize(lines, 1).save_as_text_file(output)?;
        }
        points.unpersist();
        Ok(())
    })
}
