//! The NodeManager's one reader of the clocks; everything else takes `now_ms` or uses `tokio::time`.

#![allow(clippy::disallowed_methods)]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A monotonic instant, for measuring rates (CPU usage between two samples).
pub(crate) fn monotonic() -> Instant {
    Instant::now()
}
