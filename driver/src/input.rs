//! Input splits of text files: a path is a file, a directory (its visible files) or a glob; each
//! file is cut into splits of at most 32 MiB (Hadoop's local block size) and at least as many as the
//! minimum asks for, as Hadoop's `FileInputFormat` does; gzip files are one split each.

use std::path::{Path, PathBuf};

use super::error::SparkError;
use super::lineage::TextSplit;

/// Hadoop's block size for the local file system.
const BLOCK_SIZE: u64 = 32 << 20;

/// The files a path names, in name order.
pub(crate) fn files(path: &str) -> Result<Vec<PathBuf>, SparkError> {
    let p = Path::new(path);
    let mut files = if p.is_dir() {
        let entries = std::fs::read_dir(p).map_err(|e| SparkError::Io(format!("cannot list {path}: {e}")))?;
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|f| f.is_file())
            .filter(|f| f.file_name().is_some_and(|n| !n.to_string_lossy().starts_with(['.', '_'])))
            .collect::<Vec<_>>()
    } else if p.is_file() {
        vec![p.to_path_buf()]
    } else if path.contains(['*', '?', '[']) {
        let matches = glob::glob(path).map_err(|e| SparkError::Io(format!("bad glob {path}: {e}")))?;
        matches.flatten().filter(|f| f.is_file()).collect()
    } else {
        return Err(SparkError::Io(format!("Input path does not exist: {path}")));
    };
    if files.is_empty() && path.contains(['*', '?', '[']) {
        return Err(SparkError::Io(format!("Input Pattern {path} matches 0 files")));
    }
    files.sort();
    Ok(files)
}

/// The splits of every file of `path`.
pub(crate) fn splits(path: &str, min_partitions: usize) -> Result<Vec<TextSplit>, SparkError> {
    let files = files(path)?;
    let mut sized = Vec::with_capacity(files.len());
    for f in files {
        let len = std::fs::metadata(&f).map_err(|e| SparkError::Io(format!("{}: {e}", f.display())))?.len();
        sized.push((f, len));
    }
    let total: u64 = sized.iter().map(|(_, l)| l).sum();
    let goal = total / min_partitions.max(1) as u64;
    let split_size = goal.clamp(1, BLOCK_SIZE);
    let mut out = Vec::new();
    for (f, len) in sized {
        let path = f.to_string_lossy().into_owned();
        let gzip = path.ends_with(".gz");
        if gzip || len == 0 {
            out.push(TextSplit { path, start: 0, end: len, gzip });
            continue;
        }
        let mut start = 0;
        // Hadoop's slop: the last split may be up to 10% larger rather than leave a tiny one.
        while (len - start) as f64 / split_size as f64 > 1.1 {
            out.push(TextSplit { path: path.clone(), start, end: start + split_size, gzip: false });
            start += split_size;
        }
        out.push(TextSplit { path, start, end: len, gzip: false });
    }
    Ok(out)
}
