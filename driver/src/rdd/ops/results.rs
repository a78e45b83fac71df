//! Results (actions): what each task of an action sends back to the driver.

use super::*;

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
    let named =
        |e: std::io::Error, path: &std::path::Path| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    std::fs::create_dir_all(&tmp).map_err(|e| named(e, &tmp))?;
    let name = format!("part-{:05}", ctx.partition);
    let path = tmp.join(&name);
    let file = std::fs::File::create(&path).map_err(|e| named(e, &path))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut written = 0u64;
    for b in input {
        let batch = records::<T>(b)?;
        written += batch.len() as u64;
        if let Some(lines) = (&batch as &dyn std::any::Any).downcast_ref::<Vec<String>>() {
            // Lines of text (most saved RDDs): their bytes as they are, without the formatter.
            for line in lines {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
            }
        } else {
            for x in &batch {
                writeln!(out, "{x}")?;
            }
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
