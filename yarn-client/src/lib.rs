//! Weft's YARN client: what every program that talks to a Weft cluster over gRPC shares — the `weft`
//! CLI, the distributed shell's application master and the Spark application master.
//!
//! - [`rm`]: connections to the ResourceManager's client port (reports, submissions, the calling
//!   user on every call) and the one way a failed call becomes an [`Error`].
//! - [`am`]: an application master's session with the scheduler, authenticated by the attempt's AMRM
//!   token, with YARN's retry on an unavailable ResourceManager.
//! - [`grant`]: asks and grants as an application master books them (pure).
//! - [`capacity`]: container sizes held against the cluster's maximum before submitting (pure).
//! - [`nm_tokens`]: the attempt's NM tokens, kept per node (pure).
//! - [`nm`]: starting and stopping granted containers through their NodeManagers.
//! - [`staging`]: staging local files in the ResourceManager's store for localization.
//!
//! Invariant: every failure names the service, the address and the action it was for; nothing here
//! prints or exits — the programs decide.

pub mod am;
pub mod capacity;
mod error;
pub mod grant;
pub mod nm;
pub mod nm_tokens;
pub mod rm;
pub mod staging;

pub use error::{chain, Error, EXIT_FAILURE, EXIT_USAGE};
