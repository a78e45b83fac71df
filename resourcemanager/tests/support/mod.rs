//! A `resourcemanager` process on loopback for the integration tests: every port bound at 0 and read
//! back from its ports file, no NodeManager (submitted applications wait ACCEPTED), killed by pid
//! when dropped.

#![allow(dead_code, unreachable_pub)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Rm {
    pub child: Child,
    /// Client port (gRPC and Hadoop IPC).
    pub client: String,
    pub tracker: String,
    pub web: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Rm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts one with `extra_config` YAML lines after the test's own; its stderr goes to `stderr`.
pub fn start_with(extra_config: &str, stderr: Stdio) -> Rm {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rm.yaml");
    let ports = dir.path().join("ports.json");
    std::fs::write(
        &config,
        format!(
            "yarn.resourcemanager.address: 127.0.0.1:0\n\
             yarn.resourcemanager.scheduler.address: 127.0.0.1:0\n\
             yarn.resourcemanager.resource-tracker.address: 127.0.0.1:0\n\
             yarn.resourcemanager.webapp.address: 127.0.0.1:0\n\
             hadoop.tmp.dir: {}\n{extra_config}",
            dir.path().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_resourcemanager"))
        .args(["--config", &config.display().to_string(), "--ports-file", &ports.display().to_string()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    for waited in 0.. {
        if let Ok(text) = std::fs::read_to_string(&ports) {
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let address = |key: &str| json[key].as_str().unwrap().to_string();
            let (client, tracker, web) = (address("client"), address("tracker"), address("webapp"));
            return Rm { child, client, tracker, web, dir };
        }
        assert!(waited < 1500, "the ResourceManager did not bind its ports within 30 s");
        assert!(child.try_wait().unwrap().is_none(), "the ResourceManager exited at start-up");
        std::thread::sleep(Duration::from_millis(20));
    }
    unreachable!()
}

/// Starts one with `extra_config`, its stderr dropped.
pub fn start(extra_config: &str) -> Rm {
    start_with(extra_config, Stdio::null())
}
