//! The `weft` commands' standard output: a closed pipe (`weft … | head`) ends the output quietly, any
//! other write error is the command's failure.

use std::io::Write;

use crate::error::CliError;

/// Writes `text` to stdout; a closed pipe (`weft … | head`) ends the output quietly.
pub(crate) fn emit(text: &str) -> Result<(), CliError> {
    emit_bytes(text.as_bytes())
}

pub(crate) fn emit_bytes(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::failed(format!("cannot write to stdout: {e}"))),
    }
}
