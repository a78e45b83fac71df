//! Test helper: reserves virtual memory without touching it, then sleeps.
//!
//! `vmemhog <MiB> [hold seconds]` — one anonymous `MAP_NORESERVE` mapping of `<MiB>`, never
//! written, so the virtual size grows and the resident size does not; prints `reserved` when done.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let hold: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(600);
    // SAFETY: a fresh anonymous mapping; nothing aliases it and it is never dereferenced.
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            mib << 20,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert!(address != libc::MAP_FAILED, "mmap of {mib} MiB failed: {}", std::io::Error::last_os_error());
    println!("reserved");
    std::thread::sleep(std::time::Duration::from_secs(hold));
}
