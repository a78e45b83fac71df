//! Logging for daemons: to stderr at `info` unless `RUST_LOG` says otherwise; ANSI colours only when
//! stderr is a terminal (never in log files); a write that fails (stderr closed, `| head` gone) is
//! dropped, never a panic and never a retry, so logging cannot stop a daemon or block its shutdown.

use std::io::{self, IsTerminal, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Stderr that swallows its own errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct LossyStderr;

impl Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A failed write is reported as written: the line is lost, the daemon goes on.
        let _ = io::stderr().lock().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().lock().flush();
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LossyStderr {
    type Writer = LossyStderr;

    fn make_writer(&'a self) -> Self::Writer {
        LossyStderr
    }
}

/// Installs the daemon's subscriber (once; a second call changes nothing).
pub fn init(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LossyStderr)
        .with_ansi(io::stderr().is_terminal())
        .log_internal_errors(false)
        .try_init();
}
