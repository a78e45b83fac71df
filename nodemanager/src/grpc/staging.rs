//! Staging download client: streams a file's chunks from the ResourceManager's `Staging.Download`
//! into a local file while hashing them. Every call carries the token of the container being
//! localized: the ResourceManager serves only files of that container's application.

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tonic::transport::Channel;
use weft_proto::pb;
use weft_proto::pb::staging_client::StagingClient;

use super::MAX_MESSAGE_BYTES;

/// What a download wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Downloaded {
    /// Lower-case hex sha256 of the bytes received.
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DownloadError {
    #[error("the staging store at {address} answered {code:?}: {message}")]
    Rpc { address: String, code: tonic::Code, message: String },
    #[error(
        "the staging store at {address} holds no file with sha256 {sha256} for container {container}'s application"
    )]
    NotHeld { address: String, sha256: String, container: String },
    #[error("writing the download: {0}")]
    Io(#[from] std::io::Error),
}

/// A lazily connected client of the staging service.
#[derive(Debug, Clone)]
pub(crate) struct Staging {
    address: String,
    client: StagingClient<Channel>,
}

impl Staging {
    /// Connects on first use, so a ResourceManager that is not up yet is no start-up error.
    pub(crate) fn new(address: &str) -> Result<Staging, tonic::transport::Error> {
        let channel = super::channel(address)?.connect_lazy();
        let client = StagingClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Staging { address: address.to_owned(), client })
    }

    fn rpc_error(&self, status: tonic::Status) -> DownloadError {
        DownloadError::Rpc { address: self.address.clone(), code: status.code(), message: status.message().to_owned() }
    }

    /// Asks whether the application of the container whose token this is may have the blob
    /// `sha256`: for a file this node already caches or is already fetching for someone else.
    pub(crate) async fn check(
        &self,
        sha256: &str,
        container_token: &[u8],
        container: &str,
    ) -> Result<(), DownloadError> {
        let request = with_token(pb::StatBlobRequest { sha256: sha256.to_owned() }, container_token);
        let reply = self.client.clone().stat(request).await.map_err(|s| self.rpc_error(s))?.into_inner();
        if reply.exists {
            Ok(())
        } else {
            Err(DownloadError::NotHeld {
                address: self.address.clone(),
                sha256: sha256.to_owned(),
                container: container.to_owned(),
            })
        }
    }

    /// Writes the blob `sha256` into `file` and reports what was received; the caller verifies.
    pub(crate) async fn download_to(
        &self,
        sha256: &str,
        container_token: &[u8],
        file: &mut tokio::fs::File,
    ) -> Result<Downloaded, DownloadError> {
        let request = with_token(pb::DownloadRequest { sha256: sha256.to_owned() }, container_token);
        let mut stream = self.client.clone().download(request).await.map_err(|s| self.rpc_error(s))?.into_inner();
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream.message().await.map_err(|s| self.rpc_error(s))? {
            hasher.update(&chunk.data);
            file.write_all(&chunk.data).await?;
            bytes += chunk.data.len() as u64;
        }
        file.flush().await?;
        Ok(Downloaded { sha256: hex::encode(hasher.finalize()), bytes })
    }
}

/// A staging call carrying the container token (`weft-container-token-bin`).
fn with_token<T>(message: T, container_token: &[u8]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert_bin(weft_proto::CONTAINER_TOKEN_METADATA, tonic::metadata::MetadataValue::from_bytes(container_token));
    request
}
