//! The content-addressed staging store: application files uploaded by clients, kept under their
//! sha256 and downloaded by NodeManagers, so no shared filesystem is needed.
//!
//! Layout: `<dir>/blobs/<sha256>` for complete files, `<dir>/tmp/` for uploads in flight; a blob
//! appears only by rename after its hash and size were checked.
//!
//! Garbage collection: a blob that no application which has not ended names in its submission is
//! removed once it has not been uploaded, checked
//! (`Stat`) or downloaded for `retain-unreferenced-ms`. The modification time records that last
//! touch, so a client that checks a blob before submitting keeps it alive until the submission
//! names it. A blob some application holds in its account ([`accounts`]) is kept too; an account
//! goes when its application ends. A user's proof of possession keeps nothing: when a blob is
//! removed, the proofs of it go. [`plan_sweep`] decides; [`StagingStore::sweep`] carries it out.
//!
//! Accounts and proofs live in memory, as the token keys do: a restarted ResourceManager has
//! forgotten its applications, and their blobs then follow the retention rule. With recovery on,
//! both are kept in the state store too and taken back at start.

pub mod accounts;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use weft_proto::ApplicationId;

use crate::recovery::records::StagingRecords;
use crate::recovery::StateStore;
use accounts::{Accounts, QuotaExceeded, Standing};

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("upload of {name:?}: content has sha256 {actual}, the header says {expected}")]
    HashMismatch { name: String, expected: String, actual: String },
    #[error("upload of {name:?}: received {actual} bytes, the header says {expected}")]
    SizeMismatch { name: String, expected: u64, actual: u64 },
    #[error("{0}")]
    Quota(#[from] QuotaExceeded),
    #[error("staging store I/O: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct StagingStore {
    dir: PathBuf,
    removed: Arc<Removed>,
    accounts: Arc<Mutex<Accounts>>,
    /// With recovery on: the state store, which keeps who holds what across a restart.
    journal: Option<Arc<StateStore>>,
}

/// Bytes set aside for one upload of one application; dropped without [`Reservation::record`]
/// (the upload failed or was refused), they are given back.
pub struct Reservation {
    accounts: Arc<Mutex<Accounts>>,
    journal: Option<Arc<StateStore>>,
    app: ApplicationId,
    /// The user the application's staging token names, who proves possession by this upload.
    user: Option<String>,
    size: u64,
    recorded: bool,
}

impl Reservation {
    /// The upload completed as the blob `sha256` of `size` bytes: the application holds it now, and
    /// its user has proven possession of it (in the state store too, before the upload is
    /// answered, when recovery is on).
    pub fn record(mut self, sha256: &str, size: u64) {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let user = self.user.as_deref();
        let new_proof = accounts.record(self.app, user, sha256, size, self.size, crate::clock::now_ms());
        self.recorded = true;
        if let Some(journal) = &self.journal {
            let mut written = journal.put_staging(self.app, &accounts.files_of(self.app));
            if let (Some(user), true, Ok(())) = (user, new_proof, &written) {
                written = journal.put_proofs(user, &accounts.proofs_of(user));
            }
            if let Err(error) = written {
                panic!("cannot write the state store: {error:#}");
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.recorded {
            self.accounts.lock().unwrap_or_else(PoisonError::into_inner).unreserve(self.app, self.size);
        }
    }
}

/// Totals of what garbage collection removed since the daemon started.
#[derive(Debug, Default)]
struct Removed {
    blobs: AtomicU64,
    bytes: AtomicU64,
}

/// One stored blob as the sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha256: String,
    pub size: u64,
    /// Last upload, check or download.
    pub touched: SystemTime,
}

/// What the store holds and what it has removed, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StagingUsage {
    pub blobs: u64,
    pub bytes: u64,
    pub removed_blobs: u64,
    pub removed_bytes: u64,
}

/// The blobs to remove: not in use, and untouched for at least `retain`. Pure.
pub fn plan_sweep<'a>(
    blobs: &'a [BlobInfo],
    in_use: &BTreeSet<String>,
    now: SystemTime,
    retain: Duration,
) -> Vec<&'a BlobInfo> {
    blobs
        .iter()
        .filter(|b| !in_use.contains(&b.sha256))
        .filter(|b| now.duration_since(b.touched).is_ok_and(|idle| idle >= retain))
        .collect()
}

impl StagingStore {
    /// Opens the store at `dir`; each application may hold up to `max_app_bytes`.
    pub fn open(dir: &Path, max_app_bytes: u64) -> std::io::Result<StagingStore> {
        std::fs::create_dir_all(dir.join("blobs"))?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        let accounts = Arc::new(Mutex::new(Accounts::new(max_app_bytes)));
        Ok(StagingStore { dir: dir.to_owned(), removed: Arc::default(), accounts, journal: None })
    }

    /// Keeps the accounts and proofs in `journal` from now on, starting from what it had kept.
    pub fn with_journal(mut self, journal: Arc<StateStore>, kept: StagingRecords) -> Self {
        let now = crate::clock::now_ms();
        let mut accounts = self.accounts();
        for (app, files) in kept.accounts {
            accounts.restore(app, files, now);
        }
        for proofs in kept.proofs {
            accounts.restore_proofs(&proofs.user, proofs.blobs);
        }
        drop(accounts);
        self.journal = Some(journal);
        self
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, Accounts> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The size of the blob `sha256` if `app` holds it (and it is on disk); `None` otherwise,
    /// whether or not another application holds it.
    pub async fn held(&self, app: ApplicationId, sha256: &str) -> Option<u64> {
        let size = self.accounts().size(app, sha256)?;
        self.accounts().touch(app, crate::clock::now_ms());
        self.stat(sha256).await.filter(|on_disk| *on_disk == size)
    }

    /// The size of the blob `sha256` if `app` holds it, or holds it now because `user` (whom its
    /// staging token names) proved possession of that blob and the store still has it: then it is
    /// held to `app`'s quota as an upload would be, and refused past it. `None`: `app` does not hold
    /// it, whether or not someone else does.
    pub async fn claim(
        &self,
        app: ApplicationId,
        user: Option<&str>,
        sha256: &str,
    ) -> Result<Option<u64>, QuotaExceeded> {
        if let Some(size) = self.held(app, sha256).await {
            return Ok(Some(size));
        }
        let Some(user) = user else { return Ok(None) };
        let Some(proven) = self.accounts().proven(user, sha256) else { return Ok(None) };
        if self.stat(sha256).await != Some(proven) {
            return Ok(None);
        }
        // The sweep removes blobs and forgets their proofs under this lock, so a proof still here
        // now is of a blob the sweep will keep: `app` holds it from now on.
        let mut accounts = self.accounts();
        if !accounts.claim(app, user, sha256, proven, crate::clock::now_ms())? {
            return Ok(None);
        }
        if let Some(journal) = &self.journal {
            if let Err(error) = journal.put_staging(app, &accounts.files_of(app)) {
                panic!("cannot write the state store: {error:#}");
            }
        }
        drop(accounts);
        tracing::info!(app_id = %app, %user, %sha256, size = proven, "file staged by the user's proof of possession");
        Ok(Some(proven))
    }

    /// Sets `size` bytes aside for an upload of `name` by `app` (whose staging token names `user`),
    /// or refuses it past the quota.
    pub fn reserve(
        &self,
        app: ApplicationId,
        user: Option<&str>,
        name: &str,
        size: u64,
    ) -> Result<Reservation, QuotaExceeded> {
        self.accounts().reserve(app, name, size, crate::clock::now_ms())?;
        Ok(Reservation {
            accounts: self.accounts.clone(),
            journal: self.journal.clone(),
            app,
            user: user.map(str::to_owned),
            size,
            recorded: false,
        })
    }

    /// Drops the accounts of applications that ended (and of ids never submitted, idle for
    /// `retain`); their blobs then follow the retention rule.
    pub fn release(
        &self,
        standing: impl Fn(ApplicationId) -> Standing,
        retain: Duration,
    ) -> Vec<(ApplicationId, usize, u64)> {
        let released = self.accounts().release(standing, crate::clock::now_ms(), retain.as_millis() as u64);
        if let Some(journal) = &self.journal {
            for (app, _, _) in &released {
                if let Err(error) = journal.remove_staging(*app) {
                    tracing::warn!(%app, error = format!("{error:#}"), "cannot drop a released staging account from the state store");
                }
            }
        }
        released
    }

    /// Every complete blob with its size and last touch (blocking: run it off the async threads).
    pub fn list(&self) -> std::io::Result<Vec<BlobInfo>> {
        let mut blobs = Vec::new();
        for entry in std::fs::read_dir(self.dir.join("blobs"))? {
            let entry = entry?;
            let Ok(meta) = entry.metadata() else { continue };
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if meta.is_file() {
                blobs.push(BlobInfo { sha256: name, size: meta.len(), touched: meta.modified()? });
            }
        }
        blobs.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        Ok(blobs)
    }

    /// Marks a blob as just used (upload of a known blob, check, download), so it is kept for
    /// `retain-unreferenced-ms` from now. Absent blobs are left absent.
    pub async fn touch(&self, sha256: &str) {
        let path = self.blob_path(sha256);
        let _ = tokio::task::spawn_blocking(move || {
            std::fs::File::options().write(true).open(path).and_then(|f| f.set_modified(crate::clock::now()))
        })
        .await;
    }

    /// Removes the blobs [`plan_sweep`] picks, and every user's proofs of them; returns how many
    /// and how many bytes (blocking). Blobs some application holds are kept as if in use. The
    /// accounts stay locked from reading what they hold to forgetting the proofs, so that no claim
    /// slips in between (a claim takes a blob only while its proof is there).
    pub fn sweep(&self, in_use: &BTreeSet<String>, retain: Duration) -> std::io::Result<(u64, u64)> {
        let blobs = self.list()?;
        let mut accounts = self.accounts();
        let mut in_use = in_use.clone();
        in_use.extend(accounts.held_files());
        // `gone` also counts blobs someone else removed first: their proofs go as well.
        let (mut gone, mut count, mut bytes) = (BTreeSet::new(), 0, 0);
        let mut failed = None;
        for blob in plan_sweep(&blobs, &in_use, crate::clock::now(), retain) {
            match std::fs::remove_file(self.blob_path(&blob.sha256)) {
                Ok(()) => {
                    gone.insert(blob.sha256.clone());
                    count += 1;
                    bytes += blob.size;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    gone.insert(blob.sha256.clone());
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        for user in accounts.forget_blobs(&gone) {
            if let Some(journal) = &self.journal {
                if let Err(error) = journal.put_proofs(&user, &accounts.proofs_of(&user)) {
                    let error = format!("{error:#}");
                    tracing::warn!(%user, error, "cannot drop proofs of removed staged files from the state store");
                }
            }
        }
        drop(accounts);
        self.removed.blobs.fetch_add(count, Ordering::Relaxed);
        self.removed.bytes.fetch_add(bytes, Ordering::Relaxed);
        match failed {
            Some(error) => Err(error),
            None => Ok((count, bytes)),
        }
    }

    /// What the store holds now, and what garbage collection removed so far (blocking).
    pub fn usage(&self) -> std::io::Result<StagingUsage> {
        let blobs = self.list()?;
        Ok(StagingUsage {
            blobs: blobs.len() as u64,
            bytes: blobs.iter().map(|b| b.size).sum(),
            removed_blobs: self.removed.blobs.load(Ordering::Relaxed),
            removed_bytes: self.removed.bytes.load(Ordering::Relaxed),
        })
    }

    /// Where the blob with this hash lives (whether or not it exists). `sha256` must be checked hex.
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("blobs").join(sha256)
    }

    /// The blob's size, if the store has it.
    pub async fn stat(&self, sha256: &str) -> Option<u64> {
        tokio::fs::metadata(self.blob_path(sha256)).await.ok().map(|m| m.len())
    }

    /// Starts an upload into a temp file.
    pub async fn begin(&self, name: &str, sha256: &str, size: u64) -> Result<Upload, StagingError> {
        let tmp = tempfile::Builder::new().prefix("upload-").tempfile_in(self.dir.join("tmp"))?;
        let (file, path) = tmp.into_parts();
        Ok(Upload {
            store: self.clone(),
            name: name.to_owned(),
            expected_sha256: sha256.to_ascii_lowercase(),
            expected_size: size,
            file: tokio::fs::File::from_std(file),
            path: Some(path),
            hasher: Sha256::new(),
            written: 0,
        })
    }
}

/// One upload in flight; dropped without [`Upload::finish`], its temp file is removed.
pub struct Upload {
    store: StagingStore,
    name: String,
    expected_sha256: String,
    expected_size: u64,
    file: tokio::fs::File,
    path: Option<tempfile::TempPath>,
    hasher: Sha256,
    written: u64,
}

impl Upload {
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StagingError> {
        self.hasher.update(data);
        self.file.write_all(data).await?;
        self.written += data.len() as u64;
        if self.written > self.expected_size {
            return Err(StagingError::SizeMismatch {
                name: self.name.clone(),
                expected: self.expected_size,
                actual: self.written,
            });
        }
        Ok(())
    }

    /// Checks size and hash, then publishes the blob. Returns its hash and size.
    pub async fn finish(mut self) -> Result<(String, u64), StagingError> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        if self.written != self.expected_size {
            return Err(StagingError::SizeMismatch {
                name: self.name,
                expected: self.expected_size,
                actual: self.written,
            });
        }
        let actual = hex::encode(self.hasher.finalize_reset());
        if actual != self.expected_sha256 {
            return Err(StagingError::HashMismatch { name: self.name, expected: self.expected_sha256, actual });
        }
        let path = self.path.take().expect("finish runs once");
        let target = self.store.blob_path(&actual);
        path.persist(&target).map_err(|e| StagingError::Io(e.error))?;
        Ok((actual, self.written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    #[tokio::test]
    async fn upload_checks_hash_and_size_before_publishing() {
        let dir = tempfile::tempdir().unwrap();
        let store = StagingStore::open(dir.path(), u64::MAX).unwrap();
        let data = b"hello staging";
        let mut upload = store.begin("a.txt", &sha(data), data.len() as u64).await.unwrap();
        upload.write(&data[..5]).await.unwrap();
        upload.write(&data[5..]).await.unwrap();
        let (hash, size) = upload.finish().await.unwrap();
        assert_eq!((hash.as_str(), size), (sha(data).as_str(), data.len() as u64));
        assert_eq!(store.stat(&hash).await, Some(data.len() as u64));

        let wrong = sha(b"other");
        let mut upload = store.begin("b.txt", &wrong, data.len() as u64).await.unwrap();
        upload.write(data).await.unwrap();
        let err = upload.finish().await.unwrap_err().to_string();
        assert!(err.contains("b.txt") && err.contains(&wrong), "{err}");
        assert_eq!(store.stat(&wrong).await, None);

        let mut upload = store.begin("c.txt", &sha(data), 3).await.unwrap();
        assert!(upload.write(data).await.is_err());
        drop(upload);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "temp files are removed");
    }

    fn app(n: u32) -> ApplicationId {
        ApplicationId::new(1_700_000_000_000, n)
    }

    /// `data` uploaded in full by `app`, whose staging token names `user`.
    async fn upload(store: &StagingStore, app: ApplicationId, user: Option<&str>, data: &[u8]) -> String {
        let reservation = store.reserve(app, user, "f", data.len() as u64).unwrap();
        let mut upload = store.begin("f", &sha(data), data.len() as u64).await.unwrap();
        upload.write(data).await.unwrap();
        let (sha256, size) = upload.finish().await.unwrap();
        reservation.record(&sha256, size);
        sha256
    }

    fn age(store: &StagingStore, sha256: &str) {
        let past = crate::clock::now() - Duration::from_secs(7200);
        std::fs::File::options().write(true).open(store.blob_path(sha256)).unwrap().set_modified(past).unwrap();
    }

    #[tokio::test]
    async fn a_claim_takes_the_users_proof_and_the_blob_and_the_sweep_takes_both_away() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = StateStore::open(&dir.path().join("state")).unwrap();
        let store = StagingStore::open(&dir.path().join("staging"), u64::MAX)
            .unwrap()
            .with_journal(Arc::new(journal), StagingRecords::default());
        let data = b"alice's program";
        let sha256 = upload(&store, app(1), Some("alice"), data).await;
        let size = Some(data.len() as u64);
        assert_eq!(store.claim(app(2), Some("alice"), &sha256).await, Ok(size));
        assert_eq!(store.claim(app(3), Some("bob"), &sha256).await, Ok(None));
        assert_eq!(store.claim(app(4), None, &sha256).await, Ok(None));
        assert_eq!(store.held(app(2), &sha256).await, size);

        // A restarted ResourceManager takes the proof back (and app 2's holding).
        let (journal, recovered) = StateStore::open(&dir.path().join("state")).unwrap();
        let proofs = recovered.staging.proofs.clone();
        assert_eq!(proofs.len(), 1);
        assert_eq!((proofs[0].user.as_str(), proofs[0].blobs.get(&sha256).copied()), ("alice", size));
        assert!(recovered.staging.accounts.iter().any(|(id, files)| *id == app(2) && files.contains_key(&sha256)));
        let store = StagingStore::open(&dir.path().join("staging"), u64::MAX)
            .unwrap()
            .with_journal(Arc::new(journal), recovered.staging);
        assert_eq!(store.claim(app(5), Some("alice"), &sha256).await, Ok(size));

        // Once no application holds it and it has aged, the sweep removes it with every proof of it.
        store.release(|_| Standing::Ended, Duration::ZERO);
        age(&store, &sha256);
        assert_eq!(store.sweep(&BTreeSet::new(), Duration::from_secs(3600)).unwrap().0, 1);
        assert_eq!(store.claim(app(6), Some("alice"), &sha256).await, Ok(None));
        let (_, recovered) = StateStore::open(&dir.path().join("state")).unwrap();
        assert!(recovered.staging.proofs.is_empty(), "{:?}", recovered.staging.proofs);

        // A proof of a blob that left the store some other way hands nothing over.
        let sha256 = upload(&store, app(7), Some("alice"), b"other").await;
        std::fs::remove_file(store.blob_path(&sha256)).unwrap();
        assert_eq!(store.claim(app(8), Some("alice"), &sha256).await, Ok(None));
    }

    fn blob(sha256: &str, size: u64, touched: SystemTime) -> BlobInfo {
        BlobInfo { sha256: sha256.into(), size, touched }
    }

    #[test]
    fn the_sweep_takes_only_unused_blobs_idle_past_the_retention() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        let blobs = [
            blob("used-old", 1, now - 10 * hour),
            blob("unused-old", 2, now - 2 * hour),
            blob("unused-fresh", 3, now - hour / 2),
            blob("unused-exactly-idle", 4, now - hour),
            blob("touched-in-the-future", 5, now + hour),
        ];
        let in_use = BTreeSet::from(["used-old".to_owned()]);
        let picked: Vec<&str> = plan_sweep(&blobs, &in_use, now, hour).iter().map(|b| b.sha256.as_str()).collect();
        assert_eq!(picked, ["unused-old", "unused-exactly-idle"]);
        assert!(plan_sweep(&blobs, &BTreeSet::new(), now, 100 * hour).is_empty());
    }

    #[tokio::test]
    async fn sweeping_removes_unused_blobs_and_counts_them_and_a_touch_keeps_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = StagingStore::open(dir.path(), u64::MAX).unwrap();
        let mut hashes = Vec::new();
        for data in [&b"kept: in use"[..], b"kept: just checked", b"removed"] {
            let mut upload = store.begin("f", &sha(data), data.len() as u64).await.unwrap();
            upload.write(data).await.unwrap();
            hashes.push(upload.finish().await.unwrap().0);
        }
        let past = crate::clock::now() - Duration::from_secs(7200);
        for h in &hashes {
            std::fs::File::options().write(true).open(store.blob_path(h)).unwrap().set_modified(past).unwrap();
        }
        store.touch(&hashes[1]).await;
        let in_use = BTreeSet::from([hashes[0].clone()]);
        let (count, bytes) = store.sweep(&in_use, Duration::from_secs(3600)).unwrap();
        assert_eq!((count, bytes), (1, 7));
        assert_eq!(store.stat(&hashes[2]).await, None);
        assert!(store.stat(&hashes[0]).await.is_some() && store.stat(&hashes[1]).await.is_some());
        let usage = store.usage().unwrap();
        assert_eq!((usage.blobs, usage.removed_blobs, usage.removed_bytes), (2, 1, 7));
        assert_eq!(usage.bytes, (b"kept: in use".len() + b"kept: just checked".len()) as u64);
    }
}
