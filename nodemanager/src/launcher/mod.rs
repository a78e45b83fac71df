//! Starts a container's process: its directories, `stdout`/`stderr` files, YARN's environment, its
//! own session and process group; and stops process trees (`stop`).

mod env;
pub(crate) mod identity;
mod stop;
pub(crate) mod tree;

pub(crate) use env::NodeEnv;
pub(crate) use stop::{stop_cgroup, stop_tree, sweep_group, Stopped};

use std::ffi::CString;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::process::{Child, Command};

use crate::container::{LaunchSpec, STDERR_TAIL_BYTES};
use crate::dirs::Layout;
use crate::run_as::Account;

/// The token file of a container launched from a Hadoop launch context, in its working directory
/// (`HADOOP_TOKEN_FILE_LOCATION`), as YARN names it.
pub(crate) const TOKEN_FILE: &str = "container_tokens";

/// With recovery on, the launch wrapper writes the exit code of the container's command here, in
/// its working directory (renamed into place from `.exitcode.tmp`).
pub(crate) const EXIT_CODE_FILE: &str = ".exitcode";

/// Exit code of a process that could not be started, as a shell reports it.
pub(crate) const SPAWN_FAILED: i32 = 127;

/// A process that did not start.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct LaunchError {
    pub(crate) exit_code: i32,
    pub(crate) message: String,
}

fn io_failure(action: &str, path: &Path, error: std::io::Error) -> LaunchError {
    LaunchError { exit_code: -1, message: format!("cannot {action} {}: {error}", path.display()) }
}

fn create_file(path: &Path) -> Result<std::fs::File, LaunchError> {
    std::fs::File::create(path).map_err(|e| io_failure("create", path, e))
}

fn create_dir(path: &Path) -> Result<(), LaunchError> {
    std::fs::create_dir_all(path).map_err(|e| io_failure("create directory", path, e))
}

/// Starts the container's process in its working directory, in a new session; with `cgroup`
/// (the `cgroup.procs` files of its groups) it joins them before its first instruction; with
/// `account` its directories become that user's and the process runs as that user. With
/// `exit_code_file` (recovery on) the command runs under the recording wrapper (`env`), which
/// leaves its exit code in that file for a NodeManager that is not its parent.
pub(crate) fn launch(
    spec: &LaunchSpec,
    node: &NodeEnv,
    layout: &Layout,
    cgroup: Option<Vec<CString>>,
    account: Option<&Account>,
    exit_code_file: Option<&Path>,
) -> Result<Child, LaunchError> {
    let work_dir = layout.work_dir(&spec.user, spec.id);
    let tmp_dir = work_dir.join("tmp");
    let log_dir = layout.log_dir(spec.id);
    let app_local_dirs = layout.app_local_dirs(&spec.user, spec.id.application());
    for dir in app_local_dirs.iter().chain([&work_dir, &log_dir]) {
        create_dir(dir)?;
    }
    identity::check_real_dir(&work_dir)?;
    create_dir(&tmp_dir)?;
    let stdout = create_file(&log_dir.join("stdout"))?;
    let stderr = create_file(&log_dir.join("stderr"))?;
    if let Some(account) = account {
        let passages = layout.passages(&spec.user, spec.id);
        let passages: Vec<&Path> = passages.iter().map(PathBuf::as_path).collect();
        let mut dirs: Vec<&Path> = app_local_dirs.iter().map(PathBuf::as_path).collect();
        dirs.extend([work_dir.as_path(), tmp_dir.as_path(), log_dir.as_path()]);
        let (out, err, tokens) = (log_dir.join("stdout"), log_dir.join("stderr"), work_dir.join(TOKEN_FILE));
        identity::hand_over_all(account, &passages, &dirs, &[&out, &err, &tokens])?;
    }
    let switch = account.map(identity::Switch::new);
    let dirs = env::ContainerDirs { work_dir: &work_dir, log_dir: &log_dir, app_local_dirs: &app_local_dirs };
    let argv = env::argv(spec, &log_dir);
    let environment = env::environment(spec, node, dirs);
    let argv = match exit_code_file {
        None => argv,
        Some(file) => {
            let cannot_run = |error: std::io::Error| LaunchError {
                exit_code: SPAWN_FAILED,
                message: format!(
                    "Cannot run program \"{}\" (in directory \"{}\"): {error}",
                    argv[0],
                    work_dir.display()
                ),
            };
            let path = environment.get("PATH").map(String::as_str);
            env::find_program(&argv[0], path, &work_dir, is_executable).map_err(cannot_run)?;
            match std::fs::remove_file(file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_failure("remove", file, e)),
                _ => {}
            }
            env::recording_argv(argv, file, mv_program())
        }
    };
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env_clear()
        .envs(environment)
        .current_dir(&work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .kill_on_drop(false);
    let procs_files = cgroup.unwrap_or_default();
    // SAFETY: the hook only makes async-signal-safe calls (open/write/close on paths prepared
    // before the fork, setsid, the identity switch's system calls) and allocates nothing. It joins
    // the cgroup while still root, and only then becomes the container's user.
    unsafe {
        command.pre_exec(move || {
            crate::cgroups::join_in_child(&procs_files)?;
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            match &switch {
                Some(switch) => switch.apply(),
                None => Ok(()),
            }
        });
    }
    command.spawn().map_err(|error| LaunchError {
        exit_code: SPAWN_FAILED,
        message: format!("Cannot run program \"{}\" (in directory \"{}\"): {error}", argv[0], work_dir.display()),
    })
}

/// Whether exec could run `path`: a file (not a directory) the NodeManager may execute.
fn is_executable(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::Error::from_raw_os_error(libc::EACCES));
    }
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).map_err(std::io::Error::from)
}

/// The `mv` the launch wrapper renames the exit-code file with (found once; `mv` on the
/// container's PATH when none of the usual places has it).
fn mv_program() -> &'static str {
    static MV: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    MV.get_or_init(|| ["/bin/mv", "/usr/bin/mv"].into_iter().find(|p| Path::new(p).is_file()).unwrap_or("mv"))
}

/// The last `STDERR_TAIL_BYTES` of the container's `stderr`, as text ("" when unreadable, or when
/// the container replaced it with a link: see `logfile`).
pub(crate) async fn stderr_tail(layout: &Layout, spec: &LaunchSpec) -> String {
    let (layout, id) = (layout.clone(), spec.id);
    let opened = tokio::task::spawn_blocking(move || crate::logfile::open(&layout, id, "stderr")).await;
    let Ok(Ok(file)) = opened else { return String::new() };
    let mut file = tokio::fs::File::from_std(file);
    let length = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let start = length.saturating_sub(STDERR_TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).await.is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = file.take(STDERR_TAIL_BYTES).read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}
