//! Actions: each runs a job on the cluster and brings its result back to the driver.

use std::collections::HashMap;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use weft_executor::plan::ResultCtor;
use weft_executor::FnRef;

use super::ops::{self, AggregateEnv, SaveEnv};
use super::{scope, Data, Rdd};
use crate::error::SparkError;

fn decode<R: DeserializeOwned>(bytes: &[u8]) -> Result<R, SparkError> {
    bincode::deserialize(bytes).map_err(|e| SparkError::Internal(format!("cannot decode a task result: {e}")))
}

impl<T: Data> Rdd<T> {
    /// Runs `ctor` over `partitions` (all when `None`); one result per partition, in order.
    fn run<R: DeserializeOwned>(
        &self,
        scope: String,
        partitions: Option<Vec<usize>>,
        ctor: FnRef<ResultCtor>,
        env: Vec<u8>,
    ) -> Result<Vec<R>, SparkError> {
        let partitions = partitions.unwrap_or_else(|| (0..self.node.num_partitions).collect());
        let results = self.sc.run_job(&self.node, scope, partitions, ctor, env)?;
        results.iter().map(|b| decode(b)).collect()
    }

    #[track_caller]
    pub fn collect(&self) -> Result<Vec<T>, SparkError> {
        let parts: Vec<Vec<T>> =
            self.run(scope("collect"), None, FnRef::new(ResultCtor(ops::result_collect::<T>)), Vec::new())?;
        Ok(parts.into_iter().flatten().collect())
    }

    #[track_caller]
    pub fn count(&self) -> Result<u64, SparkError> {
        let parts: Vec<u64> =
            self.run(scope("count"), None, FnRef::new(ResultCtor(ops::result_count::<T>)), Vec::new())?;
        Ok(parts.into_iter().sum())
    }

    /// Spark's `take`: scans one partition, then more (four times as many each round) until it has `n`.
    #[track_caller]
    pub fn take(&self, n: usize) -> Result<Vec<T>, SparkError> {
        let s = scope("take");
        let total = self.node.num_partitions;
        let mut out: Vec<T> = Vec::new();
        let mut scanned = 0;
        let mut step = 1;
        while out.len() < n && scanned < total {
            let upto = (scanned + step).min(total);
            let want = (n - out.len()) as u64;
            let ctor = FnRef::new(ResultCtor(ops::result_take::<T>));
            let parts: Vec<Vec<T>> = self.run(s.clone(), Some((scanned..upto).collect()), ctor, ops::encode(&want))?;
            for part in parts {
                let room = n - out.len();
                out.extend(part.into_iter().take(room));
            }
            scanned = upto;
            step *= 4;
        }
        Ok(out)
    }

    /// Spark's `first`; an empty RDD is an error, as in Spark.
    #[track_caller]
    pub fn first(&self) -> Result<T, SparkError> {
        self.take(1)?.into_iter().next().ok_or_else(|| SparkError::Unsupported("empty collection".into()))
    }

    #[track_caller]
    pub fn reduce<F>(&self, f: F) -> Result<T, SparkError>
    where
        F: Fn(T, T) -> T + Copy + 'static,
    {
        self.reduce_with_scope(scope("reduce"), (), move |_: &(), a, b| f(a, b))
    }

    #[track_caller]
    pub fn reduce_with<C: Data, F>(&self, env: C, f: F) -> Result<T, SparkError>
    where
        F: Fn(&C, T, T) -> T + Copy + 'static,
    {
        self.reduce_with_scope(scope("reduce"), env, f)
    }

    fn reduce_with_scope<C: Data, F>(&self, scope: String, env: C, f: F) -> Result<T, SparkError>
    where
        F: Fn(&C, T, T) -> T + Copy + 'static,
    {
        let ctor = FnRef::new(ResultCtor(ops::result_reduce::<T, C, F>));
        let parts: Vec<Option<T>> = self.run(scope, None, ctor, ops::encode(&env))?;
        parts
            .into_iter()
            .flatten()
            .reduce(|a, b| f(&env, a, b))
            .ok_or_else(|| SparkError::Unsupported("empty collection".into()))
    }

    /// Spark's `fold`: `zero` starts every partition and the merge of the partitions.
    #[track_caller]
    pub fn fold<F>(&self, zero: T, f: F) -> Result<T, SparkError>
    where
        F: Fn(T, T) -> T + Copy + 'static,
    {
        self.aggregate_scope(scope("fold"), zero, move |_: &(), a, b| f(a, b), f)
    }

    /// Spark's `aggregate(zero)(seqOp, combOp)`.
    #[track_caller]
    pub fn aggregate<U: Data, FS, FC>(&self, zero: U, seq: FS, comb: FC) -> Result<U, SparkError>
    where
        FS: Fn(U, T) -> U + Copy + 'static,
        FC: Fn(U, U) -> U + Copy + 'static,
    {
        self.aggregate_scope(scope("aggregate"), zero, move |_: &(), u, x| seq(u, x), comb)
    }

    fn aggregate_scope<U: Data, FS, FC>(&self, scope: String, zero: U, _seq: FS, comb: FC) -> Result<U, SparkError>
    where
        FS: Fn(&(), U, T) -> U + Copy + 'static,
        FC: Fn(U, U) -> U,
    {
        let ctor = FnRef::new(ResultCtor(ops::result_aggregate::<T, U, (), FS>));
        let env = AggregateEnv { zero: zero.clone(), env: () };
        let parts: Vec<U> = self.run(scope, None, ctor, ops::encode(&env))?;
        Ok(parts.into_iter().fold(zero, comb))
    }

    #[track_caller]
    pub fn foreach<F>(&self, f: F) -> Result<(), SparkError>
    where
        F: Fn(T) + Copy + 'static,
    {
        self.foreach_with((), move |_: &(), x| f(x))
    }

    #[track_caller]
    pub fn foreach_with<C: Data, F>(&self, env: C, _f: F) -> Result<(), SparkError>
    where
        F: Fn(&C, T) + Copy + 'static,
    {
        let ctor = FnRef::new(ResultCtor(ops::result_foreach::<T, C, F>));
        let _: Vec<Vec<u8>> = self.sc.run_job(
            &self.node,
            scope("foreach"),
            (0..self.node.num_partitions).collect(),
            ctor,
            ops::encode(&env),
        )?;
        Ok(())
    }

    /// Spark's `saveAsTextFile`: a directory of `part-00000`, `part-00001`, … (one line per record)
    /// and `_SUCCESS`. An existing directory is an error, as in Spark.
    #[track_caller]
    pub fn save_as_text_file(&self, path: &str) -> Result<(), SparkError>
    where
        T: std::fmt::Display,
    {
        let dir = std::path::absolute(path).map_err(|e| SparkError::Io(format!("{path}: {e}")))?;
        if dir.exists() {
            return Err(SparkError::Io(format!("Output directory {} already exists", dir.display())));
        }
        std::fs::create_dir_all(&dir).map_err(|e| SparkError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let env = SaveEnv { dir: dir.to_string_lossy().into_owned() };
        let ctor = FnRef::new(ResultCtor(ops::result_save_text::<T>));
        let written: Vec<String> = self.run(scope("saveAsTextFile"), None, ctor, ops::encode(&env))?;
        for file in written {
            let from = std::path::PathBuf::from(&file);
            let name = from.file_name().map(|n| n.to_owned()).unwrap_or_default();
            std::fs::rename(&from, dir.join(&name))
                .map_err(|e| SparkError::Io(format!("cannot move {} into {}: {e}", from.display(), dir.display())))?;
        }
        let _ = std::fs::remove_dir_all(dir.join("_temporary"));
        std::fs::write(dir.join("_SUCCESS"), b"").map_err(|e| SparkError::Io(format!("cannot write _SUCCESS: {e}")))?;
        Ok(())
    }
}

impl<T: Data> Rdd<T> {
    /// Spark's `checkpoint`: writes the RDD's partitions under the context's checkpoint directory
    /// (`SparkContext::set_checkpoint_dir`) and cuts its lineage: later jobs read the files. Unlike
    /// Spark, which writes after the next job, this runs its own job now.
    #[track_caller]
    pub fn checkpoint(&self) -> Result<(), SparkError> {
        if self.node.checkpointed.get().is_some() {
            return Ok(());
        }
        let root = self
            .sc
            .checkpoint_dir()
            .ok_or_else(|| SparkError::Config("Checkpoint directory has not been set in the SparkContext".into()))?;
        let dir = root.join(format!("rdd-{}", self.node.id));
        std::fs::create_dir_all(&dir).map_err(|e| SparkError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let dir = dir.to_string_lossy().into_owned();
        let ctor = FnRef::new(ResultCtor(ops::result_write_checkpoint::<T>));
        let _: Vec<Vec<u8>> = self.sc.run_job(
            &self.node,
            scope("checkpoint"),
            (0..self.node.num_partitions).collect(),
            ctor,
            ops::encode(&dir),
        )?;
        let _ = self.node.checkpointed.set(dir);
        Ok(())
    }

    pub fn is_checkpointed(&self) -> bool {
        self.node.checkpointed.get().is_some()
    }
}

impl<T: Data + Ord> Rdd<T> {
    /// The `n` largest records, largest first.
    #[track_caller]
    pub fn top(&self, n: usize) -> Result<Vec<T>, SparkError> {
        let ctor = FnRef::new(ResultCtor(ops::result_largest::<T>));
        let parts: Vec<Vec<T>> = self.run(scope("top"), None, ctor, ops::encode(&(n as u64)))?;
        let mut all: Vec<T> = parts.into_iter().flatten().collect();
        all.sort_by(|a, b| b.cmp(a));
        all.truncate(n);
        Ok(all)
    }

    /// The `n` smallest records, smallest first.
    #[track_caller]
    pub fn take_ordered(&self, n: usize) -> Result<Vec<T>, SparkError> {
        let ctor = FnRef::new(ResultCtor(ops::result_smallest::<T>));
        let parts: Vec<Vec<T>> = self.run(scope("takeOrdered"), None, ctor, ops::encode(&(n as u64)))?;
        let mut all: Vec<T> = parts.into_iter().flatten().collect();
        all.sort();
        all.truncate(n);
        Ok(all)
    }
}

impl<T: Data + Eq + Hash> Rdd<T> {
    /// Spark's `countByValue`.
    #[track_caller]
    pub fn count_by_value(&self) -> Result<HashMap<T, u64>, SparkError> {
        let s = scope("countByValue");
        let pairs: Rdd<(T, u64)> = self.map_scoped(s.clone(), (), |_: &(), x: T| (x, 1u64));
        Ok(pairs.reduce_by_key(|a, b| a + b).collect()?.into_iter().collect())
    }
}

impl<K: Data + Eq + Hash, V: Data> Rdd<(K, V)> {
    /// Spark's `countByKey`.
    #[track_caller]
    pub fn count_by_key(&self) -> Result<HashMap<K, u64>, SparkError> {
        let s = scope("countByKey");
        let ones: Rdd<(K, u64)> = self.map_scoped(s, (), |_: &(), (k, _): (K, V)| (k, 1u64));
        Ok(ones.reduce_by_key(|a, b| a + b).collect()?.into_iter().collect())
    }

    /// Spark's `collectAsMap`.
    #[track_caller]
    pub fn collect_as_map(&self) -> Result<HashMap<K, V>, SparkError> {
        Ok(self.collect()?.into_iter().collect())
    }
}
