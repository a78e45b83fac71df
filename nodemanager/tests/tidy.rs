//! The NodeManager's core stays pure: `container/`, `node/` and `monitor/` import no async runtime, RPC, web
//! framework, filesystem, wire types or clock (their tests may).

use std::fs;
use std::path::Path;

const PURE: &[&str] = &["src/container", "src/node", "src/monitor"];
const BANNED: &[&str] =
    &["tokio", "tonic", "axum", "std::fs", "SystemTime", "Instant", "weft_proto::pb", "procfs", "nix::"];

#[test]
fn the_core_does_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offences = Vec::new();
    for dir in PURE {
        let entries = fs::read_dir(root.join(dir)).unwrap();
        for entry in entries {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            let body = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or("");
            let code: Vec<&str> = body.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            for word in BANNED {
                if code.iter().any(|l| l.contains(word)) {
                    offences.push(format!("{} uses {word}", path.display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "the core must not do I/O:\n{}", offences.join("\n"));
}
