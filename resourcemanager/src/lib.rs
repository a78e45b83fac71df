//! Weft's ResourceManager.
//!
//! - [`core`]: nodes, applications, attempts, containers and the scheduler as plain data; no I/O.
//! - [`scheduler`]: the scheduling policy behind a trait (FIFO today).
//! - `grpc`, `rest`, `staging`, `launcher`: adapters around the core.
//!
//! Invariant: the ResourceManager never spawns a process; containers start on NodeManagers.

pub mod core;
pub mod scheduler;
