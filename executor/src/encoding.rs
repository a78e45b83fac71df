//! Record frames: how batches of records are stored in shuffle blocks and spill files. A frame is a
//! bincode `Vec<R>` built record by record and cut at [`BATCH_SIZE`] records or about
//! [`FRAME_TARGET_BYTES`]; it is stored as a 4-byte big-endian length and its payload. When the codec
//! compresses, the payload starts with a 4-byte little-endian size: the frame's uncompressed size
//! followed by its lz4 block (lz4's size-prepended blocks), or [`STORED_AS_IS`] followed by the frame
//! itself, for a frame lz4 would not shrink by an eighth (random text, bytes compressed already):
//! storing such a frame costs one copy instead of a compression, and reading it no copy at all. A
//! shuffle block or a spill run is a sequence of frames, so a reader holds one frame at a time and a
//! frame is a batch.

use std::io::{self, Read};
use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::batch::BATCH_SIZE;
use crate::error::TaskError;

/// Where a frame is cut, unless [`BATCH_SIZE`] records come first.
pub const FRAME_TARGET_BYTES: usize = 256 << 10;

/// Room past [`FRAME_TARGET_BYTES`] for the record that crosses it.
const FRAME_SLACK: usize = 8 << 10;

/// The bytes in front of a stored frame: its stored length.
const HEADER: usize = 4;

/// The size field of a compressing codec's payload that says the frame follows as it is.
const STORED_AS_IS: u32 = u32::MAX;

/// lz4 must save at least 1/`MIN_SAVING` of a frame's bytes for the frame to be stored compressed.
const MIN_SAVING: usize = 8;

/// How much of a bigger frame is compressed first, to see whether the whole is worth compressing.
const PROBE: usize = 16 << 10;

/// How frames are stored: `spark.shuffle.compress` for shuffle blocks, `spark.shuffle.spill.compress`
/// for spill files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    pub compress: bool,
}

/// A frame's bincode bytes as read back: decompressed, or the stored payload itself past its size
/// field.
#[derive(Debug)]
pub struct RawFrame {
    bytes: Vec<u8>,
    start: usize,
}

impl From<Vec<u8>> for RawFrame {
    fn from(bytes: Vec<u8>) -> RawFrame {
        RawFrame { bytes, start: 0 }
    }
}

impl Deref for RawFrame {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

impl FrameCodec {
    pub fn new(compress: bool) -> FrameCodec {
        FrameCodec { compress }
    }

    /// `raw` (a frame's bincode bytes) as stored — its length, then its payload — in two pieces to
    /// write one after the other: what was built in `scratch` (the length, and a compressed frame's
    /// whole payload) and `raw` itself when the frame is stored as it is (no copy).
    pub fn encode<'a>(&self, raw: &'a [u8], scratch: &'a mut Vec<u8>) -> io::Result<[&'a [u8]; 2]> {
        scratch.clear();
        scratch.extend_from_slice(&[0; HEADER]);
        let mut tail: &[u8] = raw;
        if self.compress {
            let size =
                u32::try_from(raw.len()).ok().filter(|&s| s != STORED_AS_IS).ok_or_else(|| too_big(raw.len()))?;
            if compress_into(raw, size, scratch)? {
                tail = &[];
            } else {
                scratch.extend_from_slice(&STORED_AS_IS.to_le_bytes());
            }
        }
        let stored = scratch.len() - HEADER + tail.len();
        let stored = u32::try_from(stored).map_err(|_| too_big(stored))?;
        scratch[..HEADER].copy_from_slice(&stored.to_be_bytes());
        Ok([scratch.as_slice(), tail])
    }

    /// Appends `raw` (a frame's bincode bytes) as stored: its length, then its payload.
    pub fn encode_into(&self, raw: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut scratch = Vec::new();
        let [head, tail] = self.encode(raw, &mut scratch)?;
        out.extend_from_slice(head);
        out.extend_from_slice(tail);
        Ok(())
    }

    /// A stored payload (without its length) back to the frame's bincode bytes.
    pub fn decode(&self, payload: Vec<u8>) -> io::Result<RawFrame> {
        if !self.compress {
            return Ok(payload.into());
        }
        let corrupt = |why: String| io::Error::new(io::ErrorKind::InvalidData, format!("corrupt frame: {why}"));
        let Some(field) = payload.first_chunk::<4>() else {
            return Err(corrupt(format!("{} bytes, shorter than its size field", payload.len())));
        };
        if u32::from_le_bytes(*field) == STORED_AS_IS {
            return Ok(RawFrame { bytes: payload, start: 4 });
        }
        let (size, _) = lz4_flex::block::uncompressed_size(&payload).map_err(|e| corrupt(e.to_string()))?;
        let raw = lz4_flex::block::decompress_size_prepended(&payload).map_err(|e| corrupt(e.to_string()))?;
        if raw.len() != size {
            return Err(corrupt(format!("{} bytes where {size} were announced", raw.len())));
        }
        Ok(raw.into())
    }
}

/// Appends `raw`'s size and lz4 block to `out` if that saves an eighth of its bytes, and says whether
/// it did (`out` as it was if not). A frame bigger than two probes is judged by its first probe's
/// worth of bytes before the whole is compressed (a frame's records are alike).
fn compress_into(raw: &[u8], size: u32, out: &mut Vec<u8>) -> io::Result<bool> {
    let failed = |e: lz4_flex::block::CompressError| io::Error::other(format!("cannot compress a frame: {e}"));
    let saves = |stored: usize, of: usize| stored < of - of / MIN_SAVING;
    if raw.len() > 2 * PROBE {
        let mut probe = vec![0u8; lz4_flex::block::get_maximum_output_size(PROBE)];
        let written = lz4_flex::block::compress_into(&raw[..PROBE], &mut probe).map_err(failed)?;
        if !saves(written, PROBE) {
            return Ok(false);
        }
    }
    let at = out.len();
    out.extend_from_slice(&size.to_le_bytes());
    out.resize(at + 4 + lz4_flex::block::get_maximum_output_size(raw.len()), 0);
    let written = lz4_flex::block::compress_into(raw, &mut out[at + 4..]).map_err(failed)?;
    if saves(written, raw.len()) {
        out.truncate(at + 4 + written);
        Ok(true)
    } else {
        out.truncate(at);
        Ok(false)
    }
}

fn too_big(len: usize) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("a frame of {len} bytes is over the 4 GiB frame limit"))
}

/// Reads one stored frame's payload; `None` at a clean end of input.
pub fn read_stored(reader: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match reader.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a frame header cut short")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(header) as usize;
    let mut payload = vec![0u8; len];
    reader
        .read_exact(&mut payload)
        .map_err(|e| io::Error::new(e.kind(), format!("a frame of {len} bytes cut short")))?;
    Ok(Some(payload))
}

/// Splits stored frames off the front of `bytes`: the payloads of the complete frames and how many
/// bytes they took (a remote block arrives in chunks that do not respect frames).
pub fn split_stored(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= HEADER {
        let len = u32::from_be_bytes(bytes[at..at + HEADER].try_into().expect("4 bytes")) as usize;
        if bytes.len() - at - HEADER < len {
            break;
        }
        frames.push(&bytes[at + HEADER..at + HEADER + len]);
        at += HEADER + len;
    }
    (frames, at)
}

/// Decodes a frame's records.
pub fn decode_records<R: DeserializeOwned>(raw: &[u8]) -> Result<Vec<R>, TaskError> {
    Ok(bincode::deserialize(raw)?)
}

/// Builds one frame's bincode bytes a record at a time (the same bytes as a serialized `Vec<R>`).
#[derive(Debug, Default)]
pub struct FrameBuilder {
    buf: Vec<u8>,
    count: u64,
}

impl FrameBuilder {
    pub fn new() -> FrameBuilder {
        FrameBuilder::default()
    }

    #[inline]
    pub fn push<R: Serialize>(&mut self, record: &R) -> Result<(), TaskError> {
        if self.count == 0 {
            self.buf.clear();
            self.buf.extend_from_slice(&0u64.to_le_bytes());
        }
        // Past half a frame, room for the rest at once: doubling would leave a frame cut just past
        // the target holding twice its bytes.
        if self.buf.len() >= FRAME_TARGET_BYTES / 2 && self.buf.capacity() < FRAME_TARGET_BYTES + FRAME_SLACK {
            self.buf.reserve_exact(FRAME_TARGET_BYTES + FRAME_SLACK - self.buf.len());
        }
        bincode::serialize_into(&mut self.buf, record)
            .map_err(|e| TaskError::failed(format!("cannot encode a record: {e}")))?;
        self.count += 1;
        Ok(())
    }

    /// Whether the frame should be cut now.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.count >= BATCH_SIZE as u64 || self.buf.len() >= FRAME_TARGET_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The bytes the builder holds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The finished frame, owned; the builder starts anew, without a buffer, with the next record.
    pub fn take(&mut self) -> Vec<u8> {
        self.finish();
        std::mem::take(&mut self.buf)
    }

    /// The finished frame's bytes; the builder starts a new frame with the next record.
    pub fn finish(&mut self) -> &[u8] {
        self.buf[..8].copy_from_slice(&self.count.to_le_bytes());
        self.count = 0;
        &self.buf
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One frame of `u64` records, for the tests of the modules that store frames.
    pub(crate) fn frame(records: &[u64]) -> Vec<u8> {
        let mut b = FrameBuilder::new();
        records.iter().for_each(|r| b.push(r).unwrap());
        b.finish().to_vec()
    }

    fn frame_of(records: &[(u64, String)]) -> Vec<u8> {
        let mut b = FrameBuilder::new();
        for r in records {
            b.push(r).unwrap();
        }
        b.finish().to_vec()
    }

    #[test]
    fn a_built_frame_is_a_serialized_vec() {
        let records: Vec<(u64, String)> = (0..10).map(|i| (i, format!("r{i}"))).collect();
        let raw = frame_of(&records);
        assert_eq!(raw, bincode::serialize(&records).unwrap());
        assert_eq!(decode_records::<(u64, String)>(&raw).unwrap(), records);
        let mut b = FrameBuilder::new();
        for i in 0..BATCH_SIZE as u64 {
            assert!(!b.is_full());
            b.push(&i).unwrap();
        }
        assert!(b.is_full());
        b.finish();
        assert!(b.is_empty());
        b.push(&7u64).unwrap();
        assert_eq!(decode_records::<u64>(b.finish()).unwrap(), vec![7]);
    }

    #[test]
    fn frames_round_trip_stored_with_and_without_compression() {
        for compress in [false, true] {
            let codec = FrameCodec::new(compress);
            let frames: Vec<Vec<u8>> = (0..3).map(|n| frame_of(&vec![(n, "x".repeat(500)); 20])).collect();
            let mut stored = Vec::new();
            for f in &frames {
                codec.encode_into(f, &mut stored).unwrap();
            }
            let total: usize = frames.iter().map(Vec::len).sum();
            assert_eq!(stored.len() < total, compress, "compression shrinks repetitive frames");
            let mut reader = stored.as_slice();
            for f in &frames {
                let payload = read_stored(&mut reader).unwrap().unwrap();
                assert_eq!(&*codec.decode(payload).unwrap(), f.as_slice());
            }
            assert!(read_stored(&mut reader).unwrap().is_none());
            let (all, used) = split_stored(&stored);
            assert_eq!((all.len(), used), (3, stored.len()));
            let (split, used) = split_stored(&stored[..stored.len() - 1]);
            assert_eq!(split.len(), 2, "the last frame is cut short");
            assert_eq!(split_stored(&stored[used..]).0.len(), 1);
        }
    }

    /// Bytes without repeats lz4 could use, as random text or compressed data has.
    fn noise(len: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn frames_lz4_would_not_shrink_are_stored_as_they_are_and_read_without_a_copy() {
        let codec = FrameCodec::new(true);
        // Small (compressed whole, then judged) and big (judged by its probe); then a big frame whose
        // probe compresses but whose whole does not, and one that compresses.
        let mut mixed = vec![b'a'; PROBE];
        mixed.extend(noise(8 * PROBE));
        let frames = [noise(1000), noise(FRAME_TARGET_BYTES), mixed, vec![b'z'; FRAME_TARGET_BYTES]];
        let mut stored = Vec::new();
        for f in &frames {
            codec.encode_into(f, &mut stored).unwrap();
        }
        let mut reader = stored.as_slice();
        let mut sizes = Vec::new();
        for f in &frames {
            let payload = read_stored(&mut reader).unwrap().unwrap();
            sizes.push(payload.len());
            let at = payload.as_ptr() as usize;
            let raw = codec.decode(payload).unwrap();
            assert_eq!(&*raw, f.as_slice());
            if raw.len() + 4 == sizes[sizes.len() - 1] {
                assert_eq!(raw.as_ptr() as usize, at + 4, "a frame stored as it is is read in place");
            }
        }
        let as_is: Vec<bool> = frames.iter().zip(&sizes).map(|(f, s)| *s == f.len() + 4).collect();
        assert_eq!(as_is, [true, true, true, false]);
        assert!(sizes[3] < FRAME_TARGET_BYTES / 100);
        // The size field says which: the uncompressed size, or all ones.
        let mut one = Vec::new();
        codec.encode_into(&frames[0], &mut one).unwrap();
        assert_eq!(one[4..8], [0xff; 4]);
        let err = codec.decode(vec![0xff, 0xff]).unwrap_err();
        assert!(err.to_string().contains("shorter than its size field"), "{err}");
    }

    #[test]
    fn a_cut_frame_is_an_error_naming_it() {
        let codec = FrameCodec::new(false);
        let mut stored = Vec::new();
        codec.encode_into(b"abcdef", &mut stored).unwrap();
        let err = read_stored(&mut &stored[..7]).unwrap_err();
        assert!(err.to_string().contains("cut short"), "{err}");
        let err = read_stored(&mut &stored[..2]).unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
        let bad = FrameCodec::new(true).decode(vec![9, 0, 0, 0, 1]).unwrap_err();
        assert!(bad.to_string().contains("corrupt frame"), "{bad}");
    }
}
