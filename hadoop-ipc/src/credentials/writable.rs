//! Hadoop's `Writable` primitives that a WRITABLE token storage file is made of: the variable-length
//! integer of `WritableUtils.writeVLong` and `Text` (a VInt length, then UTF-8).

use super::CredentialsError;

/// A cursor over a WRITABLE body; every read names what it reads for errors.
pub(crate) struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Input<'a> {
        Input { rest: bytes }
    }

    pub(crate) fn bytes(&mut self, length: usize, what: &'static str) -> Result<&'a [u8], CredentialsError> {
        if length > self.rest.len() {
            return Err(CredentialsError::Truncated { what });
        }
        let (taken, rest) = self.rest.split_at(length);
        self.rest = rest;
        Ok(taken)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, CredentialsError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// `WritableUtils.readVLong`: one byte for -112..=127, else a byte giving sign and length (1 to 8
    /// bytes) followed by the big-endian magnitude (bit-inverted for negatives).
    pub(crate) fn vlong(&mut self, what: &'static str) -> Result<i64, CredentialsError> {
        let first = self.byte(what)? as i8;
        if first >= -112 {
            return Ok(i64::from(first));
        }
        let (negative, length) = if first < -120 { (true, -(first + 120)) } else { (false, -(first + 112)) };
        let mut value: i64 = 0;
        for byte in self.bytes(length as usize, what)? {
            value = (value << 8) | i64::from(*byte);
        }
        Ok(if negative { !value } else { value })
    }

    /// A VInt that must be a length: non-negative and within an `i32`, as `readVInt` insists.
    pub(crate) fn length(&mut self, what: &'static str) -> Result<usize, CredentialsError> {
        let value = self.vlong(what)?;
        match i32::try_from(value) {
            Ok(length) if length >= 0 => Ok(length as usize),
            _ => Err(CredentialsError::BadLength { what, value }),
        }
    }

    pub(crate) fn text(&mut self, what: &'static str) -> Result<String, CredentialsError> {
        let length = self.length(what)?;
        let bytes = self.bytes(length, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CredentialsError::NotUtf8 { what })
    }
}

/// `WritableUtils.writeVLong`, for building WRITABLE samples.
#[cfg(test)]
pub(crate) fn write_vlong(value: i64, out: &mut Vec<u8>) {
    if (-112..=127).contains(&value) {
        out.push(value as u8);
        return;
    }
    let (magnitude, base) = if value < 0 { (!value, -120i32) } else { (value, -112i32) };
    let byte_count = 8 - (magnitude.leading_zeros() / 8) as i32;
    out.push((base - byte_count) as u8);
    out.extend_from_slice(&magnitude.to_be_bytes()[(8 - byte_count as usize)..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodings worked out from `WritableUtils.writeVLong`'s algorithm.
    const SAMPLES: &[(i64, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7f]),
        (-1, &[0xff]),
        (-112, &[0x90]),
        (128, &[0x8f, 0x80]),
        (255, &[0x8f, 0xff]),
        (256, &[0x8e, 0x01, 0x00]),
        (65536, &[0x8d, 0x01, 0x00, 0x00]),
        (-113, &[0x87, 0x70]),
        (-257, &[0x86, 0x01, 0x00]),
        (i64::MAX, &[0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        (i64::MIN, &[0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ];

    #[test]
    fn vlong_matches_hadoop_both_ways() {
        for (value, bytes) in SAMPLES {
            let mut written = Vec::new();
            write_vlong(*value, &mut written);
            assert_eq!(written, *bytes, "writing {value}");
            assert_eq!(Input::new(bytes).vlong("sample").unwrap(), *value, "reading {bytes:02x?}");
        }
    }

    #[test]
    fn lengths_must_fit_an_int_and_not_be_negative() {
        assert_eq!(Input::new(&[0xff]).length("alias"), Err(CredentialsError::BadLength { what: "alias", value: -1 }));
        let mut big = Vec::new();
        write_vlong(1 << 40, &mut big);
        assert_eq!(
            Input::new(&big).length("alias"),
            Err(CredentialsError::BadLength { what: "alias", value: 1 << 40 })
        );
        assert_eq!(Input::new(&[0x8e, 0x01]).vlong("count"), Err(CredentialsError::Truncated { what: "count" }));
    }

    #[test]
    fn text_is_length_then_utf8() {
        assert_eq!(Input::new(b"\x03abc").text("kind").unwrap(), "abc");
        assert_eq!(Input::new(b"\x02\xff\xfe").text("kind"), Err(CredentialsError::NotUtf8 { what: "kind" }));
        assert_eq!(Input::new(b"\x05ab").text("kind"), Err(CredentialsError::Truncated { what: "kind" }));
    }
}
