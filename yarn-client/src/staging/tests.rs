//! The staging client against a small in-process gRPC server on 127.0.0.1:0 that implements `Stat` and
//! `Upload` the way the contract says (content checked against the header, the application's staging
//! token required), and records what it got; with a hash cache in a temporary directory, or none.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::Stream;
use sha2::{Digest as _, Sha256};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use weft_proto::pb::staging_server::{Staging, StagingServer};
use weft_proto::pb::{self, UploadChunk};

use super::hash_cache::{FileKey, HashCache};
use super::*;

#[derive(Default)]
struct Recorded {
    /// sha256 → size of what the store holds.
    blobs: HashMap<String, u64>,
    /// Every upload call: its chunks as (had a header, data length).
    uploads: Vec<Vec<(Option<pb::UploadHeader>, usize)>>,
    stats: usize,
}

#[derive(Clone, Default)]
struct TestStore {
    recorded: Arc<Mutex<Recorded>>,
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<pb::DownloadChunk, Status>> + Send>>;

/// The staging token the test store accepts.
const TOKEN: &[u8] = b"staging token of application_1700000000000_0001";

fn check_token<T>(request: &Request<T>) -> Result<(), Status> {
    let sent = request.metadata().get_bin(weft_proto::STAGING_TOKEN_METADATA).map(|v| v.to_bytes().unwrap());
    match sent {
        Some(token) if token.as_ref() == TOKEN => Ok(()),
        _ => Err(Status::unauthenticated("no valid staging token")),
    }
}

#[tonic::async_trait]
impl Staging for TestStore {
    async fn upload(&self, request: Request<Streaming<UploadChunk>>) -> Result<Response<pb::UploadResponse>, Status> {
        check_token(&request)?;
        let mut stream = request.into_inner();
        let mut chunks = Vec::new();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut header: Option<pb::UploadHeader> = None;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if header.is_none() {
                header = chunk.header.clone();
            }
            hasher.update(&chunk.data);
            size += chunk.data.len() as u64;
            chunks.push((chunk.header, chunk.data.len()));
        }
        let header = header.ok_or_else(|| Status::invalid_argument("the first chunk must carry the header"))?;
        self.recorded.lock().unwrap().uploads.push(chunks);
        let sha256 = hex::encode(hasher.finalize());
        if sha256 != header.sha256 || size != header.size {
            return Err(Status::invalid_argument(format!(
                "uploaded data has sha256 {sha256} ({size} bytes); the header says {} ({} bytes)",
                header.sha256, header.size
            )));
        }
        self.recorded.lock().unwrap().blobs.insert(sha256.clone(), size);
        Ok(Response::new(pb::UploadResponse { sha256, size }))
    }

    async fn stat(&self, request: Request<pb::StatBlobRequest>) -> Result<Response<pb::StatBlobResponse>, Status> {
        check_token(&request)?;
        let mut recorded = self.recorded.lock().unwrap();
        recorded.stats += 1;
        let size = recorded.blobs.get(&request.into_inner().sha256).copied();
        Ok(Response::new(pb::StatBlobResponse { exists: size.is_some(), size: size.unwrap_or(0) }))
    }

    type DownloadStream = DownloadStream;

    async fn download(&self, _request: Request<pb::DownloadRequest>) -> Result<Response<DownloadStream>, Status> {
        Err(Status::unimplemented("the test store only takes uploads"))
    }
}

/// Serves `store` on 127.0.0.1:0; returns the bound address.
async fn serve(store: TestStore) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder().add_service(StagingServer::new(store)).serve_with_incoming(incoming),
    );
    address
}

/// A client of `store` holding the application's staging token, as after GetNewApplication.
async fn connect(store: &TestStore) -> Rm {
    let mut rm = Rm::connect(&serve(store.clone()).await, crate::rm::Retry::NEVER).await.unwrap();
    rm.staging_token = Some(TOKEN.to_vec());
    rm
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `len` bytes that are not all alike, so a misplaced chunk changes the hash.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn hashes_match_known_sha256() {
    let check = |bytes: &[u8], sha256: &str| {
        assert_eq!(hash_reader(bytes).unwrap(), Digest { sha256: sha256.to_owned(), size: bytes.len() as u64 });
    };
    check(b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check(b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let million_a = vec![b'a'; 1_000_000];
    check(&million_a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    let two_chunks = pattern(2 * CHUNK_BYTES + 17);
    let expected = hex::encode(Sha256::digest(&two_chunks));
    check(&two_chunks, &expected);
}

#[tokio::test]
async fn uploads_a_large_file_in_1_mib_chunks_with_the_header_first() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = pattern(2 * CHUNK_BYTES + CHUNK_BYTES / 2);
    let path = write(dir.path(), "big.bin", &bytes);
    let store = TestStore::default();
    let mut rm = connect(&store).await;
    let staged = stage_with(&mut rm, &path, "weft", true, None).await.unwrap();
    let sha256 = hex::encode(Sha256::digest(&bytes));
    assert_eq!(
        staged,
        pb::LocalResource { name: "weft".into(), sha256: sha256.clone(), size: bytes.len() as u64, executable: true }
    );
    let recorded = store.recorded.lock().unwrap();
    assert_eq!(recorded.uploads.len(), 1);
    let chunks = &recorded.uploads[0];
    let sizes: Vec<usize> = chunks.iter().map(|(_, len)| *len).collect();
    assert_eq!(sizes, [CHUNK_BYTES, CHUNK_BYTES, CHUNK_BYTES / 2]);
    let header = chunks[0].0.clone().expect("the first chunk carries the header");
    assert_eq!(header, pb::UploadHeader { name: "weft".into(), sha256: sha256.clone(), size: bytes.len() as u64 });
    assert!(chunks[1..].iter().all(|(h, _)| h.is_none()), "only the first chunk has a header");
    assert_eq!(recorded.blobs.get(&sha256), Some(&(bytes.len() as u64)));
}

#[tokio::test]
async fn skips_the_upload_when_the_store_has_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f", b"abc");
    let store = TestStore::default();
    store.recorded.lock().unwrap().blobs.insert(hex::encode(Sha256::digest(b"abc")), 3);
    let mut rm = connect(&store).await;
    let staged = stage_with(&mut rm, &path, "f", false, None).await.unwrap();
    assert_eq!(staged.size, 3);
    assert!(!staged.executable);
    let recorded = store.recorded.lock().unwrap();
    assert_eq!((recorded.stats, recorded.uploads.len()), (1, 0));
}

#[tokio::test]
async fn empty_and_exactly_one_chunk_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::default();
    let mut rm = connect(&store).await;
    stage_with(&mut rm, &write(dir.path(), "empty", b""), "empty", false, None).await.unwrap();
    stage_with(&mut rm, &write(dir.path(), "one", &pattern(CHUNK_BYTES)), "one", false, None).await.unwrap();
    let recorded = store.recorded.lock().unwrap();
    let sizes: Vec<Vec<usize>> = recorded.uploads.iter().map(|u| u.iter().map(|(_, len)| *len).collect()).collect();
    assert_eq!(sizes, [vec![0], vec![CHUNK_BYTES]]);
}

#[tokio::test]
async fn a_hash_mismatch_is_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "changing", b"first content");
    let store = TestStore::default();
    let mut rm = connect(&store).await;
    let digest = hash_file(&path).await.unwrap();
    // The file changes between hashing and uploading.
    std::fs::write(&path, b"other content").unwrap();
    let err = upload(&mut rm, &path, "changing", &digest).await.unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("uploaded data has sha256") && err.contains(&digest.sha256), "{err}");
    assert!(store.recorded.lock().unwrap().blobs.is_empty());
}

#[tokio::test]
async fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    let err = hash_file(&path).await.unwrap_err().to_string();
    assert!(err.starts_with(&format!("cannot read {}: ", path.display())), "{err}");
}

#[tokio::test]
async fn staging_needs_the_applications_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f", b"abc");
    let store = TestStore::default();
    let mut rm = Rm::connect(&serve(store.clone()).await, crate::rm::Retry::NEVER).await.unwrap();
    let err = stage_with(&mut rm, &path, "f", false, None).await.unwrap_err().to_string();
    assert!(err.contains("no staging token: an application id must be asked for"), "{err}");
    assert_eq!(store.recorded.lock().unwrap().stats, 0, "nothing is sent without a token");
    rm.staging_token = Some(b"another token".to_vec());
    let err = stage_with(&mut rm, &path, "f", false, None).await.unwrap_err().to_string();
    assert!(err.contains("no valid staging token"), "{err}");
    rm.staging_token = Some(TOKEN.to_vec());
    stage_with(&mut rm, &path, "f", false, None).await.unwrap();
    assert_eq!(store.recorded.lock().unwrap().uploads.len(), 1);
}

/// A digest the file does not have, of the file's size.
fn wrong_digest(size: u64) -> Digest {
    Digest { sha256: "d".repeat(64), size }
}

#[tokio::test]
async fn an_unchanged_file_is_not_hashed_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "program", b"the program");
    let cache = HashCache::unsettled(dir.path().join("staged-hashes"));
    let store = TestStore::default();
    let mut rm = connect(&store).await;
    let staged = stage_with(&mut rm, &path, "program", true, Some(&cache)).await.unwrap();
    let key = FileKey::of(&path).unwrap();
    assert_eq!(cache.lookup(&key), Some(Digest { sha256: staged.sha256.clone(), size: 11 }), "remembered");
    // A second staging trusts the remembered hash: shown by one the file does not have, which the
    // store says it holds, so nothing is read or sent.
    cache.remember(&key, &wrong_digest(11), SystemTime::now());
    store.recorded.lock().unwrap().blobs.insert("d".repeat(64), 11);
    let again = stage_with(&mut rm, &path, "program", true, Some(&cache)).await.unwrap();
    assert_eq!(again.sha256, "d".repeat(64));
    assert_eq!(store.recorded.lock().unwrap().uploads.len(), 1);
    // Once the file changes, it is hashed again.
    std::fs::write(&path, b"the program, rebuilt").unwrap();
    let rebuilt = stage_with(&mut rm, &path, "program", true, Some(&cache)).await.unwrap();
    assert_eq!(rebuilt.sha256, hex::encode(Sha256::digest(b"the program, rebuilt")));
    assert_eq!(store.recorded.lock().unwrap().uploads.len(), 2);
}

#[tokio::test]
async fn a_wrong_remembered_hash_costs_one_failed_upload_then_the_file_is_hashed_and_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "program", b"the program");
    let cache = HashCache::unsettled(dir.path().join("staged-hashes"));
    let key = FileKey::of(&path).unwrap();
    cache.remember(&key, &wrong_digest(11), SystemTime::now());
    let store = TestStore::default();
    let mut rm = connect(&store).await;
    let staged = stage_with(&mut rm, &path, "program", true, Some(&cache)).await.unwrap();
    let actual = hex::encode(Sha256::digest(b"the program"));
    assert_eq!(staged.sha256, actual);
    let recorded = store.recorded.lock().unwrap();
    let headers: Vec<String> = recorded.uploads.iter().map(|u| u[0].0.clone().unwrap().sha256).collect();
    assert_eq!(headers, ["d".repeat(64), actual.clone()], "the wrong hash was refused, the actual one sent");
    assert_eq!(recorded.blobs.keys().collect::<Vec<_>>(), [&actual]);
    assert_eq!(cache.lookup(&key), Some(Digest { sha256: actual, size: 11 }), "the actual hash is remembered");
}

#[tokio::test]
async fn a_failure_the_remembered_hash_did_not_cause_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "program", b"the program");
    let cache = HashCache::unsettled(dir.path().join("staged-hashes"));
    let store = TestStore::default();
    let mut rm = connect(&store).await;
    stage_with(&mut rm, &path, "program", true, Some(&cache)).await.unwrap();
    rm.staging_token = Some(b"another token".to_vec());
    let err = stage_with(&mut rm, &path, "program", true, Some(&cache)).await.unwrap_err().to_string();
    assert!(err.contains("no valid staging token"), "{err}");
    assert_eq!(store.recorded.lock().unwrap().stats, 1, "one Stat for the first staging, none after the refusal");
}
