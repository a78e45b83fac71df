//! Weft's executor runtime: what runs inside executor containers. It knows nothing of YARN.
//!
//! - [`code`]: code references ([`FnRef`]) and the build id that makes them safe to resolve.
//! - [`plan`]: a task as it travels: a tree of nodes (constructor reference + environment) and a sink.
//! - [`frame`]: the checked task frame.
//! - [`context`]: what a running task reaches (ids, metrics, the executor's services).
//! - [`runner`]: runs one task on the calling thread.
//! - [`shuffle`], [`block_manager`]: shuffle files with their index, cached blocks.
//! - [`runtime`]: the executor process (gRPC endpoint, task threads, heartbeats).
//!
//! Pure modules: `plan`, `error`, `frame` (apart from reading the build id). The operators themselves —
//! the monomorphized constructors behind the code references — live with the RDD API in `driver`.

pub mod block_manager;
pub mod code;
pub mod context;
pub mod error;
pub mod frame;
pub mod plan;
pub mod runner;
pub mod runtime;
pub mod shuffle;

pub use code::{build_id, conjure, BuildId, FnRef, Verified};
pub use context::{current, Services, TaskContext, TaskCtx};
pub use error::TaskError;
pub use plan::{Batch, Batches, Inputs, Node, NodeCtor, ResultCtor, ShuffleCtor, Sink, TaskDescription, BATCH_SIZE};
