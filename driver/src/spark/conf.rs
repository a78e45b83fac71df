//! Spark configuration (`SparkConf`): filled in by the submit work.
