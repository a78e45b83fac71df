//! Identifiers in YARN's string formats, so scripts and tools that parse YARN's ids keep working.
//!
//! - application: `application_<clusterTimestampMs>_<seq, 4+ digits>`
//! - attempt: `appattempt_<clusterTimestampMs>_<seq4>_<attempt, 6 digits>`
//! - container: `container_[e<epoch>_]<clusterTimestampMs>_<seq4>_<attempt2>_<id, 6+ digits>`
//! - node: `<host>:<port>`

use std::fmt;
use std::str::FromStr;

/// A string that is not a valid id of the named kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {input:?}: expected {expected}")]
pub struct IdError {
    pub kind: &'static str,
    pub input: String,
    pub expected: &'static str,
}

const APP_FORMAT: &str = "application_<clusterTimestamp>_<sequence>";
const ATTEMPT_FORMAT: &str = "appattempt_<clusterTimestamp>_<sequence>_<attempt>";
const CONTAINER_FORMAT: &str = "container_[e<epoch>_]<clusterTimestamp>_<sequence>_<attempt>_<id>";
const NODE_FORMAT: &str = "<host>:<port>";

/// `application_<clusterTimestampMs>_<seq>`; the sequence prints with at least 4 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApplicationId {
    pub cluster_timestamp: u64,
    pub sequence: u32,
}

/// `appattempt_<clusterTimestampMs>_<seq4>_<attempt6>`; attempts count from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApplicationAttemptId {
    pub application: ApplicationId,
    pub attempt: u32,
}

/// `container_[e<epoch>_]<clusterTimestampMs>_<seq4>_<attempt2>_<id6>`; the AM container is id 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId {
    pub attempt: ApplicationAttemptId,
    /// RM restart epoch; printed only when above 0.
    pub epoch: u32,
    pub id: u64,
}

/// `<host>:<port>` of a NodeManager's container-management service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    pub host: String,
    pub port: u16,
}

impl ApplicationId {
    pub fn new(cluster_timestamp: u64, sequence: u32) -> Self {
        ApplicationId { cluster_timestamp, sequence }
    }

    pub fn attempt(self, attempt: u32) -> ApplicationAttemptId {
        ApplicationAttemptId { application: self, attempt }
    }
}

impl ApplicationAttemptId {
    pub fn container(self, id: u64) -> ContainerId {
        ContainerId { attempt: self, epoch: 0, id }
    }

    /// A container granted by a ResourceManager that has restarted `epoch` times with recovery.
    pub fn container_in_epoch(self, epoch: u32, id: u64) -> ContainerId {
        ContainerId { attempt: self, epoch, id }
    }
}

impl ContainerId {
    pub fn application(&self) -> ApplicationId {
        self.attempt.application
    }
}

impl NodeId {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        NodeId { host: host.into(), port }
    }
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = IdText::new("application");
        text.number(self.cluster_timestamp, 1).number(u64::from(self.sequence), 4);
        f.write_str(text.as_str())
    }
}

impl fmt::Display for ApplicationAttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let app = self.application;
        let mut text = IdText::new("appattempt");
        text.number(app.cluster_timestamp, 1).number(u64::from(app.sequence), 4).number(u64::from(self.attempt), 6);
        f.write_str(text.as_str())
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let app = self.attempt.application;
        let mut text = IdText::new("container");
        if self.epoch > 0 {
            text.epoch(self.epoch);
        }
        text.number(app.cluster_timestamp, 1).number(u64::from(app.sequence), 4);
        text.number(u64::from(self.attempt.attempt), 2).number(self.id, 6);
        f.write_str(text.as_str())
    }
}

/// An id's text put together on the stack and handed to the formatter in one piece, so `to_string`
/// allocates once, at the final length, instead of growing through the formatter's pieces (the
/// ResourceManager prints an id and a node for every container it grants).
struct IdText {
    /// The longest id: `container_e` and six numbers of up to 20 digits, with their separators.
    bytes: [u8; 140],
    len: usize,
}

impl IdText {
    fn new(prefix: &str) -> IdText {
        let mut text = IdText { bytes: [0; 140], len: 0 };
        text.push(prefix.as_bytes());
        text
    }

    fn push(&mut self, part: &[u8]) {
        self.bytes[self.len..self.len + part.len()].copy_from_slice(part);
        self.len += part.len();
    }

    /// `_` and `n` in decimal, with leading zeros to `min_digits`.
    fn number(&mut self, n: u64, min_digits: usize) -> &mut IdText {
        self.push(b"_");
        self.digits(n, min_digits);
        self
    }

    /// `_e` and the epoch, with at least two digits.
    fn epoch(&mut self, epoch: u32) {
        self.push(b"_e");
        self.digits(u64::from(epoch), 2);
    }

    fn digits(&mut self, n: u64, min_digits: usize) {
        let mut digits = [b'0'; 20];
        let mut start = digits.len();
        let mut rest = n;
        while rest > 0 || start == digits.len() {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let start = start.min(digits.len() - min_digits.min(digits.len()));
        self.push(&digits[start..]);
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("ASCII letters, digits and underscores")
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        let mut port = IdText::new(":");
        port.digits(u64::from(self.port), 1);
        f.write_str(port.as_str())
    }
}

/// Splits `prefix_a_b_…` into its numeric parts, or `None` when any part is not a plain number.
fn numeric_parts<'a>(input: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = input.strip_prefix(prefix)?.strip_prefix('_')?;
    let parts: Vec<&str> = rest.split('_').collect();
    parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())).then_some(parts)
}

impl FromStr for ApplicationId {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, IdError> {
        let err = || IdError { kind: "application", input: input.to_owned(), expected: APP_FORMAT };
        match numeric_parts(input, "application").as_deref() {
            Some([ts, seq]) => Ok(ApplicationId {
                cluster_timestamp: ts.parse().map_err(|_| err())?,
                sequence: seq.parse().map_err(|_| err())?,
            }),
            _ => Err(err()),
        }
    }
}

impl FromStr for ApplicationAttemptId {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, IdError> {
        let err = || IdError { kind: "application attempt", input: input.to_owned(), expected: ATTEMPT_FORMAT };
        match numeric_parts(input, "appattempt").as_deref() {
            Some([ts, seq, attempt]) => Ok(ApplicationAttemptId {
                application: ApplicationId {
                    cluster_timestamp: ts.parse().map_err(|_| err())?,
                    sequence: seq.parse().map_err(|_| err())?,
                },
                attempt: attempt.parse().map_err(|_| err())?,
            }),
            _ => Err(err()),
        }
    }
}

impl FromStr for ContainerId {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, IdError> {
        let err = || IdError { kind: "container", input: input.to_owned(), expected: CONTAINER_FORMAT };
        let (epoch, rest) = match input.strip_prefix("container_e") {
            Some(after) => {
                let (epoch, rest) = after.split_once('_').ok_or_else(err)?;
                let epoch: u32 = epoch.parse().map_err(|_| err())?;
                (epoch, format!("container_{rest}"))
            }
            None => (0, input.to_owned()),
        };
        match numeric_parts(&rest, "container").as_deref() {
            Some([ts, seq, attempt, id]) => Ok(ContainerId {
                attempt: ApplicationAttemptId {
                    application: ApplicationId {
                        cluster_timestamp: ts.parse().map_err(|_| err())?,
                        sequence: seq.parse().map_err(|_| err())?,
                    },
                    attempt: attempt.parse().map_err(|_| err())?,
                },
                epoch,
                id: id.parse().map_err(|_| err())?,
            }),
            _ => Err(err()),
        }
    }
}

impl FromStr for NodeId {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, IdError> {
        let err = || IdError { kind: "node", input: input.to_owned(), expected: NODE_FORMAT };
        let (host, port) = input.rsplit_once(':').ok_or_else(err)?;
        if host.is_empty() {
            return Err(err());
        }
        Ok(NodeId { host: host.to_owned(), port: port.parse().map_err(|_| err())? })
    }
}

macro_rules! serde_as_string {
    ($($ty:ty),*) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serde_as_string!(ApplicationId, ApplicationAttemptId, ContainerId, NodeId);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: FromStr + fmt::Display>(text: &str)
    where
        T::Err: fmt::Debug,
    {
        let parsed: T = text.parse().unwrap();
        assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn ids_round_trip_in_yarn_formats() {
        round_trip::<ApplicationId>("application_1700000000000_0001");
        round_trip::<ApplicationId>("application_1700000000000_12345");
        round_trip::<ApplicationAttemptId>("appattempt_1700000000000_0042_000002");
        round_trip::<ContainerId>("container_1700000000000_0042_02_000001");
        round_trip::<ContainerId>("container_1700000000000_0042_02_1000001");
        round_trip::<ContainerId>("container_e17_1700000000000_0042_02_000003");
        round_trip::<NodeId>("host-1.example.com:8041");
        round_trip::<NodeId>("h:0");
        round_trip::<NodeId>("h:65535");
    }

    #[test]
    fn formatting_pads_like_yarn() {
        let app = ApplicationId::new(1_700_000_000_000, 7);
        assert_eq!(app.to_string(), "application_1700000000000_0007");
        assert_eq!(app.attempt(1).to_string(), "appattempt_1700000000000_0007_000001");
        assert_eq!(app.attempt(1).container(1).to_string(), "container_1700000000000_0007_01_000001");
    }

    #[test]
    fn ids_print_as_the_format_strings_yarn_uses() {
        for (timestamp, n) in [(0, 0), (9, 10), (1_700_000_000_000, 99_999), (u64::MAX, u32::MAX)] {
            let app = ApplicationId::new(timestamp, n);
            assert_eq!(app.to_string(), format!("application_{timestamp}_{n:04}"));
            let attempt = ApplicationAttemptId { application: app, attempt: n };
            assert_eq!(attempt.to_string(), format!("appattempt_{timestamp}_{n:04}_{n:06}"));
            for (epoch, id) in [(0, 0), (1, 7), (n, u64::from(n) * 1000), (u32::MAX, u64::MAX)] {
                let container = ContainerId { attempt, epoch, id };
                let epoch_text = if epoch > 0 { format!("e{epoch:02}_") } else { String::new() };
                let expected = format!("container_{epoch_text}{timestamp}_{n:04}_{n:02}_{id:06}");
                assert_eq!(container.to_string(), expected);
            }
        }
    }

    #[test]
    fn bad_ids_are_rejected_with_the_input_quoted() {
        for bad in ["application_1", "application_x_0001", "app_1_1", "application_1_1_1", ""] {
            let err = bad.parse::<ApplicationId>().unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!("container_1_1_1".parse::<ContainerId>().is_err());
        assert!("container_ex_1_1_1_1".parse::<ContainerId>().is_err());
        assert!("appattempt_1_0001".parse::<ApplicationAttemptId>().is_err());
        assert!("nohost".parse::<NodeId>().is_err());
        assert!(":80".parse::<NodeId>().is_err());
        assert!("h:99999".parse::<NodeId>().is_err());
    }

    #[test]
    fn container_knows_its_application() {
        let c: ContainerId = "container_e02_1700000000000_0042_02_000003".parse().unwrap();
        assert_eq!(c.epoch, 2);
        assert_eq!(c.application().to_string(), "application_1700000000000_0042");
        assert_eq!(c.attempt.to_string(), "appattempt_1700000000000_0042_000002");
    }
}
