//! A Spark program that brings its own allocator (counting every allocation) and its own tracing
//! subscriber (every line prefixed `user-subscriber:`), as a program embedding Weft may. It counts
//! the squares of 1..=1000 that are even and prints what its allocator and subscriber saw.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The program's allocator: the system's, counting.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LOG_LINES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds GlobalAlloc's contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Writes each log line to stderr with the program's own prefix.
struct Prefixed;

impl Write for Prefixed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG_LINES.fetch_add(1, Ordering::Relaxed);
        let mut stderr = std::io::stderr().lock();
        stderr.write_all(b"user-subscriber: ")?;
        stderr.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn main() -> ExitCode {
    // `init` panics if a subscriber is already set: the program's comes first, and Weft keeps it.
    tracing_subscriber::fmt().with_writer(|| Prefixed).with_ansi(false).init();
    let code = weft_spark::run(|sc, _args| {
        let even = sc.parallelize((1..=1000u64).collect(), 4).map(|x| x * x).filter(|x| x % 2 == 0).count()?;
        println!("even squares: {even}");
        Ok(())
    });
    eprintln!(
        "own allocator: {} allocations; own subscriber: {} lines",
        ALLOCATIONS.load(Ordering::Relaxed),
        LOG_LINES.load(Ordering::Relaxed)
    );
    code
}
