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
use crate::spark::partitioner::Partitioner;

pub(crate) use weft_executor::batches_of;

fn decode<C: DeserializeOwned>(env: &[u8], what: &str) -> Result<C, TaskError> {
    bincode::deserialize(env).map_err(|e| TaskError::failed(format!("cannot decode the environment of {what}: {e}")))
}

pub(crate) use crate::spark::lineage::{encode, CacheEnv, TextSplit};

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

// ----------------------------------------------------------------------------------------------
// Sources

pub(crate) fn source_vec<T: Data>(ctx: &TaskCtx, env: &[u8], _: Inputs) -> Result<Batches, TaskError> {
    let v: Vec<T> = decode(env, "parallelize")?;
    ctx.metrics(|m| m.input_records += v.len() as u64);
    Ok(batches_of(v))
}

pub(crate) fn source_text(ctx: &TaskCtx, env: &[u8], _: Inputs) -> Result<Batches, TaskError> {
    let split: TextSplit = decode(env, "textFile")?;
    let file = std::fs::File::open(&split.path)
        .map_err(|e| TaskError::failed(format!("Input path does not exist or cannot be read: {}: {e}", split.path)))?;
    let reader: Box<dyn BufRead> = if split.gzip {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(file)))
    } else {
        let mut file = file;
        file.seek(SeekFrom::Start(split.start))?;
        Box::new(BufReader::with_capacity(1 << 20, file))
    };
    Ok(Box::new(LineReader {
        reader,
        pos: split.start,
        end: split.end,
        skip_first: split.start != 0 && !split.gzip,
        gzip: split.gzip,
        ctx: ctx.clone(),
        done: false,
    }))
}

struct LineReader {
    reader: Box<dyn BufRead>,
    pos: u64,
    end: u64,
    skip_first: bool,
    gzip: bool,
    ctx: TaskCtx,
    done: bool,
}

impl Iterator for LineReader {
    type Item = Result<Batch, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut lines: Vec<String> = Vec::with_capacity(BATCH_SIZE);
        let mut buf = Vec::with_capacity(256);
        let mut bytes = 0u64;
        if self.skip_first {
            self.skip_first = false;
            match read_line(&mut *self.reader, &mut buf) {
                Ok(n) => self.pos += n as u64,
                Err(e) => return Some(Err(e.into())),
            }
            buf.clear();
        }
        while lines.len() < BATCH_SIZE {
            if !self.gzip && self.pos > self.end {
                self.done = true;
                break;
            }
            buf.clear();
            let n = match read_line(&mut *self.reader, &mut buf) {
                Ok(n) => n,
                Err(e) => return Some(Err(e.into())),
            };
            if n == 0 {
                self.done = true;
                break;
            }
            self.pos += n as u64;
            bytes += n as u64;
            let line = match String::from_utf8(std::mem::take(&mut buf)) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
            lines.push(line);
        }
        let count = lines.len() as u64;
        self.ctx.metrics(|m| {
            m.input_bytes += bytes;
            m.input_records += count;
        });
        if lines.is_empty() {
            None
        } else {
            Some(Ok(batch(lines)))
        }
    }
}

/// Reads one line into `buf`, without its terminator, as Hadoop's `LineReader` does: a line ends at
/// `\n`, `\r` or `\r\n`. Returns the bytes consumed, terminator included; 0 at the end of the input.
fn read_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(consumed);
        }
        let Some(at) = available.iter().position(|&b| b == b'\n' || b == b'\r') else {
            let n = available.len();
            buf.extend_from_slice(available);
            reader.consume(n);
            consumed += n;
            continue;
        };
        buf.extend_from_slice(&available[..at]);
        let carriage_return = available[at] == b'\r';
        reader.consume(at + 1);
        consumed += at + 1;
        // A `\r` then `\n` is one terminator, even when the `\n` is in the next buffer.
        if carriage_return && reader.fill_buf()?.first() == Some(&b'\n') {
            reader.consume(1);
            consumed += 1;
        }
        return Ok(consumed);
    }
}

/// Concatenates its inputs (union, coalesce).
pub(crate) fn concat(ctx: &TaskCtx, _: &[u8], inputs: Inputs) -> Result<Batches, TaskError> {
    let ctx = ctx.clone();
    let mut inputs = inputs;
    let n = inputs.len();
    let mut i = 0;
    let mut current: Option<Batches> = None;
    Ok(Box::new(std::iter::from_fn(move || loop {
        if let Some(it) = current.as_mut() {
            if let Some(b) = it.next() {
                return Some(b);
            }
            current = None;
        }
        if i >= n {
            return None;
        }
        match inputs.build(&ctx, i) {
            Ok(it) => current = Some(it),
            Err(e) => {
                i = n;
                return Some(Err(e));
            }
        }
        i += 1;
    })))
}

// ----------------------------------------------------------------------------------------------
// Narrow transformations

pub(crate) fn map<T: Data, U: Data, C: Data, F>(
    ctx: &TaskCtx,
    env: &[u8],
    mut inputs: Inputs,
) -> Result<Batches, TaskError>
where
    F: Fn(&C, T) -> U + Copy + 'static,
{
    let c: C = decode(env, "map")?;
    // SAFETY: `F: Fn…`, see the module header.
    let f = unsafe { conjure::<F>() };
    let input = inputs.build(ctx, 0)?;
    Ok(Box::new(input.map(move |b| {
        let v = records::<T>(b)?;
        Ok(batch(v.into_iter().map(|x| f(&c, x)).collect::<Vec<U>>()))
    })))
}

pub(crate) fn filter<T: Data, C: Data, F>(ctx: &TaskCtx, env: &[u8], mut inputs: Inputs) -> Result<Batches, TaskError>
where
    F: Fn(&C, &T) -> bool + Copy + 'static,
{
    let c: C = decode(env, "filter")?;
    // SAFETY: `F: Fn…`, see the module header.
    let f = unsafe { conjure::<F>() };
    let input = inputs.build(ctx, 0)?;
    Ok(Box::new(input.filter_map(move |b| {
        let mut v = match records::<T>(b) {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        v.retain(|x| f(&c, x));
        (!v.is_empty()).then(|| Ok(batch(v)))
    })))
}

pub(crate) fn flat_map<T: Data, U: Data, C: Data, I, F>(
    ctx: &TaskCtx,
    env: &[u8],
    mut inputs: Inputs,
) -> Result<Batches, TaskError>
where
    I: IntoIterator<Item = U>,
    F: Fn(&C, T) -> I + Copy + 'static,
{
    let c: C = decode(env, "flatMap")?;
    // SAFETY: `F: Fn…`, see the module header.
    let f = unsafe { conjure::<F>() };
    let mut input = input_records::<T>(inputs.build(ctx, 0)?);
    // An output batch is cut once it holds a batch's worth, between two input records, so records
    // that expand a lot do not carry their whole input batch's output in one vector.
    let mut done = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut out: Vec<U> = Vec::with_capacity(BATCH_SIZE);
        while out.len() < BATCH_SIZE {
            match input.next() {
                Some(Ok(x)) => out.extend(f(&c, x)),
                Some(Err(e)) => {
                    done = true;
                    return Some(Err(e));
                }
                None => {
                    done = true;
                    break;
                }
            }
        }
        (!out.is_empty()).then(|| Ok(batch(out)))
    })))
}

/// An input's records one at a time (errors in between), the current batch kept as an iterator.
fn input_records<T: 'static>(mut input: Batches) -> impl Iterator<Item = Result<T, TaskError>> {
    let mut current: std::vec::IntoIter<T> = Vec::new().into_iter();
    std::iter::from_fn(move || loop {
        if let Some(x) = current.next() {
            return Some(Ok(x));
        }
        match records::<T>(input.next()?) {
            Ok(v) => current = v.into_iter(),
            Err(e) => return Some(Err(e)),
        }
    })
}

/// A partition's records one at a time, as `map_partitions` hands them to the user.
pub struct Records<T> {
    input: Batches,
    current: std::vec::IntoIter<T>,
    error: Rc<RefCell<Option<TaskError>>>,
}

impl<T: 'static> Iterator for Records<T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        loop {
            if let Some(x) = self.current.next() {
                return Some(x);
            }
            match self.input.next()? {
                Ok(b) => match b.downcast::<Vec<T>>() {
                    Ok(v) => self.current = v.into_iter(),
                    Err(_) => {
                        *self.error.borrow_mut() =
                            Some(TaskError::failed("map_partitions received a batch of the wrong type"));
                        return None;
                    }
                },
                Err(e) => {
                    *self.error.borrow_mut() = Some(e);
                    return None;
                }
            }
        }
    }
}

pub(crate) fn map_partitions<T: Data, U: Data, C: Data, I, F>(
    ctx: &TaskCtx,
    env: &[u8],
    mut inputs: Inputs,
) -> Result<Batches, TaskError>
where
    I: IntoIterator<Item = U>,
    I::IntoIter: 'static,
    F: Fn(&C, u32, Records<T>) -> I + Copy + 'static,
{
    let c: C = decode(env, "mapPartitions")?;
    // SAFETY: `F: Fn…`, see the module header.
    let f = unsafe { conjure::<F>() };
    let input = inputs.build(ctx, 0)?;
    let error = Rc::new(RefCell::new(None));
    let records = Records { input, current: Vec::new().into_iter(), error: error.clone() };
    let mut out = f(&c, ctx.partition, records).into_iter();
    let mut finished = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if finished {
            return None;
        }
        let chunk: Vec<U> = out.by_ref().take(BATCH_SIZE).collect();
        if let Some(e) = error.borrow_mut().take() {
            finished = true;
            return Some(Err(e));
        }
        if chunk.len() < BATCH_SIZE {
            finished = true;
        }
        (!chunk.is_empty()).then(|| Ok(batch(chunk)))
    })))
}

/// Bernoulli or Poisson sampling with a per-partition seed, as Spark's `sample`.
#[derive(Serialize, Deserialize)]
pub(crate) struct SampleEnv {
    pub(crate) with_replacement: bool,
    pub(crate) fraction: f64,
    pub(crate) seed: u64,
}

pub(crate) fn sample<T: Data>(ctx: &TaskCtx, env: &[u8], mut inputs: Inputs) -> Result<Batches, TaskError> {
    let s: SampleEnv = decode(env, "sample")?;
    let mut rng = SplitMix(s.seed ^ (u64::from(ctx.partition).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let input = inputs.build(ctx, 0)?;
    Ok(Box::new(input.map(move |b| {
        let v = records::<T>(b)?;
        let mut out = Vec::new();
        for x in v {
            if s.with_replacement {
                let k = rng.poisson(s.fraction);
                for _ in 1..k {
                    out.push(x.clone());
                }
                if k > 0 {
                    out.push(x);
                }
            } else if rng.unit() < s.fraction {
                out.push(x);
            }
        }
        Ok(batch(out))
    })))
}

/// A small deterministic generator (SplitMix64): the same seed samples the same records everywhere.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }
}

// ----------------------------------------------------------------------------------------------
// Caching

pub(crate) fn cache<T: Data>(ctx: &TaskCtx, env: &[u8], mut inputs: Inputs) -> Result<Batches, TaskError> {
    let c: CacheEnv = decode(env, "persist")?;
    let services = ctx.services();
    let part = ctx.partition;
    if c.use_memory {
        if let Some(value) = services.cached(c.rdd_id, part) {
            if let Ok(v) = value.downcast::<Vec<T>>() {
                return Ok(shared_batches(v));
            }
        }
    }
    if c.use_disk {
        if let Some(bytes) = services.cached_on_disk(c.rdd_id, part) {
            let v: Vec<T> = bincode::deserialize(&bytes)?;
            return Ok(batches_of(v));
        }
    }
    let v: Vec<T> = collect_all(inputs.build(ctx, 0)?)?;
    let mut update =
        weft_executor::context::BlockUpdate { rdd_id: c.rdd_id, partition: part, memory_bytes: 0, disk_bytes: 0 };
    let size = estimated_size(&v);
    let v = Arc::new(v);
    // MEMORY_AND_DISK: a block evicted from memory later is written to disk, not dropped.
    let to_disk = c.use_disk.then(|| Box::new(serialize_block::<T>) as SerializeBlock);
    let in_memory = c.use_memory && services.cache_in_memory(c.rdd_id, part, v.clone(), size, to_disk);
    if in_memory {
        update.memory_bytes = size;
    } else if c.use_disk {
        let bytes = bincode::serialize(&*v)?;
        services.cache_on_disk(c.rdd_id, part, &bytes)?;
        update.disk_bytes = bytes.len() as u64;
    }
    if update.memory_bytes > 0 || update.disk_bytes > 0 {
        ctx.record_block(update);
    }
    Ok(shared_batches(v))
}

/// A partition's estimated bytes in memory: its vector and, sampled, what its records own.
fn estimated_size<T: Data>(v: &Vec<T>) -> u64 {
    let mut sizes = SizeTracker::new();
    sizes.observe(v.len(), v);
    vec_bytes(v) + sizes.estimate(v.len())
}

fn serialize_block<T: Data>(value: &(dyn Any + Send + Sync)) -> Result<Vec<u8>, TaskError> {
    let v = value
        .downcast_ref::<Vec<T>>()
        .ok_or_else(|| TaskError::failed(format!("a cached block is not a Vec<{}>", std::any::type_name::<T>())))?;
    Ok(bincode::serialize(v)?)
}

/// A cached partition's records in batches: moved if nobody else holds them, else cloned a batch
/// at a time as they are read (never the whole partition at once).
fn shared_batches<T: Data>(v: Arc<Vec<T>>) -> Batches {
    let v = match Arc::try_unwrap(v) {
        Ok(owned) => return batches_of(owned),
        Err(shared) => shared,
    };
    let mut at = 0;
    Box::new(std::iter::from_fn(move || {
        if at >= v.len() {
            return None;
        }
        let end = (at + BATCH_SIZE).min(v.len());
        let records = v[at..end].to_vec();
        at = end;
        Some(Ok(batch(records)))
    }))
}

/// Reads a checkpointed partition (bincode `Vec<T>`) back.
pub(crate) fn read_checkpoint<T: Data>(ctx: &TaskCtx, env: &[u8], _: Inputs) -> Result<Batches, TaskError> {
    let path: String = decode(env, "a checkpoint read")?;
    let bytes =
        std::fs::read(&path).map_err(|e| TaskError::failed(format!("cannot read checkpoint file {path}: {e}")))?;
    ctx.metrics(|m| m.input_bytes += bytes.len() as u64);
    let v: Vec<T> = bincode::deserialize(&bytes)?;
    Ok(batches_of(v))
}

/// Writes a partition into the checkpoint directory (`part-NNNNN`, bincode), atomically.
pub(crate) fn result_write_checkpoint<T: Data>(
    ctx: &TaskCtx,
    env: &[u8],
    input: Batches,
) -> Result<Vec<u8>, TaskError> {
    let dir: String = decode(env, "a checkpoint write")?;
    let all: Vec<T> = collect_all(input)?;
    let path = std::path::Path::new(&dir).join(format!("part-{:05}", ctx.partition));
    let tmp = path.with_extension(format!("{}.tmp", ctx.task_id));
    std::fs::write(&tmp, bincode::serialize(&all)?)?;
    std::fs::rename(&tmp, &path)?;
    Ok(Vec::new())
}

// ----------------------------------------------------------------------------------------------
// Shuffle write (map side)

#[derive(Serialize, Deserialize)]
pub(crate) struct WriteEnv<P, E> {
    pub(crate) partitioner: P,
    pub(crate) env: E,
}

/// Map-side combine into a hash table that spills; then each reduce partition's combiners, merged
/// across spills, streamed into the sink.
#[allow(clippy::type_complexity)]
pub(crate) fn shuffle_write_combine<K, V, C, E, P, FC, FV, FM>(
    ctx: &TaskCtx,
    env: &[u8],
    input: Batches,
    sink: &mut dyn ShuffleSink,
) -> Result<(), TaskError>
where
    K: Data + Eq + Hash,
    V: Data,
    C: Data,
    E: Data,
    P: Partitioner<K>,
    FC: Fn(&E, V) -> C + Copy + 'static,
    FV: Fn(&E, C, V) -> C + Copy + 'static,
    FM: Fn(&E, C, C) -> C + Copy + 'static,
{
    let w: WriteEnv<P, E> = decode(env, "a shuffle write")?;
    // SAFETY: `FC`, `FV`, `FM` are `Fn…` types, see the module header.
    let (create, merge_value, merge_combiners) = unsafe { (conjure::<FC>(), conjure::<FV>(), conjure::<FM>()) };
    let partition = |k: &K| w.partitioner.partition(k);
    let mut table: Aggregator<K, C> = Aggregator::new(ctx, Growth::Combining);
    for b in input {
        for (k, x) in records::<(K, V)>(b)? {
            table.insert_with(k, x, |x| create(&w.env, x), |c, x| merge_value(&w.env, c, x));
        }
        table.maybe_spill(partition)?;
    }
    let written = table.write_to(sink, partition, |a, b| merge_combiners(&w.env, a, b))?;
    ctx.metrics(|m| m.shuffle_write_records += written);
    Ok(())
}

/// No map-side combine (groupByKey, sorts, joins, repartition): records go to their reduce
/// partition's buffer as they are, spilling when the buffers outgrow their memory.
pub(crate) fn shuffle_write_plain<K, V, P>(
    ctx: &TaskCtx,
    env: &[u8],
    input: Batches,
    sink: &mut dyn ShuffleSink,
) -> Result<(), TaskError>
where
    K: Data,
    V: Data,
    P: Partitioner<K>,
{
    let w: WriteEnv<P, ()> = decode(env, "a shuffle write")?;
    let mut buffer: PartitionedBuffer<(K, V)> = PartitionedBuffer::new(ctx, sink.num_reduce());
    let mut count = 0u64;
    for b in input {
        let v = records::<(K, V)>(b)?;
        count += v.len() as u64;
        buffer.insert_batch(v, |(k, _)| w.partitioner.partition(k))?;
    }
    ctx.metrics(|m| m.shuffle_write_records += count);
    buffer.write_to(sink)
}

// ----------------------------------------------------------------------------------------------
// Shuffle read (reduce side)

#[derive(Serialize, Deserialize)]
pub(crate) struct ReadEnv {
    pub(crate) shuffle_id: u32,
    pub(crate) reduce: u32,
    pub(crate) maps: Vec<MapLocation>,
}

/// Fetches this reducer's blocks lazily; each frame becomes one batch of `(K, C)`.
pub(crate) fn shuffle_read<K: Data, C: Data>(ctx: &TaskCtx, env: &[u8], _: Inputs) -> Result<Batches, TaskError> {
    let r: ReadEnv = decode(env, "a shuffle read")?;
    let frames = ctx.services().fetch_shuffle(r.shuffle_id, r.reduce, &r.maps);
    let ctx = ctx.clone();
    Ok(Box::new(frames.map(move |frame| {
        let frame = frame?;
        let v: Vec<(K, C)> = bincode::deserialize(&frame.raw)?;
        ctx.metrics(|m| {
            m.shuffle_read_bytes += frame.stored_bytes;
            if frame.remote {
                m.shuffle_remote_bytes += frame.stored_bytes;
            }
            m.shuffle_read_records += v.len() as u64;
        });
        Ok(batch(v))
    })))
}

/// Reduce-side merge of combiners, in a hash table that spills.
pub(crate) fn merge_combiners<K, C, E, FM>(ctx: &TaskCtx, env: &[u8], mut inputs: Inputs) -> Result<Batches, TaskError>
where
    K: Data + Eq + Hash,
    C: Data,
    E: Data,
    FM: Fn(&E, C, C) -> C + Copy + 'static,
{
    let e: E = decode(env, "a reduce-side merge")?;
    // SAFETY: `FM: Fn…`, see the module header.
    let merge = unsafe { conjure::<FM>() };
    let mut table: Aggregator<K, C> = Aggregator::new(ctx, Growth::Combining);
    for b in inputs.build(ctx, 0)? {
        for (k, c) in records::<(K, C)>(b)? {
            table.insert_with(k, c, |c| c, |old, c| merge(&e, old, c));
        }
        table.maybe_spill(|_| 0)?;
    }
    table.into_batches(move |a, b| merge(&e, a, b))
}

/// Reduce side of groupByKey: each key with its values, in a table that spills (a hot key's group is
/// whole in memory when it is emitted; the other keys are not held with it).
pub(crate) fn group_values<K: Data + Eq + Hash, V: Data>(
    ctx: &TaskCtx,
    _: &[u8],
    mut inputs: Inputs,
) -> Result<Batches, TaskError> {
    let mut table: Aggregator<K, Vec<V>> = Aggregator::new(ctx, Growth::Grouping);
    for b in inputs.build(ctx, 0)? {
        let v = records::<(K, V)>(b)?;
        table.note_values(&v);
        for (k, x) in v {
            table.insert_mut(k, x, |x| vec![x], |group, x| group.push(x));
        }
        table.maybe_spill(|_| 0)?;
    }
    table.into_batches(|mut a, mut b| {
        a.append(&mut b);
        a
    })
}

/// Reduce side of sortByKey: the partition's records sorted by key (stable), spilling sorted runs.
pub(crate) fn sort_by_key<K: Data + Ord, V: Data>(
    ctx: &TaskCtx,
    env: &[u8],
    mut inputs: Inputs,
) -> Result<Batches, TaskError> {
    let ascending: bool = decode(env, "sortByKey")?;
    let mut sorter: Sorter<K, V> = Sorter::new(ctx, ascending);
    for b in inputs.build(ctx, 0)? {
        sorter.insert_batch(records::<(K, V)>(b)?)?;
    }
    sorter.into_batches()
}

/// Reduce side of cogroup: both sides' values per key, in a table that spills.
#[allow(clippy::type_complexity)]
pub(crate) fn cogroup<K: Data + Eq + Hash, V: Data, W: Data>(
    ctx: &TaskCtx,
    _: &[u8],
    mut inputs: Inputs,
) -> Result<Batches, TaskError> {
    let mut table: Aggregator<K, (Vec<V>, Vec<W>)> = Aggregator::new(ctx, Growth::Grouping);
    for b in inputs.build(ctx, 0)? {
        let v = records::<(K, V)>(b)?;
        table.note_values(&v);
        for (k, x) in v {
            table.insert_mut(k, x, |x| (vec![x], Vec::new()), |groups, x| groups.0.push(x));
        }
        table.maybe_spill(|_| 0)?;
    }
    for b in inputs.build(ctx, 1)? {
        let v = records::<(K, W)>(b)?;
        table.note_values(&v);
        for (k, x) in v {
            table.insert_mut(k, x, |x| (Vec::new(), vec![x]), |groups, x| groups.1.push(x));
        }
        table.maybe_spill(|_| 0)?;
    }
    table.into_batches(|mut a, mut b| {
        a.0.append(&mut b.0);
        a.1.append(&mut b.1);
        a
    })
}

// ----------------------------------------------------------------------------------------------
// Results (actions)

pub(crate) fn result_collect<T: Data>(ctx: &TaskCtx, _: &[u8], input: Batches) -> Result<Vec<u8>, TaskError> {
    let all: Vec<T> = collect_all(input)?;
    ctx.metrics(|m| m.output_records += all.len() as u64);
    Ok(bincode::serialize(&all)?)
}

pub(crate) fn result_count<T: Data>(_: &TaskCtx, _: &[u8], input: Batches) -> Result<Vec<u8>, TaskError> {
    let mut n = 0u64;
    for b in input {
        n += records::<T>(b)?.len() as u64;
    }
    Ok(bincode::serialize(&n)?)
}

pub(crate) fn result_take<T: Data>(_: &TaskCtx, env: &[u8], input: Batches) -> Result<Vec<u8>, TaskError> {
    let n: u64 = decode(env, "take")?;
    let mut out: Vec<T> = Vec::new();
    for b in input {
        if out.len() as u64 >= n {
            break;
        }
        let v = records::<T>(b)?;
        out.extend(v.into_iter().take(n as usize - out.len()));
    }
    Ok(bincode::serialize(&out)?)
}

/// A partition's fold: `None` for an empty partition.
pub(crate) fn result_reduce<T: Data, C: Data, F>(_: &TaskCtx, env: &[u8], input: Batches) -> Result<Vec<u8>, TaskError>
where
    F: Fn(&C, T, T) -> T + Copy + 'static,
{
    let c: C = decode(env, "reduce")?;
    // SAFETY: `F: Fn…`, see the module header.
    let f = unsafe { conjure::<F>() };
    let mut acc: Option<T> = None;
    for b in input {
        for x in records::<T>(b)? {
            acc = Some(match acc {
                None => x,
                Some(a) => f(&c, a, x),
            });
        }
    }
    Ok(bincode::serialize(&acc)?)
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AggregateEnv<U, C> {
    pub(crate) zero: U,
    pub(crate) env: C,
}

pub(crate) fn result_aggregate<T: Data, U: Data, C: Data, F>(
    _: &TaskCtx,
    env: &[u8],
    input: Batches,
) -> Result<Vec<u8>, TaskError>
where
    F: Fn(&C, U, T) -> U + Copy + 'static,
{
    let a: AggregateEnv<U, C> = decode(env, "aggregate")?;
    // SAFETY: `F: Fn…`, see the module header.
    let f = unsafe { conjure::<F>() };
    let mut acc = a.zero;
    for b in input {
        for x in records::<T>(b)? {
            acc = f(&a.env, acc, x);
        }
    }
    Ok(bincode::serialize(&acc)?)
}

/// The `n` smallest records by `Ord` (takeOrdered); `top` reverses the order on the driver side.
pub(crate) fn result_smallest<T: Data + Ord>(_: &TaskCtx, env: &[u8], input: Batches) -> Result<Vec<u8>, TaskError> {
    let n: u64 = decode(env, "takeOrdered")?;
    let n = n as usize;
    let mut heap: BinaryHeap<T> = BinaryHeap::with_capacity(n + 1);
    if n > 0 {
        for b in input {
            for x in records::<T>(b)? {
                if heap.len() < n {
                    heap.push(x);
                } else if heap.peek().is_some_and(|top| x < *top) {
                    heap.pop();
                    heap.push(x);
                }
            }
        }
    }
    Ok(bincode::serialize(&heap.into_sorted_vec())?)
}

pub(crate) fn result_largest<T: Data + Ord>(_: &TaskCtx, env: &[u8], input: Batches) -> Result<Vec<u8>, TaskError> {
    let n: u64 = decode(env, "top")?;
    let n = n as usize;
    let mut heap: BinaryHeap<std::cmp::Reverse<T>> = BinaryHeap::with_capacity(n + 1);
    if n > 0 {
        for b in input {
            for x in records::<T>(b)? {
                if heap.len() < n {
                    heap.push(std::cmp::Reverse(x));
                } else if heap.peek().is_some_and(|top| x > top.0) {
                    heap.pop();
                    heap.push(std::cmp::Reverse(x));
                }
            }
        }
    }
    let v: Vec<T> = heap.into_sorted_vec().into_iter().map(|r| r.0).collect();
    Ok(bincode::serialize(&v)?)
}

pub(crate) fn result_foreach<T: Data, C: Data, F>(_: &TaskCtx, env: &[u8], input: Batches) -> Result<Vec<u8>, TaskError>
where
    F: Fn(&C, T) + Copy + 'static,
{
    let c: C = decode(env, "foreach")?;
    // SAFETY: `F: Fn…`, see the module header.
    let f = unsafe { conjure::<F>() };
    for b in input {
        for x in records::<T>(b)? {
            f(&c, x);
        }
    }
    Ok(Vec::new())
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SaveEnv {
    pub(crate) dir: String,
}

/// Writes the partition as `part-NNNNN` (one `Display` line per record) into the job's temporary
/// directory; the driver moves the files into place and writes `_SUCCESS` when the job succeeds.
pub(crate) fn result_save_text<T: Data + std::fmt::Display>(
    ctx: &TaskCtx,
    env: &[u8],
    input: Batches,
) -> Result<Vec<u8>, TaskError> {
    use std::io::Write;
    let s: SaveEnv = decode(env, "saveAsTextFile")?;
    let tmp = std::path::Path::new(&s.dir).join("_temporary").join(format!("attempt_{}", ctx.task_id));
    std::fs::create_dir_all(&tmp)?;
    let name = format!("part-{:05}", ctx.partition);
    let path = tmp.join(&name);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let mut written = 0u64;
    for b in input {
        for x in records::<T>(b)? {
            writeln!(out, "{x}")?;
            written += 1;
        }
    }
    out.flush()?;
    let bytes = out.get_ref().metadata().map(|m| m.len()).unwrap_or(0);
    ctx.metrics(|m| {
        m.output_records += written;
        m.output_bytes += bytes;
    });
    Ok(bincode::serialize(&path.to_string_lossy().into_owned())?)
}
