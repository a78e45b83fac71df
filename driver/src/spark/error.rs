//! What a Spark program sees when something goes wrong.

/// An error of the runtime, as user code receives it from an action or the context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SparkError {
    /// A job failed; the message is Spark's (`Job aborted due to stage failure: …`).
    #[error("{0}")]
    JobAborted(String),
    /// Reading input or writing output failed.
    #[error("{0}")]
    Io(String),
    /// The configuration or the launch environment is wrong.
    #[error("{0}")]
    Config(String),
    /// The operation cannot be done on this data (`empty collection`).
    #[error("{0}")]
    Unsupported(String),
    #[error("SparkContext has been shut down")]
    Stopped,
    #[error("internal error: {0}")]
    Internal(String),
}
