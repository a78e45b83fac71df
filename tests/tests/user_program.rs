//! A Spark program as a user writes one (`tests/user-program/`): its own package depending on
//! weft-spark without the default `mimalloc` feature, its own `#[global_allocator]` and its own
//! tracing subscriber. It must build, run in local mode, and keep both: Weft neither brings a second
//! allocator nor replaces the subscriber. The dependency tree of what a Spark program links holds
//! neither the CLI's argument parser nor its HTTP client.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the program as its own package, outside the workspace (whose members' features Cargo
/// unifies), in a copy under a temp dir: the manifest pointed at this checkout's `driver/` and the
/// workspace's lock file, so the versions are the ones the workspace was tested with and nothing in
/// the checkout is written. Its target directory is `target/user-program`.
fn build_user_program() -> PathBuf {
    let source = repo().join("tests/user-program");
    let copy = tempfile::tempdir().expect("temp dir");
    let manifest = std::fs::read_to_string(source.join("Cargo.toml")).unwrap();
    let driver = repo().join("driver");
    let manifest = manifest.replace("path = \"../../driver\"", &format!("path = {:?}", driver.display().to_string()));
    assert!(
        manifest.contains(&driver.display().to_string()),
        "tests/user-program/Cargo.toml no longer names ../../driver"
    );
    std::fs::write(copy.path().join("Cargo.toml"), manifest).unwrap();
    std::fs::create_dir(copy.path().join("src")).unwrap();
    std::fs::copy(source.join("src/main.rs"), copy.path().join("src/main.rs")).unwrap();
    std::fs::copy(repo().join("Cargo.lock"), copy.path().join("Cargo.lock")).unwrap();
    let target = weft_tests::binary("").parent().expect("target/<profile>").join("user-program");
    let output = cargo()
        .arg("build")
        .arg("--manifest-path")
        .arg(copy.path().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "the user program did not build:\n{}", String::from_utf8_lossy(&output.stderr));
    target.join("debug/weft-user-program")
}

#[test]
fn a_program_with_its_own_allocator_and_subscriber_builds_and_runs() {
    let program = build_user_program();
    let work = tempfile::tempdir().unwrap();
    let output = Command::new(&program).current_dir(work.path()).env_remove("RUST_LOG").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the program failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("even squares: 500"), "{stdout}");
    // Weft's own log lines went through the program's subscriber (its prefix), none around it. (A
    // progress bar drawn with `\r` may share the line.)
    let job_line = stderr
        .lines()
        .filter_map(|l| l.rsplit('\r').next())
        .find(|l| l.contains("Job 0 finished"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(job_line.starts_with("user-subscriber: "), "{job_line}");
    // The driver's own allocator counted its allocations.
    let counted = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("own allocator: "))
        .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
        .collect::<Vec<_>>();
    assert!(!counted.is_empty() && counted.iter().all(|&n| n > 0), "{stderr}");
}

#[test]
fn a_spark_program_links_neither_the_cli_parser_nor_the_http_client() {
    let output = cargo()
        .current_dir(repo())
        .args(["tree", "--offline", "-p", "weft-spark", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo tree failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.lines().any(|l| l.starts_with("weft-executor ")), "not weft-spark's tree:\n{tree}");
    let linked: Vec<&str> =
        tree.lines().filter(|l| ["clap ", "reqwest ", "weft-cli "].iter().any(|name| l.starts_with(name))).collect();
    assert!(linked.is_empty(), "weft-spark links {linked:?}");
}
