//! Spill files: runs of records a collection wrote to its task's spill directory when it outgrew its
//! execution memory. A run is record frames (`encoding`), grouped by partition when the collection
//! is partitioned (a map task's output), and is read back as a stream holding one frame at a time.
//! A run's file is deleted when the run is dropped; the runner deletes the task's spill directory
//! when the task ends, however it ends.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;

use crate::encoding::{decode_records, read_stored, FrameCodec, RawFrame};
use crate::error::TaskError;

/// Buffer of a spill file's writer and readers (Spark's `spark.shuffle.file.buffer` is 32k; a frame is
/// larger, so a bigger buffer saves nothing).
const FILE_BUFFER: usize = 64 << 10;

static NEXT_RUN: AtomicU64 = AtomicU64::new(0);

/// Writes one run.
pub struct RunWriter {
    out: BufWriter<File>,
    path: PathBuf,
    codec: FrameCodec,
    scratch: Vec<u8>,
    frames_per_partition: Vec<u32>,
    disk_bytes: u64,
}

impl RunWriter {
    /// A new run file in `dir` (created if missing).
    pub fn create(dir: &Path, codec: FrameCodec) -> io::Result<RunWriter> {
        fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        let path = dir.join(format!("spill_{}_{}", std::process::id(), NEXT_RUN.fetch_add(1, Ordering::Relaxed)));
        let file = File::create(&path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(FILE_BUFFER, file),
            path,
            codec,
            scratch: Vec::new(),
            frames_per_partition: Vec::new(),
            disk_bytes: 0,
        })
    }

    /// Appends a frame (bincode bytes) to `partition`'s records; partitions come in increasing order.
    pub fn write_frame(&mut self, partition: usize, raw: &[u8]) -> io::Result<()> {
        if partition + 1 < self.frames_per_partition.len() {
            return Err(io::Error::other(format!(
                "a spill run got partition {partition} after partition {}",
                self.frames_per_partition.len() - 1
            )));
        }
        self.frames_per_partition.resize(partition + 1, 0);
        self.frames_per_partition[partition] += 1;
        let [head, tail] = self.codec.encode(raw, &mut self.scratch)?;
        self.out.write_all(head)?;
        self.out.write_all(tail)?;
        self.disk_bytes += (head.len() + tail.len()) as u64;
        Ok(())
    }

    /// Flushes the run to disk.
    pub fn finish(mut self) -> io::Result<Run> {
        self.out.flush()?;
        let path = std::mem::take(&mut self.path);
        Ok(Run {
            path,
            codec: self.codec,
            frames_per_partition: std::mem::take(&mut self.frames_per_partition),
            disk_bytes: self.disk_bytes,
        })
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        // Not finished (an error on the way): the partial file goes.
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A finished run on disk.
#[derive(Debug)]
pub struct Run {
    path: PathBuf,
    codec: FrameCodec,
    frames_per_partition: Vec<u32>,
    disk_bytes: u64,
}

impl Run {
    /// Bytes on disk (Spark's `diskBytesSpilled`).
    pub fn disk_bytes(&self) -> u64 {
        self.disk_bytes
    }

    pub fn codec(&self) -> FrameCodec {
        self.codec
    }

    /// Reads the run from its start.
    pub fn open(&self) -> io::Result<RunReader> {
        let file =
            File::open(&self.path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        Ok(RunReader {
            file: BufReader::with_capacity(FILE_BUFFER, file),
            codec: self.codec,
            frames_per_partition: self.frames_per_partition.clone(),
            partition: 0,
            read_in_partition: 0,
        })
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Reads a run's frames partition by partition, in increasing order.
pub struct RunReader {
    file: BufReader<File>,
    codec: FrameCodec,
    frames_per_partition: Vec<u32>,
    partition: usize,
    read_in_partition: u32,
}

impl RunReader {
    pub fn codec(&self) -> FrameCodec {
        self.codec
    }

    fn frames_in(&self, partition: usize) -> u32 {
        self.frames_per_partition.get(partition).copied().unwrap_or(0)
    }

    /// The next frame of `partition` as stored (payload only); `None` when it has no more. Frames of
    /// earlier partitions not read yet are skipped.
    pub fn next_stored(&mut self, partition: usize) -> io::Result<Option<Vec<u8>>> {
        if partition < self.partition {
            return Err(io::Error::other(format!(
                "a spill run was asked for partition {partition} after partition {}",
                self.partition
            )));
        }
        while self.partition < partition {
            for _ in self.read_in_partition..self.frames_in(self.partition) {
                self.read_payload()?;
            }
            self.partition += 1;
            self.read_in_partition = 0;
        }
        if self.read_in_partition >= self.frames_in(partition) {
            return Ok(None);
        }
        self.read_in_partition += 1;
        self.read_payload().map(Some)
    }

    fn read_payload(&mut self) -> io::Result<Vec<u8>> {
        read_stored(&mut self.file)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "a spill run ended before its last frame"))
    }

    /// The next frame of `partition`, decoded to its bincode bytes.
    pub fn next_frame(&mut self, partition: usize) -> io::Result<Option<RawFrame>> {
        match self.next_stored(partition)? {
            Some(payload) => self.codec.decode(payload).map(Some),
            None => Ok(None),
        }
    }
}

/// A run's records, one partition at a time, one frame in memory.
pub struct RunRecords<R> {
    reader: RunReader,
    partition: usize,
    current: std::vec::IntoIter<R>,
}

impl<R: DeserializeOwned> RunRecords<R> {
    pub fn new(reader: RunReader) -> RunRecords<R> {
        RunRecords { reader, partition: 0, current: Vec::new().into_iter() }
    }

    /// Moves on to `partition` (the rest of the current one is skipped).
    pub fn start_partition(&mut self, partition: usize) {
        self.partition = partition;
        self.current = Vec::new().into_iter();
    }

    /// The next record of the current partition.
    pub fn next_record(&mut self) -> Result<Option<R>, TaskError> {
        loop {
            if let Some(r) = self.current.next() {
                return Ok(Some(r));
            }
            match self.reader.next_frame(self.partition).map_err(spill_read_error)? {
                Some(raw) => self.current = decode_records::<R>(&raw)?.into_iter(),
                None => return Ok(None),
            }
        }
    }

    /// The rest of the current partition's current frame and then the next frames, a frame at a time.
    pub fn next_batch(&mut self) -> Result<Option<Vec<R>>, TaskError> {
        let rest: Vec<R> = std::mem::replace(&mut self.current, Vec::new().into_iter()).collect();
        if !rest.is_empty() {
            return Ok(Some(rest));
        }
        match self.reader.next_frame(self.partition).map_err(spill_read_error)? {
            Some(raw) => Ok(Some(decode_records::<R>(&raw)?)),
            None => Ok(None),
        }
    }
}

pub(crate) fn spill_read_error(e: io::Error) -> TaskError {
    TaskError::failed(format!("cannot read a spill file back: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::tests::frame;

    #[test]
    fn a_partitioned_run_reads_back_partition_by_partition_and_its_file_goes_with_it() {
        for compress in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let spill_dir = dir.path().join("spill/task-1");
            let mut w = RunWriter::create(&spill_dir, FrameCodec::new(compress)).unwrap();
            w.write_frame(0, &frame(&[1, 2])).unwrap();
            w.write_frame(0, &frame(&[3])).unwrap();
            w.write_frame(2, &frame(&[20, 21])).unwrap();
            w.write_frame(3, &frame(&[30])).unwrap();
            assert!(w.write_frame(1, &frame(&[10])).is_err(), "partitions only increase");
            let run = w.finish().unwrap();
            assert_eq!(run.disk_bytes(), fs::metadata(&run.path).unwrap().len());
            let mut records = RunRecords::<u64>::new(run.open().unwrap());
            let mut read = |p: usize| {
                records.start_partition(p);
                let mut got = Vec::new();
                while let Some(r) = records.next_record().unwrap() {
                    got.push(r);
                }
                got
            };
            assert_eq!(read(0), vec![1, 2, 3]);
            assert_eq!(read(1), Vec::<u64>::new());
            assert_eq!(read(3), vec![30], "partition 2 is skipped");
            assert_eq!(read(4), Vec::<u64>::new());
            let mut reader = run.open().unwrap();
            assert_eq!(reader.next_frame(2).unwrap().unwrap().to_vec(), frame(&[20, 21]));
            assert!(reader.next_stored(1).is_err(), "no going back");
            let path = run.path.clone();
            drop(run);
            assert!(!path.exists());
            assert_eq!(fs::read_dir(&spill_dir).unwrap().count(), 0);
        }
    }

    #[test]
    fn batches_come_a_frame_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RunWriter::create(dir.path(), FrameCodec::new(true)).unwrap();
        w.write_frame(0, &frame(&[1, 2, 3])).unwrap();
        w.write_frame(0, &frame(&[4])).unwrap();
        let run = w.finish().unwrap();
        let mut records = RunRecords::<u64>::new(run.open().unwrap());
        assert_eq!(records.next_record().unwrap(), Some(1));
        assert_eq!(records.next_batch().unwrap(), Some(vec![2, 3]));
        assert_eq!(records.next_batch().unwrap(), Some(vec![4]));
        assert_eq!(records.next_batch().unwrap(), None);
    }

    #[test]
    fn an_unfinished_run_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RunWriter::create(dir.path(), FrameCodec::new(false)).unwrap();
        w.write_frame(0, &frame(&[1])).unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
