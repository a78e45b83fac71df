//! Weft's NodeManager: runs containers as real process trees, localizes their files, reports them
//! to the ResourceManager in heartbeats, and serves YARN's `/ws/v1/node` REST, pages and logs.
//!
//! Core (no I/O, no clocks): `container` (one container's state machine) and `node` (all of
//! them, heartbeat acknowledgements, retention). Adapters: `runner` (carries out a container's
//! effects), `launcher`, `localizer`, `grpc`, `heartbeat`, `rest`, `resources`, `metrics`, and
//! `clock`, the only reader of the clocks. `daemon` wires them; `main.rs` loads config and binds.

mod authority;
#[doc(hidden)]
pub mod bench;
mod cgroups;
mod clock;
mod container;
pub mod daemon;
mod dirs;
mod grpc;
mod hadoop_ipc;
mod hadoop_localize;
mod heartbeat;
mod launcher;
mod localizer;
mod lock;
mod logfile;
mod metrics;
mod monitor;
mod nm;
mod node;
mod recovery;
mod resources;
mod rest;
mod run_as;
mod runner;
mod watcher;

#[cfg(test)]
mod enforcement_tests;
#[cfg(test)]
mod process_tests;
#[cfg(test)]
mod testing;
