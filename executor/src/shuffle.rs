//! Shuffle output on local disk, in Spark's layout: one map task writes every reduce partition's block
//! into `shuffle_<shuffleId>_<mapId>_0.data`, and `shuffle_<shuffleId>_<mapId>_0.index` holds the
//! `n + 1` big-endian offsets of the `n` blocks. A block is a sequence of record frames (`encoding`),
//! lz4-compressed when `spark.shuffle.compress` is on, so a reader takes it a frame at a time. The
//! map task streams its blocks in reduce order through a [`ShuffleWriter`]; files appear atomically
//! (written aside, then renamed), so a reader never sees half an output and a retried map task simply
//! replaces it.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Take, Write};
use std::path::{Path, PathBuf};

use crate::encoding::{read_stored, FrameCodec, RawFrame};
use crate::error::TaskError;
use crate::plan::ShuffleSink;

/// The data file's write buffer: for the small writes only. A frame (up to
/// [`crate::encoding::FRAME_TARGET_BYTES`], usually near it) is larger, so `BufWriter` hands it to
/// the file as it is rather than copying it into the buffer first.
const WRITE_BUFFER: usize = 64 << 10;
/// A block reader's buffer.
const READ_BUFFER: usize = 64 << 10;

/// The shuffle files of one executor.
#[derive(Debug, Clone)]
pub struct ShuffleFiles {
    dir: PathBuf,
    codec: FrameCodec,
}

impl ShuffleFiles {
    /// Shuffle files under `dir` (created if missing); `compress` is `spark.shuffle.compress` (lz4).
    pub fn new(dir: PathBuf, compress: bool) -> io::Result<ShuffleFiles> {
        fs::create_dir_all(&dir)?;
        Ok(ShuffleFiles { dir, codec: FrameCodec::new(compress) })
    }

    /// Another executor's shuffle files on this host, to read (nothing is created).
    pub fn elsewhere(dir: PathBuf, codec: FrameCodec) -> ShuffleFiles {
        ShuffleFiles { dir, codec }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn codec(&self) -> FrameCodec {
        self.codec
    }

    fn data_path(&self, shuffle_id: u32, map_index: u32) -> PathBuf {
        self.dir.join(format!("shuffle_{shuffle_id}_{map_index}_0.data"))
    }

    fn index_path(&self, shuffle_id: u32, map_index: u32) -> PathBuf {
        self.dir.join(format!("shuffle_{shuffle_id}_{map_index}_0.index"))
    }

    /// Starts writing one map task's output of `num_reduce` blocks.
    pub fn writer(
        &self,
        shuffle_id: u32,
        map_index: u32,
        task_id: u64,
        num_reduce: usize,
    ) -> io::Result<ShuffleWriter> {
        let data = self.data_path(shuffle_id, map_index);
        let index = self.index_path(shuffle_id, map_index);
        let data_tmp = data.with_extension(format!("data.{task_id}.tmp"));
        let index_tmp = index.with_extension(format!("index.{task_id}.tmp"));
        let file =
            File::create(&data_tmp).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", data_tmp.display())))?;
        Ok(ShuffleWriter {
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            paths: Some(Paths { data, index, data_tmp, index_tmp }),
            codec: self.codec,
            num_reduce,
            offsets: vec![0],
            written: 0,
            scratch: Vec::new(),
        })
    }

    /// Where one block lies in its data file: the file, positioned at the block, and its length.
    pub fn open_stored(&self, shuffle_id: u32, map_index: u32, reduce: u32) -> io::Result<(File, u64)> {
        let index_path = self.index_path(shuffle_id, map_index);
        let mut index =
            File::open(&index_path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", index_path.display())))?;
        let mut pair = [0u8; 16];
        index.seek(SeekFrom::Start(u64::from(reduce) * 8))?;
        index.read_exact(&mut pair).map_err(|e| {
            io::Error::new(e.kind(), format!("{}: no block for reduce partition {reduce}", index_path.display()))
        })?;
        let start = u64::from_be_bytes(pair[..8].try_into().expect("8 bytes"));
        let end = u64::from_be_bytes(pair[8..].try_into().expect("8 bytes"));
        let data_path = self.data_path(shuffle_id, map_index);
        let mut data =
            File::open(&data_path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", data_path.display())))?;
        data.seek(SeekFrom::Start(start))?;
        Ok((data, end.saturating_sub(start)))
    }

    /// Reads a local block a frame at a time.
    pub fn open_block(&self, shuffle_id: u32, map_index: u32, reduce: u32) -> io::Result<BlockFrames> {
        let (file, len) = self.open_stored(shuffle_id, map_index, reduce)?;
        Ok(BlockFrames { reader: BufReader::with_capacity(READ_BUFFER, file).take(len), codec: self.codec })
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

/// A local block's frames, read as they are needed.
pub struct BlockFrames {
    reader: Take<BufReader<File>>,
    codec: FrameCodec,
}

impl BlockFrames {
    /// The next frame as stored (payload only, without its length), and `None` at the block's end.
    pub fn next_stored(&mut self) -> io::Result<Option<Vec<u8>>> {
        read_stored(&mut self.reader)
    }

    /// The next frame, decoded to its bincode bytes.
    pub fn next_frame(&mut self) -> io::Result<Option<RawFrame>> {
        match self.next_stored()? {
            Some(payload) => self.codec.decode(payload).map(Some),
            None => Ok(None),
        }
    }
}

struct Paths {
    data: PathBuf,
    index: PathBuf,
    data_tmp: PathBuf,
    index_tmp: PathBuf,
}

/// One map task's output as it is written: blocks in increasing reduce order, each any number of
/// frames. Nothing is visible until [`commit`](ShuffleWriter::commit); dropped before, it leaves nothing.
pub struct ShuffleWriter {
    out: BufWriter<File>,
    /// `None` once committed.
    paths: Option<Paths>,
    codec: FrameCodec,
    num_reduce: usize,
    /// Where each block begins, for the blocks begun so far (the last is the one being written).
    offsets: Vec<u64>,
    written: u64,
    scratch: Vec<u8>,
}

impl ShuffleWriter {
    /// Moves on to `reduce`'s block (ending the blocks before it).
    fn seek_block(&mut self, reduce: usize) -> Result<(), TaskError> {
        let current = self.offsets.len() - 1;
        if reduce < current || reduce >= self.num_reduce {
            return Err(TaskError::failed(format!(
                "a shuffle writer wrote to reduce partition {reduce} while at {current} of {}",
                self.num_reduce
            )));
        }
        self.offsets.resize(reduce + 1, self.written);
        Ok(())
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), TaskError> {
        self.out.write_all(bytes).map_err(|e| TaskError::failed(format!("cannot write shuffle output: {e}")))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Ends the output: the index is written and both files renamed into place. Returns each
    /// block's stored size, as the map status reports it.
    pub fn commit(mut self) -> io::Result<Vec<u64>> {
        self.out.flush()?;
        let mut offsets = std::mem::take(&mut self.offsets);
        offsets.resize(self.num_reduce + 1, self.written);
        let mut index = Vec::with_capacity(offsets.len() * 8);
        for o in &offsets {
            index.extend_from_slice(&o.to_be_bytes());
        }
        let paths = self.paths.take().expect("a writer commits once");
        let done = fs::write(&paths.index_tmp, index)
            .and_then(|()| fs::rename(&paths.data_tmp, &paths.data))
            .and_then(|()| fs::rename(&paths.index_tmp, &paths.index));
        if let Err(e) = done {
            let _ = fs::remove_file(&paths.data_tmp);
            let _ = fs::remove_file(&paths.index_tmp);
            return Err(e);
        }
        Ok(offsets.windows(2).map(|w| w[1] - w[0]).collect())
    }
}

impl ShuffleSink for ShuffleWriter {
    fn num_reduce(&self) -> usize {
        self.num_reduce
    }

    fn codec(&self) -> FrameCodec {
        self.codec
    }

    fn write_frame(&mut self, reduce: usize, raw: &[u8]) -> Result<(), TaskError> {
        self.seek_block(reduce)?;
        let mut scratch = std::mem::take(&mut self.scratch);
        let written = match self.codec.encode(raw, &mut scratch) {
            Ok([head, tail]) => self.write_bytes(head).and_then(|()| self.write_bytes(tail)),
            Err(e) => Err(e.into()),
        };
        self.scratch = scratch;
        written
    }

    fn write_stored(&mut self, reduce: usize, payload: &[u8]) -> Result<(), TaskError> {
        self.seek_block(reduce)?;
        let len = u32::try_from(payload.len())
            .map_err(|_| TaskError::failed(format!("a stored frame of {} bytes is too big", payload.len())))?;
        self.write_bytes(&len.to_be_bytes())?;
        self.write_bytes(payload)
    }
}

impl Drop for ShuffleWriter {
    fn drop(&mut self) {
        if let Some(paths) = &self.paths {
            let _ = fs::remove_file(&paths.data_tmp);
            let _ = fs::remove_file(&paths.index_tmp);
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
    use crate::encoding::tests::frame;

    fn read_block(files: &ShuffleFiles, reduce: u32) -> Vec<Vec<u8>> {
        let mut block = files.open_block(3, 1, reduce).unwrap();
        let mut frames = Vec::new();
        while let Some(f) = block.next_frame().unwrap() {
            frames.push(f.to_vec());
        }
        frames
    }

    #[test]
    fn blocks_of_several_frames_round_trip_with_and_without_compression() {
        for compress in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let files = ShuffleFiles::new(dir.path().join("s"), compress).unwrap();
            let mut w = files.writer(3, 1, 9, 4).unwrap();
            w.write_frame(0, &frame(&[1; 100])).unwrap();
            w.write_frame(0, &frame(&[2, 3])).unwrap();
            w.write_frame(2, &frame(&[4])).unwrap();
            assert!(w.write_frame(1, &frame(&[5])).is_err(), "blocks come in reduce order");
            assert!(w.write_frame(4, &frame(&[5])).is_err(), "there are 4 reduce partitions");
            let sizes = w.commit().unwrap();
            assert_eq!(sizes.len(), 4);
            assert_eq!((sizes[1], sizes[3]), (0, 0), "blocks never written are empty");
            assert_eq!(read_block(&files, 0), vec![frame(&[1; 100]), frame(&[2, 3])]);
            assert_eq!(read_block(&files, 1), Vec::<Vec<u8>>::new());
            assert_eq!(read_block(&files, 2), vec![frame(&[4])]);
            for (r, size) in sizes.iter().enumerate() {
                assert_eq!(files.open_stored(3, 1, r as u32).unwrap().1, *size);
            }
            let index = fs::read(dir.path().join("s/shuffle_3_1_0.index")).unwrap();
            assert_eq!(index.len(), 5 * 8, "n + 1 offsets");
            assert!(files.open_stored(3, 1, 4).is_err());
            assert_eq!(fs::read_dir(dir.path().join("s")).unwrap().count(), 2, "no temporary file left");
            files.remove(3);
            let err = files.open_block(3, 1, 0).err().unwrap().to_string();
            assert!(err.contains("shuffle_3_1_0.index"), "{err}");
        }
    }

    #[test]
    fn stored_frames_are_copied_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let files = ShuffleFiles::new(dir.path().to_owned(), true).unwrap();
        let mut stored = Vec::new();
        files.codec().encode_into(&frame(&[7, 8]), &mut stored).unwrap();
        let mut w = files.writer(3, 1, 1, 2).unwrap();
        w.write_stored(1, &stored[4..]).unwrap();
        w.commit().unwrap();
        assert_eq!(read_block(&files, 1), vec![frame(&[7, 8])]);
    }

    #[test]
    fn an_uncommitted_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = ShuffleFiles::new(dir.path().to_owned(), false).unwrap();
        let mut w = files.writer(0, 0, 5, 2).unwrap();
        w.write_frame(0, &frame(&[1])).unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn block_names_are_sparks() {
        assert_eq!(block_name(0, 12, 3), "shuffle_0_12_3");
        assert_eq!(parse_block_name("shuffle_0_12_3"), Some((0, 12, 3)));
        assert_eq!(parse_block_name("rdd_1_2"), None);
        assert_eq!(parse_block_name("shuffle_1_2_3_4"), None);
    }
}
