//! Configuration errors: every problem found, each naming the file, the key, the value and what is allowed.

use std::fmt;

/// One bad entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

/// All problems of one configuration source, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file's path, or `<defaults>` / `<command line>`.
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if problem.key.is_empty() {
                write!(f, "{}: {}", self.source_name, problem.message)?;
            } else {
                write!(f, "{}: key {}: {}", self.source_name, problem.key, problem.message)?;
            }
        }
        Ok(())
    }
}
