//! The state store (`yarn.resourcemanager.recovery.enabled`): what a restarted ResourceManager
//! takes back — applications and their attempts, the master keys tokens are signed with, the
//! staging index, and the epoch that keeps container ids unique across restarts. Every write is
//! durable before the call that caused it is answered: a temp file, fsync, rename over the old one,
//! fsync of the directory. Laid out as YARN's FileSystemRMStateStore names its nodes:
//!
//! ```text
//! <fs.state-store.uri>/FSRMStateRoot/
//!   RMVersionNode                        the layout's version
//!   EpochNode                            restarts so far
//!   RMDTSecretManagerRoot/MasterKeys     container, NM-token, AMRM and staging keys
//!   RMAppRoot/application_<ts>_<seq>     one application with its attempts (JSON, records.rs)
//!   StagingRoot/application_<ts>_<seq>   the staged files it holds
//!   StagingProofRoot/<hex of user name>  the blobs a user has proven possession of
//! ```
//!
//! Containers are not stored: NodeManagers report them when they register again.

pub mod records;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use weft_proto::ApplicationId;

use crate::core::App;
use records::{AppRecord, KeysRecord, ProofsRecord, StagingRecord, StagingRecords};

const VERSION: &str = "weft-rmstore-1";
const ROOT: &str = "FSRMStateRoot";
const APPS: &str = "RMAppRoot";
const STAGING: &str = "StagingRoot";
const PROOFS: &str = "StagingProofRoot";
const KEYS: &str = "RMDTSecretManagerRoot";

/// What a starting ResourceManager reads back.
#[derive(Debug)]
pub struct Recovered {
    /// This start's epoch: 0 the first time, one more at every restart.
    pub epoch: u32,
    pub keys: Option<KeysRecord>,
    pub apps: Vec<App>,
    pub staging: StagingRecords,
}

#[derive(Debug)]
pub struct StateStore {
    root: PathBuf,
}

impl StateStore {
    /// Opens (creating) the store under `dir`, reads everything back and counts this start in the
    /// epoch. A file that does not parse stops the start with its path and what was wrong.
    pub fn open(dir: &Path) -> anyhow::Result<(StateStore, Recovered)> {
        let root = dir.join(ROOT);
        for sub in [APPS, STAGING, PROOFS, KEYS] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root.join(sub))
                .with_context(|| format!("cannot create the state store at {}", root.join(sub).display()))?;
        }
        let store = StateStore { root };
        match read_text(&store.root.join("RMVersionNode"))? {
            None => store.write(&store.root.join("RMVersionNode"), VERSION.as_bytes())?,
            Some(v) if v.trim() == VERSION => {}
            Some(v) => bail!(
                "the state store at {} has layout {:?}; this ResourceManager reads {VERSION:?}",
                store.root.display(),
                v.trim()
            ),
        }
        let epoch_path = store.root.join("EpochNode");
        let epoch = match read_text(&epoch_path)? {
            None => 0,
            Some(text) => text
                .trim()
                .parse::<u32>()
                .with_context(|| format!("{}: {:?} is not an epoch", epoch_path.display(), text.trim()))?,
        };
        store.write(&epoch_path, (epoch + 1).to_string().as_bytes())?;
        let keys = read_json::<KeysRecord>(&store.root.join(KEYS).join("MasterKeys"))?;
        let mut apps = Vec::new();
        for path in entries(&store.root.join(APPS))? {
            let record: AppRecord = read_json(&path)?.expect("listed just now");
            let app = record.into_app().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            apps.push(app);
        }
        let mut staging = StagingRecords::default();
        for path in entries(&store.root.join(STAGING))? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let app: ApplicationId = name
                .parse()
                .map_err(|e| anyhow::anyhow!("{}: the name is not an application id: {e}", path.display()))?;
            staging.accounts.push((app, read_json(&path)?.expect("listed just now")));
        }
        for path in entries(&store.root.join(PROOFS))? {
            staging.proofs.push(read_json(&path)?.expect("listed just now"));
        }
        Ok((store, Recovered { epoch, keys, apps, staging }))
    }

    pub fn put_app(&self, app: &App) -> anyhow::Result<()> {
        let path = self.root.join(APPS).join(app.id().to_string());
        self.write(&path, &serde_json::to_vec(&AppRecord::of(app))?)
    }

    pub fn remove_app(&self, id: ApplicationId) -> anyhow::Result<()> {
        self.remove(&self.root.join(APPS).join(id.to_string()))
    }

    pub fn put_keys(&self, keys: &KeysRecord) -> anyhow::Result<()> {
        self.write(&self.root.join(KEYS).join("MasterKeys"), &serde_json::to_vec(keys)?)
    }

    pub fn put_staging(&self, app: ApplicationId, files: &StagingRecord) -> anyhow::Result<()> {
        self.write(&self.root.join(STAGING).join(app.to_string()), &serde_json::to_vec(files)?)
    }

    pub fn remove_staging(&self, app: ApplicationId) -> anyhow::Result<()> {
        self.remove(&self.root.join(STAGING).join(app.to_string()))
    }

    /// Keeps `user`'s proofs of possession; none left removes the user's file.
    pub fn put_proofs(&self, user: &str, blobs: &StagingRecord) -> anyhow::Result<()> {
        // Named by the user name's hex: a name may hold any character, '/' and ".." among them.
        let path = self.root.join(PROOFS).join(hex::encode(user));
        if blobs.is_empty() {
            return self.remove(&path);
        }
        let record = ProofsRecord { user: user.to_owned(), blobs: blobs.clone() };
        self.write(&path, &serde_json::to_vec(&record)?)
    }

    /// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, never a
    /// part, and the new one has reached the disk when this returns.
    fn write(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        let tmp = path.with_extension("tmp");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        sync_dir(path)
    }

    fn remove(&self, path: &Path) -> anyhow::Result<()> {
        match fs::remove_file(path) {
            Ok(()) => sync_dir(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
}

fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().expect("store files live in a directory");
    fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync {}", dir.display()))
}

fn read_text(path: &Path) -> anyhow::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Option<T>> {
    let Some(text) = read_text(path)? else { return Ok(None) };
    serde_json::from_str(&text).map(Some).with_context(|| format!("{} does not parse", path.display()))
}

/// The store's files in `dir`, leftovers of interrupted writes (`*.tmp`) aside.
fn entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_none_or(|e| e != "tmp"))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_counts_starts_and_files_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (store, first) = StateStore::open(dir.path()).unwrap();
        assert_eq!(first.epoch, 0);
        assert!(first.keys.is_none() && first.apps.is_empty());
        let keys = KeysRecord {
            container: (1, "aa".into()),
            nm: (2, "bb".into()),
            amrm: (3, "cc".into()),
            staging: (4, "dd".into()),
        };
        store.put_keys(&keys).unwrap();
        let app: ApplicationId = "application_1700000000000_0003".parse().unwrap();
        store.put_staging(app, &[("ab".to_string(), 5)].into()).unwrap();
        // An interrupted write leaves a temp file, which is not read.
        fs::write(dir.path().join(ROOT).join(APPS).join("application_1_0001.tmp"), "{").unwrap();
        let (store, second) = StateStore::open(dir.path()).unwrap();
        assert_eq!(second.epoch, 1);
        assert_eq!(second.keys, Some(keys));
        assert_eq!(second.staging.accounts, vec![(app, [("ab".to_string(), 5)].into())]);
        store.remove_staging(app).unwrap();
        store.remove_staging(app).unwrap();
        let (_, third) = StateStore::open(dir.path()).unwrap();
        assert_eq!(third.epoch, 2);
        assert_eq!(third.staging, StagingRecords::default());
    }

    #[test]
    fn a_users_proofs_survive_a_reopen_whatever_the_users_name() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = StateStore::open(dir.path()).unwrap();
        let blobs: StagingRecord = [("ab".to_string(), 5), ("cd".to_string(), 7)].into();
        for user in ["alice", "../x y/z"] {
            store.put_proofs(user, &blobs).unwrap();
        }
        let (store, reopened) = StateStore::open(dir.path()).unwrap();
        let users: Vec<&str> = reopened.staging.proofs.iter().map(|p| p.user.as_str()).collect();
        assert_eq!(users, ["../x y/z", "alice"], "in the order of their names' hex");
        assert!(reopened.staging.proofs.iter().all(|p| p.blobs == blobs));
        store.put_proofs("alice", &StagingRecord::new()).unwrap();
        let (_, reopened) = StateStore::open(dir.path()).unwrap();
        assert_eq!(reopened.staging.proofs, [ProofsRecord { user: "../x y/z".into(), blobs }]);
    }

    #[test]
    fn a_damaged_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        StateStore::open(dir.path()).unwrap();
        let path = dir.path().join(ROOT).join(APPS).join("application_1700000000000_0001");
        fs::write(&path, "{not json").unwrap();
        let error = format!("{:#}", StateStore::open(dir.path()).unwrap_err());
        assert!(error.starts_with(&format!("{} does not parse", path.display())), "{error}");
    }
}
