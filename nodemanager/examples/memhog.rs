//! Test helper: touches memory at a steady rate, then holds it.
//!
//! `memhog <MiB> <MiB per second> [hold seconds]` — touches `<MiB>` one MiB at a time (every page
//! written), printing `<ms since the epoch> <MiB touched>` after each, then sleeps (default 600 s).

// A standalone test program, not daemon code: it reads the clocks itself to pace its growth and to
// timestamp its log, which the tests compare with the kill time.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).map_or(default, |a| a.parse().unwrap_or_else(|_| panic!("argument {i}: {a:?} is not a number")))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total_mib = arg(&args, 1, 100);
    let rate = arg(&args, 2, 100).max(1);
    let hold = arg(&args, 3, 600);
    let start = Instant::now();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut out = std::io::stdout();
    for mib in 1..=total_mib {
        let mut block = vec![0u8; 1 << 20];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        kept.push(block);
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let _ = writeln!(out, "{now_ms} {mib}");
        let _ = out.flush();
        let due = Duration::from_millis(mib * 1000 / rate);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    std::thread::sleep(Duration::from_secs(hold));
    drop(kept);
}
