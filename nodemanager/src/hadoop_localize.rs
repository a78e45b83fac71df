//! Localization of the `file:` resources a Hadoop launch context names (Spark's `__spark_libs__`
//! and `__spark_conf__` zip archives, the application's jar or Python files), as YARN's FSDownload
//! does it: the source must still have the size and modification time the client saw; a FILE is
//! copied, an ARCHIVE unpacked (zip and jar, tar, tar.gz and tgz); the result is cached per node
//! by path + size + timestamp + type under the visibility's directory, so the executors of an
//! application (and, for PUBLIC and PRIVATE resources, later applications) share one copy; and the
//! container's working directory gets a symlink under the resource's link name.
//!
//! The source is opened with the file-system identity of the user the container runs as (when the
//! NodeManager runs containers as other users), every time, cache hit or not: a file that user may
//! not read is refused, never copied by the NodeManager on its behalf; the copy reads from that
//! descriptor, so nothing swapped in at the path afterwards is read.
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

use crate::run_as::Account;

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

/// Checks a link name: relative, made of plain components (no empty, `.` or `..` part, no NUL).
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

/// The fetches under way, by entry; shared with the tasks doing them.
#[derive(Default)]
struct InFlight {
    fetches: Mutex<HashMap<PathBuf, Fetch>>,
    /// How many entries were made (copied or unpacked), for tests of sharing and reuse.
    #[cfg(test)]
    n_made: std::sync::atomic::AtomicUsize,
}

/// The node's cache of `file:` resources.
pub(crate) struct UrlCache {
    local_root: PathBuf,
    in_flight: Arc<InFlight>,
    retention: Arc<Mutex<Retention>>,
}

impl UrlCache {
    /// The cache under the node's first local dir, keeping unused entries up to `target_bytes`;
    /// removes the temp dirs a previous run left and counts the entries it left.
    pub(crate) fn open(local_root: PathBuf, target_bytes: u64) -> io::Result<UrlCache> {
        fs::create_dir_all(&local_root)?;
        let mut retention = Retention::new(target_bytes);
        for root in cache_roots(&local_root)? {
            remove_temp_dirs(&root)?;
            for entry in subdirs(&root)? {
                let bytes = disk_bytes(&entry);
                retention.found(entry, bytes);
            }
        }
        Ok(UrlCache { local_root, in_flight: Arc::default(), retention: Arc::new(Mutex::new(retention)) })
    }

    /// `app` has finished on this node: the entries no running application uses go, least recently
    /// used first, until the cache is within its target (each renamed away at once, so no new
    /// container links it, then deleted).
    pub(crate) async fn app_finished(&self, app: ApplicationId) {
        let retention = self.retention.clone();
        let removed = tokio::task::spawn_blocking(move || {
            let mut retention = retention.lock().unwrap_or_else(PoisonError::into_inner);
            let doomed: Vec<PathBuf> = retention
                .app_finished(app)
                .into_iter()
                .filter_map(|entry| {
                    let parent = entry.parent()?;
                    let name = entry.file_name()?.to_string_lossy().into_owned();
                    let away = parent.join(format!(".tmp-evicted-{name}"));
                    fs::rename(&entry, &away).ok().map(|()| away)
                })
                .collect();
            drop(retention);
            for dir in &doomed {
                if let Err(error) = fs::remove_dir_all(dir) {
                    tracing::warn!(dir = %dir.display(), %error, "cannot remove an evicted cache entry");
                }
            }
            doomed.len()
        })
        .await
        .unwrap_or(0);
        if removed > 0 {
            tracing::info!(%app, removed, "localized resources evicted from the cache");
        }
    }

    fn retention(&self) -> std::sync::MutexGuard<'_, Retention> {
        self.retention.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Localizes every resource and links it into `work_dir` under its link name; `reader` is the
    /// account the container runs as (`None`: the NodeManager's own), whose right to read each
    /// source is what counts.
    pub(crate) async fn localize_into(
        &self,
        resources: &[UrlResource],
        user: &str,
        reader: Option<&Account>,
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
            let cached = self.fetch(resource, user, reader, app).await.map_err(wrap)?;
            link(&cached, work_dir, &resource.link).await.map_err(wrap)?;
        }
        Ok(())
    }

    /// The cached copy, made first if needed; the source is opened as `reader` and checked every
    /// time.
    async fn fetch(
        &self,
        resource: &UrlResource,
        user: &str,
        reader: Option<&Account>,
        app: ApplicationId,
    ) -> Result<PathBuf, String> {
        check_link(&resource.link)?;
        let (source, reader) = (resource.clone(), reader.cloned());
        let opened = tokio::task::spawn_blocking(move || {
            let file = open_source(&source, reader.as_ref())?;
            check_source(&source, &file, crate::clock::now_ms() as i64)?;
            Ok::<File, String>(file)
        })
        .await
        .map_err(|e| format!("the check task failed: {e}"))??;
        let root = self.root(resource.visibility, user, app);
        let entry = root.join(cache_key(resource));
        let target = entry.join(file_name(&resource.path)?);
        // In use from now on: no eviction can take it between this check and the container's end.
        self.retention().used(entry.clone(), app, resource.visibility == Visibility::Application);
        if tokio::fs::symlink_metadata(&target).await.is_ok() {
            return Ok(target);
        }
        let fetch = {
            let mut fetches = self.in_flight.fetches.lock().unwrap_or_else(PoisonError::into_inner);
            fetches
                .entry(entry.clone())
                .or_insert_with(|| spawn_fetch(&self.in_flight, resource, opened, root, entry.clone()))
                .clone()
        };
        let target = fetch.await?;
        let measured = entry.clone();
        let bytes = tokio::task::spawn_blocking(move || disk_bytes(&measured)).await.unwrap_or(0);
        self.retention().sized(&entry, bytes);
        Ok(target)
    }
}

/// Makes the entry in a task of its own, so it finishes even if every waiter goes away; it leaves
/// the in-flight map when done, so a failure is retried by the next container.
fn spawn_fetch(
    in_flight: &Arc<InFlight>,
    resource: &UrlResource,
    source: File,
    root: PathBuf,
    entry: PathBuf,
) -> Fetch {
    let (in_flight, resource) = (in_flight.clone(), resource.clone());
    let task = tokio::task::spawn_blocking(move || {
        let result = file_name(&resource.path).and_then(|name| {
            let target = entry.join(name);
            if fs::symlink_metadata(&target).is_ok() {
                return Ok(target);
            }
            #[cfg(test)]
            in_flight.n_made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            materialize(&resource, source, &root, &entry).map(|()| target)
        });
        in_flight.fetches.lock().unwrap_or_else(PoisonError::into_inner).remove(&entry);
        result
    });
    async move { task.await.unwrap_or_else(|e| Err(format!("the localization task failed: {e}"))) }.boxed().shared()
}

/// The visibility roots that exist under `local_root`: PUBLIC's, and each user's PRIVATE and
/// APPLICATION ones.
fn cache_roots(local_root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut roots = vec![local_root.join("filecache").join("hadoop")];
    for user in subdirs(&local_root.join("usercache"))? {
        roots.push(user.join("filecache"));
        roots.extend(subdirs(&user.join("appcache"))?.into_iter().map(|app| app.join("filecache")));
    }
    Ok(roots)
}

/// The directories in `dir`, none if it does not exist.
fn subdirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            Ok(entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Bytes of the files under `path` (0 for what cannot be read).
fn disk_bytes(path: &Path) -> u64 {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            fs::read_dir(path).map(|entries| entries.flatten().map(|e| disk_bytes(&e.path())).sum()).unwrap_or(0)
        }
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Removes the `.tmp-` dirs of fetches a crash interrupted.
fn remove_temp_dirs(root: &Path) -> io::Result<()> {
    for dir in subdirs(root)? {
        if dir.file_name().is_some_and(|name| name.to_string_lossy().starts_with(".tmp-")) {
            fs::remove_dir_all(&dir)?;
        }
    }
    Ok(())
}

/// The entry's name: the hex sha256 of what identifies the resource's content.
fn cache_key(resource: &UrlResource) -> String {
    let mut digest = Sha256::new();
    digest.update(resource.path.as_os_str().as_encoded_bytes());
    digest.update([0]);
    digest.update(format!("{}:{}:{}", resource.size, resource.timestamp, resource.kind.as_str()));
    hex::encode(digest.finalize())
}

fn file_name(path: &Path) -> Result<&std::ffi::OsStr, String> {
    path.file_name().ok_or_else(|| format!("{} names no file", path.display()))
}

/// The source, opened as `reader` would open it (a regular file it may read), non-blocking.
fn open_source(resource: &UrlResource, reader: Option<&Account>) -> Result<File, String> {
    let path = &resource.path;
    let opened = match reader {
        Some(account) => crate::launcher::identity::open_as(account, path),
        None => std::os::unix::fs::OpenOptionsExt::custom_flags(
            fs::OpenOptions::new().read(true),
            libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
        .open(path),
    };
    let file = opened.map_err(|e| match (e.kind(), reader) {
        (io::ErrorKind::NotFound, _) => format!("File file:{} does not exist", path.display()),
        (io::ErrorKind::PermissionDenied, Some(account)) => format!(
            "Permission denied: file:{} is not readable by {}, the user the container runs as",
            path.display(),
            account.name
        ),
        _ => format!("cannot read file:{}: {e}", path.display()),
    })?;
    let is_file = file.metadata().is_ok_and(|m| m.is_file());
    if !is_file {
        return Err(format!("file:{} is not a regular file", path.display()));
    }
    Ok(file)
}

/// The source must still have the modification time (YARN's check, in its words) and the size the
/// client saw.
fn check_source(resource: &UrlResource, file: &File, now_ms: i64) -> Result<(), String> {
    let path = &resource.path;
    let metadata = file.metadata().map_err(|e| format!("cannot read file:{}: {e}", path.display()))?;
    let modified = metadata.modified().map_err(|e| format!("cannot read the time of file:{}: {e}", path.display()))?;
    let modified_ms = match modified.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    };
    if modified_ms != resource.timestamp {
        return Err(format!(
            "Resource file:{} changed on src filesystem - expected: \"{}\", was: \"{}\", current time: \"{}\"",
            path.display(),
            iso8601(resource.timestamp),
            iso8601(modified_ms),
            iso8601(now_ms)
        ));
    }
    if resource.size >= 0 && metadata.len() != resource.size as u64 {
        return Err(format!(
            "Resource file:{} changed on src filesystem - expected size: {}, was: {}",
            path.display(),
            resource.size,
            metadata.len()
        ));
    }
    Ok(())
}

/// Hadoop's `Times.formatISO8601` (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`), in UTC.
fn iso8601(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|at| at.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Copies or unpacks the opened source into a temp dir under `root`, then renames it to `entry`.
fn materialize(resource: &UrlResource, source_file: File, root: &Path, entry: &Path) -> Result<(), String> {
    let name = file_name(&resource.path)?;
    fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(root)
        .map_err(|e| format!("cannot create a temp dir in {}: {e}", root.display()))?;
    set_mode(temp.path(), 0o755).map_err(|e| format!("cannot set the mode of {}: {e}", temp.path().display()))?;
    let destination = temp.path().join(name);
    let lower = name.to_string_lossy().to_ascii_lowercase();
    let source = &resource.path;
    let unpacked = match resource.kind {
        ResourceKind::File => Err(source_file),
        _ if lower.ends_with(".zip") || lower.ends_with(".jar") => Ok(unzip(source_file, &destination)),
        _ if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") => {
            Ok(untar(flate2::read::GzDecoder::new(BufReader::new(source_file)), &destination))
        }
        _ if lower.ends_with(".tar") => Ok(untar(BufReader::new(source_file), &destination)),
        _ => {
            // As FSDownload.unpack: an archive of no known format is copied as the file itself.
            tracing::warn!(path = %source.display(), "cannot unpack an archive of this name; localizing it as a file");
            Err(source_file)
        }
    };
    match unpacked {
        Ok(result) => result.map_err(|e| format!("cannot unpack file:{}: {e}", source.display()))?,
        Err(file) => copy(file, source, &destination)?,
    }
    let temp = temp.keep();
    if let Err(e) = fs::rename(&temp, entry) {
        let _ = fs::remove_dir_all(&temp);
        // Another NodeManager process may have made it meanwhile.
        if fs::symlink_metadata(entry.join(name)).is_err() {
            return Err(format!("cannot move the localized copy into {}: {e}", entry.display()));
        }
    }
    tracing::info!(path = %source.display(), entry = %entry.display(), "resource localized");
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// 0o755 for an executable file, else 0o644: readable by every container.
fn file_mode(mode: u32) -> u32 {
    if mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

fn copy(source_file: File, source: &Path, destination: &Path) -> Result<(), String> {
    let mode = source_file.metadata().map_or(0o644, |m| file_mode(m.permissions().mode()));
    let mut reader = BufReader::new(source_file);
    let mut file = File::create(destination).map_err(|e| format!("cannot create {}: {e}", destination.display()))?;
    io::copy(&mut reader, &mut file).map_err(|e| format!("cannot copy file:{}: {e}", source.display()))?;
    set_mode(destination, mode).map_err(|e| format!("cannot set the mode of {}: {e}", destination.display()))
}

/// Where the archive entry `name` goes under `destination`: refused if the name is absolute or
/// has a `..`, or if the path goes through (or replaces) a symlink an earlier entry made.
fn entry_path(destination: &Path, name: &Path) -> io::Result<PathBuf> {
    let outside = || io::Error::other(format!("entry {:?} would land outside the destination", name.display()));
    let mut path = destination.to_path_buf();
    for component in name.components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => continue,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(outside());
        }
    }
    Ok(path)
}

/// A zip (or jar) entry by entry, each streamed to its file.
fn unzip(source: File, destination: &Path) -> io::Result<()> {
    let mut archive = zip::ZipArchive::new(source).map_err(io::Error::other)?;
    fs::create_dir_all(destination)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(io::Error::other)?;
        let path = entry_path(destination, Path::new(entry.name()))?;
        if entry.is_dir() {
            fs::create_dir_all(&path)?;
            set_mode(&path, 0o755)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        if entry.is_symlink() {
            let mut target = String::new();
            io::Read::read_to_string(&mut io::Read::take(&mut entry, 4096), &mut target)?;
            std::os::unix::fs::symlink(target, &path)?;
            continue;
        }
        let mut file = File::create(&path)?;
        io::copy(&mut entry, &mut file)?;
        set_mode(&path, file_mode(entry.unix_mode().unwrap_or(0o644)))?;
    }
    Ok(())
}

/// A tar stream entry by entry.
fn untar(reader: impl io::Read, destination: &Path) -> io::Result<()> {
    fs::create_dir_all(destination)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        let path = entry_path(destination, &name)?;
        if !entry.unpack_in(destination)? {
            return Err(io::Error::other(format!("entry {:?} would land outside the destination", name.display())));
        }
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            set_mode(&path, 0o755)?;
        } else if kind.is_file() || kind.is_contiguous() {
            set_mode(&path, file_mode(entry.header().mode()?))?;
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

mod retention;

use retention::Retention;

#[cfg(test)]
mod tests;
