//! The `resourcemanager` binary's start-up contract: a bad configuration stops it with exit 64 and
//! one line naming the file, the key and what is allowed, before any port is bound.

use std::process::Command;

fn run_with_config(yaml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.yaml");
    std::fs::write(&path, yaml).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_resourcemanager")).arg("--config").arg(&path).output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_misspelled_key_stops_the_daemon_with_64() {
    let (code, stderr) = run_with_config("yarn.resourcemanager.adress: 127.0.0.1:0\n");
    assert_eq!(code, Some(64));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("rm.yaml: key yarn.resourcemanager.adress: unknown key"), "{stderr}");
    assert!(stderr.contains("did you mean yarn.resourcemanager.address?"), "{stderr}");
}

#[test]
fn a_bad_value_names_the_allowed_range() {
    let (code, stderr) =
        run_with_config("yarn.scheduler.maximum-allocation-mb: 12x\nyarn.resourcemanager.am.max-attempts: \"0\"\n");
    assert_eq!(code, Some(64));
    assert!(stderr.contains("key yarn.scheduler.maximum-allocation-mb: value \"12x\""), "{stderr}");
    assert!(
        stderr
            .contains("key yarn.resourcemanager.am.max-attempts: value \"0\": expected a whole number from 1 to 1000"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_resourcemanager"))
        .args(["--config", "/nonexistent/rm.yaml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/rm.yaml: cannot read the file"));
}
