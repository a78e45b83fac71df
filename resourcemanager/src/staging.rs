//! The content-addressed staging store: application files uploaded by clients, kept under their
//! sha256 and downloaded by NodeManagers, so no shared filesystem is needed.
//!
//! Layout: `<dir>/blobs/<sha256>` for complete files, `<dir>/tmp/` for uploads in flight; a blob
//! appears only by rename after its hash and size were checked.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("upload of {name:?}: content has sha256 {actual}, the header says {expected}")]
    HashMismatch { name: String, expected: String, actual: String },
    #[error("upload of {name:?}: received {actual} bytes, the header says {expected}")]
    SizeMismatch { name: String, expected: u64, actual: u64 },
    #[error("staging store I/O: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct StagingStore {
    dir: PathBuf,
}

impl StagingStore {
    pub fn open(dir: &Path) -> std::io::Result<StagingStore> {
        std::fs::create_dir_all(dir.join("blobs"))?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        Ok(StagingStore { dir: dir.to_owned() })
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
        let store = StagingStore::open(dir.path()).unwrap();
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
}
