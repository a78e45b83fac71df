//! Staging download client: streams a file's chunks from the ResourceManager's `Staging.Download`
//! into a local file while hashing them.

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

    /// Writes the blob `sha256` into `file` and reports what was received; the caller verifies.
    pub(crate) async fn download_to(
        &self,
        sha256: &str,
        file: &mut tokio::fs::File,
    ) -> Result<Downloaded, DownloadError> {
        let request = pb::DownloadRequest { sha256: sha256.to_owned() };
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
