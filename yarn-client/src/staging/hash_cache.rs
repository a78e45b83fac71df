//! The sha256 of files this user staged before, remembered so that an unchanged file is not read
//! again: a 50 MB program costs tens of milliseconds to hash, and the staging store already knows it.
//!
//! One small text file per user, `$XDG_CACHE_HOME/weft/staged-hashes` (else `~/.cache/…`). An entry
//! is keyed by the file's canonical path and what any change to it changes: device, inode, size,
//! and modification and status-change times in nanoseconds. A file changed within a second before
//! it was hashed is not remembered, since a second change in the same clock tick of the filesystem
//! could leave all of those alike. The newest [`MAX_ENTRIES`] entries are kept; the file is replaced
//! whole (a temp file renamed over it); a file that cannot be read or parsed is ignored.
//!
//! An entry is only a claim: the store checks every uploaded byte against the hash, so a wrong one
//! can at worst make an upload fail, and `stage` then hashes the file again.

use std::io::Write as _;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Digest;

/// How many files are remembered: the most recently staged ones.
pub(crate) const MAX_ENTRIES: usize = 400;
/// A hit among this many newest entries leaves the file as it is (no rewrite to keep it recent).
const RECENT_ENTRIES: usize = 64;
/// The first line of the file: its format.
const HEADER: &str = "weft staged-hashes 1";
/// A file changed less than this before its hashing began is not remembered (see the module doc).
const SETTLE_NS: i128 = 1_000_000_000;

/// What identifies one version of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileKey {
    /// Canonical: links resolved.
    pub(crate) path: PathBuf,
    pub(crate) dev: u64,
    pub(crate) inode: u64,
    pub(crate) size: u64,
    pub(crate) mtime_ns: i128,
    pub(crate) ctime_ns: i128,
}

impl FileKey {
    /// The key of the regular file at `path` as it is now; `None` for anything else (a pipe, a
    /// device) or a file that cannot be looked at.
    pub(crate) fn of(path: &Path) -> Option<FileKey> {
        let path = std::fs::canonicalize(path).ok()?;
        let meta = std::fs::metadata(&path).ok()?;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        meta.is_file().then(|| FileKey {
            dev: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            path,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: FileKey,
    sha256: String,
}

impl Entry {
    fn line(&self) -> String {
        let FileKey { path, dev, inode, size, mtime_ns, ctime_ns } = &self.key;
        let path = hex::encode(path.as_os_str().as_bytes());
        format!("{} {size} {dev} {inode} {mtime_ns} {ctime_ns} {path}", self.sha256)
    }

    fn parse(line: &str) -> Option<Entry> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [sha256, size, dev, inode, mtime_ns, ctime_ns, path] = fields[..] else { return None };
        let sha256_ok = sha256.len() == 64 && sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let path = PathBuf::from(std::ffi::OsString::from_vec(hex::decode(path).ok()?));
        let key = FileKey {
            path,
            dev: dev.parse().ok()?,
            inode: inode.parse().ok()?,
            size: size.parse().ok()?,
            mtime_ns: mtime_ns.parse().ok()?,
            ctime_ns: ctime_ns.parse().ok()?,
        };
        sha256_ok.then(|| Entry { key, sha256: sha256.to_owned() })
    }
}

/// The remembered hashes of one user, in the file at `path`.
#[derive(Debug, Clone)]
pub(crate) struct HashCache {
    path: PathBuf,
    /// How long before hashing a file must have stopped changing to be remembered, in ns.
    settle_ns: i128,
}

impl HashCache {
    /// The cache at `path`.
    pub(crate) fn at(path: impl Into<PathBuf>) -> HashCache {
        HashCache { path: path.into(), settle_ns: SETTLE_NS }
    }

    /// The cache at `path` remembering files however recently they changed, for tests that
    /// cannot wait for a file they just wrote to settle.
    #[cfg(test)]
    pub(crate) fn unsettled(path: impl Into<PathBuf>) -> HashCache {
        HashCache { path: path.into(), settle_ns: 0 }
    }

    /// The file the hashes are kept in.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// This user's cache: `weft/staged-hashes` under `$XDG_CACHE_HOME`, else under `~/.cache`;
    /// `None` when neither can be found.
    pub(crate) fn of_user() -> Option<HashCache> {
        let absolute = |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
        let home = || {
            absolute("HOME").or_else(|| {
                let user = nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten()?;
                Some(user.dir).filter(|d| d.is_absolute())
            })
        };
        let dir = absolute("XDG_CACHE_HOME").or_else(|| home().map(|h| h.join(".cache")))?;
        Some(HashCache::at(dir.join("weft").join("staged-hashes")))
    }

    /// The digest remembered for `key`, if any.
    pub(crate) fn lookup(&self, key: &FileKey) -> Option<Digest> {
        let mut entries = self.load();
        let at = entries.iter().rposition(|e| e.key == *key)?;
        let digest = Digest { sha256: entries[at].sha256.clone(), size: key.size };
        if at + RECENT_ENTRIES < entries.len() {
            let entry = entries.remove(at);
            entries.push(entry);
            self.store(&entries);
        }
        Some(digest)
    }

    /// Remembers that the file `key` names hashes to `digest`, as hashed from `hashing_began` on;
    /// a file changed less than a second before that, or whose size is not the digest's, is not.
    pub(crate) fn remember(&self, key: &FileKey, digest: &Digest, hashing_began: SystemTime) {
        let began_ns = hashing_began.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        let settled = key.mtime_ns.max(key.ctime_ns) + self.settle_ns <= began_ns;
        if !settled || key.size != digest.size {
            tracing::debug!(path = %key.path.display(), "hash not remembered: the file changed just before");
            return;
        }
        let mut entries = self.load();
        entries.retain(|e| e.key.path != key.path);
        entries.push(Entry { key: key.clone(), sha256: digest.sha256.clone() });
        self.store(&entries);
    }

    /// Forgets what was remembered for the file at `path` (canonical).
    pub(crate) fn forget(&self, path: &Path) {
        let mut entries = self.load();
        let before = entries.len();
        entries.retain(|e| e.key.path != path);
        if entries.len() != before {
            self.store(&entries);
        }
    }

    /// The entries, oldest first; none when the file is absent, unreadable or malformed.
    fn load(&self) -> Vec<Entry> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(error) => {
                tracing::debug!(path = %self.path.display(), %error, "staged-hash cache ignored: unreadable");
                return Vec::new();
            }
        };
        let mut lines = text.lines();
        let entries = match lines.next() {
            Some(HEADER) => lines.map(Entry::parse).collect::<Option<Vec<Entry>>>(),
            _ => None,
        };
        entries.unwrap_or_else(|| {
            tracing::debug!(path = %self.path.display(), "staged-hash cache ignored: malformed");
            Vec::new()
        })
    }

    /// Replaces the file with the newest [`MAX_ENTRIES`] of `entries`; a failure is logged and
    /// otherwise ignored (the cache only saves work).
    fn store(&self, entries: &[Entry]) {
        let newest = &entries[entries.len().saturating_sub(MAX_ENTRIES)..];
        let mut text = String::from(HEADER);
        for entry in newest {
            text.push('\n');
            text.push_str(&entry.line());
        }
        text.push('\n');
        if let Err(error) = self.replace(text.as_bytes()) {
            tracing::debug!(path = %self.path.display(), %error, "staged-hash cache not written");
        }
    }

    fn replace(&self, bytes: &[u8]) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".tmp.{}", std::process::id()));
        let tmp = dir.join(name);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| file.write_all(bytes))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A time well after any file the test writes was changed.
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(10)
    }

    fn digest(sha: char, size: u64) -> Digest {
        Digest { sha256: sha.to_string().repeat(64), size }
    }

    fn setup() -> (tempfile::TempDir, HashCache, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::at(dir.path().join("cache/weft/staged-hashes"));
        let file = dir.path().join("program");
        std::fs::write(&file, b"version 1").unwrap();
        (dir, cache, file)
    }

    #[test]
    fn an_unchanged_file_is_a_hit_through_any_path_to_it() {
        let (dir, cache, file) = setup();
        let key = FileKey::of(&file).unwrap();
        assert_eq!(cache.lookup(&key), None);
        cache.remember(&key, &digest('a', 9), later());
        assert_eq!(cache.lookup(&key), Some(digest('a', 9)));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(FileKey::of(&link), Some(key.clone()));
        // Read back by another process, as the next `weft submit` does.
        assert_eq!(HashCache::at(cache.path.clone()).lookup(&key), Some(digest('a', 9)));
    }

    #[test]
    fn a_changed_file_misses() {
        let (dir, cache, file) = setup();
        let key = FileKey::of(&file).unwrap();
        cache.remember(&key, &digest('a', 9), later());
        // New content of another size; then the same size with only the times changed; then a
        // new file renamed over it (another inode).
        std::fs::write(&file, b"version 22").unwrap();
        assert_eq!(cache.lookup(&FileKey::of(&file).unwrap()), None);
        std::fs::write(&file, b"version 1").unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
        assert_ne!(FileKey::of(&file).unwrap(), key);
        assert_eq!(cache.lookup(&FileKey::of(&file).unwrap()), None);
        let key = FileKey::of(&file).unwrap();
        cache.remember(&key, &digest('b', 9), later());
        let other = dir.path().join("other");
        std::fs::write(&other, b"version 1").unwrap();
        std::fs::rename(&other, &file).unwrap();
        assert_eq!(cache.lookup(&FileKey::of(&file).unwrap()), None);
        assert_eq!(cache.lookup(&key), Some(digest('b', 9)), "one entry per path, the newest");
    }

    #[test]
    fn a_file_changed_just_before_hashing_is_not_remembered() {
        let (_dir, cache, file) = setup();
        let key = FileKey::of(&file).unwrap();
        cache.remember(&key, &digest('a', 9), SystemTime::now());
        assert_eq!(cache.lookup(&key), None);
        cache.remember(&key, &digest('a', 8), later());
        assert_eq!(cache.lookup(&key), None, "a digest of another size is not this file's");
        assert!(!cache.path.exists());
    }

    #[test]
    fn a_malformed_or_unreadable_cache_is_ignored_and_then_replaced() {
        let (_dir, cache, file) = setup();
        let key = FileKey::of(&file).unwrap();
        cache.remember(&key, &digest('a', 9), later());
        let good = std::fs::read_to_string(&cache.path).unwrap();
        let bad_line = good.replace(&"a".repeat(64), "not a hash");
        for text in ["", "garbage\n", "weft staged-hashes 2\n", bad_line.as_str(), &good.replace(' ', "  ")] {
            std::fs::write(&cache.path, text).unwrap();
            assert_eq!(cache.lookup(&key), None, "{text:?}");
        }
        std::fs::remove_file(&cache.path).unwrap();
        std::fs::create_dir(&cache.path).unwrap();
        assert_eq!(cache.lookup(&key), None, "a directory where the file should be");
        cache.remember(&key, &digest('a', 9), later());
        std::fs::remove_dir(&cache.path).unwrap();
        cache.remember(&key, &digest('a', 9), later());
        assert_eq!(cache.lookup(&key), Some(digest('a', 9)));
        assert!(!std::fs::read_dir(cache.path.parent().unwrap())
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().contains(".tmp.") }));
    }

    #[test]
    fn only_the_most_recently_used_entries_are_kept() {
        let (_dir, cache, file) = setup();
        let key = FileKey::of(&file).unwrap();
        let key_of = |n: usize| FileKey { path: PathBuf::from(format!("/f{n}")), ..key.clone() };
        for n in 0..MAX_ENTRIES + 10 {
            cache.remember(&key_of(n), &digest('c', 9), later());
            if n == MAX_ENTRIES - RECENT_ENTRIES {
                // The first entry, used again, is kept as recent.
                assert!(cache.lookup(&key_of(0)).is_some());
            }
        }
        assert_eq!(cache.load().len(), MAX_ENTRIES);
        assert!(cache.lookup(&key_of(0)).is_some());
        assert!(cache.lookup(&key_of(1)).is_none() && cache.lookup(&key_of(10)).is_none());
        assert!(cache.lookup(&key_of(11)).is_some() && cache.lookup(&key_of(MAX_ENTRIES + 9)).is_some());
        cache.forget(Path::new("/f11"));
        assert!(cache.lookup(&key_of(11)).is_none());
    }
}
