//! Record frames: how batches of records are stored in shuffle blocks and spill files. A frame is a
//! bincode `Vec<R>` built record by record and cut at [`BATCH_SIZE`] records or about
//! [`FRAME_TARGET_BYTES`]; it is stored as a 4-byte big-endian length and its payload, lz4-compressed
//! (with the uncompressed size in front, little-endian, as lz4's size-prepended blocks) when the codec
//! compresses. A shuffle block or a spill run is a sequence of frames, so a reader holds one frame at a
//! time and a frame is a batch.

use std::io::{self, Read};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::batch::BATCH_SIZE;
use crate::error::TaskError;

/// Where a frame is cut, unless [`BATCH_SIZE`] records come first.
pub const FRAME_TARGET_BYTES: usize = 256 << 10;

/// The bytes in front of a stored frame: its stored length.
const HEADER: usize = 4;

/// How frames are stored: `spark.shuffle.compress` for shuffle blocks, `spark.shuffle.spill.compress`
/// for spill files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    pub compress: bool,
}

impl FrameCodec {
    pub fn new(compress: bool) -> FrameCodec {
        FrameCodec { compress }
    }

    /// Appends `raw` (a frame's bincode bytes) as stored: its length, then its payload.
    pub fn encode_into(&self, raw: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER]);
        if self.compress {
            let size = u32::try_from(raw.len()).map_err(|_| too_big(raw.len()))?;
            out.extend_from_slice(&size.to_le_bytes());
            let at = out.len();
            out.resize(at + lz4_flex::block::get_maximum_output_size(raw.len()), 0);
            let written = lz4_flex::block::compress_into(raw, &mut out[at..])
                .map_err(|e| io::Error::other(format!("cannot compress a frame: {e}")))?;
            out.truncate(at + written);
        } else {
            out.extend_from_slice(raw);
        }
        let stored = out.len() - start - HEADER;
        let stored = u32::try_from(stored).map_err(|_| too_big(stored))?;
        out[start..start + HEADER].copy_from_slice(&stored.to_be_bytes());
        Ok(())
    }

    /// A stored payload (without its length) back to the frame's bincode bytes.
    pub fn decode(&self, payload: Vec<u8>) -> io::Result<Vec<u8>> {
        if !self.compress {
            return Ok(payload);
        }
        let corrupt = |why: String| io::Error::new(io::ErrorKind::InvalidData, format!("corrupt frame: {why}"));
        let (size, _) = lz4_flex::block::uncompressed_size(&payload).map_err(|e| corrupt(e.to_string()))?;
        let raw = lz4_flex::block::decompress_size_prepended(&payload).map_err(|e| corrupt(e.to_string()))?;
        if raw.len() != size {
            return Err(corrupt(format!("{} bytes where {size} were announced", raw.len())));
        }
        Ok(raw)
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
                assert_eq!(&codec.decode(payload).unwrap(), f);
            }
            assert!(read_stored(&mut reader).unwrap().is_none());
            let (all, used) = split_stored(&stored);
            assert_eq!((all.len(), used), (3, stored.len()));
            let (split, used) = split_stored(&stored[..stored.len() - 1]);
            assert_eq!(split.len(), 2, "the last frame is cut short");
            assert_eq!(split_stored(&stored[used..]).0.len(), 1);
        }
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
