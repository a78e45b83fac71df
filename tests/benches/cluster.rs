//! Local-cluster figures: time from starting the daemons to both NodeManagers RUNNING, wall time of a
//! 3-container `true` shell application from submit to FINISHED, and idle RSS of the daemons.
//!
//! Run (release daemons first, since the harness uses the binaries beside this benchmark):
//! `cargo build --release --workspace --bins && cargo bench -p weft-tests --bench cluster`

use std::time::{Duration, Instant};

use weft_tests::{Cluster, ClusterOptions};

const RUNS: usize = 10;

fn rss_kib(pid: i32) -> u64 {
    procfs::process::Process::new(pid).and_then(|p| p.status()).ok().and_then(|s| s.vmrss).unwrap_or(0)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let mut starts = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let cluster = Cluster::start(ClusterOptions::default());
        starts.push(start.elapsed());
        drop(cluster);
    }
    println!("start: RM + 2 NMs to both NodeManagers RUNNING: median {:?} of {:?}", median(starts.clone()), starts);

    let cluster = Cluster::start(ClusterOptions::default());
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = cluster.weft(&["shell", "--num-containers", "3", "--container-memory", "512m", "--", "true"]);
        let elapsed = start.elapsed();
        assert_eq!(out.code, Some(0), "{}", out.both());
        runs.push(elapsed);
    }
    println!("shell: 3-container `true` app, submit to FINISHED: median {:?} of {runs:?}", median(runs.clone()));
    std::thread::sleep(Duration::from_secs(2));
    for (name, pid) in cluster.daemon_pids() {
        println!("rss:   {name} idle after the runs: {} KiB", rss_kib(pid));
    }
}
