//! Shuffle read (reduce side): fetched blocks merged, aggregated or grouped by key.

use super::*;

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
