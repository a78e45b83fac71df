//! Staging a local file in the ResourceManager's content-addressed store, so NodeManagers can localize
//! it into containers.
//!
//! Every call carries the application's staging token (from GetNewApplication): files go into that
//! application's account, and only its containers can read them. The sha256 is computed while
//! streaming the file (never holding it whole), or taken from this user's hash cache (`hash_cache.rs`) when the
//! file has not changed since it was last hashed. `Stat` comes first, and the upload is skipped when
//! the application holds that content — which it does as soon as it asks, if the same user uploaded
//! those bytes before (the store keeps proof of possession per user; a file only another user
//! staged is sent again); otherwise `Upload` streams the file in 1 MiB chunks, the first carrying
//! the header (name, sha256, size). The store checks the content against the header, and the client
//! checks the store's answer against what it hashed. A remembered hash the store finds wrong costs
//! one failed upload: the file is hashed again and sent once more.

mod hash_cache;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt;
use weft_proto::pb;

use crate::rm::Rm;
use crate::Error;
use hash_cache::{FileKey, HashCache};

/// Size of the upload chunks and of the hashing buffer.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// A file's content address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Lower-case hex sha256.
    pub sha256: String,
    pub size: u64,
}

/// Hashes `reader` to its end, `CHUNK_BYTES` at a time.
pub fn hash_reader(mut reader: impl Read) -> std::io::Result<Digest> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok(Digest { sha256: hex::encode(hasher.finalize()), size })
}

fn read_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::failed(format!("cannot read {}: {e}", path.display()))
}

/// Hashes the file at `path` on a blocking thread.
pub async fn hash_file(path: &Path) -> Result<Digest, Error> {
    let owned = path.to_owned();
    let hashed = tokio::task::spawn_blocking(move || std::fs::File::open(&owned).and_then(hash_reader)).await;
    match hashed {
        Ok(result) => result.map_err(|e| read_error(path, e)),
        Err(join) => Err(read_error(path, join)),
    }
}

/// Makes the file at `path` available to containers as `name`; uploads only what the store lacks.
/// The hash comes from this user's hash cache when the file is unchanged since it was hashed.
pub async fn stage(rm: &mut Rm, path: &Path, name: &str, executable: bool) -> Result<pb::LocalResource, Error> {
    stage_with(rm, path, name, executable, HashCache::of_user().as_ref()).await
}

/// [`stage`] with the hashes remembered in `cache`, or none.
pub(crate) async fn stage_with(
    rm: &mut Rm,
    path: &Path,
    name: &str,
    executable: bool,
    cache: Option<&HashCache>,
) -> Result<pb::LocalResource, Error> {
    let (mut digest, remembered) = digest_of(path, cache).await?;
    if let Err(error) = stat_or_upload(rm, path, name, &digest).await {
        let Some(key) = remembered else { return Err(error) };
        // The remembered hash was only a claim; hashing the file tells whether it was the culprit
        // (and remembers the actual one instead).
        if let Some(cache) = cache {
            cache.forget(&key.path);
        }
        let fresh = hash_and_remember(path, cache).await?;
        if fresh == digest {
            return Err(error);
        }
        tracing::warn!(
            path = %path.display(),
            remembered = %digest.sha256,
            actual = %fresh.sha256,
            cache = %cache.map(|c| c.path().display().to_string()).unwrap_or_default(),
            error = %error,
            "the remembered hash of the file was wrong, so its upload failed; staging it again with its actual hash"
        );
        stat_or_upload(rm, path, name, &fresh).await?;
        digest = fresh;
    }
    Ok(pb::LocalResource { name: name.to_owned(), sha256: digest.sha256, size: digest.size, executable })
}

/// The digest of the file at `path`: remembered in `cache` if the file is unchanged since (with the
/// key it was found under), else hashed now (and remembered).
async fn digest_of(path: &Path, cache: Option<&HashCache>) -> Result<(Digest, Option<FileKey>), Error> {
    if let Some(cache) = cache {
        let (owned, cache) = (path.to_owned(), cache.clone());
        let hit = tokio::task::spawn_blocking(move || {
            let key = FileKey::of(&owned)?;
            cache.lookup(&key).map(|digest| (digest, key))
        })
        .await
        .ok()
        .flatten();
        if let Some((digest, key)) = hit {
            tracing::debug!(path = %path.display(), sha256 = %digest.sha256, "hash remembered from an earlier staging");
            return Ok((digest, Some(key)));
        }
    }
    Ok((hash_and_remember(path, cache).await?, None))
}

/// Hashes the file at `path` and remembers the hash in `cache`.
async fn hash_and_remember(path: &Path, cache: Option<&HashCache>) -> Result<Digest, Error> {
    let (owned, cache) = (path.to_owned(), cache.cloned());
    let hashed = tokio::task::spawn_blocking(move || {
        // The key is taken before reading: a change while hashing makes it stale, so it never
        // matches the file again.
        let began = SystemTime::now();
        let key = cache.as_ref().and_then(|_| FileKey::of(&owned));
        let digest = std::fs::File::open(&owned).and_then(hash_reader)?;
        if let (Some(cache), Some(key)) = (cache, key) {
            cache.remember(&key, &digest, began);
        }
        Ok::<_, std::io::Error>(digest)
    })
    .await;
    match hashed {
        Ok(result) => result.map_err(|e| read_error(path, e)),
        Err(join) => Err(read_error(path, join)),
    }
}

/// `Stat`, then `Upload` unless the application holds the content already.
async fn stat_or_upload(rm: &mut Rm, path: &Path, name: &str, digest: &Digest) -> Result<(), Error> {
    let request = rm.staging_request(pb::StatBlobRequest { sha256: digest.sha256.clone() })?;
    let stat = rm.staging.stat(request).await.map_err(|s| rm.error("ask the staging store for a file", s))?;
    let stat = stat.into_inner();
    if stat.exists && stat.size == digest.size {
        tracing::debug!(path = %path.display(), sha256 = %digest.sha256, "already staged");
        Ok(())
    } else {
        upload(rm, path, name, digest).await
    }
}

/// Fills `buffer` from `file` until it is full or the file ends; returns the bytes read.
async fn read_chunk(file: &mut tokio::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Streams the file at `path` to the store as `digest` says it is; fails when the store disagrees.
pub async fn upload(rm: &mut Rm, path: &Path, name: &str, digest: &Digest) -> Result<(), Error> {
    let file = tokio::fs::File::open(path).await.map_err(|e| read_error(path, e))?;
    let header = pb::UploadHeader { name: name.to_owned(), sha256: digest.sha256.clone(), size: digest.size };
    let failed_read: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
    let slot = failed_read.clone();
    // State: the file, the header still to send (first chunk only), and whether the file has ended.
    let chunks = futures::stream::unfold((file, Some(header), false), move |(mut file, header, ended)| {
        let slot = slot.clone();
        async move {
            if ended {
                return None;
            }
            let mut data = vec![0u8; CHUNK_BYTES];
            match read_chunk(&mut file, &mut data).await {
                Ok(0) if header.is_none() => None,
                Ok(n) => {
                    data.truncate(n);
                    Some((pb::UploadChunk { header, data }, (file, None, n < CHUNK_BYTES)))
                }
                Err(e) => {
                    *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(e);
                    None
                }
            }
        }
    });
    let reply = rm.staging.upload(rm.staging_request(chunks)?).await;
    if let Some(e) = failed_read.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
        return Err(read_error(path, e));
    }
    let reply = reply.map_err(|s| rm.error(format!("upload {} to the staging store", path.display()), s))?;
    let pb::UploadResponse { sha256, size } = reply.into_inner();
    if !sha256.eq_ignore_ascii_case(&digest.sha256) || size != digest.size {
        return Err(Error::failed(format!(
            "the staging store recorded {} as sha256 {sha256} ({size} bytes), expected {} ({} bytes)",
            path.display(),
            digest.sha256,
            digest.size
        )));
    }
    tracing::debug!(path = %path.display(), sha256 = %digest.sha256, size, "staged");
    Ok(())
}
