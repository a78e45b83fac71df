//! Localization of the `file:` resources a Hadoop launch context names (Spark's `__spark_libs__`
//! and `__spark_conf__` zip archives, the application's jar or Python files), as YARN's FSDownload
//! does it: the source must still have the size and modification time the client saw; a FILE is
//! copied, an ARCHIVE unpacked (zip and jar, tar, tar.gz and tgz); the result is cached per node
//! by path + size + timestamp + type under the visibility's directory, so the executors of an
//! application (and, for PUBLIC and PRIVATE resources, later applications) share one copy; and the
//! container's working directory gets a symlink under the resource's link name.
//!
//! Work happens in a blocking task writing into a temp directory that is renamed into place when
//! complete: a crash leaves no half entry, and concurrent containers wanting one entry share one
//! fetch. Archives are read as streams (the 400 MB libs archive never sits in memory) and no entry
//! may land outside its destination.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt, Shared};
use sha2::{Digest, Sha256};
use weft_proto::ApplicationId;

/// YARN's resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceKind {
    File,
    Archive,
    /// An archive of which YARN adds matching entries to the classpath; the whole archive is
    /// unpacked, as YARN does.
    Pattern,
}

impl ResourceKind {
    /// As YARN prints it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ResourceKind::File => "FILE",
            ResourceKind::Archive => "ARCHIVE",
            ResourceKind::Pattern => "PATTERN",
        }
    }
}

/// YARN's visibilities: where the cached copy lives and who shares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Visibility {
    Public,
    Private,
    Application,
}

/// One `file:` resource of a launch context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlResource {
    /// Link name in the working directory; may hold `/` (`__spark_libs__/a.jar`).
    pub(crate) link: String,
    /// The source, an absolute local path.
    pub(crate) path: PathBuf,
    /// Size and modification time (ms) the client saw; the source must still have them.
    pub(crate) size: i64,
    pub(crate) timestamp: i64,
    pub(crate) kind: ResourceKind,
    pub(crate) visibility: Visibility,
}

/// Checks a link name: relative, made of plain components.
pub(crate) fn check_link(link: &str) -> Result<(), String> {
    let plain = |part: &str| !part.is_empty() && part != "." && part != ".." && !part.contains('\0');
    if link.starts_with('/') || !link.split('/').all(plain) {
        return Err(format!("link name {link:?} is not a relative path of plain names"));
    }
    Ok(())
}

/// A resource that could not be localized: the container's diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Failed to download resource {{ file:{}, {timestamp}, {}, null }} for {link}: {cause}", path.display(), kind.as_str())]
pub(crate) struct UrlLocalizeError {
    pub(crate) path: PathBuf,
    pub(crate) timestamp: i64,
    pub(crate) kind: ResourceKind,
    pub(crate) link: String,
    pub(crate) cause: String,
}

type Fetch = Shared<BoxFuture<'static, Result<PathBuf, String>>>;

/// The node's cache of `file:` resources.
pub(crate) struct UrlCache {
    local_root: PathBuf,
    in_flight: Arc<Mutex<HashMap<PathBuf, Fetch>>>,
}

impl UrlCache {
    /// The cache under the node's first local dir.
    pub(crate) fn open(local_root: PathBuf) -> io::Result<UrlCache> {
        fs::create_dir_all(&local_root)?;
        Ok(UrlCache { local_root, in_flight: Arc::new(Mutex::new(HashMap::new())) })
    }

    /// Where entries of `visibility` live, as YARN lays them out.
    fn root(&self, visibility: Visibility, user: &str, app: ApplicationId) -> PathBuf {
        let user_dir = self.local_root.join("usercache").join(user);
        match visibility {
            Visibility::Public => self.local_root.join("filecache").join("hadoop"),
            Visibility::Private => user_dir.join("filecache"),
            Visibility::Application => user_dir.join("appcache").join(app.to_string()).join("filecache"),
        }
    }

    /// Localizes every resource and links it into `work_dir` under its link name.
    pub(crate) async fn localize_into(
        &self,
        resources: &[UrlResource],
        user: &str,
        app: ApplicationId,
        work_dir: &Path,
    ) -> Result<(), UrlLocalizeError> {
        for resource in resources {
            let wrap = |cause: String| UrlLocalizeError {
                path: resource.path.clone(),
                timestamp: resource.timestamp,
                kind: resource.kind,
                link: resource.link.clone(),
                cause,
            };
            let cached = self.fetch(resource, user, app).await.map_err(wrap)?;
            link(&cached, work_dir, &resource.link).await.map_err(wrap)?;
        }
        Ok(())
    }

    /// The cached copy, fetched first if needed; the source is checked every time.
    async fn fetch(&self, resource: &UrlResource, user: &str, app: ApplicationId) -> Result<PathBuf, String> {
        check_link(&resource.link)?;
        let source = resource.clone();
        tokio::task::spawn_blocking(move || check_source(&source))
            .await
            .map_err(|e| format!("the check task failed: {e}"))??;
        let root = self.root(resource.visibility, user, app);
        let entry = root.join(cache_key(resource));
        let target = entry.join(file_name(&resource.path)?);
        if tokio::fs::symlink_metadata(&target).await.is_ok() {
            return Ok(target);
        }
        let fetch = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            in_flight
                .entry(entry.clone())
                .or_insert_with(|| spawn_fetch(&self.in_flight, resource, root, entry))
                .clone()
        };
        fetch.await
    }
}

/// Fetches in a task of its own, so it finishes even if every waiter goes away; it leaves the
/// in-flight map when done, so a failure is retried by the next container.
fn spawn_fetch(
    in_flight: &Arc<Mutex<HashMap<PathBuf, Fetch>>>,
    resource: &UrlResource,
    root: PathBuf,
    entry: PathBuf,
) -> Fetch {
    let (in_flight, resource) = (in_flight.clone(), resource.clone());
    let task = tokio::task::spawn_blocking(move || {
        let result = materialize(&resource, &root, &entry);
        in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(&entry);
        result
    });
    async move { task.await.unwrap_or_else(|e| Err(format!("the localization task failed: {e}"))) }.boxed().shared()
}

/// The entry's name: a digest of what identifies the resource's content.
fn cache_key(resource: &UrlResource) -> String {
    let mut digest = Sha256::new();
    digest.update(resource.path.as_os_str().as_encoded_bytes());
    digest.update([0]);
    digest.update(format!("{}:{}:{:?}", resource.size, resource.timestamp, resource.kind));
    hex::encode(&digest.finalize()[..16])
}

fn file_name(path: &Path) -> Result<&std::ffi::OsStr, String> {
    path.file_name().ok_or_else(|| format!("{} names no file", path.display()))
}

/// The source must exist and still have the size and modification time the client saw.
fn check_source(resource: &UrlResource) -> Result<(), String> {
    let path = &resource.path;
    let metadata = fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("File file:{} does not exist", path.display()),
        _ => format!("cannot read file:{}: {e}", path.display()),
    })?;
    let modified = metadata.modified().map_err(|e| format!("cannot read the time of file:{}: {e}", path.display()))?;
    let modified_ms = modified.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    if modified_ms != resource.timestamp {
        return Err(format!(
            "Resource file:{} changed on src filesystem (expected {}, was {modified_ms}",
            path.display(),
            resource.timestamp
        ));
    }
    if resource.size >= 0 && metadata.len() != resource.size as u64 {
        return Err(format!(
            "Resource file:{} changed on src filesystem (expected size {}, was {}",
            path.display(),
            resource.size,
            metadata.len()
        ));
    }
    Ok(())
}

/// Copies or unpacks the source into a temp dir under `root`, then renames it to `entry`.
fn materialize(resource: &UrlResource, root: &Path, entry: &Path) -> Result<PathBuf, String> {
    let name = file_name(&resource.path)?;
    let target = entry.join(name);
    if fs::symlink_metadata(&target).is_ok() {
        return Ok(target);
    }
    fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(root)
        .map_err(|e| format!("cannot create a temp dir in {}: {e}", root.display()))?;
    fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot set the mode of {}: {e}", temp.path().display()))?;
    let destination = temp.path().join(name);
    let lower = name.to_string_lossy().to_ascii_lowercase();
    let unpacked = match resource.kind {
        ResourceKind::File => None,
        ResourceKind::Archive | ResourceKind::Pattern if lower.ends_with(".zip") || lower.ends_with(".jar") => {
            Some(unzip(&resource.path, &destination))
        }
        ResourceKind::Archive | ResourceKind::Pattern if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") => {
            Some(untar(flate2::read::GzDecoder::new(open(&resource.path)?), &destination))
        }
        ResourceKind::Archive | ResourceKind::Pattern if lower.ends_with(".tar") => {
            Some(untar(open(&resource.path)?, &destination))
        }
        ResourceKind::Archive | ResourceKind::Pattern => {
            // As YARN: an archive of no known format is localized as the file itself.
            tracing::warn!(path = %resource.path.display(), "cannot unpack an archive of this name; localizing it as a file");
            None
        }
    };
    match unpacked {
        Some(result) => result.map_err(|e| format!("cannot unpack {}: {e}", resource.path.display()))?,
        None => copy(&resource.path, &destination)?,
    }
    // Another NodeManager process (or a task that lost the race) may have made it already.
    let temp = temp.keep();
    match fs::rename(&temp, entry) {
        Ok(()) => {}
        Err(_) if fs::symlink_metadata(&target).is_ok() => {
            let _ = fs::remove_dir_all(&temp);
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&temp);
            return Err(format!("cannot move the localized copy into {}: {e}", entry.display()));
        }
    }
    tracing::info!(path = %resource.path.display(), entry = %entry.display(), "resource localized");
    Ok(target)
}

fn open(path: &Path) -> Result<BufReader<File>, String> {
    File::open(path).map(BufReader::new).map_err(|e| format!("cannot open file:{}: {e}", path.display()))
}

fn copy(source: &Path, destination: &Path) -> Result<(), String> {
    let mut reader = open(source)?;
    let mut file = File::create(destination).map_err(|e| format!("cannot create {}: {e}", destination.display()))?;
    io::copy(&mut reader, &mut file).map_err(|e| format!("cannot copy file:{}: {e}", source.display()))?;
    let executable = fs::metadata(source).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(destination, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", destination.display()))
}

/// A zip (or jar) entry by entry, each streamed to its file; names that would leave the
/// destination are refused.
fn unzip(source: &Path, destination: &Path) -> io::Result<()> {
    let mut archive = zip::ZipArchive::new(File::open(source)?).map_err(io::Error::other)?;
    fs::create_dir_all(destination)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(io::Error::other)?;
        let relative = entry
            .enclosed_name()
            .filter(|p| p.components().all(|c| matches!(c, Component::Normal(_))))
            .ok_or_else(|| io::Error::other(format!("entry {:?} would land outside the destination", entry.name())))?;
        let path = destination.join(relative);
        if entry.is_dir() {
            fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = File::create(&path)?;
        io::copy(&mut entry, &mut file)?;
        let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        fs::set_permissions(&path, fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }))?;
    }
    Ok(())
}

/// A tar stream entry by entry; an entry that would leave the destination is refused.
fn untar(reader: impl io::Read, destination: &Path) -> io::Result<()> {
    fs::create_dir_all(destination)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.display().to_string();
        if !entry.unpack_in(destination)? {
            return Err(io::Error::other(format!("entry {name:?} would land outside the destination")));
        }
    }
    Ok(())
}

/// Links `cached` into `work_dir` as `link`, creating the link's parent directories.
async fn link(cached: &Path, work_dir: &Path, link: &str) -> Result<(), String> {
    let path = work_dir.join(link);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    tokio::fs::symlink(cached, &path).await.map_err(|e| format!("cannot link {}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
