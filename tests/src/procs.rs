//! Looks at `/proc` for the processes of containers: by the `CONTAINER_ID` the NodeManager put in
//! their environment, and by their `PWD` under one test cluster's directory, so that two clusters that
//! started in the same millisecond (and so issue the same ids) never see each other's processes.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Pids of live (non-zombie) processes whose `CONTAINER_ID` starts with `prefix` and whose
/// container working directory (`PWD`) lies under `root`.
pub fn container_pids(root: &Path, prefix: &str) -> Vec<i32> {
    let Ok(all) = procfs::process::all_processes() else { return Vec::new() };
    all.filter_map(Result::ok)
        .filter(|p| p.stat().map(|s| s.state != 'Z').unwrap_or(false))
        .filter(|p| {
            let Ok(env) = p.environ() else { return false };
            let var = |name: &str| env.get(std::ffi::OsStr::new(name)).map(|v| v.to_string_lossy().into_owned());
            var("CONTAINER_ID").is_some_and(|id| id.starts_with(prefix))
                && var("PWD").is_some_and(|pwd| Path::new(&pwd).starts_with(root))
        })
        .map(|p| p.pid)
        .collect()
}

/// The `container_<ts>_<seq>_` prefix shared by every container of an application.
pub fn app_container_prefix(app_id: &str) -> String {
    format!("{}_", app_id.replacen("application_", "container_", 1))
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    procfs::process::Process::new(pid).and_then(|p| p.stat()).map(|s| s.state != 'Z').unwrap_or(false)
}

/// SIGKILLs processes this test started (orphans left by a killed NodeManager).
pub fn kill_pids(pids: &[i32]) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Waits until none of `pids` is alive.
pub fn wait_gone(pids: &[i32], timeout: Duration) {
    crate::wait_for(&format!("processes {pids:?} to exit"), timeout, || pids.iter().all(|&p| !alive(p)).then_some(()));
}
