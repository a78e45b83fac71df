//! Weft's wire protocol and the vocabulary every crate shares.
//!
//! Two layers: [`pb`] (and [`encoded_am`]) is the code generated from `proto/weft.proto` (only adapters touch it), and the
//! hand-written modules are the domain types that state machines use: ids in YARN's formats, resources,
//! exit statuses and state names.

pub mod encoded;
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

/// The ApplicationMaster server as the ResourceManager runs it: `pb`'s routes and request types, but
/// Allocate answers with an [`encoded::Encoded`] `AllocateResponse`. Clients use `pb`'s. Adapters only.
#[allow(clippy::all, unreachable_pub, missing_docs)]
pub mod encoded_am {
    include!(concat!(env!("OUT_DIR"), "/weft.v1.ApplicationMaster.rs"));
}

/// Generated messages and services of the Spark runtime (driver ↔ executor ↔ executor). Adapters only.
#[allow(clippy::all, unreachable_pub, missing_docs)]
pub mod spark_pb {
    tonic::include_proto!("weft.spark.v1");
}

/// The gRPC metadata key under which an application master sends its attempt's AMRM token (the
/// encoded `hadoop.common.TokenProto`) with every ApplicationMaster call.
pub const AMRM_TOKEN_METADATA: &str = "weft-amrm-token-bin";
/// The gRPC metadata key under which a refusal names YARN's exception class when a client must act
/// on which one it was (as Hadoop's client acts on the class of a `RemoteException`).
pub const EXCEPTION_METADATA: &str = "weft-exception";
/// The attempt has not registered (again) with this ResourceManager: register, then send the asks again.
pub const AM_NOT_REGISTERED: &str = "ApplicationMasterNotRegisteredException";
/// The gRPC metadata key under which a client names the user it calls as (YARN's simple
/// authentication: the ResourceManager trusts it). A call without it is anonymous (`dr.who`).
pub const USER_METADATA: &str = "weft-user";
/// The gRPC metadata key under which an AM's calls to a NodeManager carry its attempt's NM token for
/// that node (the encoded `hadoop.common.TokenProto` of an allocate reply's `NmToken`): StopContainers
/// and GetContainerStatuses need it, so only the application's own AM may stop or query its
/// containers; on StartContainers each container's own token is what the NodeManager checks.
pub const NM_TOKEN_METADATA: &str = "weft-nm-token-bin";
/// The gRPC metadata key under which Staging Upload and Stat carry the application's staging token
/// (the encoded `hadoop.common.TokenProto` that GetNewApplication answered with).
pub const STAGING_TOKEN_METADATA: &str = "weft-staging-token-bin";
/// The gRPC metadata key under which a NodeManager's Staging Download (and Stat) carries the
/// container token of the container it localizes (the encoded `TokenProto` of its start request).
pub const CONTAINER_TOKEN_METADATA: &str = "weft-container-token-bin";
/// The environment variable that hands a Weft AM its attempt's AMRM token (hex of the encoded
/// `TokenProto`): set by the ResourceManager's AM launcher, and by `weft submit` for its unmanaged AM.
pub const AMRM_TOKEN_ENV: &str = "WEFT_AMRM_TOKEN";

pub use ids::{ApplicationAttemptId, ApplicationId, ContainerId, IdError, NodeId};
pub use resource::Resource;
pub use utilization::Utilization;
