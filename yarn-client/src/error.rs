//! Errors of Weft's clients (the `weft` commands and the application masters), and the one map from an
//! error's kind to the process exit status.

use std::fmt;

/// Exit status for a bad argument, bad configuration or an ask the cluster cannot grant (`EX_USAGE`).
pub const EXIT_USAGE: u8 = weft_config::EXIT_USAGE as u8;
/// Exit status for a command that ran and failed: a refused request, an unreachable service, a failed app.
pub const EXIT_FAILURE: u8 = 1;

/// Why a client call or a `weft` command failed. `Display` is the one line printed on stderr.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument that cannot work: a malformed id, an unknown state, an ask above the cluster's maximum.
    #[error("{0}")]
    Usage(String),
    /// The `--config` file does not load.
    #[error(transparent)]
    Config(#[from] weft_config::ConfigError),
    /// No connection to a service, or it went away mid-call.
    #[error("cannot reach the {service} at {address}: {cause}")]
    Unreachable { service: &'static str, address: String, cause: String },
    /// The service answered with an error; NotFound prints the service's own words only.
    #[error("{}", remote_message(.action, *.code, .message))]
    Remote { action: String, code: tonic::Code, message: String },
    /// Local work failed: reading a file, an answer that makes no sense.
    #[error("{0}")]
    Failed(String),
}

fn remote_message(action: &str, code: tonic::Code, message: &str) -> String {
    match code {
        tonic::Code::NotFound => message.to_owned(),
        _ => format!("{action}: {message}"),
    }
}

impl Error {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config(_) => EXIT_USAGE,
            Error::Unreachable { .. } | Error::Remote { .. } | Error::Failed(_) => EXIT_FAILURE,
        }
    }

    pub fn failed(what: impl fmt::Display) -> Error {
        Error::Failed(what.to_string())
    }
}

/// An error and its sources, `outer: inner: innermost`, skipping a source that repeats its parent.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.ends_with(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: Error, message: &str, code: u8) {
        assert_eq!(error.to_string(), message);
        assert_eq!(error.exit_code(), code);
    }

    #[test]
    fn messages_and_exit_codes() {
        check(Error::Usage("bad".into()), "bad", 64);
        check(
            Error::Unreachable {
                service: "ResourceManager",
                address: "127.0.0.1:8032".into(),
                cause: "refused".into(),
            },
            "cannot reach the ResourceManager at 127.0.0.1:8032: refused",
            1,
        );
        check(
            Error::Remote {
                action: "get the report of application_1_0099".into(),
                code: tonic::Code::NotFound,
                message: "Application with id 'application_1_0099' doesn't exist in RM. Please check that the job submission was successful.".into(),
            },
            "Application with id 'application_1_0099' doesn't exist in RM. Please check that the job submission was successful.",
            1,
        );
        check(
            Error::Remote {
                action: "submit application_1_0001".into(),
                code: tonic::Code::InvalidArgument,
                message: "queue \"q\" does not exist".into(),
            },
            "submit application_1_0001: queue \"q\" does not exist",
            1,
        );
    }

    #[test]
    fn chain_joins_sources_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        assert_eq!(chain(&io), "connection refused");
    }
}
