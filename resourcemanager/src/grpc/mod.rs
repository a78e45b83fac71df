//! gRPC adapters: one file per service, conversions and the error-to-status map.

mod allocate_reply;
mod am;
mod client;
mod convert;
mod staging;
mod status;
mod tracker;

pub use am::AmService;
pub use client::ClientService;
pub use staging::StagingService;
pub use tracker::TrackerService;

/// Messages above tonic's 4 MiB default are allowed; bulk data is streamed in chunks anyway.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The wire form of a launch spec with extra environment in front (the launcher's use).
pub fn convert_launch_context(
    spec: crate::core::LaunchSpec,
    extra_env: &[(String, String)],
) -> weft_proto::pb::ContainerLaunchContext {
    convert::launch_context(spec, extra_env)
}

pub(crate) use convert::tracking_url;
