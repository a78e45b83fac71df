//! Shuffle write (map side): records partitioned, combined and sorted into the executor's shuffle sink.

use super::*;

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
