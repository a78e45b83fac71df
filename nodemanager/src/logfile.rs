//! Container log files opened without trusting what the container left in its log directory.
//!
//! A container owns its log directory and may put anything there: a symlink to `/etc/shadow`, a hard
//! link to a file outside it, a FIFO that would block a reader forever, or replace a directory on
//! the way with a symlink. So every read goes down from the configured log root one component at a
//! time with `openat(…, O_NOFOLLOW)`, never through a path the kernel resolves, and the file must be
//! a regular file with a single link. What is refused reads as "not there".

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use weft_proto::ContainerId;

use crate::container::is_plain_name;
use crate::dirs::Layout;

fn refused(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, what.to_owned())
}

fn open_dir_in(parent: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(parent, name, flags, Mode::empty()).map_err(io::Error::from)
}

/// The container's log directory, reached without following any link below the log root.
pub(crate) fn open_log_dir(layout: &Layout, id: ContainerId) -> io::Result<OwnedFd> {
    let root = std::fs::File::open(layout.log_root())?;
    let root = OwnedFd::from(root);
    let app = open_dir_in(&root, &id.application().to_string())?;
    open_dir_in(&app, &id.to_string())
}

/// Opens `name` in the container's log directory for reading: a plain name (no `/`, no `..`), not
/// a symlink, a regular file, one link. Opened non-blocking, so a FIFO cannot hang the reader.
pub(crate) fn open(layout: &Layout, id: ContainerId, name: &str) -> io::Result<File> {
    if !is_plain_name(name) {
        return Err(refused("not a plain file name"));
    }
    let dir = open_log_dir(layout, id)?;
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    let fd = openat(&dir, name, flags, Mode::empty()).map_err(io::Error::from)?;
    let stat = fstat(&fd).map_err(io::Error::from)?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(refused("not a regular file"));
    }
    if stat.st_nlink != 1 {
        return Err(refused("a file with other links"));
    }
    Ok(File::from(fd))
}

/// The names of the regular, singly linked files in the container's log directory, sorted; none
/// when the directory is missing or not reachable safely.
pub(crate) fn list(layout: &Layout, id: ContainerId) -> Vec<String> {
    let Ok(dir) = open_log_dir(layout, id) else { return Vec::new() };
    // Listing through the descriptor's own /proc entry reads exactly the directory opened above.
    let listing = Path::new("/proc/self/fd").join(std::os::fd::AsRawFd::as_raw_fd(&dir).to_string());
    let Ok(entries) = std::fs::read_dir(&listing) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .filter(|name| regular_single_link(&dir, name))
        .filter_map(|name| name.to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

fn regular_single_link(dir: &OwnedFd, name: &OsStr) -> bool {
    fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|stat| {
        SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG && stat.st_nlink == 1
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn setup() -> (tempfile::TempDir, Layout, ContainerId) {
        let root = tempfile::tempdir().unwrap();
        let layout = Layout::new(vec![root.path().join("local")], vec![root.path().join("logs")]).unwrap();
        let id: ContainerId = "container_1_0001_01_000002".parse().unwrap();
        std::fs::create_dir_all(layout.log_dir(id)).unwrap();
        (root, layout, id)
    }

    fn read(layout: &Layout, id: ContainerId, name: &str) -> io::Result<String> {
        let mut text = String::new();
        open(layout, id, name)?.read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn a_plain_log_file_is_read_and_listed() {
        let (_root, layout, id) = setup();
        std::fs::write(layout.log_dir(id).join("stderr"), "boom\n").unwrap();
        std::fs::write(layout.log_dir(id).join("stdout"), "").unwrap();
        assert_eq!(read(&layout, id, "stderr").unwrap(), "boom\n");
        assert_eq!(list(&layout, id), ["stderr", "stdout"]);
    }

    #[test]
    fn symlinks_hard_links_fifos_and_escapes_are_refused() {
        let (root, layout, id) = setup();
        let secret = root.path().join("secret");
        std::fs::write(&secret, "password\n").unwrap();
        let dir = layout.log_dir(id);
        std::os::unix::fs::symlink(&secret, dir.join("link.txt")).unwrap();
        std::fs::hard_link(&secret, dir.join("hard.txt")).unwrap();
        nix::unistd::mkfifo(&dir.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        for name in ["link.txt", "hard.txt", "fifo", "sub", "../secret", "/etc/passwd", ".."] {
            assert!(read(&layout, id, name).is_err(), "{name} was read");
        }
        assert!(list(&layout, id).is_empty(), "{:?}", list(&layout, id));
    }

    #[test]
    fn a_log_directory_replaced_by_a_symlink_is_not_followed() {
        let (root, layout, id) = setup();
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("stderr"), "not yours\n").unwrap();
        let dir = layout.log_dir(id);
        std::fs::remove_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        assert!(read(&layout, id, "stderr").is_err());
        assert!(list(&layout, id).is_empty());
        // The application's directory too.
        let app_dir = dir.parent().unwrap().to_owned();
        std::fs::remove_file(&dir).unwrap();
        std::fs::remove_dir(&app_dir).unwrap();
        std::fs::create_dir_all(elsewhere.join(id.to_string())).unwrap();
        std::fs::write(elsewhere.join(id.to_string()).join("stderr"), "not yours\n").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &app_dir).unwrap();
        assert!(read(&layout, id, "stderr").is_err());
    }
}
