//! The two Java formatting primitives YARN's CLI relies on: `String.format("%Ns")` padding and
//! `DecimalFormat("###.##%")`.

use std::fmt::Display;

/// Java's `%{width}s`: right-aligned in `width` characters, never truncated.
pub(crate) fn right(text: &str, width: usize) -> String {
    format!("{text:>width$}")
}

/// Java's `DecimalFormat("###.##%")` of a progress given in percent (0–100): at most two decimals,
/// rounded half-even, without trailing zeros, e.g. `53.79%`, `10%`.
pub(crate) fn percent(progress_percent: f32) -> String {
    let value = f64::from(progress_percent);
    if !value.is_finite() {
        return "0%".to_owned();
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if text == "-0" { "0" } else { text };
    format!("{text}%")
}

/// Java's `AbstractCollection.toString()`: `[A, B]`, `[]` when empty.
pub(crate) fn bracketed<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|item| item.to_string()).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(progress_percent: f32, expected: &str) {
        assert_eq!(percent(progress_percent), expected, "{progress_percent}");
    }

    #[test]
    fn decimal_format_percent() {
        check(53.789, "53.79%");
        check(99.789, "99.79%");
        check(0.0, "0%");
        check(10.0, "10%");
        check(100.0, "100%");
        check(50.5, "50.5%");
        check(f32::NAN, "0%");
    }

    #[test]
    fn padding_and_collections() {
        assert_eq!(right("YARN", 10), "      YARN");
        assert_eq!(right("longer than width", 4), "longer than width");
        assert_eq!(bracketed(["SUBMITTED", "ACCEPTED"]), "[SUBMITTED, ACCEPTED]");
        assert_eq!(bracketed(Vec::<String>::new()), "[]");
    }
}
