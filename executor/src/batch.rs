//! Records as operators move them: a batch is a `Vec<T>` behind `Any`, a partition an iterator of
//! batches. Plain data.

use std::any::Any;

use crate::error::TaskError;

/// A batch of records: a `Vec<T>` behind `Any`. Operators move records a batch at a time, so the
/// per-record path is the user's function inlined into a monomorphized loop.
pub type Batch = Box<dyn Any>;
/// The records of one partition, batch by batch.
pub type Batches = Box<dyn Iterator<Item = Result<Batch, TaskError>>>;

/// How many records an operator puts in a batch.
pub const BATCH_SIZE: usize = 4096;

/// Splits owned records into batches, lazily; each record is moved once.
pub fn batches_of<T: 'static>(v: Vec<T>) -> Batches {
    if v.len() <= BATCH_SIZE {
        return if v.is_empty() {
            Box::new(std::iter::empty())
        } else {
            Box::new(std::iter::once(Ok(Box::new(v) as Batch)))
        };
    }
    let mut records = v.into_iter();
    Box::new(std::iter::from_fn(move || {
        let next: Vec<T> = records.by_ref().take(BATCH_SIZE).collect();
        (!next.is_empty()).then(|| Ok(Box::new(next) as Batch))
    }))
}
