//! YARN 3.x's container diagnostics, verbatim (`facts/yarn.md` §1.4): every entry starts with a
//! `[yyyy-MM-dd HH:mm:ss.SSS]` timestamp (UTC here) and entries are joined by "\n".

use time::macros::format_description;
use time::OffsetDateTime;
use weft_proto::ContainerId;

/// How much of the end of `stderr` a failed container's diagnostics carry
/// (`yarn.nodemanager.container.stderr.tail.bytes`).
pub(crate) const STDERR_TAIL_BYTES: u64 = 4096;

/// `[2020-04-04 22:56:04.519]` for `now_ms`, in UTC.
pub(crate) fn timestamp(now_ms: u64) -> String {
    let format = format_description!("[[[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]]");
    let nanos = i128::from(now_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "[1970-01-01 00:00:00.000]".to_owned())
}

/// One diagnostics entry: the timestamp, then the text.
pub(crate) fn entry(now_ms: u64, text: &str) -> String {
    format!("{}{text}", timestamp(now_ms))
}

/// The container executor's report of a failed launch or a non-zero exit.
pub(crate) fn launch_exception(id: &ContainerId, exit_code: i32, message: Option<&str>) -> String {
    let mut text = format!("Exception from container-launch.\nContainer id: {id}\nExit code: {exit_code}\n");
    if let Some(message) = message {
        text.push_str(&format!("Exception message: {message}\n"));
    }
    text
}

/// The launcher's report of a non-zero exit, with the tail of `stderr` when it is known.
pub(crate) fn non_zero_exit(exit_code: i32, stderr_tail: Option<&str>) -> String {
    let mut text = format!("Container exited with a non-zero exit code {exit_code}. ");
    if let Some(tail) = stderr_tail {
        text.push_str(&format!("Last {STDERR_TAIL_BYTES} bytes of stderr :\n{tail}"));
    }
    text
}

/// What follows the kill reason once a stopped container's process has exited.
pub(crate) fn killed_on_request(exit_code: i32) -> String {
    format!("Container killed on request. Exit code is {exit_code}")
}
