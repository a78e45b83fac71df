//! Spark's `lz4` codec stream (lz4-java's `LZ4BlockOutputStream`, which Spark's `LZ4CompressionCodec`
//! writes): blocks of at most 32 KiB (`spark.io.compression.lz4.blockSize`), each `LZ4Block` + a token
//! (method: 0x10 stored, 0x20 LZ4; level: log2 of the block size − 10) + compressed length + original
//! length + checksum (xxHash32 of the original bytes, seed 0x9747b28c, masked to 28 bits), all
//! little-endian, then the bytes; a flush ends the pending block so readers see every line written;
//! the stream ends with an empty stored block. The LZ4 block itself is `lz4_flex`'s.

use std::io::{self, Write};

const MAGIC: &[u8; 8] = b"LZ4Block";
/// Spark's default `spark.io.compression.lz4.blockSize`, 32k.
pub(crate) const BLOCK_BYTES: usize = 32 * 1024;
const METHOD_RAW: u8 = 0x10;
const METHOD_LZ4: u8 = 0x20;
const SEED: u32 = 0x9747_b28c;
const CHECKSUM_MASK: u32 = 0x0FFF_FFFF;

/// Writes Spark's lz4 stream into `inner`.
pub(crate) struct Lz4BlockWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
    level: u8,
}

impl<W: Write> Lz4BlockWriter<W> {
    pub(crate) fn new(inner: W) -> Lz4BlockWriter<W> {
        let level = (BLOCK_BYTES.next_power_of_two().trailing_zeros() - 10) as u8;
        Lz4BlockWriter { inner, pending: Vec::with_capacity(BLOCK_BYTES), level }
    }

    fn header(&mut self, method: u8, compressed: usize, original: usize, checksum: u32) -> io::Result<()> {
        let mut header = [0u8; 21];
        header[..8].copy_from_slice(MAGIC);
        header[8] = method | self.level;
        header[9..13].copy_from_slice(&(compressed as u32).to_le_bytes());
        header[13..17].copy_from_slice(&(original as u32).to_le_bytes());
        header[17..21].copy_from_slice(&checksum.to_le_bytes());
        self.inner.write_all(&header)
    }

    /// Writes the pending bytes as one block (stored when LZ4 would not make them smaller).
    fn write_block(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.pending);
        let checksum = xxhash_rust::xxh32::xxh32(&data, SEED) & CHECKSUM_MASK;
        let compressed = lz4_flex::block::compress(&data);
        if compressed.len() < data.len() {
            self.header(METHOD_LZ4, compressed.len(), data.len(), checksum)?;
            self.inner.write_all(&compressed)?;
        } else {
            self.header(METHOD_RAW, data.len(), data.len(), checksum)?;
            self.inner.write_all(&data)?;
        }
        self.pending = data;
        self.pending.clear();
        Ok(())
    }

    /// The last block, the end marker, and the inner writer back.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.write_block()?;
        self.header(METHOD_RAW, 0, 0, 0)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Lz4BlockWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK_BYTES - self.pending.len();
        let taken = room.min(buf.len());
        self.pending.extend_from_slice(&buf[..taken]);
        if self.pending.len() == BLOCK_BYTES {
            self.write_block()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_block()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the stream back as lz4-java's `LZ4BlockInputStream` does, checking every field.
    fn read(mut stream: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            assert_eq!(&stream[..8], MAGIC);
            let token = stream[8];
            let int = |at: usize| u32::from_le_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
            let (compressed, original, checksum) = (int(9), int(13), int(17) as u32);
            assert_eq!(token & 0x0F, 5, "32 KiB blocks");
            assert!(original <= BLOCK_BYTES);
            let body = &stream[21..21 + compressed];
            if original == 0 {
                assert_eq!((compressed, checksum), (0, 0), "the end marker");
                assert_eq!(stream.len(), 21, "nothing after the end marker");
                return out;
            }
            let data = match token & 0xF0 {
                METHOD_LZ4 => lz4_flex::block::decompress(body, original).unwrap(),
                METHOD_RAW => body.to_vec(),
                other => panic!("method {other:#x}"),
            };
            assert_eq!(xxhash_rust::xxh32::xxh32(&data, SEED) & CHECKSUM_MASK, checksum);
            out.extend_from_slice(&data);
            stream = &stream[21 + compressed..];
        }
    }

    #[test]
    fn blocks_read_back_as_lz4_java_reads_them() {
        let mut writer = Lz4BlockWriter::new(Vec::new());
        let text: String =
            (0..5000).map(|i| format!("{{\"Event\":\"SparkListenerTaskEnd\",\"Task ID\":{i}}}\n")).collect();
        writer.write_all(text.as_bytes()).unwrap();
        writer.flush().unwrap();
        writer.write_all(b"\x00\x01\x02 incompressible tail").unwrap();
        let stream = writer.finish().unwrap();
        assert!(stream.len() < text.len(), "compressed");
        let mut expected = text.into_bytes();
        expected.extend_from_slice(b"\x00\x01\x02 incompressible tail");
        assert_eq!(read(&stream), expected);
    }
}
