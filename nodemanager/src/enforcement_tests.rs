//! Enforcement over real processes and this machine's cgroups: memory kills by the monitor
//! (-104/-103) with YARN's diagnostics, the kernel's OOM kill reported as -104, CPU shared by vcores
//! and capped in strict mode, whole trees measured and killed, and no cgroup left behind.
//!
//! The helper programs are this crate's examples (`cargo test` builds them first). Tests that need
//! cgroups fail, saying what is missing, when this machine cannot provide them. Each uses its own
//! hierarchy (`weft-test-<pid>-<n>`) and removes it, checking every mounted controller.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::{CancellationToken, DropGuard};
use weft_proto::{ContainerId, Resource};

use crate::cgroups::{self, Cgroups, CpuPolicy, Setup, Version};
use crate::container::{Container, ContainerState, KillReason, LaunchSpec};
use crate::launcher::tree;
use crate::monitor::Checks;
use crate::nm::{Enforcement, Nm};
use crate::testing::{done, nm_with, no_cgroups, spec, wait_for};
use crate::watcher;

const INTERVAL: Duration = Duration::from_millis(250);
const MB: u64 = 1 << 20;

/// A helper program built from `examples/`, next to this test binary.
fn example(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test binary>");
    let path: PathBuf = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "helper program {name} is missing at {}: it is nodemanager/examples/{name}.rs, which `cargo test -p \
         weft-nodemanager` builds before running the tests (or build it with `cargo build -p weft-nodemanager \
         --examples`)",
        path.display()
    );
    path.display().to_string()
}

static NEXT_HIERARCHY: AtomicU32 = AtomicU32::new(0);

/// A test's own cgroup hierarchy; removed (and checked gone from every controller) when dropped.
struct TestCgroups {
    cgroups: Arc<Cgroups>,
}

impl TestCgroups {
    /// Fails the test, saying why, when this machine cannot hold containers in cgroups.
    fn new(strict: bool) -> TestCgroups {
        let hierarchy = format!("weft-test-{}-{}", std::process::id(), NEXT_HIERARCHY.fetch_add(1, Ordering::Relaxed));
        let setup = Setup {
            enabled: true,
            hierarchy,
            cpu: CpuPolicy { strict, cpus: 2, limit_percent: 100 },
            max_pids: 8192,
            keep: Default::default(),
        };
        let cgroups = Cgroups::set_up(&setup).unwrap_or_else(|reason| {
            panic!("these tests need cgroups with the memory and cpu controllers, as root; here: {reason}")
        });
        TestCgroups { cgroups: Arc::new(cgroups) }
    }

    fn leftovers(&self) -> Vec<PathBuf> {
        cgroups::mount_points().into_iter().map(|m| m.join(self.cgroups.hierarchy())).filter(|d| d.exists()).collect()
    }
}

impl Drop for TestCgroups {
    fn drop(&mut self) {
        let problems = self.cgroups.remove_hierarchy();
        let left = self.leftovers();
        if !std::thread::panicking() {
            assert!(problems.is_empty() && left.is_empty(), "cgroups left behind: {problems:?} {left:?}");
        }
    }
}

fn enforcement(cgroups: Option<&TestCgroups>, checks: Checks, vmem_ratio: f64) -> Enforcement {
    let mut e = no_cgroups();
    e.monitor_interval = INTERVAL;
    e.checks = checks;
    e.vmem_ratio = vmem_ratio;
    if let Some(c) = cgroups {
        e.cgroups = Ok(c.cgroups.clone());
        e.cgroups_status = cgroups::status(&Ok((*c.cgroups).clone()), c.cgroups.hierarchy());
    }
    e
}

/// A NodeManager handle with its monitor running (stopped when the guard drops).
fn nm_monitored(dir: &std::path::Path, enforcement: Enforcement) -> (Arc<Nm>, DropGuard) {
    let nm = nm_with(dir, Duration::from_millis(200), enforcement);
    let token = CancellationToken::new();
    tokio::spawn(watcher::run(nm.clone(), token.clone()));
    (nm, token.drop_guard())
}

fn container(n: u64, command: &[&str], memory_mb: i64, vcores: i32) -> LaunchSpec {
    LaunchSpec { resource: Resource::new(memory_mb, vcores), ..spec(n, command) }
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_default()
}

async fn running_pid(nm: &Nm, id: ContainerId) -> u32 {
    wait_for(&format!("{id} to run"), || {
        nm.read(|core| core.container(&id).filter(|c| c.state == ContainerState::RUNNING).and_then(|c| c.pid))
    })
    .await
}

/// Stops whatever still runs and waits for it.
async fn stop_all(nm: &Nm) {
    nm.kill_all(KillReason::Shutdown);
    assert!(nm.wait_until_idle(Duration::from_secs(20)).await, "containers did not stop");
}

/// Spark's regex over the diagnostics: `[0-9.]+ [KMG]B of [0-9.]+ [KMG]B <kind> memory used`.
fn spark_usage(diagnostics: &str, kind: &str) -> Option<String> {
    let end = diagnostics.find(&format!(" {kind} memory used"))?;
    let words: Vec<&str> = diagnostics[..end].rsplit(' ').take(5).collect();
    let [limit_unit, limit, of, used_unit, used] = words[..] else { return None };
    let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    let unit = |s: &str| ["KB", "MB", "GB"].contains(&s);
    (number(used) && unit(used_unit) && of == "of" && number(limit) && unit(limit_unit))
        .then(|| format!("{used} {used_unit} of {limit} {limit_unit}"))
}

fn pids_alive(pids: &[i32]) -> Vec<i32> {
    tree::alive(&tree::snapshot(), &pids.iter().copied().collect(), -1)
}

#[tokio::test]
async fn a_container_growing_past_its_memory_is_killed_104_within_two_intervals() {
    let dir = tempfile::tempdir().unwrap();
    // The monitor alone (cgroups off), as on a node without them; vmem is not what this test is about.
    let (nm, _monitor) = nm_monitored(dir.path(), enforcement(None, Checks { pmem: true, vmem: false }, 2.1));
    let s = container(21, &[&example("memhog"), "200", "100"], 64, 1);
    nm.start(s.clone()).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!((c.exit_status, c.kill), (-104, Some(KillReason::PhysicalMemory)), "{}", c.diagnostics());
    let d = c.diagnostics();
    assert!(d.contains(&format!("Container [pid={},containerID={}] is running ", c.pid.unwrap(), s.id)), "{d}");
    assert!(d.contains("B beyond the 'PHYSICAL' memory limit. Current usage: "), "{d}");
    let usage = spark_usage(&d, "physical").unwrap_or_else(|| panic!("Spark cannot parse:\n{d}"));
    assert!(usage.ends_with(" of 64 MB"), "{usage}");
    assert!(d.contains(&format!("Dump of the process-tree for {} :", s.id)), "{d}");
    assert!(d.contains("Container killed on request. Exit code is 143"), "{d}");
    assert!(c.peak.pmem_bytes > 64 * MB, "peak {:?}", c.peak);
    // memhog logs `<ms> <MiB>` per MiB: the kill came within two intervals of crossing 64 MiB.
    let log = read(nm.layout.log_dir(s.id).join("stdout"));
    let crossed_ms: u64 = log
        .lines()
        .find_map(|l| l.split_once(' ').filter(|(_, mib)| mib.parse::<u64>().is_ok_and(|m| m > 64)))
        .and_then(|(ms, _)| ms.parse().ok())
        .unwrap_or_else(|| panic!("memhog never crossed 64 MiB:\n{log}"));
    let killed_ms = c.killed_ms.expect("a kill time");
    let slack = 150;
    assert!(
        killed_ms <= crossed_ms + 2 * INTERVAL.as_millis() as u64 + slack,
        "killed {} ms after crossing the limit",
        killed_ms.saturating_sub(crossed_ms)
    );
}

/// Starts `vmemhog 300` (300 MiB reserved, barely any resident) in a 100 MB container.
async fn vmem_case(checks: Checks, ratio: f64, n: u64) -> (tempfile::TempDir, Arc<Nm>, DropGuard, ContainerId) {
    let dir = tempfile::tempdir().unwrap();
    let (nm, guard) = nm_monitored(dir.path(), enforcement(None, checks, ratio));
    let s = container(n, &[&example("vmemhog"), "300"], 100, 1);
    nm.start(s.clone()).unwrap();
    (dir, nm, guard, s.id)
}

/// Waits until the monitor has seen the reservation, then three more passes; the container is then
/// still running.
async fn survives(nm: &Nm, id: ContainerId) -> Container {
    let seen_at = wait_for("the monitor to see 300 MiB of virtual memory", || {
        let c = nm.read(|core| core.container(&id).cloned())?;
        (c.usage.vmem_bytes >= 300 * MB).then(|| nm.monitor_passes())
    })
    .await;
    wait_for("three more monitor passes", || (nm.monitor_passes() >= seen_at + 3).then_some(())).await;
    nm.read(|core| core.container(&id).cloned()).expect("the container")
}

#[tokio::test]
async fn virtual_memory_past_pmem_times_the_ratio_is_killed_103() {
    let (_dir, nm, _guard, id) = vmem_case(Checks { pmem: true, vmem: true }, 2.1, 31).await;
    let c = done(&nm, id).await;
    assert_eq!((c.exit_status, c.kill), (-103, Some(KillReason::VirtualMemory)), "{}", c.diagnostics());
    let d = c.diagnostics();
    assert!(d.contains("B beyond the 'VIRTUAL' memory limit. Current usage: "), "{d}");
    let usage = spark_usage(&d, "virtual").unwrap_or_else(|| panic!("no usage in:\n{d}"));
    assert!(usage.ends_with(" of 210 MB"), "{usage}");
    assert!(spark_usage(&d, "physical").is_some_and(|u| u.ends_with(" of 100 MB")), "{d}");
}

#[tokio::test]
async fn virtual_memory_survives_with_the_check_off() {
    let (_dir, nm, _guard, id) = vmem_case(Checks { pmem: true, vmem: false }, 2.1, 32).await;
    let c = survives(&nm, id).await;
    assert_eq!((c.state, c.kill), (ContainerState::RUNNING, None));
    stop_all(&nm).await;
}

#[tokio::test]
async fn virtual_memory_survives_with_a_higher_ratio() {
    let (_dir, nm, _guard, id) = vmem_case(Checks { pmem: true, vmem: true }, 4.0, 33).await;
    let c = survives(&nm, id).await;
    assert_eq!((c.state, c.kill, c.limits.vmem_bytes), (ContainerState::RUNNING, None, 400 * MB));
    stop_all(&nm).await;
}

#[tokio::test]
async fn with_the_pmem_check_off_the_cgroup_limit_holds_and_the_oom_kill_is_104() {
    let cgroups = TestCgroups::new(false);
    let dir = tempfile::tempdir().unwrap();
    let checks = Checks { pmem: false, vmem: false };
    let (nm, _monitor) = nm_monitored(dir.path(), enforcement(Some(&cgroups), checks, 2.1));
    let s = container(41, &[&example("memhog"), "300", "300"], 64, 1);
    nm.start(s.clone()).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!((c.exit_status, c.kill), (-104, Some(KillReason::KernelOom)), "not 137:\n{}", c.diagnostics());
    let d = c.diagnostics();
    assert!(d.contains("B beyond the 'PHYSICAL' memory limit. Current usage: "), "{d}");
    let usage = spark_usage(&d, "physical").unwrap_or_else(|| panic!("no usage in:\n{d}"));
    assert!(usage.ends_with(" of 64 MB"), "{usage}");
    assert!(d.contains("The kernel's OOM killer killed "), "{d}");
    let log = read(nm.layout.log_dir(s.id).join("stdout"));
    let touched: u64 = log.lines().last().and_then(|l| l.split_once(' ')?.1.parse().ok()).unwrap_or(0);
    assert!((40..=70).contains(&touched), "the hog was stopped at the 64 MB limit, not at {touched} MiB");
    assert!(!cgroups.cgroups.container(&s.id).path().exists(), "the container's cgroup is removed");
}

#[tokio::test]
async fn a_container_joins_its_cgroup_before_it_runs_and_gets_its_limits() {
    let cgroups = TestCgroups::new(true);
    let dir = tempfile::tempdir().unwrap();
    let (nm, _monitor) = nm_monitored(dir.path(), enforcement(Some(&cgroups), Checks { pmem: true, vmem: true }, 2.1));
    let s = container(51, &["sh", "-c", "cat /proc/self/cgroup > <LOG_DIR>/cgroup; sleep 600"], 256, 2);
    nm.start(s.clone()).unwrap();
    running_pid(&nm, s.id).await;
    let cg = cgroups.cgroups.container(&s.id);
    let own =
        wait_for("the cgroup file", || Some(read(nm.layout.log_dir(s.id).join("cgroup"))).filter(|t| !t.is_empty()))
            .await;
    let path = format!("/{}/{}", cgroups.cgroups.hierarchy(), s.id);
    for controller in ["memory", "cpu"] {
        assert!(
            own.lines()
                .any(|l| l.split(':').nth(1).is_some_and(|c| c.split(',').any(|x| x == controller))
                    && l.ends_with(&path)),
            "its first command already ran in {path} for {controller}:\n{own}"
        );
    }
    // The kernel shows exactly what the limits say (v1 here; v2's files are checked in `files`).
    assert_eq!(cgroups.cgroups.version(), Version::V1, "this machine runs cgroup v1");
    let limits =
        cgroups::ContainerLimits::new(Version::V1, 256, 2, CpuPolicy { strict: true, cpus: 2, limit_percent: 100 });
    for (controller, file, value) in limits.files(Version::V1) {
        let dir = cgroups::mount_points().into_iter().find(|m| m.ends_with(controller)).expect("controller mount");
        let shown = read(dir.join(cgroups.cgroups.hierarchy()).join(s.id.to_string()).join(file));
        assert_eq!(shown.trim(), value, "{controller}/{file}");
    }
    assert!(cg.pids().len() >= 2, "sh and sleep are in the group: {:?}", cg.pids());
    stop_all(&nm).await;
    for controller in cgroups::mount_points() {
        let dir = controller.join(cgroups.cgroups.hierarchy()).join(s.id.to_string());
        assert!(!dir.exists(), "{} is removed", dir.display());
    }
}

/// CPU time the container's cgroup has used, in ns.
fn cpu_ns(cgroups: &TestCgroups, id: &ContainerId) -> u64 {
    cgroups.cgroups.container(id).cpu_usage_ns().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_busy_containers_share_one_cpu_by_their_vcores() {
    let cgroups = TestCgroups::new(false);
    let dir = tempfile::tempdir().unwrap();
    let (nm, _monitor) = nm_monitored(dir.path(), enforcement(Some(&cgroups), Checks { pmem: true, vmem: false }, 2.1));
    let spin = example("spin");
    let one = container(61, &[&spin, "2", "0"], 128, 1);
    let three = container(62, &[&spin, "2", "0"], 128, 3);
    nm.start(one.clone()).unwrap();
    nm.start(three.clone()).unwrap();
    running_pid(&nm, one.id).await;
    running_pid(&nm, three.id).await;
    let started = wait_for("both to burn CPU", || {
        let (a, b) = (cpu_ns(&cgroups, &one.id), cpu_ns(&cgroups, &three.id));
        (a > 50_000_000 && b > 50_000_000).then_some((a, b))
    })
    .await;
    let (a, b) = wait_for("3 s of CPU between them", || {
        let (a, b) = (cpu_ns(&cgroups, &one.id) - started.0, cpu_ns(&cgroups, &three.id) - started.1);
        (a + b >= 3_000_000_000).then_some((a, b))
    })
    .await;
    let ratio = b as f64 / a as f64;
    assert!((2.4..=3.6).contains(&ratio), "3 vcores got {ratio:.2}× the CPU of 1 vcore ({b} ns vs {a} ns)");
    stop_all(&nm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_keeps_a_one_vcore_container_near_one_core() {
    let cgroups = TestCgroups::new(true);
    let dir = tempfile::tempdir().unwrap();
    let (nm, _monitor) = nm_monitored(dir.path(), enforcement(Some(&cgroups), Checks { pmem: true, vmem: false }, 2.1));
    let s = container(71, &[&example("spin"), "3"], 128, 1);
    nm.start(s.clone()).unwrap();
    running_pid(&nm, s.id).await;
    let start_ns = wait_for("the spinner to burn CPU", || Some(cpu_ns(&cgroups, &s.id)).filter(|&n| n > 0)).await;
    let start = tokio::time::Instant::now();
    let (used, elapsed) = wait_for("a 2 s window", || {
        let elapsed = start.elapsed();
        (elapsed >= Duration::from_secs(2)).then(|| (cpu_ns(&cgroups, &s.id) - start_ns, elapsed))
    })
    .await;
    let cores = used as f64 / elapsed.as_nanos() as f64;
    assert!((0.3..=1.15).contains(&cores), "three spinning threads got {cores:.2} cores under a 1-vcore quota");
    stop_all(&nm).await;
}

#[tokio::test]
async fn a_tree_with_grandchildren_is_measured_whole_and_killed_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Seven processes of 15 MiB each: none is over 100 MB alone, the tree is.
    let (nm, _monitor) = nm_monitored(dir.path(), enforcement(None, Checks { pmem: true, vmem: false }, 2.1));
    let s = container(81, &[&example("forktree"), "2", "2", "15"], 100, 1);
    nm.start(s.clone()).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!((c.exit_status, c.kill), (-104, Some(KillReason::PhysicalMemory)), "{}", c.diagnostics());
    let d = c.diagnostics();
    let lines: Vec<&str> = d.lines().filter(|l| l.starts_with("\t|- ") && !l.starts_with("\t|- PID ")).collect();
    assert_eq!(lines.len(), 7, "the dump lists the root, 2 children and 4 grandchildren:\n{d}");
    let pids: Vec<i32> = lines.iter().filter_map(|l| l[4..].split(' ').next()?.parse().ok()).collect();
    assert_eq!(pids_alive(&pids), Vec::<i32>::new(), "every process of the tree is gone");
    assert!(c.peak.pmem_bytes >= 100 * MB, "measured whole: {:?}", c.peak);
}

#[tokio::test]
async fn a_process_that_left_the_tree_is_killed_through_the_cgroup() {
    let cgroups = TestCgroups::new(false);
    let dir = tempfile::tempdir().unwrap();
    let (nm, _monitor) = nm_monitored(dir.path(), enforcement(Some(&cgroups), Checks { pmem: true, vmem: true }, 2.1));
    // The inner shell starts a daemon-like sleep in its own session and exits: the sleep is
    // reparented out of the tree and out of the process group.
    let s = container(91, &["sh", "-c", "setsid sh -c 'sleep 600 & echo $! > <LOG_DIR>/escaped'; sleep 600"], 128, 1);
    nm.start(s.clone()).unwrap();
    let root = running_pid(&nm, s.id).await;
    let escaped: i32 =
        wait_for("the escaped pid", || read(nm.layout.log_dir(s.id).join("escaped")).trim().parse().ok()).await;
    let in_tree = tree::descendants(&tree::snapshot(), root as i32).iter().any(|e| e.pid == escaped);
    assert!(!in_tree, "the sleep left the tree");
    assert!(cgroups.cgroups.container(&s.id).pids().contains(&escaped), "but not the cgroup");
    nm.stop(s.id, KillReason::ByAppMaster).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!(c.exit_status, -105);
    assert_eq!(pids_alive(&[escaped]), Vec::<i32>::new(), "the escaped process is gone");
    assert!(!cgroups.cgroups.container(&s.id).path().exists(), "the container's cgroup is removed");
}

#[tokio::test]
async fn usage_and_limits_reach_the_status_and_stale_cgroups_are_emptied_and_removed_at_start_up() {
    let cgroups = TestCgroups::new(false);
    // A child left by an earlier run, in a controller the NodeManager does not use.
    let stale = cgroups::mount_points()
        .into_iter()
        .find(|m| m.ends_with("pids"))
        .map(|m| m.join(cgroups.cgroups.hierarchy()).join("container_1_0001_01_000001"));
    if let Some(stale) = &stale {
        std::fs::create_dir_all(stale).unwrap();
    }
    // And a container of a NodeManager that died without stopping it, still in its memory group.
    let orphan_group = cgroups.cgroups.container(&crate::testing::container_id(99));
    std::fs::create_dir_all(orphan_group.path()).unwrap();
    let mut orphan = std::process::Command::new("sleep").arg("600").spawn().unwrap();
    std::fs::write(orphan_group.path().join("cgroup.procs"), orphan.id().to_string()).unwrap();
    assert_eq!(orphan_group.pids(), [orphan.id() as i32]);
    let setup = Setup {
        enabled: true,
        hierarchy: cgroups.cgroups.hierarchy().to_owned(),
        cpu: CpuPolicy { strict: false, cpus: 2, limit_percent: 100 },
        max_pids: 8192,
        keep: Default::default(),
    };
    Cgroups::set_up(&setup).expect("set up again");
    if let Some(stale) = &stale {
        assert!(!stale.exists(), "{} is removed at start-up", stale.display());
    }
    let status = orphan.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "the orphan was killed");
    assert!(!orphan_group.path().exists(), "and its group removed");
    let dir = tempfile::tempdir().unwrap();
    let (nm, _monitor) = nm_monitored(dir.path(), enforcement(Some(&cgroups), Checks { pmem: true, vmem: true }, 2.1));
    let s = container(95, &[&example("memhog"), "20", "200"], 128, 1);
    nm.start(s.clone()).unwrap();
    let c = wait_for("20 MiB measured", || {
        nm.read(|core| core.container(&s.id).cloned()).filter(|c| c.usage.pmem_bytes >= 20 * MB)
    })
    .await;
    assert_eq!((c.limits.pmem_bytes, c.limits.vmem_bytes), (128 * MB, (128.0 * MB as f64 * 2.1) as u64));
    let status = nm.read(|core| core.status(&s.id)).unwrap();
    assert!(status.peak.pmem_bytes >= 20 * MB && status.peak.vmem_bytes >= status.peak.pmem_bytes, "{status:?}");
    assert_eq!(status.enforced, c.limits);
    stop_all(&nm).await;
}
