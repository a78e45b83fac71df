//! Hadoop IPC for Weft.
mod pb;
pub use pb::{common, yarn};
pub mod credentials;
pub mod exceptions;
pub mod frame;
mod sasl;
pub mod token;
pub use sasl::{AuthPolicy, TokenLookup};
