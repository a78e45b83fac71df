//! The RDDs a context makes from nothing: Spark's `parallelize` and `textFile`. They live beside the
//! RDD type (as methods of [`SparkContext`]) so that the context itself knows nothing of RDDs.

use weft_executor::plan::{Node, NodeCtor};
use weft_executor::FnRef;

use super::{ops, scope, Data, NewRdd, Rdd};
use crate::context::SparkContext;
use crate::error::SparkError;

impl SparkContext {
    /// Spark's `parallelize`: the collection cut into `slices` partitions of about equal size.
    #[track_caller]
    pub fn parallelize<T: Data>(&self, data: Vec<T>, slices: usize) -> Rdd<T> {
        let slices = slices.max(1);
        let n = data.len();
        let parts: Vec<Vec<u8>> =
            (0..slices).map(|i| ops::encode(&data[i * n / slices..(i + 1) * n / slices].to_vec())).collect();
        let spec = NewRdd {
            kind: "ParallelCollectionRDD",
            scope: scope("parallelize"),
            label: String::new(),
            num_partitions: slices,
            deps: Vec::new(),
            partitioner: None,
        };
        let ctor = FnRef::new(NodeCtor(ops::source_vec::<T>));
        Rdd::create(self, spec, move |_, split| Node { ctor, env: parts[split].clone(), inputs: Vec::new() })
    }

    /// `parallelize` with `spark.default.parallelism` (or the executors' cores) slices.
    #[track_caller]
    pub fn parallelize_default<T: Data>(&self, data: Vec<T>) -> Rdd<T> {
        self.parallelize(data, self.default_parallelism())
    }

    /// Spark's `textFile`: the lines of a file, a directory's files or a glob's matches, split like
    /// Hadoop's input format (splits of at most 32 MiB; at least `min(defaultParallelism, 2)`);
    /// `.gz` files are read whole.
    #[track_caller]
    pub fn text_file(&self, path: &str) -> Result<Rdd<String>, SparkError> {
        self.text_file_with_min_partitions(path, self.default_parallelism().min(2))
    }

    #[track_caller]
    pub fn text_file_with_min_partitions(&self, path: &str, min_partitions: usize) -> Result<Rdd<String>, SparkError> {
        let splits = crate::input::splits(path, min_partitions.max(1))?;
        let spec = NewRdd {
            kind: "HadoopRDD",
            scope: scope("textFile"),
            label: path.to_owned(),
            num_partitions: splits.len(),
            deps: Vec::new(),
            partitioner: None,
        };
        let envs: Vec<Vec<u8>> = splits.iter().map(ops::encode).collect();
        let ctor = FnRef::new(NodeCtor(ops::source_text));
        Ok(Rdd::create(self, spec, move |_, split| Node { ctor, env: envs[split].clone(), inputs: Vec::new() }))
    }
}
