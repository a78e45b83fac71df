//! Shuffle output on local disk, in Spark's layout: one map task writes every reduce partition's block
//! into `shuffle_<shuffleId>_<mapId>_0.data`, and `shuffle_<shuffleId>_<mapId>_0.index` holds the
//! `n + 1` big-endian offsets of the `n` blocks. Files appear atomically (written aside, then renamed),
//! so a reader never sees half an output and a retried map task simply replaces it.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The shuffle files of one executor.
#[derive(Debug, Clone)]
pub struct ShuffleFiles {
    dir: PathBuf,
    compress: bool,
}

impl ShuffleFiles {
    /// Shuffle files under `dir` (created if missing); `compress` is `spark.shuffle.compress` (lz4).
    pub fn new(dir: PathBuf, compress: bool) -> std::io::Result<ShuffleFiles> {
        fs::create_dir_all(&dir)?;
        Ok(ShuffleFiles { dir, compress })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_path(&self, shuffle_id: u32, map_index: u32) -> PathBuf {
        self.dir.join(format!("shuffle_{shuffle_id}_{map_index}_0.data"))
    }

    fn index_path(&self, shuffle_id: u32, map_index: u32) -> PathBuf {
        self.dir.join(format!("shuffle_{shuffle_id}_{map_index}_0.index"))
    }

    /// Writes one map task's blocks (one per reduce partition, in order); returns each block's
    /// stored size, as the map status reports it.
    pub fn write(
        &self,
        shuffle_id: u32,
        map_index: u32,
        task_id: u64,
        blocks: &[Vec<u8>],
    ) -> std::io::Result<Vec<u64>> {
        let data = self.data_path(shuffle_id, map_index);
        let index = self.index_path(shuffle_id, map_index);
        let data_tmp = data.with_extension(format!("data.{task_id}.tmp"));
        let index_tmp = index.with_extension(format!("index.{task_id}.tmp"));
        let mut sizes = Vec::with_capacity(blocks.len());
        let mut offsets = Vec::with_capacity(blocks.len() + 1);
        let mut offset = 0u64;
        offsets.push(0u64);
        {
            let mut out = BufWriter::with_capacity(1 << 20, File::create(&data_tmp)?);
            for block in blocks {
                let stored = if block.is_empty() {
                    0
                } else if self.compress {
                    let packed = lz4_flex::block::compress_prepend_size(block);
                    out.write_all(&packed)?;
                    packed.len() as u64
                } else {
                    out.write_all(block)?;
                    block.len() as u64
                };
                offset += stored;
                sizes.push(stored);
                offsets.push(offset);
            }
            out.flush()?;
        }
        let mut bytes = Vec::with_capacity(offsets.len() * 8);
        for o in &offsets {
            bytes.extend_from_slice(&o.to_be_bytes());
        }
        fs::write(&index_tmp, bytes)?;
        fs::rename(&data_tmp, &data)?;
        fs::rename(&index_tmp, &index)?;
        Ok(sizes)
    }

    /// The stored bytes of one block, as they travel to a reducer on another executor.
    pub fn read_stored(&self, shuffle_id: u32, map_index: u32, reduce: u32) -> std::io::Result<Vec<u8>> {
        let index_path = self.index_path(shuffle_id, map_index);
        let mut index = File::open(&index_path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", index_path.display())))?;
        let mut pair = [0u8; 16];
        index.seek(SeekFrom::Start(u64::from(reduce) * 8))?;
        index.read_exact(&mut pair).map_err(|e| {
            std::io::Error::new(e.kind(), format!("{}: no block for reduce partition {reduce}", index_path.display()))
        })?;
        let start = u64::from_be_bytes(pair[..8].try_into().expect("8 bytes"));
        let end = u64::from_be_bytes(pair[8..].try_into().expect("8 bytes"));
        let data_path = self.data_path(shuffle_id, map_index);
        let mut data = File::open(&data_path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", data_path.display())))?;
        data.seek(SeekFrom::Start(start))?;
        let mut block = vec![0u8; (end - start) as usize];
        data.read_exact(&mut block)?;
        Ok(block)
    }

    /// Turns stored bytes back into the serialized block.
    pub fn unpack(&self, stored: Vec<u8>) -> std::io::Result<Vec<u8>> {
        if stored.is_empty() || !self.compress {
            return Ok(stored);
        }
        lz4_flex::block::decompress_size_prepended(&stored)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("corrupt shuffle block: {e}")))
    }

    /// Deletes every file of a shuffle.
    pub fn remove(&self, shuffle_id: u32) {
        let prefix = format!("shuffle_{shuffle_id}_");
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// Spark's name of a shuffle block.
pub fn block_name(shuffle_id: u32, map_index: u32, reduce: u32) -> String {
    format!("shuffle_{shuffle_id}_{map_index}_{reduce}")
}

/// Parses `shuffle_<s>_<m>_<r>`.
pub fn parse_block_name(name: &str) -> Option<(u32, u32, u32)> {
    let mut parts = name.strip_prefix("shuffle_")?.split('_');
    let s = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let r = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((s, m, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_with_and_without_compression() {
        for compress in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let files = ShuffleFiles::new(dir.path().join("s"), compress).unwrap();
            let blocks = vec![b"alpha".repeat(100), Vec::new(), b"c".to_vec()];
            let sizes = files.write(3, 1, 9, &blocks).unwrap();
            assert_eq!(sizes[1], 0);
            for (r, block) in blocks.iter().enumerate() {
                let stored = files.read_stored(3, 1, r as u32).unwrap();
                assert_eq!(stored.len() as u64, sizes[r]);
                assert_eq!(&files.unpack(stored).unwrap(), block);
            }
            let index = fs::read(dir.path().join("s/shuffle_3_1_0.index")).unwrap();
            assert_eq!(index.len(), 4 * 8, "n + 1 offsets");
            assert!(files.read_stored(3, 1, 3).is_err());
            files.remove(3);
            let err = files.read_stored(3, 1, 0).unwrap_err().to_string();
            assert!(err.contains("shuffle_3_1_0.index"), "{err}");
        }
    }

    #[test]
    fn block_names_are_sparks() {
        assert_eq!(block_name(0, 12, 3), "shuffle_0_12_3");
        assert_eq!(parse_block_name("shuffle_0_12_3"), Some((0, 12, 3)));
        assert_eq!(parse_block_name("rdd_1_2"), None);
        assert_eq!(parse_block_name("shuffle_1_2_3_4"), None);
    }
}
