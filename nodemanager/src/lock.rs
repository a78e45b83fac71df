//! One NodeManager per cgroup hierarchy and per local or log directory. A second NodeManager given
//! the same hierarchy would take the first one's containers for stale groups and kill them, and two
//! sharing a directory would clean each other's files; so each takes an exclusive `flock` on a lock
//! file per resource before touching any of them, writes its pid there, and refuses to start —
//! naming the holder — when one is taken. The kernel drops the locks when the process ends, however
//! it ends.
//!
//! Lock files: `<dir>/.nodemanager.lock` in each local and log directory, and
//! `<runtime dir>/cgroups-<hierarchy>.lock` for the hierarchy (the runtime directory is `/run/weft`,
//! shared by every NodeManager of the host).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Where hierarchy locks live: every NodeManager on a host must agree on it.
pub(crate) const RUNTIME_DIR: &str = "/run/weft";

/// Held locks; dropping them (or exiting) releases them.
#[derive(Debug)]
pub(crate) struct Locks {
    _held: Vec<Flock<File>>,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error(
        "{what} is in use by another NodeManager{holder} (lock {path}): give each NodeManager its own \
         hierarchy and directories"
    )]
    Held { what: String, path: PathBuf, holder: String },
    #[error("cannot lock {what} ({path}): {source}")]
    Io { what: String, path: PathBuf, source: std::io::Error },
}

/// The lock file of a cgroup hierarchy, under `runtime_dir`.
pub(crate) fn hierarchy_lock_path(runtime_dir: &Path, hierarchy: &str) -> PathBuf {
    let name: String = hierarchy
        .trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    runtime_dir.join(format!("cgroups-{name}.lock"))
}

/// The lock file of a local or log directory.
pub(crate) fn dir_lock_path(dir: &Path) -> PathBuf {
    dir.join(".nodemanager.lock")
}

/// Takes every lock in order, creating the lock files (and their directories); all or nothing.
pub(crate) fn take(wanted: &[(String, PathBuf)]) -> Result<Locks, LockError> {
    let mut held = Vec::with_capacity(wanted.len());
    for (what, path) in wanted {
        held.push(take_one(what, path)?);
    }
    Ok(Locks { _held: held })
}

fn take_one(what: &str, path: &Path) -> Result<Flock<File>, LockError> {
    let io = |source| LockError::Io { what: what.to_owned(), path: path.to_owned(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = File::options().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let holder = match pid.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            return Err(LockError::Held { what: what.to_owned(), path: path.to_owned(), holder });
        }
        Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
    };
    let file: &mut File = &mut lock;
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holders_pid_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = vec![("local dir /x".to_owned(), dir_lock_path(dir.path()))];
        let first = take(&wanted).unwrap();
        assert_eq!(std::fs::read_to_string(dir_lock_path(dir.path())).unwrap(), std::process::id().to_string());
        let err = take(&wanted).unwrap_err().to_string();
        assert!(err.contains("local dir /x is in use by another NodeManager"), "{err}");
        assert!(err.contains(&format!("(pid {})", std::process::id())), "{err}");
        drop(first);
        take(&wanted).expect("free again once the holder is gone");
    }

    #[test]
    fn hierarchy_lock_files_are_one_flat_name_per_hierarchy() {
        let run = Path::new("/run/weft");
        assert_eq!(hierarchy_lock_path(run, "/weft/nm-1"), run.join("cgroups-weft_nm-1.lock"));
        assert_ne!(hierarchy_lock_path(run, "a/b"), hierarchy_lock_path(run, "a-b"));
    }
}
