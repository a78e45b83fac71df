//! Weft's ResourceManager.
//!
//! - [`core`]: nodes, applications, attempts, containers and the scheduler as plain data; no I/O.
//! - [`scheduler`]: the scheduling policy behind a trait (FIFO today).
//! - [`grpc`], [`rest`], [`staging`], [`launcher`]: adapters around the core; [`daemon`] wires them.
//!
//! Invariant: the ResourceManager never spawns a process; containers start on NodeManagers.

mod clock;
pub mod core;
pub mod daemon;
pub mod grpc;
pub mod hadoop;
pub mod launcher;
pub mod recovery;
pub mod rest;
pub mod scheduler;
pub mod staging;
pub mod state;
pub mod tokens;
