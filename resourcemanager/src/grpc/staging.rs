//! Staging service: chunked upload with a sha256, stat, and streamed download, each with the
//! application's authority (see `staging::accounts` for who may read what, and the quota).
//!
//! - Upload and Stat carry the application's staging token (metadata `weft-staging-token-bin`),
//!   which GetNewApplication handed out with the id; it names the user who asked for the id too.
//!   Stat says a file exists only when the caller's application holds it — or holds it from now on,
//!   because that same user uploaded exactly that blob before (proof of possession, per user) —
//!   so a hash reveals nothing about another user's files.
//! - Download is for a NodeManager localizing a container: it carries that container's token
//!   (metadata `weft-container-token-bin`), and only files its application holds are served. Stat
//!   takes a container token too, for a NodeManager that already caches the file.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::io::AsyncReadExt;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use weft_proto::pb::{self, staging_server::Staging};
use weft_proto::{ApplicationId, ContainerId, CONTAINER_TOKEN_METADATA, STAGING_TOKEN_METADATA};

use super::status::invalid;
use crate::staging::{StagingError, StagingStore};
use crate::state::Rm;
use crate::tokens::StagingHolder;

/// Size of the chunks a download is streamed in.
const CHUNK_BYTES: usize = 1024 * 1024;

pub struct StagingService {
    store: StagingStore,
    rm: Arc<Rm>,
}

impl StagingService {
    pub fn new(store: StagingStore, rm: Arc<Rm>) -> Self {
        StagingService { store, rm }
    }
}

/// On whose behalf a call reads or writes.
#[derive(Debug, Clone)]
enum Caller {
    /// The application's own client, by its staging token.
    Client(StagingHolder),
    /// A NodeManager localizing this container, by its container token.
    Container(ContainerId),
}

impl Caller {
    fn application(&self) -> ApplicationId {
        match self {
            Caller::Client(holder) => holder.application,
            Caller::Container(container) => container.application(),
        }
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Client(holder) => write!(f, "{}", holder.application),
            Caller::Container(container) => write!(f, "{} (container {container})", container.application()),
        }
    }
}

fn token_bytes<T>(request: &Request<T>, key: &str) -> Result<Option<Vec<u8>>, Status> {
    match request.metadata().get_bin(key) {
        None => Ok(None),
        Some(value) => value
            .to_bytes()
            .map(|b| Some(b.to_vec()))
            .map_err(|e| Status::unauthenticated(format!("metadata {key} is not valid binary: {e}"))),
    }
}

impl StagingService {
    /// The application (and user) whose staging token the call carries.
    fn client<T>(&self, request: &Request<T>, call: &str) -> Result<StagingHolder, Status> {
        let Some(token) = token_bytes(request, STAGING_TOKEN_METADATA)? else {
            return Err(Status::unauthenticated(format!(
                "staging {call} needs the application's staging token (metadata {STAGING_TOKEN_METADATA}), which \
                 GetNewApplication answers with"
            )));
        };
        self.rm.keys.staging_token_holder(&token).map_err(|refusal| {
            tracing::warn!(call, error = %refusal, "staging call refused: no authority");
            Status::unauthenticated(format!("staging {call} refused: the staging token is not valid: {refusal}"))
        })
    }

    /// The container whose token the call carries, if it carries one.
    fn container<T>(&self, request: &Request<T>, call: &str) -> Result<Option<ContainerId>, Status> {
        let Some(token) = token_bytes(request, CONTAINER_TOKEN_METADATA)? else { return Ok(None) };
        self.rm.keys.container_token_container(&token).map(Some).map_err(|refusal| {
            tracing::warn!(call, error = %refusal, "staging call refused: no authority");
            Status::unauthenticated(format!("staging {call} refused: the container token is not valid: {refusal}"))
        })
    }
}

fn check_sha256(text: &str) -> Result<String, Status> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(invalid(format!("sha256 {text:?} is not 64 hex digits")))
    }
}

fn staging_status(error: StagingError) -> Status {
    match error {
        StagingError::Io(e) => {
            tracing::error!(error = %e, "staging store I/O failed");
            Status::internal(format!("staging store I/O: {e}"))
        }
        StagingError::Quota(e) => Status::resource_exhausted(e.to_string()),
        other => Status::invalid_argument(other.to_string()),
    }
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<pb::DownloadChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Staging for StagingService {
    async fn upload(
        &self,
        request: Request<Streaming<pb::UploadChunk>>,
    ) -> Result<Response<pb::UploadResponse>, Status> {
        let StagingHolder { application: app, user } = self.client(&request, "Upload")?;
        let mut stream = request.into_inner();
        let first =
            stream.next().await.ok_or_else(|| invalid("empty upload: the first chunk must carry the header"))??;
        let header = first.header.ok_or_else(|| invalid("the first upload chunk must carry the header"))?;
        let sha256 = check_sha256(&header.sha256)?;
        if self.store.held(app, &sha256).await == Some(header.size) {
            self.store.touch(&sha256).await;
            return Ok(Response::new(pb::UploadResponse { sha256, size: header.size }));
        }
        // Even when the store has these bytes from another application, they are received and
        // checked in full: knowing a hash gives no access to a file. (A client of a user who proved
        // possession before asks Stat first, which hands the file over without this.)
        let reservation = self.store.reserve(app, user.as_deref(), &header.name, header.size).map_err(|e| {
            tracing::warn!(app_id = %app, error = %e, "upload refused");
            Status::resource_exhausted(e.to_string())
        })?;
        let mut upload = self.store.begin(&header.name, &sha256, header.size).await.map_err(staging_status)?;
        upload.write(&first.data).await.map_err(staging_status)?;
        while let Some(chunk) = stream.next().await {
            upload.write(&chunk?.data).await.map_err(staging_status)?;
        }
        let (sha256, size) = upload.finish().await.map_err(staging_status)?;
        reservation.record(&sha256, size);
        let user = user.as_deref().unwrap_or_default();
        tracing::info!(app_id = %app, %user, name = %header.name, %sha256, size, "file staged");
        Ok(Response::new(pb::UploadResponse { sha256, size }))
    }

    async fn stat(&self, request: Request<pb::StatBlobRequest>) -> Result<Response<pb::StatBlobResponse>, Status> {
        let caller = match self.container(&request, "Stat")? {
            Some(container) => Caller::Container(container),
            None => Caller::Client(self.client(&request, "Stat")?),
        };
        let sha256 = check_sha256(&request.into_inner().sha256)?;
        let size = match caller {
            Caller::Container(container) => self.store.held(container.application(), &sha256).await,
            // The application's own client may claim what its user proved possession of before.
            Caller::Client(StagingHolder { application: app, user }) => {
                self.store.claim(app, user.as_deref(), &sha256).await.map_err(|e| {
                    tracing::warn!(app_id = %app, error = %e, "claim of a staged file refused");
                    Status::resource_exhausted(e.to_string())
                })?
            }
        };
        if size.is_some() {
            self.store.touch(&sha256).await;
        }
        Ok(Response::new(pb::StatBlobResponse { exists: size.is_some(), size: size.unwrap_or(0) }))
    }

    type DownloadStream = DownloadStream;

    async fn download(&self, request: Request<pb::DownloadRequest>) -> Result<Response<DownloadStream>, Status> {
        let Some(container) = self.container(&request, "Download")? else {
            return Err(Status::unauthenticated(format!(
                "staging Download needs the container token of the container being localized (metadata \
                 {CONTAINER_TOKEN_METADATA}): only a NodeManager localizing a container of the file's application \
                 may download it"
            )));
        };
        let caller = Caller::Container(container);
        let pb::DownloadRequest { sha256 } = request.into_inner();
        let sha256 = check_sha256(&sha256)?;
        if self.store.held(caller.application(), &sha256).await.is_none() {
            tracing::warn!(%container, %sha256, "download refused: not a file of the container's application");
            return Err(Status::permission_denied(format!(
                "{caller} holds no staged file with sha256 {sha256}: a container may download only files its own \
                 application uploaded"
            )));
        }
        let mut file = tokio::fs::File::open(self.store.blob_path(&sha256))
            .await
            .map_err(|_| Status::not_found(format!("no staged file with sha256 {sha256}")))?;
        self.store.touch(&sha256).await;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut buffer = vec![0u8; CHUNK_BYTES];
            loop {
                let item = match file.read(&mut buffer).await {
                    Ok(0) => return,
                    Ok(n) => Ok(pb::DownloadChunk { data: buffer[..n].to_vec() }),
                    Err(e) => Err(Status::internal(format!("reading staged file {sha256}: {e}"))),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}
