//! spark-submit's `--properties-file`: Java's properties format, as Spark reads it. One `key value`,
//! `key=value` or `key:value` per line; `#` and `!` start comments; a line ending in an odd number of
//! backslashes continues on the next; `\t \n \r \f \uXXXX` and `\<char>` are escapes; values are
//! trimmed, as Spark trims them. Pure: the caller reads the file.

/// The pairs in file order (a later duplicate wins when the caller collects them); an error names the
/// line.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let mut logical = line.trim_start().to_owned();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while continues(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split(&logical);
        let unescape_at = |part: &str| unescape(part).map_err(|e| format!("line {}: {e}", index + 1));
        pairs.push((unescape_at(key)?, unescape_at(value)?.trim().to_owned()));
    }
    Ok(pairs)
}

/// An odd number of trailing backslashes: the last one joins the next line.
fn continues(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// The raw key and raw value: the key ends at the first unescaped `=`, `:` or whitespace; then
/// whitespace, at most one `=` or `:`, and whitespace again separate it from the value.
fn split(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '=' | ':' => {
                key_end = i;
                break;
            }
            _ if c.is_whitespace() => {
                key_end = i;
                break;
            }
            _ => {}
        }
    }
    let (key, rest) = line.split_at(key_end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(['=', ':']).unwrap_or(rest);
    (key, rest.trim_start())
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16).ok().filter(|_| hex.len() == 4);
                match code.and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => return Err(format!("malformed \\uXXXX escape \"\\u{hex}\"")),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[(&str, &str)]) {
        let pairs = parse(text).unwrap();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, expected, "{text:?}");
    }

    #[test]
    fn separators_comments_and_blank_lines() {
        check(
            "# a comment\n! another\n\nspark.executor.memory 4g\nspark.executor.cores=2\n\
             spark.master : yarn\n  spark.app.name\tword count  \nspark.flag\nspark.empty=\n",
            &[
                ("spark.executor.memory", "4g"),
                ("spark.executor.cores", "2"),
                ("spark.master", "yarn"),
                ("spark.app.name", "word count"),
                ("spark.flag", ""),
                ("spark.empty", ""),
            ],
        );
        check("a = b = c\n", &[("a", "b = c")]);
        check("a  =  b\r\nc d\r\n", &[("a", "b"), ("c", "d")]);
        check("spark.x   # not a comment\n", &[("spark.x", "# not a comment")]);
    }

    #[test]
    fn continuations_and_escapes() {
        check("spark.list a,\\\n    b,\\\n    c\n", &[("spark.list", "a,b,c")]);
        check("spark.path C:\\\\dir\n", &[("spark.path", "C:\\dir")]);
        check("key\\ with\\ spaces = v\n", &[("key with spaces", "v")]);
        check("a\\=b=c\\td\n", &[("a=b", "c\td")]);
        check("u=\\u00e9t\\u00E9\n", &[("u", "été")]);
        check("last\\\n", &[("last", "")]);
    }

    #[test]
    fn a_bad_escape_names_the_line() {
        let err = parse("a=1\nb=\\u12x4\n").unwrap_err();
        assert_eq!(err, "line 2: malformed \\uXXXX escape \"\\u12x4\"");
    }
}
