//! Memory sizes in Spark's and YARN's spellings: `512m`, `4g`, `2048k`, `1t`; a bare number is in the
//! caller's default unit (MiB for `*-mb` keys and spark-submit's memory flags). Fractions such as
//! `1.5g` are an error, as in Spark. Units are binary (`1k` = 1024 bytes).

/// A size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {input:?}: expected a whole number with an optional unit (k, m, g, t, p), e.g. 512m or 4g{hint}")]
pub struct SizeError {
    pub input: String,
    hint: &'static str,
}

const MIB: u64 = 1024 * 1024;

/// Parses `text` into bytes; a bare number is `default_unit_bytes` each.
pub fn parse_bytes(text: &str, default_unit_bytes: u64) -> Result<u64, SizeError> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let digits_end = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let err = |hint| SizeError { input: text.to_owned(), hint };
    if number.is_empty() {
        return Err(err(""));
    }
    if unit.starts_with('.') {
        return Err(err("; fractional values are not supported"));
    }
    if unit.is_empty() {
        let n: u64 = number.parse().map_err(|_| err(""))?;
        return n.checked_mul(default_unit_bytes).ok_or_else(|| err("; the value is too large"));
    }
    if !matches!(unit, "b" | "k" | "kb" | "m" | "mb" | "g" | "gb" | "t" | "tb" | "p" | "pb") {
        return Err(err(""));
    }
    parse_size::Config::new().with_binary().parse_size(&lower).map_err(|_| err(""))
}

/// Parses `text` into whole MiB (bare numbers are MiB), rounding a smaller unit up to the next MiB.
pub fn parse_mb(text: &str) -> Result<i64, SizeError> {
    let bytes = parse_bytes(text, MIB)?;
    i64::try_from(bytes.div_ceil(MIB))
        .map_err(|_| SizeError { input: text.to_owned(), hint: "; the value is too large" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_and_yarn_spellings() {
        assert_eq!(parse_mb("4096").unwrap(), 4096);
        assert_eq!(parse_mb("512m").unwrap(), 512);
        assert_eq!(parse_mb("512M").unwrap(), 512);
        assert_eq!(parse_mb("4g").unwrap(), 4096);
        assert_eq!(parse_mb("4gb").unwrap(), 4096);
        assert_eq!(parse_mb("1t").unwrap(), 1024 * 1024);
        assert_eq!(parse_mb("1024k").unwrap(), 1);
        assert_eq!(parse_mb("1k").unwrap(), 1);
        assert_eq!(parse_bytes("2k", MIB).unwrap(), 2048);
    }

    #[test]
    fn bad_sizes_name_the_input() {
        for bad in ["12x", "1.5g", "", "g", "-1", "4 g b", "99999999999999999999"] {
            let err = parse_mb(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
        assert!(parse_mb("1.5g").unwrap_err().to_string().contains("fractional"));
    }
}
