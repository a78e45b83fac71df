//! The Spark application master's conversation with the ResourceManager: filled in by the AM work.
