//! The server side of SASL DIGEST-MD5 (RFC 2831) with `qop=auth` and no security layer, the way
//! Hadoop's token authentication uses it (facts/hadoop-ipc.md §3.1): one challenge, one client
//! response, one `rspauth` back. The nonce comes from the caller, so the exchange is deterministic
//! under test.

use md5::{Digest, Md5};

use super::directives::{self, DirectiveError};

/// One DIGEST-MD5 authentication, from challenge to verdict.
#[derive(Clone, Debug)]
pub(crate) struct DigestServer {
    realm: String,
    /// The digest-uri the client must use: `<protocol>/<server name>`.
    digest_uri: String,
    nonce: String,
}

/// A client proved it knows the password of `username`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) username: String,
    /// The final server message, `rspauth=<32 hex>`; the client checks it to authenticate the server.
    pub(crate) rspauth: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum DigestError {
    #[error("digest response is not UTF-8")]
    NotUtf8,
    #[error(transparent)]
    Directives(#[from] DirectiveError),
    #[error("digest response lacks the {0} directive")]
    Missing(&'static str),
    #[error("digest response has the {0} directive twice")]
    Duplicate(String),
    #[error("digest response answers nonce {found:?}, not the one this server sent")]
    Nonce { found: String },
    #[error("digest response names realm {found:?}, expected {expected:?}")]
    Realm { found: String, expected: String },
    #[error("digest response asks for qop {found:?}; this server offers only \"auth\"")]
    Qop { found: String },
    #[error("digest response has nonce count {found:?}, expected 00000001")]
    NonceCount { found: String },
    #[error("digest response is for digest-uri {found:?}, expected {expected:?}")]
    DigestUri { found: String, expected: String },
    #[error("digest response asks to act as {authzid:?}, which is not its user")]
    Authzid { authzid: String },
    #[error("no password for user {username:?}")]
    UnknownUser { username: String },
    #[error("digest response does not match: the password is wrong")]
    Mismatch,
}

impl DigestServer {
    pub(crate) fn new(realm: &str, protocol: &str, server_name: &str, nonce: String) -> DigestServer {
        DigestServer { realm: realm.to_string(), digest_uri: format!("{protocol}/{server_name}"), nonce }
    }

    /// The first (and only) challenge.
    pub(crate) fn challenge(&self) -> String {
        format!(
            "{},{},qop=\"auth\",charset=utf-8,algorithm=md5-sess",
            directives::quoted("realm", &self.realm),
            directives::quoted("nonce", &self.nonce)
        )
    }

    /// Checks the client's digest-response; `password_of` gives the password of a user name, or `None`
    /// for a user this server does not know.
    pub(crate) fn verify(
        &self,
        response: &[u8],
        password_of: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Verified, DigestError> {
        let response = std::str::from_utf8(response).map_err(|_| DigestError::NotUtf8)?;
        let fields = ResponseFields::parse(response)?;
        self.check(&fields)?;
        let password = password_of(&fields.username)
            .ok_or_else(|| DigestError::UnknownUser { username: fields.username.clone() })?;
        let ha1 = ha1(&fields, &password);
        let expected = response_value(&ha1, &fields, &format!("AUTHENTICATE:{}", fields.digest_uri));
        if !constant_time_eq(expected.as_bytes(), fields.response.to_ascii_lowercase().as_bytes()) {
            return Err(DigestError::Mismatch);
        }
        let rspauth = response_value(&ha1, &fields, &format!(":{}", fields.digest_uri));
        Ok(Verified { username: fields.username, rspauth: format!("rspauth={rspauth}") })
    }

    fn check(&self, fields: &ResponseFields) -> Result<(), DigestError> {
        if fields.nonce != self.nonce {
            return Err(DigestError::Nonce { found: fields.nonce.clone() });
        }
        if let Some(realm) = fields.realm.as_ref().filter(|realm| **realm != self.realm) {
            return Err(DigestError::Realm { found: realm.clone(), expected: self.realm.clone() });
        }
        if fields.qop != "auth" {
            return Err(DigestError::Qop { found: fields.qop.clone() });
        }
        if u32::from_str_radix(&fields.nc, 16) != Ok(1) {
            return Err(DigestError::NonceCount { found: fields.nc.clone() });
        }
        if fields.digest_uri != self.digest_uri {
            return Err(DigestError::DigestUri { found: fields.digest_uri.clone(), expected: self.digest_uri.clone() });
        }
        match &fields.authzid {
            Some(authzid) if *authzid != fields.username => Err(DigestError::Authzid { authzid: authzid.clone() }),
            _ => Ok(()),
        }
    }
}

/// The directives of a digest-response that take part in the check.
#[derive(Debug)]
struct ResponseFields {
    username: String,
    realm: Option<String>,
    nonce: String,
    cnonce: String,
    nc: String,
    qop: String,
    digest_uri: String,
    response: String,
    authzid: Option<String>,
}

impl ResponseFields {
    fn parse(text: &str) -> Result<ResponseFields, DigestError> {
        let mut directives = directives::parse(text)?;
        directives.sort_by(|(left, _), (right, _)| left.cmp(right));
        if let Some(pair) = directives.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(DigestError::Duplicate(pair[0].0.clone()));
        }
        let get = |key: &str| directives.iter().find(|(name, _)| name == key).map(|(_, value)| value.clone());
        let required = |key: &'static str| get(key).ok_or(DigestError::Missing(key));
        Ok(ResponseFields {
            username: required("username")?,
            realm: get("realm"),
            nonce: required("nonce")?,
            cnonce: required("cnonce")?,
            nc: required("nc")?,
            qop: get("qop").unwrap_or_else(|| "auth".to_string()),
            digest_uri: required("digest-uri")?,
            response: required("response")?,
            authzid: get("authzid"),
        })
    }
}

fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5(data))
}

/// `HEX(H(A1))`, with `A1 = H(user ":" realm ":" password) ":" nonce ":" cnonce [":" authzid]`.
fn ha1(fields: &ResponseFields, password: &str) -> String {
    let realm = fields.realm.as_deref().unwrap_or("");
    let mut secret = latin1_or_utf8(&fields.username);
    secret.push(b':');
    secret.extend(latin1_or_utf8(realm));
    secret.push(b':');
    secret.extend(latin1_or_utf8(password));
    let mut a1 = md5(&secret).to_vec();
    a1.extend(format!(":{}:{}", fields.nonce, fields.cnonce).bytes());
    if let Some(authzid) = &fields.authzid {
        a1.extend(format!(":{authzid}").bytes());
    }
    md5_hex(&a1)
}

/// `HEX(KD(HEX(H(A1)), nonce ":" nc ":" cnonce ":" qop ":" HEX(H(A2))))`, KD(k, s) = H(k ":" s).
fn response_value(ha1: &str, fields: &ResponseFields, a2: &str) -> String {
    let ha2 = md5_hex(a2.as_bytes());
    let data = format!("{ha1}:{}:{}:{}:{}:{ha2}", fields.nonce, fields.nc, fields.cnonce, fields.qop);
    md5_hex(data.as_bytes())
}

/// RFC 2831 §2.1.2.1: user name, realm and password are hashed in ISO 8859-1 when every character
/// fits, otherwise in UTF-8.
fn latin1_or_utf8(text: &str) -> Vec<u8> {
    let latin1: Option<Vec<u8>> = text.chars().map(|character| u8::try_from(u32::from(character)).ok()).collect();
    latin1.unwrap_or_else(|| text.as_bytes().to_vec())
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0, |differ, (a, b)| differ | (a ^ b)) == 0
}

/// A client's side of one exchange: its digest-response, and the `rspauth=` a genuine server sends
/// back (the client checks it, so a server that does not know the password cannot pass).
pub(crate) struct ClientDigest {
    pub(crate) response: String,
    pub(crate) rspauth: String,
}

/// A client's digest-response as the Hadoop client words it (facts §3.1).
pub(crate) fn client_digest(
    username: &str,
    password: &str,
    realm: &str,
    nonce: &str,
    cnonce: &str,
    digest_uri: &str,
) -> ClientDigest {
    let fields = ResponseFields {
        username: username.to_string(),
        realm: Some(realm.to_string()),
        nonce: nonce.to_string(),
        cnonce: cnonce.to_string(),
        nc: "00000001".to_string(),
        qop: "auth".to_string(),
        digest_uri: digest_uri.to_string(),
        response: String::new(),
        authzid: None,
    };
    let ha1 = ha1(&fields, password);
    let response = response_value(&ha1, &fields, &format!("AUTHENTICATE:{digest_uri}"));
    let rspauth = format!("rspauth={}", response_value(&ha1, &fields, &format!(":{digest_uri}")));
    let response = format!(
        "charset=utf-8,{},{},{},nc=00000001,{},{},maxbuf=65536,response={response},qop=auth",
        directives::quoted("username", username),
        directives::quoted("realm", realm),
        directives::quoted("nonce", nonce),
        directives::quoted("cnonce", cnonce),
        directives::quoted("digest-uri", digest_uri),
    );
    ClientDigest { response, rspauth }
}

/// The digest-response with a fixed cnonce, for tests of the server.
#[cfg(test)]
pub(crate) fn client_response(username: &str, password: &str, realm: &str, nonce: &str, digest_uri: &str) -> String {
    client_digest(username, password, realm, nonce, "c2xpcHBlcnk", digest_uri).response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 §4, the IMAP example.
    const RFC_RESPONSE: &str = concat!(
        r#"charset=utf-8,username="chris",realm="elwood.innosoft.com","#,
        r#"nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk","#,
        r#"digest-uri="imap/elwood.innosoft.com","#,
        r#"response=d388dad90d4bbd760a152321f2143af7,qop=auth"#
    );

    fn rfc_server() -> DigestServer {
        DigestServer::new("elwood.innosoft.com", "imap", "elwood.innosoft.com", "OA6MG9tEQGm2hh".to_string())
    }

    fn chris(username: &str) -> Option<String> {
        (username == "chris").then(|| "secret".to_string())
    }

    #[test]
    fn rfc_2831_example_verifies_and_answers_its_rspauth() {
        let verified = rfc_server().verify(RFC_RESPONSE.as_bytes(), chris).unwrap();
        assert_eq!(
            verified,
            Verified { username: "chris".to_string(), rspauth: "rspauth=ea40f60335c427b5527b84dbabcdfffd".to_string() }
        );
    }

    #[test]
    fn rfc_2831_challenge_shape() {
        assert_eq!(
            rfc_server().challenge(),
            r#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",charset=utf-8,algorithm=md5-sess"#
        );
    }

    #[test]
    fn a_wrong_password_is_a_mismatch() {
        let wrong = |_: &str| Some("not-the-secret".to_string());
        assert_eq!(rfc_server().verify(RFC_RESPONSE.as_bytes(), wrong), Err(DigestError::Mismatch));
    }

    #[test]
    fn an_unknown_user_is_refused_before_any_digest() {
        let response = RFC_RESPONSE.replace("\"chris\"", "\"eve\"");
        assert_eq!(
            rfc_server().verify(response.as_bytes(), chris),
            Err(DigestError::UnknownUser { username: "eve".to_string() })
        );
    }

    #[test]
    fn each_directive_is_checked() {
        let check = |from: &str, to: &str| {
            let response = RFC_RESPONSE.replace(from, to);
            assert_ne!(response, RFC_RESPONSE, "{from} not in the sample");
            rfc_server().verify(response.as_bytes(), chris).unwrap_err().to_string()
        };
        assert_eq!(
            check("nonce=\"OA6MG9tEQGm2hh\"", "nonce=\"stale\""),
            "digest response answers nonce \"stale\", not the one this server sent"
        );
        assert_eq!(
            check("realm=\"elwood.innosoft.com\"", "realm=\"other\""),
            "digest response names realm \"other\", expected \"elwood.innosoft.com\""
        );
        assert_eq!(
            check("qop=auth", "qop=auth-conf"),
            "digest response asks for qop \"auth-conf\"; this server offers only \"auth\""
        );
        assert_eq!(
            check("nc=00000001", "nc=00000002"),
            "digest response has nonce count \"00000002\", expected 00000001"
        );
        assert_eq!(
            check("imap/elwood", "smtp/elwood"),
            "digest response is for digest-uri \"smtp/elwood.innosoft.com\", expected \"imap/elwood.innosoft.com\""
        );
        assert_eq!(check("cnonce=", "cnonceX="), "digest response lacks the cnonce directive");
        assert_eq!(check("nc=00000001", "nc=00000001,nc=00000001"), "digest response has the nc directive twice");
        assert_eq!(
            check("qop=auth", "qop=auth,authzid=\"root\""),
            "digest response asks to act as \"root\", which is not its user"
        );
        assert_eq!(check("response=d", "response=e"), "digest response does not match: the password is wrong");
    }

    #[test]
    fn hashes_latin1_when_it_fits() {
        assert_eq!(latin1_or_utf8("ab"), b"ab");
        assert_eq!(latin1_or_utf8("é"), [0xE9]);
        assert_eq!(latin1_or_utf8("€"), "€".as_bytes());
    }
}
