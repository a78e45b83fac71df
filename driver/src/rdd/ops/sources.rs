//! Source operators: a partition's records from the task's environment (a parallelized slice, a text split).

use super::*;

pub(crate) fn source_vec<T: Data>(ctx: &TaskCtx, env: &[u8], _: Inputs) -> Result<Batches, TaskError> {
    let v: Vec<T> = decode(env, "parallelize")?;
    ctx.metrics(|m| m.input_records += v.len() as u64);
    Ok(batches_of(v))
}

pub(crate) fn source_text(ctx: &TaskCtx, env: &[u8], _: Inputs) -> Result<Batches, TaskError> {
    let split: TextSplit = decode(env, "textFile")?;
    let file = std::fs::File::open(&split.path)
        .map_err(|e| TaskError::failed(format!("Input path does not exist or cannot be read: {}: {e}", split.path)))?;
    let reader: Box<dyn BufRead> = if split.gzip {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(file)))
    } else {
        let mut file = file;
        file.seek(SeekFrom::Start(split.start))?;
        Box::new(BufReader::with_capacity(1 << 20, file))
    };
    Ok(Box::new(LineReader {
        reader,
        pos: split.start,
        end: split.end,
        skip_first: split.start != 0 && !split.gzip,
        gzip: split.gzip,
        ctx: ctx.clone(),
        done: false,
    }))
}

struct LineReader {
    reader: Box<dyn BufRead>,
    pos: u64,
    end: u64,
    skip_first: bool,
    gzip: bool,
    ctx: TaskCtx,
    done: bool,
}

impl Iterator for LineReader {
    type Item = Result<Batch, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut lines: Vec<String> = Vec::with_capacity(BATCH_SIZE);
        let mut buf = Vec::new();
        let mut bytes = 0u64;
        if self.skip_first {
            self.skip_first = false;
            match read_line(&mut *self.reader, &mut buf) {
                Ok(n) => self.pos += n as u64,
                Err(e) => return Some(Err(e.into())),
            }
            buf.clear();
        }
        while lines.len() < BATCH_SIZE {
            if !self.gzip && self.pos > self.end {
                self.done = true;
                break;
            }
            buf.clear();
            let n = match read_line(&mut *self.reader, &mut buf) {
                Ok(n) => n,
                Err(e) => return Some(Err(e.into())),
            };
            if n == 0 {
                self.done = true;
                break;
            }
            self.pos += n as u64;
            bytes += n as u64;
            let line = match String::from_utf8(std::mem::take(&mut buf)) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
            lines.push(line);
        }
        let count = lines.len() as u64;
        self.ctx.metrics(|m| {
            m.input_bytes += bytes;
            m.input_records += count;
        });
        if lines.is_empty() {
            None
        } else {
            Some(Ok(batch(lines)))
        }
    }
}

/// Reads one line into `buf`, without its terminator, as Hadoop's `LineReader` does: a line ends at
/// `\n`, `\r` or `\r\n`. Returns the bytes consumed, terminator included; 0 at the end of the input.
fn read_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(consumed);
        }
        let Some(at) = memchr::memchr2(b'\n', b'\r', available) else {
            let n = available.len();
            buf.extend_from_slice(available);
            reader.consume(n);
            consumed += n;
            continue;
        };
        if buf.is_empty() {
            // The whole line is in the buffer (the common case): one allocation of its exact size.
            *buf = available[..at].to_vec();
        } else {
            buf.extend_from_slice(&available[..at]);
        }
        let carriage_return = available[at] == b'\r';
        reader.consume(at + 1);
        consumed += at + 1;
        // A `\r` then `\n` is one terminator, even when the `\n` is in the next buffer.
        if carriage_return && reader.fill_buf()?.first() == Some(&b'\n') {
            reader.consume(1);
            consumed += 1;
        }
        return Ok(consumed);
    }
}

/// Concatenates its inputs (union, coalesce).
pub(crate) fn concat(ctx: &TaskCtx, _: &[u8], inputs: Inputs) -> Result<Batches, TaskError> {
    let ctx = ctx.clone();
    let mut inputs = inputs;
    let n = inputs.len();
    let mut i = 0;
    let mut current: Option<Batches> = None;
    Ok(Box::new(std::iter::from_fn(move || loop {
        if let Some(it) = current.as_mut() {
            if let Some(b) = it.next() {
                return Some(b);
            }
            current = None;
        }
        if i >= n {
            return None;
        }
        match inputs.build(&ctx, i) {
            Ok(it) => current = Some(it),
            Err(e) => {
                i = n;
                return Some(Err(e));
            }
        }
        i += 1;
    })))
}
