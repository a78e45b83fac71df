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
    /// The launch environment is wrong (a variable missing or malformed, a port that cannot be bound).
    #[error("{0}")]
    Config(String),
    /// Spark properties with bad values: every problem, each naming its key.
    #[error("{0}")]
    Conf(#[from] super::conf::ConfError),
    /// The ResourceManager could not be reached, or refused the application master.
    #[error("{0}")]
    ResourceManager(String),
    /// The operation cannot be done on this data (`empty collection`).
    #[error("{0}")]
    Unsupported(String),
    #[error("SparkContext has been shut down")]
    Stopped,
    #[error("internal error: {0}")]
    Internal(String),
}
