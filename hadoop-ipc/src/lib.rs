//! Hadoop IPC for Weft.
mod pb;
pub use pb::{common, yarn};
pub mod frame;
