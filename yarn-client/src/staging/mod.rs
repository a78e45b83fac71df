//! Staging a local file in the ResourceManager's content-addressed store, so NodeManagers can localize
//! it into containers.
//!
//! Every call carries the application's staging token (from GetNewApplication): files go into that
//! application's account, and only its containers can read them. The sha256 is computed while
//! streaming the file (never holding it whole). `Stat` comes first and the upload is skipped when the
//! application already holds that content (a file another application staged is sent again);
//! otherwise `Upload` streams the file in
//! 1 MiB chunks, the first carrying the header (name, sha256, size). The store checks the content
//! against the header, and the client checks the store's answer against what it hashed.

#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt;
use weft_proto::pb;

use crate::rm::Rm;
use crate::Error;

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
pub async fn stage(rm: &mut Rm, path: &Path, name: &str, executable: bool) -> Result<pb::LocalResource, Error> {
    let digest = hash_file(path).await?;
    let request = rm.staging_request(pb::StatBlobRequest { sha256: digest.sha256.clone() })?;
    let stat = rm.staging.stat(request).await.map_err(|s| rm.error("ask the staging store for a file", s))?;
    let stat = stat.into_inner();
    if stat.exists && stat.size == digest.size {
        tracing::debug!(path = %path.display(), sha256 = %digest.sha256, "already staged");
    } else {
        upload(rm, path, name, &digest).await?;
    }
    Ok(pb::LocalResource { name: name.to_owned(), sha256: digest.sha256, size: digest.size, executable })
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
