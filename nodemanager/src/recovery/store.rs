//! The recovery directory: one JSON file per container, `<container id>.json`, in a directory only
//! the NodeManager's user may enter (0700). Each write goes to a temp file that is flushed to disk,
//! renamed over the record and followed by a sync of the directory, so a record is always whole:
//! the old one or the new one. Blocking: call from `spawn_blocking` in async code.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use weft_proto::ContainerId;

use super::record::ContainerRecord;

const SUFFIX: &str = ".json";
/// Temp files start with this; any left by a crash are removed when the store opens.
const TEMP_PREFIX: &str = ".tmp-";

/// The recovery directory of this NodeManager.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    dir: PathBuf,
}

fn problem(path: &Path, what: &str, error: impl std::fmt::Display) -> String {
    format!("{what} {}: {error}", path.display())
}

impl Store {
    /// Creates the directory if needed and makes it the NodeManager's own (0700); refuses one that
    /// is a link, not a directory, or owned by another user.
    pub(crate) fn open(dir: &Path) -> Result<Store, String> {
        fs::create_dir_all(dir).map_err(|e| problem(dir, "cannot create the recovery directory", e))?;
        let meta = fs::symlink_metadata(dir).map_err(|e| problem(dir, "cannot inspect the recovery directory", e))?;
        if !meta.is_dir() {
            return Err(format!("the recovery directory {} is not a directory (or is a link)", dir.display()));
        }
        let uid = nix::unistd::geteuid().as_raw();
        if meta.uid() != uid {
            return Err(format!(
                "the recovery directory {} belongs to uid {}, not to the NodeManager's user (uid {uid})",
                dir.display(),
                meta.uid()
            ));
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| problem(dir, "cannot set the mode of the recovery directory", e))?;
        let store = Store { dir: dir.to_owned() };
        store.remove_temp_files();
        Ok(store)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{SUFFIX}"))
    }

    fn remove_temp_files(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Writes `record` atomically: temp file, fsync, rename, fsync of the directory.
    pub(crate) fn save(&self, record: &ContainerRecord) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        let mut temp = tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(&self.dir)?;
        temp.write_all(&bytes)?;
        temp.as_file().sync_all()?;
        temp.persist(self.path(&record.id)).map_err(|e| e.error)?;
        fs::File::open(&self.dir)?.sync_all()
    }

    /// Forgets a container; one without a record is fine.
    pub(crate) fn remove(&self, id: ContainerId) -> io::Result<()> {
        match fs::remove_file(self.path(&id.to_string())) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every record, in file-name order, and a message for each file that is not a valid record
    /// (naming the file and what is wrong). A bad file is renamed to `<name>.bad` so it is kept
    /// for a person to read but not read again.
    pub(crate) fn load(&self) -> Result<(Vec<ContainerRecord>, Vec<String>), String> {
        let entries =
            fs::read_dir(&self.dir).map_err(|e| problem(&self.dir, "cannot list the recovery directory", e))?;
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(SUFFIX)))
            .collect();
        paths.sort();
        let (mut records, mut problems) = (Vec::new(), Vec::new());
        for path in paths {
            match read_record(&path) {
                Ok(record) => records.push(record),
                Err(message) => {
                    let mut bad = path.clone().into_os_string();
                    bad.push(".bad");
                    let _ = fs::rename(&path, &bad);
                    problems.push(format!("{message} (kept as {})", Path::new(&bad).display()));
                }
            }
        }
        Ok((records, problems))
    }
}

fn read_record(path: &Path) -> Result<ContainerRecord, String> {
    let bytes = fs::read(path).map_err(|e| problem(path, "cannot read the recovery record", e))?;
    let record: ContainerRecord =
        serde_json::from_slice(&bytes).map_err(|e| problem(path, "the recovery record is not valid", e))?;
    record.check().map_err(|e| problem(path, "the recovery record is not valid", e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name != format!("{}{SUFFIX}", record.id) {
        return Err(problem(path, "the recovery record is not valid", format!("it names container {}", record.id)));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{Container, LaunchSpec};
    use crate::recovery::record::Place;

    fn record(id: &str) -> ContainerRecord {
        let spec = LaunchSpec {
            id: id.parse().unwrap(),
            user: "alice".into(),
            command: vec!["true".into()],
            environment: Vec::new(),
            local_resources: Vec::new(),
            resource: weft_proto::Resource::new(256, 1),
            hadoop: None,
            container_token: Default::default(),
            acls: Default::default(),
        };
        ContainerRecord::of(&Container::new(spec, 1), &Place::default())
    }

    #[test]
    fn records_are_saved_replaced_listed_and_removed_and_bad_files_are_named() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("recovery");
        let store = Store::open(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let first = record("container_1700000000000_0001_01_000002");
        let mut second = record("container_1700000000000_0001_01_000003");
        store.save(&first).unwrap();
        store.save(&second).unwrap();
        second.pid = Some(99);
        store.save(&second).unwrap();
        fs::write(dir.join("container_1700000000000_0001_01_000009.json"), b"{not json").unwrap();
        fs::write(dir.join(".tmp-leftover"), b"half").unwrap();
        let (records, problems) = Store::open(&dir).unwrap().load().unwrap();
        assert_eq!(records, vec![first.clone(), second]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("container_1700000000000_0001_01_000009.json"), "{problems:?}");
        assert!(problems[0].contains("not valid"), "{problems:?}");
        assert!(dir.join("container_1700000000000_0001_01_000009.json.bad").exists());
        assert!(!dir.join(".tmp-leftover").exists());
        store.remove(first.container_id().unwrap()).unwrap();
        store.remove(first.container_id().unwrap()).unwrap();
        assert_eq!(store.load().unwrap().0.len(), 1);
    }

    #[test]
    fn a_record_under_another_containers_name_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let bytes = serde_json::to_vec(&record("container_1700000000000_0001_01_000002")).unwrap();
        fs::write(root.path().join("container_1700000000000_0001_01_000005.json"), bytes).unwrap();
        let (records, problems) = store.load().unwrap();
        assert!(records.is_empty());
        assert!(problems[0].contains("it names container container_1700000000000_0001_01_000002"), "{problems:?}");
    }
}
