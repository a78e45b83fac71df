//! The `resourcemanager` binary's stop contract: SIGTERM ends an idle daemon cleanly, without
//! waiting on work that does not exist.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn an_idle_resourcemanager_stops_on_sigterm_without_waiting_for_launches() {
    let mut rm = support::start_with("", Stdio::piped());
    let status = Command::new("kill").args(["-TERM", &rm.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    rm.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let exit = rm.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("did not finish"), "an idle daemon has nothing to wait for: {stderr}");
}
