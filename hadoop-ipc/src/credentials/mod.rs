//! Hadoop's token storage file (`HADOOP_TOKEN_FILE_LOCATION`, facts/hadoop-ipc.md §3.3): `"HDTS"`, a
//! format byte, then the tokens and secrets. Weft writes the PROTOBUF form for containers to read at
//! login; it reads both forms, WRITABLE being what Spark puts in `ContainerLaunchContext.tokens`.

mod writable;

use prost::Message;

use crate::common::{CredentialsKvProto, CredentialsProto, TokenProto};
use writable::Input;

/// The first four bytes of a token storage file.
pub const MAGIC: [u8; 4] = *b"HDTS";
const FORMAT_WRITABLE: u8 = 0;
const FORMAT_PROTOBUF: u8 = 1;

/// Tokens and secrets by alias, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credentials {
    pub tokens: Vec<(String, TokenProto)>,
    pub secrets: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("not a Hadoop token storage file: it starts with {found:02x?}, not \"HDTS\" and a format byte")]
    Magic { found: Vec<u8> },
    #[error("unknown token storage format {found}: expected 0 (WRITABLE) or 1 (PROTOBUF)")]
    Format { found: u8 },
    #[error("token storage file ends inside {what}")]
    Truncated { what: &'static str },
    #[error("{what} has length {value}, outside 0..=2147483647")]
    BadLength { what: &'static str, value: i64 },
    #[error("{what} is not UTF-8")]
    NotUtf8 { what: &'static str },
    #[error("cannot decode the PROTOBUF credentials: {0}")]
    Protobuf(prost::DecodeError),
    #[error("credentials entry {alias:?} in the token list holds no token")]
    MissingToken { alias: String },
}

impl Credentials {
    /// The PROTOBUF form: `"HDTS"`, `0x01`, then a varint-delimited `CredentialsProto`.
    pub fn to_token_file(&self) -> Vec<u8> {
        let tokens = self.tokens.iter().map(|(alias, token)| CredentialsKvProto {
            alias: alias.clone(),
            token: Some(token.clone()),
            secret: None,
        });
        let secrets = self.secrets.iter().map(|(alias, secret)| CredentialsKvProto {
            alias: alias.clone(),
            token: None,
            secret: Some(secret.clone()),
        });
        let storage = CredentialsProto { tokens: tokens.collect(), secrets: secrets.collect() };
        let mut file = MAGIC.to_vec();
        file.push(FORMAT_PROTOBUF);
        storage.encode_length_delimited(&mut file).expect("a Vec grows as needed");
        file
    }

    /// Reads either form. As Hadoop's reader does, it reads what it needs and ignores the rest, so
    /// the zero bytes Spark leaves after the WRITABLE body (a whole `DataOutputBuffer`) do no harm.
    pub fn parse_token_file(bytes: &[u8]) -> Result<Credentials, CredentialsError> {
        let (header, body) = bytes.split_at(bytes.len().min(5));
        match header {
            [b'H', b'D', b'T', b'S', FORMAT_WRITABLE] => parse_writable(body),
            [b'H', b'D', b'T', b'S', FORMAT_PROTOBUF] => parse_protobuf(body),
            [b'H', b'D', b'T', b'S', found] => Err(CredentialsError::Format { found: *found }),
            found => Err(CredentialsError::Magic { found: found.to_vec() }),
        }
    }
}

fn parse_protobuf(body: &[u8]) -> Result<Credentials, CredentialsError> {
    let storage = CredentialsProto::decode_length_delimited(body).map_err(CredentialsError::Protobuf)?;
    let tokens = storage.tokens.into_iter().map(|entry| match entry.token {
        Some(token) => Ok((entry.alias, token)),
        None => Err(CredentialsError::MissingToken { alias: entry.alias }),
    });
    let secrets = storage.secrets.into_iter().map(|entry| (entry.alias, entry.secret.unwrap_or_default()));
    Ok(Credentials { tokens: tokens.collect::<Result<_, _>>()?, secrets: secrets.collect() })
}

/// `Credentials.readFields`: VInt token count, (Text alias, Token)*, VInt secret count,
/// (Text alias, VInt length, bytes)*. A Token is VInt length + identifier, VInt length + password,
/// Text kind, Text service.
fn parse_writable(body: &[u8]) -> Result<Credentials, CredentialsError> {
    let mut input = Input::new(body);
    let mut credentials = Credentials::default();
    for _ in 0..input.length("token count")? {
        let alias = input.text("token alias")?;
        let identifier_len = input.length("token identifier")?;
        let identifier = input.bytes(identifier_len, "token identifier")?.to_vec();
        let password_len = input.length("token password")?;
        let password = input.bytes(password_len, "token password")?.to_vec();
        let kind = input.text("token kind")?;
        let service = input.text("token service")?;
        credentials.tokens.push((alias, TokenProto { identifier, password, kind, service }));
    }
    for _ in 0..input.length("secret count")? {
        let alias = input.text("secret alias")?;
        let length = input.length("secret")?;
        credentials.secrets.push((alias, input.bytes(length, "secret")?.to_vec()));
    }
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::writable::write_vlong;
    use super::*;

    fn amrm_token() -> TokenProto {
        TokenProto {
            identifier: b"\x0a\x08\x0a\x04\x08\x01\x10\x02\x10\x01\x10\x01".to_vec(),
            password: (0u8..20).collect(),
            kind: "YARN_AM_RM_TOKEN".to_string(),
            service: "127.0.0.1:18030".to_string(),
        }
    }

    fn text(value: &str, out: &mut Vec<u8>) {
        write_vlong(value.len() as i64, out);
        out.extend_from_slice(value.as_bytes());
    }

    /// A WRITABLE file laid out by hand after `Credentials.writeTokenStorageToStream`.
    fn writable_sample(padding: usize) -> Vec<u8> {
        let token = amrm_token();
        let mut file = b"HDTS\x00".to_vec();
        write_vlong(1, &mut file);
        text("appattempt_1700000000000_0001_000001", &mut file);
        write_vlong(token.identifier.len() as i64, &mut file);
        file.extend(&token.identifier);
        write_vlong(token.password.len() as i64, &mut file);
        file.extend(&token.password);
        text(&token.kind, &mut file);
        text(&token.service, &mut file);
        write_vlong(1, &mut file);
        text("spark.secret", &mut file);
        write_vlong(300, &mut file);
        file.extend(std::iter::repeat_n(0x5a, 300));
        file.extend(std::iter::repeat_n(0, padding));
        file
    }

    fn sample_credentials() -> Credentials {
        Credentials {
            tokens: vec![("appattempt_1700000000000_0001_000001".to_string(), amrm_token())],
            secrets: vec![("spark.secret".to_string(), vec![0x5a; 300])],
        }
    }

    #[test]
    fn reads_a_writable_file_with_the_padding_spark_leaves() {
        assert_eq!(Credentials::parse_token_file(&writable_sample(0)).unwrap(), sample_credentials());
        assert_eq!(Credentials::parse_token_file(&writable_sample(13)).unwrap(), sample_credentials());
    }

    #[test]
    fn reads_the_empty_writable_file_of_an_am_launch_context() {
        assert_eq!(Credentials::parse_token_file(b"HDTS\x00\x00\x00").unwrap(), Credentials::default());
    }

    #[test]
    fn protobuf_file_round_trips() {
        let file = sample_credentials().to_token_file();
        assert_eq!(file[..5], *b"HDTS\x01");
        assert_eq!(Credentials::parse_token_file(&file).unwrap(), sample_credentials());
        assert_eq!(Credentials::default().to_token_file(), b"HDTS\x01\x00");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let error = |bytes: &[u8]| Credentials::parse_token_file(bytes).unwrap_err().to_string();
        assert_eq!(
            error(b"HDT"),
            "not a Hadoop token storage file: it starts with [48, 44, 54], not \"HDTS\" and a format byte"
        );
        assert_eq!(error(b"HDTS\x02"), "unknown token storage format 2: expected 0 (WRITABLE) or 1 (PROTOBUF)");
        let sample = writable_sample(0);
        assert_eq!(error(&sample[..sample.len() - 1]), "token storage file ends inside secret");
        assert_eq!(error(&sample[..20]), "token storage file ends inside token alias");
        let no_token = CredentialsProto {
            tokens: vec![CredentialsKvProto { alias: "a".to_string(), token: None, secret: None }],
            secrets: vec![],
        };
        let mut file = b"HDTS\x01".to_vec();
        file.extend(no_token.encode_length_delimited_to_vec());
        assert_eq!(error(&file), "credentials entry \"a\" in the token list holds no token");
    }
}
