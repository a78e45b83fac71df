//! Tidy checks that run with the tests: every Rust file says what it is for, ARCHITECTURE.md names
//! every crate, pure modules stay pure, no test is skipped, and the README lists every config key.

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

const CRATES: &[&str] = &["proto", "config", "resourcemanager", "nodemanager", "executor", "driver", "tests"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for krate in CRATES {
        for sub in ["src", "tests", "benches"] {
            rust_files(&repo().join(krate).join(sub), &mut files);
        }
        let build = repo().join(krate).join("build.rs");
        if build.exists() {
            files.push(build);
        }
    }
    files
}

#[test]
fn every_rust_file_opens_with_a_doc_comment() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|f| !fs::read_to_string(f).unwrap_or_default().trim_start().starts_with("//!"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a //! header:\n{}", missing.join("\n"));
}

#[test]
fn architecture_names_every_crate() {
    let text = fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    for krate in CRATES.iter().chain(&["deploy"]) {
        assert!(text.contains(&format!("### `{krate}/`")), "ARCHITECTURE.md has no section for {krate}/");
    }
}

#[test]
fn pure_modules_do_no_io() {
    let pure = [
        "resourcemanager/src/core",
        "resourcemanager/src/scheduler",
        "nodemanager/src/container",
        "nodemanager/src/node",
    ];
    let banned = ["tokio", "tonic", "axum", "std::fs", "SystemTime", "Instant::now", "weft_proto::pb"];
    let mut offences = Vec::new();
    for dir in pure {
        let mut files = Vec::new();
        rust_files(&repo().join(dir), &mut files);
        assert!(!files.is_empty(), "{dir} has no files");
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            let body = text.split("#[cfg(test)]").next().unwrap_or("");
            let code: Vec<&str> = body.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            for word in banned {
                if code.iter().any(|l| l.contains(word)) {
                    offences.push(format!("{} uses {word}", file.display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "pure modules must not do I/O:\n{}", offences.join("\n"));
}

#[test]
fn no_test_is_skipped() {
    let needle = ["#[", "ignore"].concat();
    let skipped: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|f| fs::read_to_string(f).unwrap_or_default().contains(&needle))
        .map(|f| f.display().to_string())
        .collect();
    assert!(skipped.is_empty(), "skipped tests in:\n{}", skipped.join("\n"));
}

#[test]
fn the_readme_lists_every_configuration_key() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let missing: Vec<&str> =
        weft_config::KEYS.iter().map(|k| k.name).filter(|name| !readme.contains(&format!("`{name}`"))).collect();
    assert!(missing.is_empty(), "README.md does not document: {missing:?}");
}
