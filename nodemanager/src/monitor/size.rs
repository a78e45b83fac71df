//! Hadoop's `TraditionalBinaryPrefix.long2String(n, "", 1)` followed by `B`, as YARN's memory kill
//! diagnostics print sizes (`facts/yarn.md` §1.4): `512B`, `1 GB`, `1.1 GB`, `348.4 MB`.
//! Spark finds these with `[0-9.]+ [KMG]B`, so the spacing and rounding must be exactly Hadoop's.

/// The binary prefixes Hadoop knows, with their power of two.
const PREFIXES: [(char, u32); 6] = [('K', 10), ('M', 20), ('G', 30), ('T', 40), ('P', 50), ('E', 60)];

/// `bytes` as YARN prints a memory size: below 1024 the plain number then `B`; an exact multiple
/// of the largest prefix not above it as an integer (`2 GB`); else one decimal, rounded half up as
/// Java's `%.1f` does (`1.1 GB`), moving to the next prefix when that rounding reaches 1024.0.
pub(crate) fn bytes_to_string(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let index = PREFIXES.iter().rposition(|&(_, shift)| bytes >> shift > 0).expect("bytes >= 1024 has a prefix");
    let (symbol, shift) = PREFIXES[index];
    if bytes & ((1u64 << shift) - 1) == 0 {
        return format!("{} {symbol}B", bytes >> shift);
    }
    let mut tenths = tenths_half_up(bytes, shift);
    let mut symbol = symbol;
    if tenths >= 10_240 {
        if let Some(&(next, next_shift)) = PREFIXES.get(index + 1) {
            symbol = next;
            tenths = tenths_half_up(bytes, next_shift);
        }
    }
    format!("{}.{} {symbol}B", tenths / 10, tenths % 10)
}

/// `bytes / 2^shift` in tenths, rounded half up, computed exactly.
fn tenths_half_up(bytes: u64, shift: u32) -> u128 {
    (u128::from(bytes) * 10 + (1u128 << (shift - 1))) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: u64 = 1 << 10;
    const MB: u64 = 1 << 20;
    const GB: u64 = 1 << 30;

    #[test]
    fn below_a_kilobyte_is_plain_bytes_without_a_space() {
        assert_eq!(bytes_to_string(0), "0B");
        assert_eq!(bytes_to_string(512), "512B");
        assert_eq!(bytes_to_string(1023), "1023B");
    }

    #[test]
    fn exact_multiples_are_integers() {
        assert_eq!(bytes_to_string(KB), "1 KB");
        assert_eq!(bytes_to_string(2 * GB), "2 GB");
        assert_eq!(bytes_to_string(8 * GB), "8 GB");
        assert_eq!(bytes_to_string(1536 * MB), "1.5 GB");
        assert_eq!(bytes_to_string(3 * MB), "3 MB");
        assert_eq!(bytes_to_string(1 << 40), "1 TB");
        assert_eq!(bytes_to_string(1 << 60), "1 EB");
    }

    #[test]
    fn other_sizes_have_one_decimal() {
        // YARN's own example: 1 GB × 2.1 truncated to a long.
        assert_eq!(bytes_to_string((GB as f64 * 2.1) as u64), "2.1 GB");
        assert_eq!(bytes_to_string(2 * GB + 110_100_480), "2.1 GB");
        assert_eq!(bytes_to_string(365_329_612), "348.4 MB");
        assert_eq!(bytes_to_string(1025), "1.0 KB");
        assert_eq!(bytes_to_string(47 * (1 << 40) + 6 * (1 << 40) / 10), "47.6 TB");
        assert_eq!(bytes_to_string(u64::MAX), "16.0 EB");
    }

    #[test]
    fn ties_round_half_up_like_java() {
        // 1.25 KB and 1.75 MB are exact ties: Java's %.1f rounds them up.
        assert_eq!(bytes_to_string(1280), "1.3 KB");
        assert_eq!(bytes_to_string(MB + 3 * MB / 4), "1.8 MB");
        assert_eq!(bytes_to_string(MB + 52_428), "1.0 MB");
        assert_eq!(bytes_to_string(MB + 52_429), "1.1 MB");
    }

    #[test]
    fn rounding_up_to_1024_moves_to_the_next_prefix() {
        assert_eq!(bytes_to_string(GB - 1), "1.0 GB");
        assert_eq!(bytes_to_string(MB - 1), "1.0 MB");
        assert_eq!(bytes_to_string(1023 * MB + 1), "1023.0 MB");
    }

    #[test]
    fn spark_finds_the_usage_with_its_regex() {
        // `[0-9.]+ [KMG]B`: digits and dots, one space, one of K/M/G, then B.
        for bytes in [KB + 1, 5 * MB, 2 * GB + 1, 900 * MB + 123_456] {
            let text = bytes_to_string(bytes);
            let (number, unit) = text.split_once(' ').expect("a space before the unit");
            assert!(!number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.'), "{text}");
            assert!(["KB", "MB", "GB"].contains(&unit), "{text}");
        }
    }
}
