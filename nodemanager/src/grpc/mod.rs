//! gRPC adapters: the ContainerManagement server, the ResourceTracker and Staging clients, and the
//! conversions between wire types and the NodeManager's own.

mod container_management;
pub(crate) mod convert;
pub(crate) mod staging;
pub(crate) mod tracker;

pub(crate) use container_management::ContainerManagementService;

use std::time::Duration;

/// Messages above tonic's 4 MiB default are allowed; bulk data is streamed in chunks anyway.
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A lazily connected channel to the ResourceManager at `address`, with HTTP/2 keep-alives so a
/// dead connection under a long download or a quiet spell is noticed.
pub(crate) fn channel(address: &str) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
    Ok(tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20)))
}
