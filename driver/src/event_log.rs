//! The event log on disk, laid out as Spark 4 lays it out so a Spark History Server pointed at the
//! directory (`spark.history.fs.logDirectory`) lists and replays it:
//!
//! - rolling (`spark.eventLog.rolling.enabled`, Spark 4's default): a directory
//!   `eventlog_v2_<app>[_<attempt>]/` holding `events_<n>_<app>[_<attempt>][.zstd]` (a new file once
//!   one passes `spark.eventLog.rolling.maxFileSize`) and an empty marker `appstatus_<…>.inprogress`,
//!   renamed to `appstatus_<…>` when the application ends;
//! - single file: `<app>[_<attempt>][.zstd|.lz4].inprogress`, renamed without `.inprogress` at the end.
//!
//! Compressed as Spark compresses: zstd frames, or Spark's lz4 block stream (`lz4_block.rs`).
//!
//! Files are 0770 as Spark makes them. Lines are flushed at the events a History Server polls for
//! (job and stage boundaries, executors, the application's start and end), so an application that
//! is still running shows its progress. A write that fails is logged once and the log stops: the
//! application goes on, as Spark's does.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::conf::{EventLogCodec, EventLogSettings};
use crate::events::SparkEvent;
use crate::lz4_block::Lz4BlockWriter;

const FILE_MODE: u32 = 0o770;
const BUFFER_BYTES: usize = 100 * 1024;
/// zstd's level as Spark's `spark.io.compression.zstd.level` default.
const ZSTD_LEVEL: i32 = 1;

enum Sink {
    Plain(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
    Lz4(Lz4BlockWriter<BufWriter<File>>),
}

impl Sink {
    fn open(path: &Path, codec: Option<EventLogCodec>) -> std::io::Result<Sink> {
        let file = OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path)?;
        let buffered = BufWriter::with_capacity(BUFFER_BYTES, file);
        Ok(match codec {
            None => Sink::Plain(buffered),
            Some(EventLogCodec::Zstd) => Sink::Zstd(zstd::stream::write::Encoder::new(buffered, ZSTD_LEVEL)?),
            Some(EventLogCodec::Lz4) => Sink::Lz4(Lz4BlockWriter::new(buffered)),
        })
    }

    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let out: &mut dyn Write = match self {
            Sink::Plain(w) => w,
            Sink::Zstd(w) => w,
            Sink::Lz4(w) => w,
        };
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")
    }

    /// Everything written so far reaches the file (a zstd block ends here, so readers decode it).
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
            Sink::Lz4(w) => w.flush(),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Zstd(w) => w.finish()?.flush(),
            Sink::Lz4(w) => w.finish()?.flush(),
        }
    }
}

enum Layout {
    Single { inprogress: PathBuf, done: PathBuf },
    Rolling { dir: PathBuf, name: String, index: u32, max_file_bytes: u64 },
}

/// An open event log.
pub(crate) struct EventLog {
    layout: Layout,
    codec: Option<EventLogCodec>,
    sink: Option<Sink>,
    /// Bytes of lines in the current file, before compression.
    written: u64,
    /// Where the log is, for messages.
    shown: PathBuf,
}

/// `<app>` or `<app>_<attempt>`, as Spark names an application's logs.
fn log_name(app_id: &str, attempt: Option<&str>) -> String {
    let sanitize = |s: &str| s.replace(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)), "_");
    match attempt {
        Some(attempt) => format!("{}_{}", sanitize(app_id), sanitize(attempt)),
        None => sanitize(app_id),
    }
}

fn with_codec(name: String, codec: Option<EventLogCodec>) -> String {
    match codec {
        Some(codec) => format!("{name}.{}", codec.short_name()),
        None => name,
    }
}

impl EventLog {
    /// Creates the application's log under `settings.dir`; an existing log of the same application
    /// is an error unless `spark.eventLog.overwrite`.
    pub(crate) fn start(settings: &EventLogSettings, app_id: &str, attempt: Option<&str>) -> Result<EventLog, String> {
        let dir = &settings.dir;
        if !dir.is_dir() {
            return Err(format!(
                "spark.eventLog.dir {} is not a directory: create it (the History Server reads the same one)",
                dir.display()
            ));
        }
        let name = log_name(app_id, attempt);
        let cannot = |path: &Path, e: std::io::Error| format!("cannot write the event log {}: {e}", path.display());
        let (layout, first) = if settings.rolling {
            let log_dir = dir.join(format!("eventlog_v2_{name}"));
            if log_dir.exists() {
                if !settings.overwrite {
                    return Err(format!("Target log directory already exists ({})", log_dir.display()));
                }
                fs::remove_dir_all(&log_dir).map_err(|e| cannot(&log_dir, e))?;
            }
            fs::DirBuilder::new().mode(FILE_MODE).create(&log_dir).map_err(|e| cannot(&log_dir, e))?;
            let status = log_dir.join(format!("appstatus_{name}.inprogress"));
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&status)
                .map_err(|e| cannot(&status, e))?;
            let first = log_dir.join(with_codec(format!("events_1_{name}"), settings.codec));
            (Layout::Rolling { dir: log_dir, name, index: 1, max_file_bytes: settings.max_file_bytes }, first)
        } else {
            let done = dir.join(with_codec(name, settings.codec));
            let inprogress = PathBuf::from(format!("{}.inprogress", done.display()));
            for path in [&done, &inprogress] {
                if path.exists() {
                    if !settings.overwrite {
                        return Err(format!("Target log file already exists ({})", path.display()));
                    }
                    fs::remove_file(path).map_err(|e| cannot(path, e))?;
                }
            }
            (Layout::Single { inprogress: inprogress.clone(), done }, inprogress)
        };
        let sink = Sink::open(&first, settings.codec).map_err(|e| cannot(&first, e))?;
        let shown = match &layout {
            Layout::Rolling { dir, .. } => dir.clone(),
            Layout::Single { done, .. } => done.clone(),
        };
        tracing::info!("Logging events to file:{}", shown.display());
        Ok(EventLog { layout, codec: settings.codec, sink: Some(sink), written: 0, shown })
    }

    /// Appends `event`; `flush` makes it visible to readers now.
    pub(crate) fn post(&mut self, event: &SparkEvent, flush: bool) {
        let line = event.to_line();
        if let Err(e) = self.write(&line, flush) {
            tracing::error!("the event log {} stopped: {e}", self.shown.display());
            self.sink = None;
        }
    }

    fn write(&mut self, line: &str, flush: bool) -> std::io::Result<()> {
        self.roll_if_full()?;
        let Some(sink) = self.sink.as_mut() else { return Ok(()) };
        sink.write_line(line)?;
        self.written += line.len() as u64 + 1;
        if flush {
            sink.flush()?;
        }
        Ok(())
    }

    /// In the rolling layout, a file past the size limit is closed and the next one opened.
    fn roll_if_full(&mut self) -> std::io::Result<()> {
        let Layout::Rolling { dir, name, index, max_file_bytes } = &mut self.layout else { return Ok(()) };
        if self.written < *max_file_bytes || self.sink.is_none() {
            return Ok(());
        }
        if let Some(sink) = self.sink.take() {
            sink.finish()?;
        }
        *index += 1;
        let next = dir.join(with_codec(format!("events_{index}_{name}"), self.codec));
        self.sink = Some(Sink::open(&next, self.codec)?);
        self.written = 0;
        Ok(())
    }

    /// Ends the log: the last bytes written and the log marked complete.
    pub(crate) fn stop(mut self) {
        let Some(sink) = self.sink.take() else { return };
        let done = sink.finish().and_then(|()| match &self.layout {
            Layout::Single { inprogress, done } => fs::rename(inprogress, done),
            Layout::Rolling { dir, name, .. } => {
                fs::rename(dir.join(format!("appstatus_{name}.inprogress")), dir.join(format!("appstatus_{name}")))
            }
        });
        if let Err(e) = done {
            tracing::error!("could not complete the event log {}: {e}", self.shown.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn settings(dir: &Path, codec: Option<EventLogCodec>, rolling: bool) -> EventLogSettings {
        EventLogSettings { dir: dir.to_owned(), codec, rolling, max_file_bytes: 10 * 1024 * 1024, overwrite: false }
    }

    fn events() -> Vec<SparkEvent> {
        vec![
            SparkEvent::LogStart,
            SparkEvent::JobEnd { job_id: 0, time: 2, failure: None },
            SparkEvent::ApplicationEnd { time: 3, exit_code: 0 },
        ]
    }

    #[test]
    fn a_single_file_is_in_progress_until_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::start(&settings(dir.path(), None, false), "application_1_0001", Some("1")).unwrap();
        let inprogress = dir.path().join("application_1_0001_1.inprogress");
        for e in events() {
            log.post(&e, true);
        }
        assert_eq!(fs::read_to_string(&inprogress).unwrap().lines().count(), 3);
        log.stop();
        let text = fs::read_to_string(dir.path().join("application_1_0001_1")).unwrap();
        assert!(text.starts_with("{\"Event\":\"SparkListenerLogStart\""), "{text}");
        assert!(!inprogress.exists());
        let again = EventLog::start(&settings(dir.path(), None, false), "application_1_0001", Some("1"));
        assert!(again.err().unwrap().starts_with("Target log file already exists ("));
    }

    #[test]
    fn a_rolling_zstd_log_is_readable_while_it_runs_and_marked_complete_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut log =
            EventLog::start(&settings(dir.path(), Some(EventLogCodec::Zstd), true), "local-17", None).unwrap();
        let log_dir = dir.path().join("eventlog_v2_local-17");
        let events_file = log_dir.join("events_1_local-17.zstd");
        log.post(&SparkEvent::LogStart, true);
        // A flushed block decodes before the frame ends.
        let mut decoded = String::new();
        let partial = fs::read(&events_file).unwrap();
        let mut decoder = zstd::stream::read::Decoder::new(&partial[..]).unwrap();
        let _ = decoder.read_to_string(&mut decoded);
        assert!(decoded.starts_with("{\"Event\":\"SparkListenerLogStart\""), "{decoded:?}");
        assert!(log_dir.join("appstatus_local-17.inprogress").exists());
        log.post(&SparkEvent::ApplicationEnd { time: 3, exit_code: 0 }, true);
        log.stop();
        assert!(log_dir.join("appstatus_local-17").exists());
        let all = zstd::stream::decode_all(File::open(&events_file).unwrap()).unwrap();
        assert_eq!(String::from_utf8(all).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_full_file_rolls_to_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path(), None, true);
        s.max_file_bytes = 10;
        let mut log = EventLog::start(&s, "app", None).unwrap();
        for e in events() {
            log.post(&e, false);
        }
        log.stop();
        let log_dir = dir.path().join("eventlog_v2_app");
        for n in 1..=3 {
            let text = fs::read_to_string(log_dir.join(format!("events_{n}_app"))).unwrap();
            assert_eq!(text.lines().count(), 1, "file {n}: {text}");
        }
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err =
            EventLog::start(&settings(Path::new("/nonexistent/weft-events"), None, true), "a", None).err().unwrap();
        assert!(err.starts_with("spark.eventLog.dir /nonexistent/weft-events is not a directory"), "{err}");
    }
}
