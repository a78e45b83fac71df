//! What the ResourceManager and the NodeManager share as daemons, so each `main.rs` only loads its
//! configuration, binds and serves:
//!
//! - [`log`]: logging to stderr that never panics and never blocks (a closed or full stderr drops
//!   lines), colours only on a terminal;
//! - [`exit_on_panic`]: a panic anywhere, in any task, ends the process with a clear message instead
//!   of leaving a half-working daemon;
//! - [`shutdown_signal`]: SIGTERM or Ctrl-C;
//! - [`write_ports_file`]: the bound addresses, written atomically;
//! - [`rest`]: YARN's `RemoteException` error bodies, with 404/405/413 answers for any router;
//! - [`pages`]: what the pages for people share: dates, durations and sizes, style, sortable tables,
//!   SVG charts;
//! - [`acl`]: Hadoop's ACLs and YARN's application-ACL decision (pure), and [`callers`]: who is
//!   calling, with the groups this host gives them — what the ResourceManager and the NodeManager
//!   both check before showing or changing an application's things.
//!
//! **Invariant:** nothing here knows a daemon's state or configuration keys.

pub mod acl;
pub mod callers;
pub mod log;
pub mod pages;
pub mod rest;

use std::io::Write;
use std::path::Path;

/// Writes `program: message` to stderr; a closed stderr is ignored (never a panic).
pub fn say(program: &str, message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{program}: {message}");
}

/// From now on a panic on any thread logs `program` and the panic, says it on stderr, and exits with
/// status 70 (EX_SOFTWARE). A daemon with a dead heartbeat or monitor task must not look alive.
pub fn exit_on_panic(program: &'static str) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
        tracing::error!(thread, "{program} stops: {info}");
        say(program, format_args!("internal error, stopping: {info}"));
        if std::env::var_os("RUST_BACKTRACE").is_some() {
            default(info);
        }
        std::process::exit(EXIT_SOFTWARE);
    }));
}

/// The exit status of a daemon stopped by an internal error (sysexits' EX_SOFTWARE).
pub const EXIT_SOFTWARE: i32 = 70;

/// Watches for SIGTERM and SIGINT from the moment it is called (so a signal that arrives before
/// the returned future is first polled is not lost to the default action, which would end the
/// process without its shutdown); the future resolves on the first of them. Must be called
/// inside a Tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            (Ok(mut one), Err(error)) | (Err(error), Ok(mut one)) => {
                tracing::warn!(%error, "cannot watch for one of SIGTERM and SIGINT; only the other stops this daemon");
                one.recv().await;
            }
            (Err(error), Err(_)) => {
                tracing::error!(%error, "cannot watch for SIGTERM or SIGINT; only SIGKILL stops this daemon");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Writes `data` to a temp file beside `path`, then renames it, so readers never see half a file.
pub fn write_ports_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ports_file_appears_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        super::write_ports_file(&path, br#"{"rpc":"127.0.0.1:1"}"#).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"rpc":"127.0.0.1:1"}"#);
        assert!(!dir.path().join("ports.tmp").exists());
    }
}
