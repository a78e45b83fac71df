//! Test helper: a process tree with grandchildren, each process holding some memory.
//!
//! `forktree <children> <grandchildren per child> <MiB per process>` — the root starts `<children>`
//! copies of itself, each of which starts `<grandchildren>` leaves; every process touches its MiB
//! and sleeps. The root prints `ready <pids…>` once every process has started.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn touch(mib: usize) -> Vec<u8> {
    let mut block = vec![0u8; mib << 20];
    for page in block.chunks_mut(4096) {
        page[0] = 1;
    }
    block
}

fn spawn(role: &str, n: usize, mib: usize, fanout: usize) -> Child {
    let exe = std::env::current_exe().expect("own executable");
    Command::new(exe)
        .args([role, &n.to_string(), &mib.to_string(), &fanout.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a copy of forktree")
}

/// Waits for a child's `ready <pids>` line and returns the pids.
fn ready(child: &mut Child) -> Vec<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("read ready line");
    line.split_whitespace().skip(1).map(str::to_owned).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok()).unwrap_or(0);
    let (role, mib) = match args.get(1).map(String::as_str) {
        Some("child") | Some("leaf") => (args[1].clone(), number(3)),
        _ => ("root".to_owned(), number(3)),
    };
    let memory = touch(mib);
    let mut pids = vec![std::process::id().to_string()];
    let mut children = Vec::new();
    match role.as_str() {
        "root" => {
            for _ in 0..number(1) {
                children.push(spawn("child", number(2), mib, number(2)));
            }
        }
        "child" => {
            for _ in 0..number(2) {
                children.push(spawn("leaf", 0, mib, 0));
            }
        }
        _ => {}
    }
    for child in &mut children {
        pids.extend(ready(child));
    }
    println!("ready {}", pids.join(" "));
    std::thread::sleep(Duration::from_secs(600));
    drop(memory);
}
