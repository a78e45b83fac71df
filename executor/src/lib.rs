//! Weft's executor runtime: the task runner, shuffle writer and reader, and block manager that run
//! inside executor containers. It knows nothing of YARN: containers, queues and node managers are the
//! driver's and the cluster's business.
//!
//! The runtime arrives with the Spark-compatible runtime work; until then this crate holds no code, and
//! `weft submit` says so instead of pretending (see `driver`).
