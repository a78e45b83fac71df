//! SparkPi: estimates π by throwing points at the unit square, `sparkpi [SLICES [SAMPLES]]`
//! (SAMPLES points in all, spread evenly over the slices; by default 100,000 per slice, as Spark's
//! example), and prints `Pi is roughly 3.14…`.
//!
//!     target/release/examples/sparkpi 10                  # local mode, 1,000,000 points
//!     weft submit --master yarn target/release/examples/sparkpi 8 100000000

use std::process::ExitCode;

fn main() -> ExitCode {
    weft_spark::run(|sc, args| {
        let slices: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(2).max(1);
        let n: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(100_000 * slices as u64);
        let inside = sc
            .parallelize((0..slices as u64).collect(), slices)
            .map_with((n, slices as u64), |&(n, slices): &(u64, u64), slice: u64| {
                let per = n / slices + u64::from(slice < n % slices);
                // A small deterministic generator per slice, so runs are repeatable.
                let mut state = slice.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let mut next = move || {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
                };
                (0..per)
                    .filter(|_| {
                        let (x, y) = (next(), next());
                        x * x + y * y <= 1.0
                    })
                    .count() as u64
            })
            .reduce(|a, b| a + b)?;
        println!("Pi is roughly {}", 4.0 * inside as f64 / n as f64);
        Ok(())
    })
}
