//! When the first job may be scheduled (Spark's `waitBackendReady`): on a cluster, once enough of
//! the executors asked for have registered (`spark.scheduler.minRegisteredResourcesRatio`, 0.8 on
//! YARN) or `spark.scheduler.maxRegisteredResourcesWaitingTime` has passed, whichever comes first.
//! Without it the first executor up takes every task of a short stage, and its map outputs are all
//! on one process.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The executors registered now, as the scheduler loop counts them, and a way to wait for them.
#[derive(Default)]
pub(crate) struct Registered {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    executors: usize,
    /// The application cannot go on (its executors keep failing): nobody should wait.
    given_up: bool,
}

/// Why waiting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    Ratio,
    Timeout,
    GivenUp,
}

/// Whether `registered` executors of the `expected` are the `ratio` Spark asks for.
pub(crate) fn enough(registered: usize, expected: usize, ratio: f64) -> bool {
    registered as f64 >= expected as f64 * ratio
}

impl Registered {
    pub(crate) fn added(&self) {
        self.update(|s| s.executors += 1);
    }

    pub(crate) fn removed(&self) {
        self.update(|s| s.executors = s.executors.saturating_sub(1));
    }

    pub(crate) fn give_up(&self) {
        self.update(|s| s.given_up = true);
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().expect("registered lock"));
        self.changed.notify_all();
    }

    /// Blocks until `ratio` of `expected` executors have registered, `limit` has passed, or the
    /// application gave up.
    pub(crate) fn wait(&self, expected: usize, ratio: f64, limit: Duration) -> Ready {
        let deadline = Instant::now() + limit;
        let mut state = self.state.lock().expect("registered lock");
        loop {
            if enough(state.executors, expected, ratio) {
                return Ready::Ratio;
            }
            if state.given_up {
                return Ready::GivenUp;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ready::Timeout;
            }
            state = self.changed.wait_timeout(state, left).expect("registered lock").0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_ratio_of_the_executors_asked_for_is_enough() {
        assert!(enough(0, 0, 0.8));
        assert!(!enough(1, 2, 0.8));
        assert!(enough(2, 2, 0.8));
        assert!(enough(4, 5, 0.8));
        assert!(!enough(3, 5, 0.8));
        assert!(enough(0, 5, 0.0));
        assert!(enough(1, 2, 0.5));
    }

    #[test]
    fn waiting_ends_when_enough_executors_register() {
        let registered = Arc::new(Registered::default());
        let other = registered.clone();
        let adder = std::thread::spawn(move || {
            other.added();
            other.added();
        });
        assert_eq!(registered.wait(2, 0.8, Duration::from_secs(60)), Ready::Ratio);
        adder.join().unwrap();
    }

    #[test]
    fn waiting_ends_at_the_limit_or_when_the_application_gives_up() {
        let registered = Registered::default();
        registered.added();
        registered.added();
        registered.removed();
        assert_eq!(registered.wait(2, 1.0, Duration::from_millis(20)), Ready::Timeout);
        registered.give_up();
        assert_eq!(registered.wait(2, 1.0, Duration::from_secs(60)), Ready::GivenUp);
    }
}
