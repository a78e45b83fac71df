//! Cost of one container monitor pass (sample `/proc` + decide) per container, at 10, 100 and 500
//! containers. Each container is a real tree of three processes (`sh` and two `sleep`s), so a pass
//! reads every process of the machine once and walks each container's tree, as the daemon does.
//!
//! `cargo bench -p weft-nodemanager --bench monitor`

#![allow(clippy::disallowed_methods)] // a benchmark times itself with Instant::now

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weft_nodemanager::bench::MonitorPass;

/// Starts `n` trees of three processes, each in its own process group.
fn trees(n: usize) -> Vec<Child> {
    (0..n)
        .map(|_| {
            use std::os::unix::process::CommandExt;
            Command::new("sh")
                .args(["-c", "sleep 600 & sleep 600 & wait"])
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("spawn sh")
        })
        .collect()
}

/// Ends the trees (their process groups) and reaps the shells.
fn end(children: Vec<Child>) {
    for mut child in children {
        // SAFETY: signalling a process group this benchmark created.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
    }
}

fn main() {
    println!(
        "{:>10} {:>10} {:>8} {:>14} {:>16}",
        "containers", "processes", "passes", "µs per pass", "µs per container"
    );
    for n in [10usize, 100, 500] {
        let children = trees(n);
        let roots: Vec<u32> = children.iter().map(Child::id).collect();
        let mut pass = MonitorPass::new(&roots, 1024);
        // Wait until every tree has its two sleeps, then warm up.
        let deadline = Instant::now() + Duration::from_secs(30);
        while pass.run().0 < 3 * n {
            assert!(Instant::now() < deadline, "the trees did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let passes = (2000 / n).clamp(10, 100);
        let start = Instant::now();
        let mut processes = 0;
        for _ in 0..passes {
            let (measured, over) = pass.run();
            assert_eq!(over, 0, "a sleeping tree is never over its limit");
            processes = measured;
        }
        let per_pass = start.elapsed().as_secs_f64() * 1e6 / passes as f64;
        println!("{n:>10} {processes:>10} {passes:>8} {per_pass:>14.0} {:>16.1}", per_pass / n as f64);
        end(children);
    }
}
