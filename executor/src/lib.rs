//! Weft's executor runtime: what runs inside executor containers. It knows nothing of YARN.
//!
//! - [`code`]: code references ([`FnRef`]) and the build id that makes them safe to resolve.
//! - [`batch`]: records as operators move them, a batch (`Vec<T>` behind `Any`) at a time.
//! - [`plan`]: a task as it travels: a tree of nodes (constructor reference + environment) and a sink.
//! - [`frame`]: the checked task frame.
//! - [`context`]: what a running task reaches (ids, metrics, the executor's services, where map outputs
//!   live).
//! - [`runner`]: runs one task on the calling thread.
//! - [`memory`]: Spark's unified memory manager (execution and storage).
//! - [`size`], [`encoding`], [`spill`], [`external`]: estimated sizes, record frames, spill files, and
//!   the collections that spill (aggregation, sort, partitioned buffer).
//! - [`shuffle`], [`fetch`], [`block_manager`]: shuffle files with their index, a reducer's lazy fetch,
//!   cached blocks.
//! - [`runtime`]: the executor process (gRPC endpoint, task threads, heartbeats).
//! - [`auth`]: `spark.authenticate`, the application's secret on every call between driver and executors.
//!
//! Pure modules: `batch`, `plan`, `error`, `frame` (apart from reading the build id), `memory`'s policy, `size`,
//! `encoding`. The operators themselves — the monomorphized constructors behind the code references —
//! live with the RDD API in `driver`.

pub mod auth;
pub mod batch;
pub mod block_manager;
pub mod code;
pub mod context;
pub mod encoding;
pub mod error;
pub mod external;
pub mod fetch;
pub mod frame;
pub mod memory;
pub mod plan;
pub mod runner;
pub mod runtime;
pub mod shuffle;
pub mod size;
pub mod spill;

pub use batch::{batches_of, Batch, Batches, BATCH_SIZE};
pub use code::{build_id, conjure, BuildId, FnRef, Verified};
pub use context::{current, Services, TaskContext, TaskCtx};
pub use error::TaskError;
pub use plan::{Inputs, Node, NodeCtor, ResultCtor, ShuffleCtor, ShuffleSink, Sink, TaskDescription};
