//! Narrow transformations: one input partition in, one output partition out, batch by batch.

use super::*;

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
