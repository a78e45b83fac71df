//! The end-to-end harness: a real ResourceManager and NodeManagers as processes on 127.0.0.1, each
//! port bound at 0 and read back, plus helpers to run `weft`, read REST and inspect `/proc`; and a
//! multi-host test bed (`netns`, `multihost`) that puts each daemon on its own host, a network
//! namespace with its own address and host name.
//!
//! Daemon binaries come from the same target directory as the running test (`cargo test
//! --workspace` builds them); a missing binary fails the test with a message saying so.

pub mod browser;
pub mod cgroups;
pub mod cluster;
pub mod multihost;
pub mod netns;
pub mod procs;
pub mod spark_dist;
pub mod wordcount;

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

/// A temp dir the test's applications read and write: containers run as another user (`nobody`,
/// the NodeManager's default when it runs as root), so it is open to every user, as a job's
/// input and output directories on a cluster must be to the users its containers run as.
pub fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("weft-data-").tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod data dir");
    dir
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
    if let Err(missing) = cgroup_memory_controller(std::path::Path::new("/sys/fs/cgroup")) {
        panic!("these tests need root and the cgroup memory controller (v1 or v2): {missing}; they are not skipped");
    }
    let uid = nix::unistd::geteuid();
    assert!(uid.is_root(), "these tests need root to manage cgroups (running as uid {uid}); they are not skipped");
}

/// Where the memory controller is under a cgroup root: the v1 controller directory, or a v2
/// (unified) hierarchy that lists `memory` among its controllers. The error says what was looked for.
pub fn cgroup_memory_controller(root: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let v1 = root.join("memory");
    if v1.join("memory.limit_in_bytes").is_file() {
        return Ok(v1);
    }
    let controllers = root.join("cgroup.controllers");
    match std::fs::read_to_string(&controllers) {
        Ok(list) if list.split_whitespace().any(|c| c == "memory") => Ok(root.to_owned()),
        Ok(list) => Err(format!(
            "no v1 memory controller at {} and the v2 hierarchy at {} offers only [{}]",
            v1.display(),
            root.display(),
            list.trim()
        )),
        Err(_) => Err(format!(
            "no v1 memory controller at {} and no v2 hierarchy ({} is missing)",
            v1.display(),
            controllers.display()
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::cgroup_memory_controller;

    #[test]
    fn the_memory_controller_is_found_in_v1_and_in_v2_and_its_absence_is_named() {
        let v1 = tempfile::tempdir().unwrap();
        std::fs::create_dir(v1.path().join("memory")).unwrap();
        std::fs::write(v1.path().join("memory/memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        assert_eq!(cgroup_memory_controller(v1.path()), Ok(v1.path().join("memory")));

        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
        assert_eq!(cgroup_memory_controller(v2.path()), Ok(v2.path().to_owned()));

        std::fs::write(v2.path().join("cgroup.controllers"), "hugetlb\n").unwrap();
        let err = cgroup_memory_controller(v2.path()).unwrap_err();
        assert!(err.contains("offers only [hugetlb]"), "{err}");
        let none = tempfile::tempdir().unwrap();
        let err = cgroup_memory_controller(none.path()).unwrap_err();
        assert!(err.contains("no v2 hierarchy"), "{err}");
    }
}
