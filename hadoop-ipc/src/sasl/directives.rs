//! RFC 2831's directive lists (`key=value` or `key="quoted value"`, comma separated, blanks and empty
//! elements allowed, `\` escaping inside quotes), as DIGEST-MD5 challenges and responses carry them.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed digest directives at byte {position}: {reason}")]
pub(crate) struct DirectiveError {
    pub(crate) position: usize,
    pub(crate) reason: &'static str,
}

/// The directives in order, keys lower-cased (RFC 2831 keys are case-insensitive).
pub(crate) fn parse(input: &str) -> Result<Vec<(String, String)>, DirectiveError> {
    let mut parser = Parser { bytes: input.as_bytes(), position: 0 };
    let mut directives = Vec::new();
    loop {
        parser.skip_blanks_and_commas();
        if parser.at_end() {
            return Ok(directives);
        }
        let key = parser.token()?.to_ascii_lowercase();
        parser.skip_blanks();
        parser.expect(b'=', "expected '=' after a directive name")?;
        parser.skip_blanks();
        let value = if parser.peek() == Some(b'"') { parser.quoted()? } else { parser.token()? };
        directives.push((key, value));
        parser.skip_blanks();
        if !parser.at_end() {
            parser.expect(b',', "expected ',' between directives")?;
        }
    }
}

/// Formats one `key="value"` directive, escaping `"` and `\`.
pub(crate) fn quoted(key: &str, value: &str) -> String {
    let mut out = format!("{key}=\"");
    for character in value.chars() {
        if character == '"' || character == '\\' {
            out.push('\\');
        }
        out.push(character);
    }
    out.push('"');
    out
}

struct Parser<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn error(&self, reason: &'static str) -> DirectiveError {
        DirectiveError { position: self.position, reason }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.position += 1;
        }
    }

    fn skip_blanks_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n' | b',')) {
            self.position += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), DirectiveError> {
        if self.peek() != Some(byte) {
            return Err(self.error(reason));
        }
        self.position += 1;
        Ok(())
    }

    /// RFC 2616's token: one or more characters that are neither controls nor separators.
    fn token(&mut self) -> Result<String, DirectiveError> {
        let start = self.position;
        while self.peek().is_some_and(is_token_byte) {
            self.position += 1;
        }
        if self.position == start {
            return Err(self.error("expected a token"));
        }
        Ok(String::from_utf8_lossy(&self.bytes[start..self.position]).into_owned())
    }

    fn quoted(&mut self) -> Result<String, DirectiveError> {
        self.position += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated quoted string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.position += 1;
                    let escaped = self.peek().ok_or_else(|| self.error("unterminated quoted string"))?;
                    value.push(escaped);
                }
                Some(byte) => value.push(byte),
            }
            self.position += 1;
        }
        self.position += 1;
        String::from_utf8(value).map_err(|_| self.error("quoted string is not UTF-8"))
    }
}

fn is_token_byte(byte: u8) -> bool {
    const SEPARATORS: &[u8] = b"()<>@,;:\\\"/[]?={} \t";
    byte.is_ascii() && !byte.is_ascii_control() && !SEPARATORS.contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[(&str, &str)]) {
        let parsed = parse(input).unwrap();
        let parsed: Vec<(&str, &str)> = parsed.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
        assert_eq!(parsed, expected, "{input}");
    }

    #[test]
    fn parses_tokens_quoted_strings_and_blanks() {
        check(
            r#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8"#,
            &[
                ("realm", "elwood.innosoft.com"),
                ("nonce", "OA6MG9tEQGm2hh"),
                ("qop", "auth"),
                ("algorithm", "md5-sess"),
                ("charset", "utf-8"),
            ],
        );
        check(" Username = \"a b\" ,, nc=00000001 ,", &[("username", "a b"), ("nc", "00000001")]);
        check("", &[]);
    }

    #[test]
    fn unescapes_quoted_pairs() {
        check(r#"realm="a\"b\\c\d""#, &[("realm", "a\"b\\cd")]);
        assert_eq!(quoted("realm", "a\"b\\c"), r#"realm="a\"b\\c""#);
        check(&quoted("realm", "a\"b\\c"), &[("realm", "a\"b\\c")]);
    }

    #[test]
    fn malformed_lists_say_where() {
        let error = |input: &str| parse(input).unwrap_err().to_string();
        assert_eq!(error("realm"), "malformed digest directives at byte 5: expected '=' after a directive name");
        assert_eq!(error(r#"realm="abc"#), "malformed digest directives at byte 10: unterminated quoted string");
        assert_eq!(error("a=b c=d"), "malformed digest directives at byte 4: expected ',' between directives");
        assert_eq!(error("=b"), "malformed digest directives at byte 0: expected a token");
        assert_eq!(error("a="), "malformed digest directives at byte 2: expected a token");
    }
}
