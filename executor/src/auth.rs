//! `spark.authenticate`: the application's secret, on every call between a driver and its executors.
//!
//! `weft submit` makes a [`Secret`] per application (32 bytes from the operating system's CSPRNG) and
//! hands it to the driver in its environment; the driver hands it to each executor in the executor
//! container's launch environment. Every call — registration, heartbeats, task status and broadcasts
//! to the driver; task launch, kill, block fetch, RDD removal and stop to an executor — carries it as
//! the binary gRPC metadata [`SECRET_METADATA`] ([`Present`] adds it to a client's calls), and every
//! server checks it with [`Require`] before the call reaches the service: a call without it or with
//! another value is `UNAUTHENTICATED` and changes nothing.
//!
//! The secret itself travels, not a MAC of it: without a per-call challenge (an extra round trip on
//! every call) an HMAC over a fixed message would be a second bearer token exactly as replayable as
//! the secret. The comparison is constant-time (`subtle`). The channels are not encrypted, so the
//! secret keeps out anyone who cannot read the cluster's traffic, as Spark's `spark.authenticate`
//! without `spark.network.crypto.enabled` does.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::metadata::{BinaryMetadataValue, MetadataMap};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The gRPC metadata key under which every call between a driver and its executors carries the
/// application's secret (the 32 raw bytes).
pub const SECRET_METADATA: &str = "weft-spark-secret-bin";

/// Bytes in a secret.
pub const SECRET_BYTES: usize = 32;

/// A client channel whose calls carry the application's secret (when there is one).
pub type AuthChannel = InterceptedService<Channel, Present>;

/// An application's secret. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8; SECRET_BYTES]>);

impl Secret {
    /// A fresh secret from the operating system's random number generator.
    pub fn generate() -> Result<Secret, String> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| format!("cannot make the application's secret: {e}"))?;
        Ok(Secret(Arc::new(bytes)))
    }

    /// A secret from its hex form (as it travels in a launch environment).
    pub fn from_hex(text: &str) -> Result<Secret, String> {
        let bytes = hex::decode(text.trim())
            .map_err(|e| format!("the application's secret is not hex ({} characters): {e}", text.len()))?;
        let bytes: [u8; SECRET_BYTES] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("the application's secret has {} bytes, {SECRET_BYTES} expected", b.len()))?;
        Ok(Secret(Arc::new(bytes)))
    }

    /// The hex form, for a launch environment.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0[..])
    }

    /// Whether `presented` is this secret, compared in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0[..].ct_eq(presented).into()
    }

    fn metadata_value(&self) -> BinaryMetadataValue {
        BinaryMetadataValue::from_bytes(&self.0[..])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Client side: adds the secret to every call (nothing when `spark.authenticate` is off).
#[derive(Clone, Debug)]
pub struct Present(pub Option<Secret>);

impl Present {
    /// `channel` with every call carrying the secret.
    pub fn on(&self, channel: Channel) -> AuthChannel {
        InterceptedService::new(channel, self.clone())
    }
}

impl Interceptor for Present {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(secret) = &self.0 {
            request.metadata_mut().insert_bin(SECRET_METADATA, secret.metadata_value());
        }
        Ok(request)
    }
}

/// Server side: refuses every call that does not carry the secret, before the service sees it
/// (lets everything through when `spark.authenticate` is off).
#[derive(Clone, Debug)]
pub struct Require {
    secret: Option<Secret>,
    /// Who refuses, for the message: "the driver endpoint", "executor 3".
    server: String,
}

impl Require {
    pub fn new(secret: Option<Secret>, server: impl Into<String>) -> Require {
        Require { secret, server: server.into() }
    }

    /// Checks one call's metadata.
    pub fn check(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let Some(secret) = &self.secret else { return Ok(()) };
        let server = &self.server;
        let Some(value) = metadata.get_bin(SECRET_METADATA) else {
            return Err(Status::unauthenticated(format!(
                "{server} requires the application's secret (spark.authenticate is on): the call carries no \
                 {SECRET_METADATA} metadata"
            )));
        };
        let presented = value.to_bytes().map_err(|e| {
            Status::unauthenticated(format!("{server}: the call's {SECRET_METADATA} metadata is not base64: {e}"))
        })?;
        if secret.matches(&presented) {
            Ok(())
        } else {
            Err(Status::unauthenticated(format!(
                "{server}: the call's {SECRET_METADATA} metadata is not this application's secret"
            )))
        }
    }
}

impl Interceptor for Require {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match self.check(request.metadata()) {
            Ok(()) => Ok(request),
            Err(status) => {
                tracing::warn!(error = %status.message(), "call refused");
                Err(status)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carried(present: &Present) -> MetadataMap {
        let mut present = present.clone();
        present.call(Request::new(())).expect("adding metadata never fails").metadata().clone()
    }

    #[test]
    fn the_right_secret_passes() {
        let secret = Secret::generate().unwrap();
        let require = Require::new(Some(secret.clone()), "executor 1");
        assert!(require.check(&carried(&Present(Some(secret)))).is_ok());
    }

    #[test]
    fn a_missing_secret_is_unauthenticated_and_named() {
        let require = Require::new(Some(Secret::generate().unwrap()), "the driver endpoint");
        for metadata in [MetadataMap::new(), carried(&Present(None))] {
            let refused = require.check(&metadata).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated);
            assert!(refused.message().starts_with("the driver endpoint requires the application's secret"));
            assert!(refused.message().contains(SECRET_METADATA), "{}", refused.message());
        }
    }

    #[test]
    fn a_wrong_secret_of_any_length_is_unauthenticated() {
        let secret = Secret::generate().unwrap();
        let require = Require::new(Some(secret.clone()), "executor 2");
        let other = Secret::generate().unwrap();
        assert_ne!(other, secret);
        let refused = require.check(&carried(&Present(Some(other)))).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        assert_eq!(
            refused.message(),
            "executor 2: the call's weft-spark-secret-bin metadata is not this application's secret"
        );
        // A prefix, an extension and an empty value of the right secret.
        for presented in [&secret.0[..31], &[&secret.0[..], b"x"].concat()[..], &[][..]] {
            let mut metadata = MetadataMap::new();
            metadata.insert_bin(SECRET_METADATA, BinaryMetadataValue::from_bytes(presented));
            assert_eq!(require.check(&metadata).unwrap_err().code(), tonic::Code::Unauthenticated);
        }
    }

    #[test]
    fn the_comparison_is_subtles_constant_time_equality() {
        let secret = Secret::from_hex(&"ab".repeat(SECRET_BYTES)).unwrap();
        assert!(secret.matches(&[0xab; SECRET_BYTES]));
        let mut last_differs = [0xab; SECRET_BYTES];
        last_differs[SECRET_BYTES - 1] = 0xac;
        assert!(!secret.matches(&last_differs));
        // `matches` is `ct_eq`: both agree on every input, including lengths that differ.
        for presented in [&[0xab; SECRET_BYTES][..], &last_differs[..], &[0xab; 31][..], &[][..]] {
            assert_eq!(secret.matches(presented), bool::from(secret.0[..].ct_eq(presented)));
        }
    }

    #[test]
    fn with_authentication_off_every_call_passes_and_none_carries_a_secret() {
        let require = Require::new(None, "executor 1");
        assert!(require.check(&MetadataMap::new()).is_ok());
        assert!(carried(&Present(None)).get_bin(SECRET_METADATA).is_none());
    }

    #[test]
    fn secrets_are_random_round_trip_through_hex_and_do_not_show_in_debug() {
        let a = Secret::generate().unwrap();
        assert_ne!(a, Secret::generate().unwrap());
        assert_eq!(a.to_hex().len(), 2 * SECRET_BYTES);
        assert_eq!(Secret::from_hex(&a.to_hex()).unwrap(), a);
        assert_eq!(format!("{a:?}"), "Secret(…)");
        assert!(Secret::from_hex("zz").unwrap_err().contains("not hex"));
        assert_eq!(Secret::from_hex("abcd").unwrap_err(), "the application's secret has 2 bytes, 32 expected");
    }
}
