//! Weft's wire protocol and the vocabulary every crate shares.
//!
//! Two layers: [`pb`] is the code generated from `proto/weft.proto` (only adapters touch it), and the
//! hand-written modules are the domain types that state machines use: ids in YARN's formats, resources,
//! exit statuses and state names.

pub mod exit_status;
pub mod ids;
pub mod resource;
pub mod states;
pub mod utilization;

/// Generated protobuf messages and tonic clients/servers. Adapters only.
#[allow(clippy::all, unreachable_pub, missing_docs)]
pub mod pb {
    tonic::include_proto!("weft.v1");
}

/// Generated messages and services of the Spark runtime (driver ↔ executor ↔ executor). Adapters only.
#[allow(clippy::all, unreachable_pub, missing_docs)]
pub mod spark_pb {
    tonic::include_proto!("weft.spark.v1");
}

pub use ids::{ApplicationAttemptId, ApplicationId, ContainerId, IdError, NodeId};
pub use resource::Resource;
pub use utilization::Utilization;
