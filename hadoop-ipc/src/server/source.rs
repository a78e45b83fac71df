//! Reads the preamble and length-prefixed frames off a byte stream, cancel-safely: every byte read is
//! kept in the buffer, so the connection loop can `select!` on the next frame and drop the future.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::frame::{frame_length, FrameError, PREAMBLE_LEN};

/// Largest single read-ahead, so a client announcing a 128 MiB frame does not get 128 MiB reserved
/// before it has sent it.
const READ_CHUNK: usize = 64 * 1024;

pub(super) enum Incoming {
    /// A whole frame body, without its length prefix.
    Frame(BytesMut),
    /// The client closed at a frame boundary.
    Eof,
    /// The client closed inside a frame.
    Truncated,
    /// The length prefix is refused (not positive, or over the maximum).
    BadLength(FrameError),
}

pub(super) struct FrameSource<R> {
    reader: R,
    buffer: BytesMut,
}

impl<R: AsyncRead + Unpin> FrameSource<R> {
    /// `already_read` holds bytes the caller consumed before handing over the stream.
    pub(super) fn new(reader: R, already_read: &[u8]) -> FrameSource<R> {
        FrameSource { reader, buffer: BytesMut::from(already_read) }
    }

    /// Reads until the buffer holds `needed` bytes; false if the stream ends first.
    async fn fill(&mut self, needed: usize) -> std::io::Result<bool> {
        while self.buffer.len() < needed {
            self.buffer.reserve((needed - self.buffer.len()).min(READ_CHUNK));
            if self.reader.read_buf(&mut self.buffer).await? == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reads and discards what the client still sends, until it closes, fails or `limit` bytes went
    /// by. A socket closed with unread bytes is reset, and a reset client loses the answer it has not
    /// read yet (a FATAL refusal, say).
    pub(super) async fn discard(&mut self, limit: usize) {
        self.buffer.clear();
        let mut scratch = [0u8; 4096];
        let mut seen = 0;
        while seen < limit {
            match self.reader.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen += n,
            }
        }
    }

    /// The 7-byte preamble, or `None` when the client closes before sending all of it.
    pub(super) async fn preamble(&mut self) -> std::io::Result<Option<[u8; PREAMBLE_LEN]>> {
        if !self.fill(PREAMBLE_LEN).await? {
            return Ok(None);
        }
        let bytes = self.buffer.split_to(PREAMBLE_LEN);
        Ok(Some(bytes[..].try_into().expect("split at the preamble length")))
    }

    pub(super) async fn frame(&mut self, max_len: u32) -> std::io::Result<Incoming> {
        if !self.fill(4).await? {
            return Ok(if self.buffer.is_empty() { Incoming::Eof } else { Incoming::Truncated });
        }
        let prefix: [u8; 4] = self.buffer[..4].try_into().expect("four bytes are buffered");
        let length = match frame_length(prefix, max_len) {
            Ok(length) => length,
            Err(error) => return Ok(Incoming::BadLength(error)),
        };
        if !self.fill(4 + length).await? {
            return Ok(Incoming::Truncated);
        }
        let mut frame = self.buffer.split_to(4 + length);
        Ok(Incoming::Frame(frame.split_off(4)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], already_read: &[u8]) -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut source = FrameSource::new(input, already_read);
            let preamble = source.preamble().await.unwrap();
            let mut seen = vec![format!("{preamble:?}")];
            if preamble.is_none() {
                return seen;
            }
            loop {
                let (described, last) = match source.frame(8).await.unwrap() {
                    Incoming::Frame(body) => (format!("frame {:?}", &body[..]), false),
                    Incoming::Eof => ("eof".to_string(), true),
                    Incoming::Truncated => ("truncated".to_string(), true),
                    Incoming::BadLength(error) => (error.to_string(), true),
                };
                seen.push(described);
                if last {
                    return seen;
                }
            }
        })
    }

    #[test]
    fn reads_preamble_then_frames_then_eof() {
        let input = b"hrpc\x09\x00\x00\x00\x00\x00\x02ab\x00\x00\x00\x01c";
        let expected = ["Some([104, 114, 112, 99, 9, 0, 0])", "frame [97, 98]", "frame [99]", "eof"];
        assert_eq!(frames(input, b""), expected);
        assert_eq!(frames(&input[3..], b"hrp"), expected, "peeked bytes come first");
    }

    #[test]
    fn eof_inside_a_frame_is_truncated() {
        assert_eq!(frames(b"hrpc\x09\x00\x00\x00\x00", b"")[1], "truncated");
        assert_eq!(frames(b"hrpc\x09\x00\x00\x00\x00\x00\x05ab", b"")[1], "truncated");
        assert_eq!(frames(b"hrpc", b""), ["None"]);
    }

    #[test]
    fn refuses_bad_lengths() {
        assert_eq!(
            frames(b"hrpc\x09\x00\x00\x00\x00\x00\x09", b"")[1],
            "frame length 9 is over the maximum of 8 bytes"
        );
        assert_eq!(frames(b"hrpc\x09\x00\x00\x00\x00\x00\x00", b"")[1], "frame length 0 is not positive");
    }
}
