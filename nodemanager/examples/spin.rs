//! Test helper: keeps CPUs busy.
//!
//! `spin <threads> [cpu]` — runs `<threads>` busy loops forever; with `cpu`, the whole process is
//! pinned to that CPU first (sched_setaffinity), so several spinners compete for it.

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity get valid pointers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "sched_setaffinity to CPU {cpu}: {}", std::io::Error::last_os_error());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    if let Some(cpu) = args.get(2).and_then(|a| a.parse().ok()) {
        pin(cpu);
    }
    let spinners: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(|| {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    for s in spinners {
        let _ = s.join();
    }
}
