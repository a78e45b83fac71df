//! What YARN's AM launcher adds to a Hadoop client's AM container launch context before the
//! NodeManager sees it: the attempt's AMRM token among the context's tokens (so the AM can prove
//! on the scheduler port which attempt it is), and `APPLICATION_WEB_PROXY_BASE`, `APP_SUBMIT_TIME_ENV`
//! and `MAX_APP_ATTEMPTS` in its environment. Pure: bytes in, bytes out.

use prost::Message;
use weft_hadoop_ipc::common::TokenProto;
use weft_hadoop_ipc::credentials::Credentials;
use weft_hadoop_ipc::yarn::{ContainerLaunchContextProto, StringStringMapProto};

/// The variables YARN's AM launcher puts in every AM's environment: the path under which the
/// ResourceManager's web proxy serves the AM's UI (Spark's `AmIpFilter` sends browsers there), the
/// application's submission time (ms) and its attempt limit.
pub(crate) fn am_environment(
    app: weft_proto::ApplicationId,
    submitted_ms: u64,
    max_attempts: u32,
) -> [(&'static str, String); 3] {
    [
        ("APPLICATION_WEB_PROXY_BASE", format!("/proxy/{app}")),
        ("APP_SUBMIT_TIME_ENV", submitted_ms.to_string()),
        ("MAX_APP_ATTEMPTS", max_attempts.to_string()),
    ]
}

/// The AM's launch context with `amrm` (under `alias`, the attempt id, as YARN files it) added to
/// its tokens, written back in the PROTOBUF token-file form, and `environment` added where the
/// client did not set the variable itself.
pub(crate) fn am_launch_context(
    context: &[u8],
    amrm: TokenProto,
    alias: &str,
    environment: &[(&str, String)],
) -> Result<Vec<u8>, String> {
    let mut clc = ContainerLaunchContextProto::decode(context)
        .map_err(|e| format!("the AM container launch context does not decode: {e}"))?;
    let mut credentials = match clc.tokens.as_deref() {
        None | Some([]) => Credentials::default(),
        Some(bytes) => Credentials::parse_token_file(bytes)
            .map_err(|e| format!("the AM container launch context's tokens do not parse: {e}"))?,
    };
    credentials.tokens.retain(|(existing, _)| existing != alias);
    credentials.tokens.push((alias.to_string(), amrm));
    clc.tokens = Some(credentials.to_token_file());
    for (key, value) in environment {
        if !clc.environment.iter().any(|e| e.key() == *key) {
            clc.environment.push(StringStringMapProto { key: Some(key.to_string()), value: Some(value.clone()) });
        }
    }
    Ok(clc.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_am_is_told_its_proxy_path_submission_time_and_attempt_limit() {
        let app = weft_proto::ApplicationId::new(1_700_000_000_000, 12);
        let env = am_environment(app, 1_700_000_000_123, 2);
        assert_eq!(
            env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
            [
                ("APPLICATION_WEB_PROXY_BASE", "/proxy/application_1700000000000_0012"),
                ("APP_SUBMIT_TIME_ENV", "1700000000123"),
                ("MAX_APP_ATTEMPTS", "2"),
            ]
        );
    }

    fn token(kind: &str) -> TokenProto {
        TokenProto {
            identifier: b"id".to_vec(),
            password: b"pw".to_vec(),
            kind: kind.into(),
            service: "127.0.0.1:8030".into(),
        }
    }

    #[test]
    fn the_amrm_token_joins_the_clients_tokens_and_the_clients_environment_wins() {
        let given = Credentials { tokens: vec![("hdfs".into(), token("HDFS_DELEGATION_TOKEN"))], secrets: vec![] };
        let clc = ContainerLaunchContextProto {
            tokens: Some(given.to_token_file()),
            environment: vec![StringStringMapProto { key: Some("MAX_APP_ATTEMPTS".into()), value: Some("1".into()) }],
            command: vec!["java".into()],
            ..Default::default()
        };
        let env = [("APP_SUBMIT_TIME_ENV", "1700".to_string()), ("MAX_APP_ATTEMPTS", "2".to_string())];
        let out = am_launch_context(&clc.encode_to_vec(), token("YARN_AM_RM_TOKEN"), "appattempt_1_0001_000001", &env)
            .unwrap();
        let out = ContainerLaunchContextProto::decode(out.as_slice()).unwrap();
        let credentials = Credentials::parse_token_file(out.tokens()).unwrap();
        let aliases: Vec<&str> = credentials.tokens.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(aliases, ["hdfs", "appattempt_1_0001_000001"]);
        assert_eq!(credentials.tokens[1].1.kind, "YARN_AM_RM_TOKEN");
        let env: Vec<(&str, &str)> = out.environment.iter().map(|e| (e.key(), e.value())).collect();
        assert_eq!(env, [("MAX_APP_ATTEMPTS", "1"), ("APP_SUBMIT_TIME_ENV", "1700")]);
        assert_eq!(out.command, ["java"]);
    }

    #[test]
    fn spark_s_empty_writable_tokens_and_garbage() {
        // What Spark sends for the AM: "HDTS", WRITABLE, no tokens, no secrets.
        let clc = ContainerLaunchContextProto { tokens: Some(b"HDTS\0\0\0".to_vec()), ..Default::default() };
        let out = am_launch_context(&clc.encode_to_vec(), token("YARN_AM_RM_TOKEN"), "a", &[]).unwrap();
        let out = ContainerLaunchContextProto::decode(out.as_slice()).unwrap();
        assert_eq!(Credentials::parse_token_file(out.tokens()).unwrap().tokens.len(), 1);
        let bad = ContainerLaunchContextProto { tokens: Some(b"XXXX".to_vec()), ..Default::default() };
        let error = am_launch_context(&bad.encode_to_vec(), token("YARN_AM_RM_TOKEN"), "a", &[]).unwrap_err();
        assert!(error.contains("tokens do not parse"), "{error}");
    }
}
