//! Caching: reading a cached partition back, and storing one as it streams by.

use super::*;

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
