//! A container's process as another user: its directories handed over with YARN's modes before it
//! starts, and the switch of identity in the child after it has joined its cgroup (which only root
//! may write): supplementary groups, gid, uid, then `no_new_privs`. Leaving uid 0 for a non-zero
//! uid clears every capability, so the container keeps none.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{io_failure, LaunchError};
use crate::run_as::Account;

/// A container's own directories (working directory, its `tmp`, the application's local dirs, its
/// log directory): owned by the container's user, traversable by the NodeManager's group only.
const OWN_DIR_MODE: u32 = 0o710;
/// Directories on the way to them, owned by root: every container user may pass through.
const PASSAGE_MODE: u32 = 0o755;

/// Refuses a path that is a symlink or not a directory: a container owns the directory its
/// siblings' working directories are made in, and may have put a link there.
pub(crate) fn check_real_dir(path: &Path) -> Result<(), LaunchError> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_dir() => Ok(()),
        Ok(_) => Err(LaunchError {
            exit_code: -1,
            message: format!("{} is not a directory made by the NodeManager (a link or a file)", path.display()),
        }),
        Err(error) => Err(io_failure("inspect", path, error)),
    }
}

fn hand_over(path: &Path, account: &Account, mode: u32) -> Result<(), LaunchError> {
    std::os::unix::fs::lchown(path, Some(account.uid), Some(account.gid))
        .map_err(|e| io_failure("give the container's user", path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_failure("set the mode of", path, e))
}

/// Gives the container's directories and files to its user; `passages` are the root-owned
/// directories above them, opened to every user.
pub(crate) fn hand_over_all(
    account: &Account,
    passages: &[&Path],
    dirs: &[&Path],
    files: &[&Path],
) -> Result<(), LaunchError> {
    for passage in passages {
        std::fs::set_permissions(passage, std::fs::Permissions::from_mode(PASSAGE_MODE))
            .map_err(|e| io_failure("set the mode of", passage, e))?;
    }
    for dir in dirs {
        check_real_dir(dir)?;
        hand_over(dir, account, OWN_DIR_MODE)?;
    }
    for file in files {
        let is_file = std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_file());
        if is_file {
            hand_over(file, account, 0o600)?;
        }
    }
    Ok(())
}

/// Opens `path` for reading with the file-system identity of `account` (uid, gid and groups), so
/// the kernel checks every directory on the way and the file itself as it would for the container's
/// own process: what the user may not read, the NodeManager does not read for it. Done in a thread
/// of its own, which alone takes that identity (Linux keeps it per thread) and ends after the open.
/// Opened non-blocking, so a FIFO cannot hang the caller.
pub(crate) fn open_as(account: &Account, path: &Path) -> std::io::Result<std::fs::File> {
    let (uid, gid, groups, path) = (account.uid, account.gid, account.groups.clone(), path.to_owned());
    let thread = std::thread::Builder::new().name("open-as-user".into()).spawn(move || {
        // SAFETY: raw system calls that change only this thread's credentials (the libc wrappers of
        // setgroups would change every thread's); the thread ends right after the open.
        unsafe {
            if libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::syscall(libc::SYS_setfsgid, gid);
            libc::syscall(libc::SYS_setfsuid, uid);
            // Both report the previous id and never an error: asking again says whether it took.
            if libc::syscall(libc::SYS_setfsuid, uid) != i64::from(uid)
                || libc::syscall(libc::SYS_setfsgid, gid) != i64::from(gid)
            {
                return Err(std::io::Error::other("cannot take the user's file-system identity"));
            }
        }
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            std::fs::OpenOptions::new().read(true),
            libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
        .open(&path)
    })?;
    thread.join().map_err(|_| std::io::Error::other("the thread opening the file panicked"))?
}

/// The identity a child takes on, prepared before the fork (no allocation after it).
pub(crate) struct Switch {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
}

impl Switch {
    pub(crate) fn new(account: &Account) -> Switch {
        Switch { uid: account.uid, gid: account.gid, groups: account.groups.clone() }
    }

    /// Becomes the account for good: groups, gid, uid (real, effective and saved), then
    /// `no_new_privs` so no setuid program gives anything back.
    ///
    /// # Safety
    /// Only between fork and exec: makes async-signal-safe system calls and allocates nothing.
    pub(crate) unsafe fn apply(&self) -> std::io::Result<()> {
        let check = |result: libc::c_int| if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
        // SAFETY: plain system calls on values prepared before the fork.
        unsafe {
            check(libc::setgroups(self.groups.len(), self.groups.as_ptr()))?;
            check(libc::setresgid(self.gid, self.gid, self.gid))?;
            check(libc::setresuid(self.uid, self.uid, self.uid))?;
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        }
    }
}
