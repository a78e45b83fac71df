//! Running the driver as a child of `weft submit` (local master and client mode): stdin, stdout and
//! stderr inherited, the launch environment added, SIGINT and SIGTERM passed on, and its exit status
//! reported.
//!
//! The child stays in `weft submit`'s process group, so job control and terminal reads work as for
//! any foreground program. A Ctrl-C on the terminal therefore reaches the child already; SIGINT is
//! forwarded only when `weft submit` is not the terminal's foreground group (someone signalled it
//! alone), so the child never gets one Ctrl-C twice. SIGTERM is always forwarded.

use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tokio::signal::unix::{signal as listen, SignalKind};

use super::report::DriverExit;
use crate::error::CliError;

/// The program to start: a bare file name means the file in this directory, not one on `$PATH`.
pub(crate) fn program(binary: &Path) -> PathBuf {
    if binary.is_relative() && binary.components().count() == 1 {
        Path::new(".").join(binary)
    } else {
        binary.to_owned()
    }
}

/// Starts `binary args…` with `env` added, waits for it, and passes SIGINT and SIGTERM on meanwhile.
pub(crate) async fn run_driver(
    binary: &Path,
    args: &[String],
    env: &[(String, String)],
) -> Result<DriverExit, CliError> {
    let cannot_watch = |e: std::io::Error| CliError::failed(format!("cannot watch for signals: {e}"));
    let interrupts = listen(SignalKind::interrupt()).map_err(cannot_watch)?;
    let terminations = listen(SignalKind::terminate()).map_err(cannot_watch)?;
    let signals =
        futures::stream::unfold((interrupts, terminations), |(mut interrupts, mut terminations)| async move {
            let received = tokio::select! {
                _ = interrupts.recv() => Signal::SIGINT,
                _ = terminations.recv() => Signal::SIGTERM,
            };
            Some((received, (interrupts, terminations)))
        });
    supervise(binary, args, env, Box::pin(signals)).await
}

/// Runs the driver, passing on each signal from `signals` that it would not get otherwise.
async fn supervise(
    binary: &Path,
    args: &[String],
    env: &[(String, String)],
    mut signals: impl Stream<Item = Signal> + Unpin,
) -> Result<DriverExit, CliError> {
    let cannot = |what: &str, e: std::io::Error| CliError::failed(format!("cannot {what} {}: {e}", binary.display()));
    let mut child = tokio::process::Command::new(program(binary))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .map_err(|e| cannot("start", e))?;
    let pid = child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
    loop {
        tokio::select! {
            status = child.wait() => return status.map(exit_of).map_err(|e| cannot("wait for", e)),
            Some(received) = signals.next() => {
                if must_forward(received, terminal_delivered_it) {
                    forward(pid, received);
                }
            }
        }
    }
}

/// SIGTERM always; SIGINT unless the terminal sent it to the whole foreground group already.
fn must_forward(received: Signal, terminal_delivered_it: impl FnOnce() -> bool) -> bool {
    received != Signal::SIGINT || !terminal_delivered_it()
}

fn forward(pid: Option<Pid>, sig: Signal) {
    let Some(pid) = pid else { return };
    if let Err(e) = signal::kill(pid, sig) {
        tracing::debug!(%pid, ?sig, error = %e, "could not pass the signal on to the driver");
    }
}

fn exit_of(status: std::process::ExitStatus) -> DriverExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => DriverExit::Code(code),
        (None, Some(sig)) => DriverExit::Signal(sig),
        (None, None) => DriverExit::Code(1),
    }
}

/// Whether this process is in its terminal's foreground process group, where a terminal's SIGINT goes
/// to every member (the driver too). Fields 5 and 8 of `/proc/self/stat` are the group and the
/// terminal's foreground group.
fn terminal_delivered_it() -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return false };
    foreground_of_terminal(&stat)
}

fn foreground_of_terminal(stat: &str) -> bool {
    // The command name (field 2) is in parentheses and may hold spaces; fields after it are plain.
    let Some((_, after_name)) = stat.rsplit_once(')') else { return false };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let (Some(group), Some(foreground)) = (fields.get(2), fields.get(5)) else { return false };
    group == foreground && *foreground != "-1" && *foreground != "0"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_in_this_directory() {
        assert_eq!(program(Path::new("app")), PathBuf::from("./app"));
        assert_eq!(program(Path::new("build/app")), PathBuf::from("build/app"));
        assert_eq!(program(Path::new("/bin/sh")), PathBuf::from("/bin/sh"));
    }

    #[test]
    fn the_foreground_group_is_read_from_proc_stat() {
        // pid (comm) state ppid pgrp session tty_nr tpgid …
        assert!(foreground_of_terminal("4242 (weft) S 100 4242 100 34816 4242 4194304 0"));
        assert!(foreground_of_terminal("4242 (we ft) x) S 100 4242 100 34816 4242 0"));
        assert!(!foreground_of_terminal("4242 (weft) S 100 4242 100 34816 4300 0"), "in the background");
        assert!(!foreground_of_terminal("4242 (weft) S 1 4242 4242 0 -1 0"), "no terminal");
        assert!(!foreground_of_terminal("garbage"));
    }

    #[tokio::test]
    async fn exit_codes_and_signals_are_reported() {
        let sh = Path::new("/bin/sh");
        for (script, expected) in [
            ("exit 0", DriverExit::Code(0)),
            ("exit 7", DriverExit::Code(7)),
            ("kill -TERM $$", DriverExit::Signal(15)),
        ] {
            let args = ["-c".to_owned(), script.to_owned()];
            assert_eq!(run_driver(sh, &args, &[]).await.unwrap(), expected, "{script}");
        }
        let err = run_driver(Path::new("/nonexistent/app"), &[], &[]).await.unwrap_err();
        assert!(err.to_string().starts_with("cannot start /nonexistent/app: "), "{err}");
    }

    #[test]
    fn a_terminal_interrupt_is_not_sent_twice() {
        assert!(must_forward(Signal::SIGTERM, || true));
        assert!(!must_forward(Signal::SIGINT, || true));
        assert!(must_forward(Signal::SIGINT, || false));
    }

    #[tokio::test]
    async fn signals_are_passed_on_to_the_driver() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        // The driver says it is ready, then waits; only a signal passed on ends it.
        let script = format!("trap 'exit 42' TERM; touch {}; while :; do sleep 0.05; done", ready.display());
        let args = ["-c".to_owned(), script];
        let (send, signals) = futures::channel::mpsc::unbounded();
        let driver = supervise(Path::new("/bin/sh"), &args, &[], signals);
        let signaller = async {
            while !ready.exists() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            send.unbounded_send(Signal::SIGTERM).unwrap();
        };
        let (exit, ()) = tokio::join!(driver, signaller);
        assert_eq!(exit.unwrap(), DriverExit::Code(42));
    }
}
