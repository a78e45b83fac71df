//! The end-to-end harness: a real ResourceManager and NodeManagers as processes on 127.0.0.1, each
//! port bound at 0 and read back, plus helpers to run `weft`, read REST and inspect `/proc`.
//!
//! Daemon binaries come from the same target directory as the running test (`cargo test
//! --workspace` builds them); a missing binary fails the test with a message saying so.

pub mod cgroups;
pub mod cluster;
pub mod procs;

pub use cluster::{Cluster, ClusterOptions, WeftOutput};

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `target/<profile>/<name>`, next to the running test executable's `deps/` directory.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("tests run from target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "binary {} is missing: run the tests with `cargo test --workspace` so the daemons are built",
        path.display()
    );
    path
}

/// A Spark example program, `target/<profile>/examples/<name>`, as an argument of `weft submit`.
pub fn example(name: &str) -> String {
    binary(&format!("examples/{name}")).to_string_lossy().into_owned()
}

/// The application id a `weft` command printed (`application_<cluster timestamp>_<sequence>`).
pub fn printed_app_id(text: &str) -> String {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.starts_with("application_") && w.parse::<weft_proto::ApplicationId>().is_ok())
        .unwrap_or_else(|| panic!("no application id in output:\n{text}"))
        .to_owned()
}

/// Fails the test (never skips it) unless it runs as root with the cgroup memory controller.
pub fn require_cgroups() {
    let memory = std::path::Path::new("/sys/fs/cgroup/memory");
    assert!(
        nix::unistd::geteuid().is_root() && memory.is_dir(),
        "these tests need root and the cgroup memory controller at {} (uid {}): run them as root on a \
         machine with cgroups; they are not skipped",
        memory.display(),
        nix::unistd::geteuid()
    );
}

/// Polls `condition` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut condition: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
