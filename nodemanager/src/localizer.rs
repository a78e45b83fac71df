//! The localizer: fetches each local resource once per node from the staging store into
//! `<local-dir>/filecache/<sha256>/<name>` (temp file, sha256 check, rename), shares concurrent
//! fetches of one hash, and links the cached file into a container's working directory.
//!
//! Each fetch shows the container's token to the ResourceManager, which serves only files of that
//! container's application; a file already cached here (or being fetched for another container) is
//! linked only after the ResourceManager says the container's application holds it too, so the
//! cache hands no application another's file.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::container::{ContainerToken, LocalResource};
use crate::grpc::staging::{DownloadError, Staging};

/// Why one file could not be fetched; shared by every container that waited for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("cannot download it: {0}")]
    Download(String),
    #[error("sha256 mismatch: expected {expected}, the downloaded content ({bytes} bytes) has {actual}")]
    Mismatch { expected: String, actual: String, bytes: u64 },
    #[error("{0}")]
    Io(String),
}

/// A container's localization failure, naming its file: the diagnostics text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Failed to localize resource {name} (sha256 {sha256}): {cause}")]
pub(crate) struct LocalizeError {
    pub(crate) name: String,
    pub(crate) sha256: String,
    pub(crate) cause: FetchError,
}

type Fetch = Shared<BoxFuture<'static, Result<PathBuf, FetchError>>>;

/// The node's file cache.
pub(crate) struct Localizer {
    cache_dir: PathBuf,
    staging: Staging,
    in_flight: Arc<Mutex<HashMap<String, Fetch>>>,
}

fn io_error(action: &str, path: &Path, error: std::io::Error) -> FetchError {
    FetchError::Io(format!("cannot {action} {}: {error}", path.display()))
}

impl Localizer {
    /// Opens the cache at `cache_dir`, removing temp files a previous run left.
    pub(crate) fn open(cache_dir: PathBuf, staging: Staging) -> std::io::Result<Localizer> {
        let tmp = cache_dir.join(".tmp");
        match std::fs::remove_dir_all(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(&tmp)?;
        Ok(Localizer { cache_dir, staging, in_flight: Arc::new(Mutex::new(HashMap::new())) })
    }

    /// Fetches every resource for the container `container` (whose start request carried `token`)
    /// and links it into `work_dir` under its name.
    pub(crate) async fn localize_into(
        &self,
        resources: &[LocalResource],
        container: &str,
        token: &ContainerToken,
        work_dir: &Path,
    ) -> Result<(), LocalizeError> {
        let proof = Proof { container: container.to_owned(), token: token.0.clone() };
        for resource in resources {
            let wrap = |cause| LocalizeError { name: resource.name.clone(), sha256: resource.sha256.clone(), cause };
            let cached = self.fetch(resource, &proof).await.map_err(wrap)?;
            link(&cached, work_dir, resource).await.map_err(wrap)?;
        }
        Ok(())
    }

    /// The cached file for the resource's hash, downloading it first if needed.
    async fn fetch(&self, resource: &LocalResource, proof: &Proof) -> Result<PathBuf, FetchError> {
        if let Some(path) = cached(&self.cache_dir, &resource.sha256).await {
            check(&self.staging, resource, proof).await?;
            return Ok(path);
        }
        let (fetch, joined) = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            match in_flight.get(&resource.sha256) {
                Some(fetch) => (fetch.clone(), true),
                None => {
                    let fetch = self.spawn_download(resource, proof);
                    in_flight.insert(resource.sha256.clone(), fetch.clone());
                    (fetch, false)
                }
            }
        };
        if joined {
            check(&self.staging, resource, proof).await?;
        }
        fetch.await
    }

    /// Downloads in a task of its own, so it finishes even if every waiter goes away; the task
    /// leaves the in-flight map when done, so a failure is retried by the next container.
    fn spawn_download(&self, resource: &LocalResource, proof: &Proof) -> Fetch {
        let (staging, cache_dir, in_flight) = (self.staging.clone(), self.cache_dir.clone(), self.in_flight.clone());
        let (resource, proof) = (resource.clone(), proof.clone());
        let task = tokio::spawn(async move {
            let result = download(&staging, &cache_dir, &resource, &proof).await;
            in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(&resource.sha256);
            result
        });
        async move { task.await.unwrap_or_else(|e| Err(FetchError::Io(format!("the download task failed: {e}")))) }
            .boxed()
            .shared()
    }
}

/// `<cache>/<sha256>/<name>` if a complete copy is there (only renames put files there).
async fn cached(cache_dir: &Path, sha256: &str) -> Option<PathBuf> {
    let mut entries = tokio::fs::read_dir(cache_dir.join(sha256)).await.ok()?;
    while let Ok(Some(entry)) = entries.next_entry().await {
        if entry.file_type().await.is_ok_and(|t| t.is_file()) {
            return Some(entry.path());
        }
    }
    None
}

/// Who a fetch is for: the container and the token its start request carried.
#[derive(Clone)]
struct Proof {
    container: String,
    token: Vec<u8>,
}

fn fetch_error(error: DownloadError) -> FetchError {
    FetchError::Download(error.to_string())
}

/// Asks the ResourceManager whether the container's application holds the file.
async fn check(staging: &Staging, resource: &LocalResource, proof: &Proof) -> Result<(), FetchError> {
    staging.check(&resource.sha256, &proof.token, &proof.container).await.map_err(fetch_error)
}

async fn download(
    staging: &Staging,
    cache_dir: &Path,
    resource: &LocalResource,
    proof: &Proof,
) -> Result<PathBuf, FetchError> {
    if let Some(path) = cached(cache_dir, &resource.sha256).await {
        check(staging, resource, proof).await?;
        return Ok(path);
    }
    let tmp_dir = cache_dir.join(".tmp");
    let temp = tempfile::NamedTempFile::new_in(&tmp_dir).map_err(|e| io_error("create a temp file in", &tmp_dir, e))?;
    let handle = temp.as_file().try_clone().map_err(|e| io_error("open", temp.path(), e))?;
    let mut file = tokio::fs::File::from_std(handle);
    let got = staging.download_to(&resource.sha256, &proof.token, &mut file).await.map_err(|e| match e {
        DownloadError::Io(e) => io_error("write", temp.path(), e),
        rpc => fetch_error(rpc),
    })?;
    drop(file);
    if got.sha256 != resource.sha256 {
        return Err(FetchError::Mismatch { expected: resource.sha256.clone(), actual: got.sha256, bytes: got.bytes });
    }
    let mode = if resource.executable { 0o555 } else { 0o444 };
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("set permissions of", temp.path(), e))?;
    let dir = cache_dir.join(&resource.sha256);
    std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
    // Readable by containers running as other users, whatever the NodeManager's umask.
    for open in [cache_dir, dir.as_path()] {
        std::fs::set_permissions(open, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io_error("set the mode of", open, e))?;
    }
    let target = dir.join(&resource.name);
    temp.persist(&target).map_err(|e| io_error("rename into", &target, e.error))?;
    tracing::info!(name = %resource.name, sha256 = %resource.sha256, bytes = got.bytes, "file localized");
    Ok(target)
}

/// Links `cached` into `work_dir` as the resource's name, making the file executable when asked.
async fn link(cached: &Path, work_dir: &Path, resource: &LocalResource) -> Result<(), FetchError> {
    if resource.executable {
        let metadata = tokio::fs::metadata(cached).await.map_err(|e| io_error("read", cached, e))?;
        let mode = metadata.permissions().mode();
        if mode & 0o111 != 0o111 {
            tokio::fs::set_permissions(cached, std::fs::Permissions::from_mode(mode | 0o555))
                .await
                .map_err(|e| io_error("make executable", cached, e))?;
        }
    }
    let link = work_dir.join(&resource.name);
    tokio::fs::symlink(cached, &link).await.map_err(|e| io_error("link", &link, e))
}
