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

/// How many cases a property test with its own count runs: `default`, or `PROPTEST_CASES` when set
/// (`PROPTEST_CASES=30000 cargo test --release -p weft-resourcemanager --lib props` for a long hunt).
#[cfg(test)]
fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
