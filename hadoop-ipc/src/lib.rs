//! Hadoop IPC for Weft.
mod pb;
pub use pb::{common, yarn};
pub mod acls;
pub mod client;
mod connection;
pub mod container_token;
pub mod credentials;
pub mod exceptions;
pub mod frame;
mod handler;
pub mod ids;
pub(crate) mod sasl;
mod server;
pub mod token;
pub use frame::is_hadoop_ipc;
pub use handler::{Call, Handler, Identity, RpcError, Session};
pub use sasl::{AuthPolicy, TokenLookup};
pub use server::{peek_is_hadoop_ipc, serve_shared, ConnectionError, Server, ServerConfig, SNIFF_TIMEOUT};
