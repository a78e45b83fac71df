//! What `weft submit` prints while a cluster application runs, and how it exits. State changes go to
//! stderr in the shape Spark's YARN client logs them (`Application report for <id> (state: RUNNING)`);
//! the outcome goes to stdout. Plain data.

use weft_proto::ApplicationId;

use crate::error::EXIT_FAILURE;

/// Remembers the last state seen so each change is printed once.
#[derive(Debug)]
pub(crate) struct ReportWatch {
    app: ApplicationId,
    last_state: Option<String>,
}

impl ReportWatch {
    pub(crate) fn new(app: ApplicationId) -> ReportWatch {
        ReportWatch { app, last_state: None }
    }

    /// `Application report for <id> (state: <STATE>)` when `state` differs from the last one seen.
    pub(crate) fn observe(&mut self, state: &str) -> Option<String> {
        if self.last_state.as_deref() == Some(state) {
            return None;
        }
        self.last_state = Some(state.to_owned());
        Some(format!("Application report for {} (state: {state})\n", self.app))
    }
}

pub(crate) use crate::shell::watch::{is_final, succeeded, summary};

/// How a driver process ended, as its exit status: the code, or 128 + the signal that killed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DriverExit {
    Code(i32),
    Signal(i32),
}

impl DriverExit {
    /// The status a shell would report for it.
    pub(crate) fn status(self) -> u8 {
        match self {
            DriverExit::Code(code) => u8::try_from(code & 0xff).expect("masked to a byte"),
            DriverExit::Signal(signal) => u8::try_from((128 + signal) & 0xff).expect("masked to a byte"),
        }
    }

    pub(crate) fn describe(self) -> String {
        match self {
            DriverExit::Code(code) => format!("exited with status {code}"),
            DriverExit::Signal(signal) => format!("was killed by signal {signal}"),
        }
    }
}

/// Client mode's exit status: the driver's when it failed, else 0 only for a SUCCEEDED application.
pub(crate) fn client_exit_status(driver: DriverExit, final_status: &str) -> u8 {
    match driver.status() {
        0 if succeeded(final_status) => 0,
        0 => EXIT_FAILURE,
        status => status,
    }
}

/// The diagnostics of a kill after the driver ended without unregistering.
pub(crate) fn unregistered_kill_diagnostics(driver: DriverExit) -> String {
    format!("the client-mode driver {} without unregistering; killed by weft submit", driver.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_report_line_per_state_change() {
        let mut watch = ReportWatch::new(ApplicationId::new(1795428044281, 1));
        let printed: String = ["ACCEPTED", "ACCEPTED", "RUNNING", "RUNNING", "FINISHED"]
            .iter()
            .filter_map(|s| watch.observe(s))
            .collect();
        assert_eq!(
            printed,
            "Application report for application_1795428044281_0001 (state: ACCEPTED)\n\
             Application report for application_1795428044281_0001 (state: RUNNING)\n\
             Application report for application_1795428044281_0001 (state: FINISHED)\n"
        );
    }

    #[test]
    fn outcome_lines() {
        let app = ApplicationId::new(1795428044281, 1);
        assert_eq!(
            summary(app, "FINISHED", "SUCCEEDED", ""),
            "Application application_1795428044281_0001 finished with state FINISHED and final status SUCCEEDED\n"
        );
        assert_eq!(
            summary(app, "KILLED", "KILLED", "killed by the user\n"),
            "Application application_1795428044281_0001 finished with state KILLED and final status KILLED\n\
             Diagnostics: killed by the user\n"
        );
        assert!(succeeded("SUCCEEDED") && !succeeded("FAILED") && !succeeded("UNDEFINED"));
        assert!(is_final("FAILED") && !is_final("RUNNING") && !is_final("bogus"));
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(client_exit_status(DriverExit::Code(0), "SUCCEEDED"), 0);
        assert_eq!(client_exit_status(DriverExit::Code(0), "FAILED"), 1);
        assert_eq!(client_exit_status(DriverExit::Code(0), "KILLED"), 1);
        assert_eq!(client_exit_status(DriverExit::Code(3), "SUCCEEDED"), 3);
        assert_eq!(client_exit_status(DriverExit::Signal(15), "KILLED"), 143);
        assert_eq!(
            unregistered_kill_diagnostics(DriverExit::Signal(9)),
            "the client-mode driver was killed by signal 9 without unregistering; killed by weft submit"
        );
    }
}
