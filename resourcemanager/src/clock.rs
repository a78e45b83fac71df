//! The ResourceManager's one reader of the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
#[allow(clippy::disallowed_methods)] // the one allowed reader
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The wall clock as a `SystemTime`, for file times.
#[allow(clippy::disallowed_methods)] // the one allowed reader
pub(crate) fn now() -> SystemTime {
    SystemTime::now()
}
