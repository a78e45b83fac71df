//! The `nodemanager` binary: a bad configuration exits 64 with one line before binding, and
//! `--ports-file` gets the bound addresses; SIGTERM ends it with status 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const BINARY: &str = env!("CARGO_BIN_EXE_nodemanager");

/// Polls `condition` every 20 ms until it holds, or panics after 20 s.
#[allow(clippy::disallowed_methods)] // a blocking test keeps its own deadline
fn wait_for<T>(what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A NodeManager configuration in `dir` on loopback ports, with an unreachable ResourceManager.
fn write_config(dir: &std::path::Path, hierarchy: &str) -> std::path::PathBuf {
    let config = dir.join("nm.yaml");
    std::fs::write(
        &config,
        format!(
            "yarn.resourcemanager.resource-tracker.address: 127.0.0.1:1\n\
             yarn.nodemanager.address: 127.0.0.1:0\n\
             yarn.nodemanager.webapp.address: 127.0.0.1:0\n\
             yarn.nodemanager.resource.memory-mb: 2048\n\
             yarn.nodemanager.resource.cpu-vcores: 2\n\
             yarn.nodemanager.linux-container-executor.cgroups.hierarchy: {hierarchy}\n\
             hadoop.tmp.dir: {}\n",
            dir.display()
        ),
    )
    .unwrap();
    config
}

/// Collects what `stream` prints, line by line, in a thread of its own.
fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

#[test]
fn a_bad_config_exits_64_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nm.yaml");
    std::fs::write(&config, "yarn.nodemanager.resource.memory_mb: 4096\n").unwrap();
    let ports = dir.path().join("ports.json");
    let output = Command::new(BINARY).arg("--config").arg(&config).arg("--ports-file").arg(&ports).output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("key yarn.nodemanager.resource.memory_mb: unknown key"), "{stderr}");
    assert!(stderr.contains("did you mean yarn.nodemanager.resource.memory-mb?"), "{stderr}");
    assert!(!ports.exists(), "nothing was bound");
}

#[test]
fn a_reserve_larger_than_memory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nm.yaml");
    std::fs::write(&config, "yarn.nodemanager.resource.system-reserved-memory-mb: 1t\n").unwrap();
    let output = Command::new(BINARY).arg("--config").arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("system-reserved-memory-mb"), "{stderr}");
}

#[test]
fn the_ports_file_names_both_addresses_and_sigterm_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let hierarchy = format!("weft-test-{}-binary", std::process::id());
    let config = write_config(dir.path(), &hierarchy);
    let ports = dir.path().join("ports.json");
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(&config)
        .arg("--ports-file")
        .arg(&ports)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addresses: serde_json::Value =
        wait_for("the ports file", || std::fs::read(&ports).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()));
    let log = collect(child.stderr.take().unwrap());
    wait_for("the unreachable ResourceManager to be logged", || {
        log.lock().unwrap().contains("registration failed; retrying").then_some(())
    });
    let rpc = addresses["rpc"].as_str().unwrap();
    let http = addresses["http"].as_str().unwrap();
    assert!(rpc.starts_with("127.0.0.1:") && http.starts_with("127.0.0.1:"), "{addresses}");
    assert!(std::net::TcpStream::connect(http).is_ok(), "the web port is bound");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_for("the NodeManager to exit", || child.try_wait().unwrap());
    wait_for("the log to end", || log.lock().unwrap().contains("NodeManager stopped").then_some(()));
    let log = log.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains(" ERROR "), "{log}");
    assert!(log.contains("containers are held in cgroups"), "{log}");
    assert!(log.contains("container monitor started"), "{log}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut left = Vec::new();
    for point in mounts.lines().filter(|l| l.contains(" - cgroup")).filter_map(|l| l.split(' ').nth(4)) {
        let dir = std::path::Path::new(point).join(&hierarchy);
        let _ = std::fs::remove_dir(&dir);
        if dir.exists() {
            left.push(dir);
        }
    }
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
}

/// A NodeManager's stderr closed under it (`nodemanager … 2>&1 | head -1`) used to panic it on the
/// next log line ("failed printing to stderr"); it must keep running, stop on SIGTERM with status 0,
/// and free its ports. Its log, when not a terminal, has no colour codes.
#[test]
fn a_closed_stderr_does_not_stop_the_daemon_and_sigterm_still_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let hierarchy = format!("weft-test-{}-closed-stderr", std::process::id());
    let config = write_config(dir.path(), &hierarchy);
    let ports = dir.path().join("ports.json");
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(&config)
        .arg("--ports-file")
        .arg(&ports)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addresses: serde_json::Value =
        wait_for("the ports file", || std::fs::read(&ports).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()));
    // Read the first line, as `head -1` does, check it has no colour codes, then close the pipe.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(!first.contains('\u{1b}'), "no ANSI codes in a log that is not a terminal: {first:?}");
    drop(stderr);
    // It goes on logging (registration retries against a closed port) into the closed pipe.
    let http = addresses["http"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        assert!(child.try_wait().unwrap().is_none(), "the NodeManager died with its stderr closed");
        assert!(std::net::TcpStream::connect(&http).is_ok(), "the web port still answers");
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_for("the NodeManager to exit after SIGTERM", || child.try_wait().unwrap());
    assert_eq!(status.code(), Some(0));
    assert!(std::net::TcpStream::connect(&http).is_err(), "its ports are free");
    for point in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" - cgroup"))
        .filter_map(|l| l.split(' ').nth(4))
    {
        let _ = std::fs::remove_dir(std::path::Path::new(point).join(&hierarchy));
    }
}

#[test]
fn memory_beyond_the_machine_is_refused_with_the_detected_figure() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nm.yaml");
    std::fs::write(&config, "yarn.nodemanager.resource.memory-mb: 99999999g\n").unwrap();
    let output = Command::new(BINARY).arg("--config").arg(&config).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("yarn.nodemanager.resource.memory-mb: 102399998976 MB is more than this node's"),
        "{stderr}"
    );
    assert!(stderr.contains("MB of physical memory"), "{stderr}");
}

#[test]
fn a_minimum_allocation_above_the_maximum_stops_the_nodemanager_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nm.yaml");
    std::fs::write(&config, "yarn.scheduler.minimum-allocation-mb: 16g\nyarn.scheduler.maximum-allocation-mb: 8g\n")
        .unwrap();
    let output = Command::new(BINARY).arg("--config").arg(&config).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("yarn.scheduler.minimum-allocation-mb: value 16384 is above"), "{stderr}");
}
