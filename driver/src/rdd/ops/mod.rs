//! The operators as they run on executors: monomorphized constructors, one per operation and type
//! combination, referenced from tasks by [`FnRef`]. Each turns its serialized environment (and its
//! inputs) into an iterator of record batches; the user's function is a zero-sized type parameter,
//! conjured on the executor and inlined into the batch loop.
//!
//! Why conjuring is sound here: every user function type parameter is bounded by a `Fn` trait, which on
//! stable Rust only closures, fn items, fn pointers and references and boxes of those implement; of
//! these `conjure`'s compile-time check admits only the zero-sized ones — fn items, and closures whose
//! captures (if any) are zero-sized `Copy` values — and each is inhabited, since the user passed a
//! value of it. Conjuring a fn item or a closure that captures nothing makes its one value, which
//! holds no data. A closure that captures a zero-sized value makes that value too, on the executor:
//! sound unless the captured type vouches for something about the process that made it (a CPU-feature
//! token, say), the limit ARCHITECTURE.md states.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BinaryHeap;
use std::hash::Hash;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::rc::Rc;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use weft_executor::context::{MapLocation, SerializeBlock};
use weft_executor::external::{Aggregator, Growth, PartitionedBuffer, Sorter};
use weft_executor::size::{vec_bytes, SizeTracker};
use weft_executor::{conjure, Batch, Batches, Inputs, ShuffleSink, TaskCtx, TaskError, BATCH_SIZE};

use super::Data;
use crate::partitioner::Partitioner;

pub(crate) use weft_executor::batches_of;

fn decode<C: DeserializeOwned>(env: &[u8], what: &str) -> Result<C, TaskError> {
    bincode::deserialize(env).map_err(|e| TaskError::failed(format!("cannot decode the environment of {what}: {e}")))
}

pub(crate) use crate::lineage::{encode, CacheEnv, TextSplit};

/// Takes a batch back as the `Vec<T>` it is.
#[inline]
pub(crate) fn records<T: 'static>(batch: Result<Batch, TaskError>) -> Result<Vec<T>, TaskError> {
    batch?.downcast::<Vec<T>>().map(|b| *b).map_err(|_| {
        TaskError::failed(format!(
            "an operator received a batch of the wrong type (expected {})",
            std::any::type_name::<T>()
        ))
    })
}

fn batch<T: 'static>(v: Vec<T>) -> Batch {
    Box::new(v)
}

/// Drains an input into one vector.
pub(crate) fn collect_all<T: 'static>(input: Batches) -> Result<Vec<T>, TaskError> {
    let mut all = Vec::new();
    for b in input {
        let mut v = records::<T>(b)?;
        if all.is_empty() {
            all = v;
        } else {
            all.append(&mut v);
        }
    }
    Ok(all)
}

mod cache;
mod narrow;
mod results;
mod shuffle_read;
mod shuffle_write;
mod sources;

pub(crate) use cache::*;
pub use narrow::Records;
pub(crate) use narrow::*;
pub(crate) use results::*;
pub(crate) use shuffle_read::*;
pub(crate) use shuffle_write::*;
pub(crate) use sources::*;
