//! What `weft shell` prints while it waits: one line per state change, then the outcome; and whether
//! the run counts as a success. Plain data.

use weft_proto::states::{AppState, FinalStatus};
use weft_proto::ApplicationId;

/// Remembers the last state seen so each change is printed once.
#[derive(Debug)]
pub(crate) struct Watch {
    app: ApplicationId,
    last_state: Option<String>,
}

impl Watch {
    pub(crate) fn new(app: ApplicationId) -> Watch {
        Watch { app, last_state: None }
    }

    /// `application_… state RUNNING` when `state` differs from the last one seen.
    pub(crate) fn observe(&mut self, state: &str) -> Option<String> {
        if self.last_state.as_deref() == Some(state) {
            return None;
        }
        self.last_state = Some(state.to_owned());
        Some(format!("{} state {state}\n", self.app))
    }
}

/// FINISHED, FAILED or KILLED.
pub(crate) fn is_final(state: &str) -> bool {
    state.parse::<AppState>().is_ok_and(AppState::is_final)
}

/// Only a SUCCEEDED final status is a successful run.
pub(crate) fn succeeded(final_status: &str) -> bool {
    final_status.parse::<FinalStatus>() == Ok(FinalStatus::SUCCEEDED)
}

/// The closing lines: id, state, final status, and the diagnostics when there are any.
pub(crate) fn summary(app: ApplicationId, state: &str, final_status: &str, diagnostics: &str) -> String {
    let mut out = format!("Application {app} finished with state {state} and final status {final_status}\n");
    if !diagnostics.trim().is_empty() {
        out.push_str(&format!("Diagnostics: {}\n", diagnostics.trim_end()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(states: &[&str], expected: &str) {
        let mut watch = Watch::new(ApplicationId::new(1795428044281, 1));
        let printed: String = states.iter().filter_map(|s| watch.observe(s)).collect();
        assert_eq!(printed, expected);
    }

    #[test]
    fn one_line_per_state_change() {
        check(
            &["ACCEPTED", "ACCEPTED", "RUNNING", "RUNNING", "RUNNING", "FINISHED"],
            "application_1795428044281_0001 state ACCEPTED\n\
             application_1795428044281_0001 state RUNNING\n\
             application_1795428044281_0001 state FINISHED\n",
        );
        check(&[], "");
    }

    #[test]
    fn outcome_lines_and_success() {
        let app = ApplicationId::new(1795428044281, 1);
        assert_eq!(
            summary(app, "FINISHED", "SUCCEEDED", ""),
            "Application application_1795428044281_0001 finished with state FINISHED and final status SUCCEEDED\n"
        );
        assert_eq!(
            summary(app, "FINISHED", "FAILED", "1 of 2 containers failed:\ncontainer c exited with status 3\n"),
            "Application application_1795428044281_0001 finished with state FINISHED and final status FAILED\n\
             Diagnostics: 1 of 2 containers failed:\ncontainer c exited with status 3\n"
        );
        assert!(succeeded("SUCCEEDED"));
        assert!(!succeeded("FAILED") && !succeeded("KILLED") && !succeeded("UNDEFINED") && !succeeded(""));
        assert!(is_final("KILLED") && !is_final("ACCEPTED"));
    }
}
