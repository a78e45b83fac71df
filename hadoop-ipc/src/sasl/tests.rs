//! The SASL state machine through whole exchanges, shaped as Hadoop's client runs them.

use prost::Message;

use super::digest::client_response;
use super::*;
use crate::yarn::{AmrmTokenIdentifierProto, ApplicationAttemptIdProto, ApplicationIdProto};

const NONCE: &str = "bm9uY2Utb2YtdGhlLXRlc3Q=";
const PASSWORD: &[u8] = b"\x01\x02hmac-of-the-identifier\xfe";

fn amrm_identifier() -> Vec<u8> {
    let application_id = ApplicationIdProto { id: Some(1), cluster_timestamp: Some(1_700_000_000_000) };
    let attempt = ApplicationAttemptIdProto { application_id: Some(application_id), attempt_id: Some(1) };
    AmrmTokenIdentifierProto { app_attempt_id: Some(attempt), key_id: Some(1) }.encode_to_vec()
}

fn token_policy(allow_simple: bool) -> AuthPolicy {
    let known = amrm_identifier();
    let lookup = move |identifier: &[u8]| (identifier == known.as_slice()).then(|| PASSWORD.to_vec());
    AuthPolicy::Token { lookup: Arc::new(lookup), allow_simple }
}

fn message(state: SaslState, auths: Vec<SaslAuth>, token: Option<Vec<u8>>) -> RpcSaslProto {
    RpcSaslProto { state: state as i32, auths, token, ..Default::default() }
}

fn negotiate() -> RpcSaslProto {
    message(SaslState::Negotiate, vec![], None)
}

/// The INITIATE a Hadoop client sends after the NEGOTIATE reply: the TOKEN auth and its response.
fn initiate_token(identifier: &[u8], password: &[u8]) -> RpcSaslProto {
    let username = BASE64.encode(identifier);
    let response = client_response(&username, &BASE64.encode(password), "default", NONCE, "/default");
    message(SaslState::Initiate, vec![token_auth()], Some(response.into_bytes()))
}

fn simple_auth() -> SaslAuth {
    SaslAuth { method: "SIMPLE".to_string(), mechanism: String::new(), ..Default::default() }
}

#[test]
fn a_simple_only_server_answers_negotiate_with_success() {
    let mut server = SaslServer::new(AuthPolicy::Simple, NONCE.to_string());
    assert_eq!(
        server.step(&negotiate()),
        Ok(SaslStep::Done {
            reply: Some(message(SaslState::Success, vec![], None)),
            authenticated: Authenticated::Simple
        })
    );
}

#[test]
fn a_token_server_puts_the_first_challenge_in_its_negotiate_reply() {
    let mut server = SaslServer::new(token_policy(false), NONCE.to_string());
    let SaslStep::Continue(reply) = server.step(&negotiate()).unwrap() else { panic!("expected a NEGOTIATE reply") };
    assert_eq!(reply.state(), SaslState::Negotiate);
    let [auth] = reply.auths.as_slice() else { panic!("expected one auth, got {:?}", reply.auths) };
    assert_eq!((auth.method.as_str(), auth.mechanism.as_str()), ("TOKEN", "DIGEST-MD5"));
    assert_eq!((auth.protocol(), auth.server_id()), ("", "default"));
    assert_eq!(
        std::str::from_utf8(auth.challenge()).unwrap(),
        format!("realm=\"default\",nonce=\"{NONCE}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess")
    );
}

#[test]
fn hadoop_shaped_digest_login_with_an_amrm_token() {
    let mut server = SaslServer::new(token_policy(false), NONCE.to_string());
    server.step(&negotiate()).unwrap();
    let step = server.step(&initiate_token(&amrm_identifier(), PASSWORD)).unwrap();
    let SaslStep::Done { reply: Some(reply), authenticated } = step else { panic!("expected SUCCESS, got {step:?}") };
    assert_eq!(authenticated, Authenticated::Token { identifier: amrm_identifier() });
    assert_eq!(reply.state(), SaslState::Success);
    let rspauth = std::str::from_utf8(reply.token()).unwrap();
    assert!(rspauth.starts_with("rspauth=") && rspauth.len() == 40, "{rspauth}");
    let identifier = AmrmTokenIdentifierProto::decode(amrm_identifier().as_slice()).unwrap();
    assert_eq!(identifier.app_attempt_id.unwrap().attempt_id(), 1);
}

#[test]
fn a_wrong_password_is_a_sasl_exception() {
    let mut server = SaslServer::new(token_policy(false), NONCE.to_string());
    server.step(&negotiate()).unwrap();
    let error = server.step(&initiate_token(&amrm_identifier(), b"guessed")).unwrap_err();
    assert_eq!(error, SaslError::Digest(DigestError::Mismatch));
    assert_eq!(error.exception_class(), "javax.security.sasl.SaslException");
    assert_eq!(error.to_string(), "DIGEST-MD5: digest response does not match: the password is wrong");
}

#[test]
fn an_unknown_token_is_invalid_token() {
    let mut server = SaslServer::new(token_policy(false), NONCE.to_string());
    server.step(&negotiate()).unwrap();
    let error = server.step(&initiate_token(b"forged identifier", PASSWORD)).unwrap_err();
    assert_eq!(error, SaslError::InvalidToken);
    assert_eq!(error.exception_class(), "org.apache.hadoop.security.token.SecretManager$InvalidToken");
}

#[test]
fn a_username_that_is_not_base64_is_refused() {
    let mut server = SaslServer::new(token_policy(false), NONCE.to_string());
    server.step(&negotiate()).unwrap();
    let response = client_response("not base64!", "cGFzcw==", "default", NONCE, "/default");
    let initiate = message(SaslState::Initiate, vec![token_auth()], Some(response.into_bytes()));
    assert_eq!(server.step(&initiate), Err(SaslError::UsernameNotBase64));
}

#[test]
fn simple_is_offered_second_when_allowed() {
    let mut server = SaslServer::new(token_policy(true), NONCE.to_string());
    let SaslStep::Continue(reply) = server.step(&negotiate()).unwrap() else { panic!("expected a NEGOTIATE reply") };
    let methods: Vec<&str> = reply.auths.iter().map(|auth| auth.method.as_str()).collect();
    assert_eq!(methods, ["TOKEN", "SIMPLE"]);
    let initiate = message(SaslState::Initiate, vec![simple_auth()], None);
    assert_eq!(server.step(&initiate), Ok(SaslStep::Done { reply: None, authenticated: Authenticated::Simple }));
}

#[test]
fn simple_is_refused_when_not_offered() {
    let mut server = SaslServer::new(token_policy(false), NONCE.to_string());
    server.step(&negotiate()).unwrap();
    let error = server.step(&message(SaslState::Initiate, vec![simple_auth()], None)).unwrap_err();
    assert_eq!(error.to_string(), "SIMPLE authentication is not enabled.  Available:[TOKEN]");
    assert_eq!(error.exception_class(), "org.apache.hadoop.security.AccessControlException");
    assert_eq!(
        SaslError::simple_not_enabled(&token_policy(false)).to_string(),
        "SIMPLE authentication is not enabled.  Available:[TOKEN]"
    );
}

#[test]
fn an_initiate_without_a_response_gets_a_challenge_first() {
    let mut server = SaslServer::new(token_policy(false), NONCE.to_string());
    server.step(&negotiate()).unwrap();
    let step = server.step(&message(SaslState::Initiate, vec![token_auth()], None)).unwrap();
    let SaslStep::Continue(challenge) = step else { panic!("expected a CHALLENGE, got {step:?}") };
    assert_eq!(challenge.state(), SaslState::Challenge);
    let mut response = initiate_token(&amrm_identifier(), PASSWORD);
    response.state = SaslState::Response as i32;
    response.auths.clear();
    assert!(matches!(server.step(&response), Ok(SaslStep::Done { authenticated: Authenticated::Token { .. }, .. })));
}

#[test]
fn messages_out_of_order_are_refused() {
    let mut server = SaslServer::new(token_policy(false), NONCE.to_string());
    let error = server.step(&initiate_token(&amrm_identifier(), PASSWORD)).unwrap_err();
    assert_eq!(error.to_string(), "unexpected SASL INITIATE while waiting for NEGOTIATE");
    server.step(&negotiate()).unwrap();
    let two_auths = message(SaslState::Initiate, vec![token_auth(), simple_auth()], None);
    assert_eq!(server.step(&two_auths), Err(SaslError::Malformed { count: 2 }));
}

#[test]
fn simple_auth_encodes_its_empty_mechanism() {
    // SaslAuth.mechanism is required: Java refuses the message without it, even when empty.
    let bytes = simple_auth().encode_to_vec();
    assert_eq!(bytes, b"\x0a\x06SIMPLE\x12\x00");
}
