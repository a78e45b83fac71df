//! Staging service: chunked upload with a sha256, stat, and streamed download.

use std::pin::Pin;

use futures::Stream;
use tokio::io::AsyncReadExt;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use weft_proto::pb::{self, staging_server::Staging};

use super::status::invalid;
use crate::staging::{StagingError, StagingStore};

/// Size of the chunks a download is streamed in.
const CHUNK_BYTES: usize = 1024 * 1024;

pub struct StagingService {
    store: StagingStore,
}

impl StagingService {
    pub fn new(store: StagingStore) -> Self {
        StagingService { store }
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
        let mut stream = request.into_inner();
        let first =
            stream.next().await.ok_or_else(|| invalid("empty upload: the first chunk must carry the header"))??;
        let header = first.header.ok_or_else(|| invalid("the first upload chunk must carry the header"))?;
        let sha256 = check_sha256(&header.sha256)?;
        if let Some(size) = self.store.stat(&sha256).await {
            self.store.touch(&sha256).await;
            if size == header.size {
                return Ok(Response::new(pb::UploadResponse { sha256, size }));
            }
        }
        let mut upload = self.store.begin(&header.name, &sha256, header.size).await.map_err(staging_status)?;
        upload.write(&first.data).await.map_err(staging_status)?;
        while let Some(chunk) = stream.next().await {
            upload.write(&chunk?.data).await.map_err(staging_status)?;
        }
        let (sha256, size) = upload.finish().await.map_err(staging_status)?;
        tracing::info!(name = %header.name, %sha256, size, "file staged");
        Ok(Response::new(pb::UploadResponse { sha256, size }))
    }

    async fn stat(&self, request: Request<pb::StatBlobRequest>) -> Result<Response<pb::StatBlobResponse>, Status> {
        let sha256 = check_sha256(&request.into_inner().sha256)?;
        let size = self.store.stat(&sha256).await;
        if size.is_some() {
            self.store.touch(&sha256).await;
        }
        Ok(Response::new(pb::StatBlobResponse { exists: size.is_some(), size: size.unwrap_or(0) }))
    }

    type DownloadStream = DownloadStream;

    async fn download(&self, request: Request<pb::DownloadRequest>) -> Result<Response<DownloadStream>, Status> {
        let pb::DownloadRequest { sha256 } = request.into_inner();
        let sha256 = check_sha256(&sha256)?;
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
