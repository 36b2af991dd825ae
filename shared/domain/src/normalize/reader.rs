//! Normalizing a whole input (a file, stdin): the items [`input`] finds are normalized and
//! written as AuditEvent NDJSON, each quarantined record as one line (position and reason) on the
//! problems stream. NDJSON is read in batches of lines of bounded size; a batch is normalized
//! into its own buffers (each line by the typed fast path, [`typed::Writer`], or else the
//! `Value` path) and written whole, so [`normalize_file`] can spread the batches over threads and
//! still write them in input order, with memory bounded by the batches in flight, not the input.

use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::input::{self, Item, Start};
use super::{Context, accepts_envelope, normalize, normalize_envelope, typed};
use crate::model::Source;

/// Counts from [`normalize_reader`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub normalized: u64,
    pub quarantined: u64,
}

/// Why [`normalize_reader`] stopped before the end of its input.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "{position}: this is an Azure Monitor diagnostic-settings record; for {for_source} auditlake reads Graph list responses, JSON arrays, single records and NDJSON (the diagnostic-settings export of this source uses a different schema)"
    )]
    EnvelopeUnsupported {
        position: String,
        for_source: Source,
    },
}

/// A batch is cut at the last line end of its buffer once it holds this many bytes of input:
/// large enough that handing it to a thread costs nothing next to normalizing it (about 55
/// directory audits), small enough that the batches in flight stay about a MB.
const BATCH_BYTES: usize = 48 * 1024;

/// A batch's buffer holds `BATCH_BYTES + READ_BYTES` bytes, read straight into it (past the
/// `BufReader`'s own buffer, which is smaller): a batch of short lines from a file takes one
/// `read` call.
const READ_BYTES: usize = 16 * 1024;

/// Buffered output is written out once it passes this size while a document is read.
const FLUSH_BYTES: usize = 1024 * 1024;

/// What every record of one input is normalized with.
#[derive(Clone, Copy)]
struct Job<'a> {
    source: Source,
    tenant_id: &'a str,
    name: &'a str,
    ingested_at: DateTime<Utc>,
    typed: &'a typed::Writer,
}

/// The events and problem lines of a run of items, with their counts and the error that stopped
/// them: once `stopped`, nothing more is normalized.
#[derive(Default)]
struct Emitted {
    out: Vec<u8>,
    problems: Vec<u8>,
    counts: Counts,
    failure: Option<ReaderError>,
    stopped: bool,
    /// The typed path's vectors, kept from one batch to the next.
    scratch: typed::Scratch,
}

impl Emitted {
    fn stop(&mut self, failure: ReaderError) {
        self.failure = Some(failure);
        self.stopped = true;
    }
}

/// What every record is normalized with: no stream (an export does not say it).
fn context(tenant_id: &str, ingested_at: DateTime<Utc>) -> Context<'_> {
    Context {
        tenant_id,
        stream: None,
        ingested_at,
    }
}

impl Job<'_> {
    fn ctx(&self) -> Context<'_> {
        context(self.tenant_id, self.ingested_at)
    }

    /// Normalizes one item of the `Value` path.
    fn item(&self, item: Item, e: &mut Emitted) {
        if e.stopped {
            return;
        }
        let ctx = self.ctx();
        let (position, normalized) = match item {
            Item::Record { position, raw } => {
                let n = normalize(self.source, &raw, ctx);
                (position, n)
            }
            Item::Envelope { position, raw } if accepts_envelope(self.source) => {
                let n = normalize_envelope(self.source, &raw, ctx);
                (position, n)
            }
            Item::Envelope { position, .. } => {
                e.stop(ReaderError::EnvelopeUnsupported {
                    position,
                    for_source: self.source,
                });
                return;
            }
            Item::Invalid { position, reason } => {
                e.counts.quarantined += 1;
                problem(&mut e.problems, &position, &reason);
                return;
            }
        };
        match normalized {
            Ok(mut event) => {
                e.counts.normalized += 1;
                // A pretty-printed input keeps its newlines inside `raw`, which would split this
                // event over several lines; outside strings they are only whitespace, so a space
                // keeps the record's JSON identical.
                let flat = event
                    .raw
                    .as_ref()
                    .filter(|r| r.get().contains(['\n', '\r']))
                    .and_then(|r| RawValue::from_string(r.get().replace(['\n', '\r'], " ")).ok());
                if flat.is_some() {
                    event.raw = flat;
                }
                if let Err(err) = serde_json::to_writer(&mut e.out, &event) {
                    e.stop(ReaderError::Io(err.into()));
                    return;
                }
                e.out.push(b'\n');
            }
            Err(err) => {
                e.counts.quarantined += 1;
                problem(&mut e.problems, &position, &err);
            }
        }
    }

    /// Normalizes one NDJSON line (with its line end), line `line_no` of the input: by the
    /// typed fast path when it takes the line, else as [`input::read`] and [`Job::item`] would.
    fn line<'a>(&self, bytes: &'a [u8], line_no: u64, e: &mut Emitted, pool: &mut typed::Pool<'a>) {
        if e.stopped {
            return;
        }
        // A line that starts with `{` and ends with `}` is its own trimmed record (neither is
        // whitespace): the typed path reads its bytes, checking that they are UTF-8 as it goes,
        // so the line is not checked a first time here. (A `\r` inside the line, whitespace the
        // `Value` path turns into a space in `raw`, makes it decline.)
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let plain = body.first() == Some(&b'{') && body.last() == Some(&b'}');
        if plain && self.typed.write(body, &mut e.out, pool) {
            e.counts.normalized += 1;
            return;
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => {
                return self.item(input::not_utf8(self.name, line_no, err.valid_up_to()), e);
            }
        };
        let record = text.trim();
        if record.is_empty() {
            return;
        }
        if !plain && self.typed.write(record.as_bytes(), &mut e.out, pool) {
            e.counts.normalized += 1;
            return;
        }
        input::ndjson_line(text, self.name, line_no, &mut |item| self.item(item, e));
    }

    fn batch(&self, batch: &Batch, e: &mut Emitted) {
        let bytes = &batch.bytes[..batch.len];
        // An event line is about 2.3 times its record (a directory audit with its `raw`).
        e.out.reserve(bytes.len() * 5 / 2);
        let (mut start, mut line_no) = (0, batch.first_line_no);
        // The typed path's vectors, for the lines of this batch.
        let mut pool = e.scratch.pool();
        while start < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
            self.line(&bytes[start..end], line_no, e, &mut pool);
            start = end;
            line_no += 1;
        }
        e.scratch.keep(pool);
    }
}

fn problem(problems: &mut Vec<u8>, position: &str, reason: &dyn std::fmt::Display) {
    // Writing to a Vec cannot fail.
    let _ = writeln!(problems, "{position}: {reason}");
}

/// Consecutive whole lines of NDJSON input, each with its line end (the input's last line may
/// have none): `bytes[..len]`. The buffer keeps its length past `len` (bytes of no meaning), so
/// that a spent buffer is filled again without being zeroed first.
struct Batch {
    first_line_no: u64,
    bytes: Vec<u8>,
    len: usize,
}

/// The NDJSON lines of an input after its first, read in blocks and cut into [`Batch`]es at a
/// line end, so that no line is split between two batches and no line is copied on its own.
struct Lines<R> {
    reader: std::io::BufReader<R>,
    /// The start of a line read past the end of the last batch.
    carry: Vec<u8>,
    /// Lines handed out so far (the number of the last one).
    line_no: u64,
    /// The input's first line, for the first batch.
    first: Option<String>,
}

impl<R: Read> Lines<R> {
    fn new(rest: Rest<R>) -> Self {
        Lines {
            // The first line is counted when it is handed out, in the first batch.
            line_no: rest.line_no - u64::from(rest.first.is_some()),
            first: rest.first,
            reader: rest.reader,
            carry: Vec::new(),
        }
    }

    /// The next batch (`None` at the end of the input), and the read error that ended the input
    /// early: the whole lines read before it are in the batch, as a line-by-line reader would
    /// have handed them out before failing.
    /// `bytes` is a buffer to fill (a spent batch's, so that memory is reused, not freed and
    /// faulted in again for every batch).
    fn next_batch(&mut self, mut bytes: Vec<u8>) -> (Option<Batch>, Option<std::io::Error>) {
        // Bytes are read into `bytes[filled..]`. The buffer is zeroed only where it grows (once
        // in its life, unless a line is longer than it), not before every batch or every read.
        let first = self.first.take();
        let start = first.as_ref().map_or(0, String::len) + self.carry.len();
        let size = (BATCH_BYTES + READ_BYTES).max(start + READ_BYTES);
        if bytes.len() < size {
            bytes.resize(size, 0);
        }
        let mut filled = 0;
        for part in [
            first.as_ref().map_or(&b""[..], |f| f.as_bytes()),
            &self.carry,
        ] {
            bytes[filled..filled + part.len()].copy_from_slice(part);
            filled += part.len();
        }
        self.carry.clear();
        let mut error = None;
        loop {
            if filled >= BATCH_BYTES
                && let Some(end) = memchr::memrchr(b'\n', &bytes[..filled])
            {
                self.carry.extend_from_slice(&bytes[end + 1..filled]);
                filled = end + 1;
                break;
            }
            if filled == bytes.len() {
                bytes.resize(filled + READ_BYTES, 0);
            }
            match self.reader.read(&mut bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The unfinished last line is lost with the input, as `read_until` loses it.
                    filled = memchr::memrchr(b'\n', &bytes[..filled]).map_or(0, |end| end + 1);
                    error = Some(e);
                    break;
                }
            }
        }
        if filled == 0 {
            return (None, error);
        }
        let lines = &bytes[..filled];
        let first_line_no = self.line_no + 1;
        self.line_no += memchr::memchr_iter(b'\n', lines).count() as u64;
        if lines.last() != Some(&b'\n') {
            self.line_no += 1;
        }
        (
            Some(Batch {
                first_line_no,
                bytes,
                len: filled,
            }),
            error,
        )
    }
}
/// Writes `e`'s buffers to `out` and `problems` and adds its counts to `total`; its failure, if
/// any, after that.
fn drain(
    e: &mut Emitted,
    out: &mut dyn Write,
    problems: &mut dyn Write,
    total: &mut Counts,
) -> Result<(), ReaderError> {
    out.write_all(&e.out)?;
    problems.write_all(&e.problems)?;
    e.out.clear();
    e.problems.clear();
    total.normalized += std::mem::take(&mut e.counts.normalized);
    total.quarantined += std::mem::take(&mut e.counts.quarantined);
    match e.failure.take() {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// The NDJSON rest of an input: its first line and the reader positioned after it.
struct Rest<R> {
    first: Option<String>,
    line_no: u64,
    reader: std::io::BufReader<R>,
}

/// Reads the start of `input` ([`input::start`]), normalizing and writing a whole document or
/// CSV export, and returns what is left when the input is NDJSON.
fn begin<R: Read>(
    job: Job<'_>,
    input: R,
    out: &mut dyn Write,
    problems: &mut dyn Write,
    total: &mut Counts,
) -> Result<Option<Rest<R>>, ReaderError> {
    let mut e = Emitted::default();
    let mut failure = None;
    let start = input::start(input, job.name, &mut |item| {
        job.item(item, &mut e);
        if failure.is_none()
            && (e.out.len() >= FLUSH_BYTES || e.problems.len() >= FLUSH_BYTES || e.stopped)
            && let Err(f) = drain(&mut e, out, problems, total)
        {
            // `e` stays stopped: nothing more is normalized.
            e.stopped = true;
            failure = Some(f);
        }
    });
    if let Some(f) = failure {
        return Err(f);
    }
    let start = start?;
    drain(&mut e, out, problems, total)?;
    Ok(match start {
        Start::Done => None,
        Start::Ndjson {
            first,
            line_no,
            reader,
        } => Some(Rest {
            first,
            line_no,
            reader,
        }),
    })
}

/// Normalizes every record in `input`, writing AuditEvent NDJSON to `out` and one line per
/// quarantined record (position and reason) to `problems`, on the calling thread.
pub fn normalize_reader(
    source: Source,
    tenant_id: &str,
    input: impl Read,
    name: &str,
    out: &mut dyn Write,
    problems: &mut dyn Write,
) -> Result<Counts, ReaderError> {
    let ingested_at = Utc::now();
    let typed = typed::Writer::new(source, context(tenant_id, ingested_at));
    let job = Job {
        source,
        tenant_id,
        name,
        ingested_at,
        typed: &typed,
    };
    let mut total = Counts::default();
    let Some(rest) = begin(job, input, out, problems, &mut total)? else {
        return Ok(total);
    };
    let mut lines = Lines::new(rest);
    let (mut spare, mut e) = (Vec::new(), Emitted::default());
    loop {
        let (batch, error) = lines.next_batch(spare);
        let Some(batch) = batch else {
            return error.map_or(Ok(total), |error| Err(error.into()));
        };
        job.batch(&batch, &mut e);
        drain(&mut e, out, problems, &mut total)?;
        if let Some(error) = error {
            return Err(error.into());
        }
        spare = batch.bytes;
    }
}

/// [`normalize_reader`] with NDJSON batches normalized on `threads` threads (one thread reads,
/// the calling thread writes, in input order). Batch `i` goes to worker `i % threads` and its
/// output is taken back in the same turn, so order needs no sorting and each worker has at most
/// one batch being normalized, one waiting for it and one output waiting to be written.
pub fn normalize_file(
    source: Source,
    tenant_id: &str,
    input: impl Read + Send,
    name: &str,
    out: &mut dyn Write,
    problems: &mut dyn Write,
    threads: NonZeroUsize,
) -> Result<Counts, ReaderError> {
    if threads.get() == 1 {
        return normalize_reader(source, tenant_id, input, name, out, problems);
    }
    let ingested_at = Utc::now();
    let typed = typed::Writer::new(source, context(tenant_id, ingested_at));
    let job = Job {
        source,
        tenant_id,
        name,
        ingested_at,
        typed: &typed,
    };
    let mut total = Counts::default();
    let Some(rest) = begin(job, input, out, problems, &mut total)? else {
        return Ok(total);
    };
    let workers = threads.get();
    std::thread::scope(|scope| {
        let mut batch_senders = Vec::with_capacity(workers);
        let mut result_receivers = Vec::with_capacity(workers);
        let mut spent_outputs = Vec::with_capacity(workers);
        // Spent buffers go back where they are filled (input to the reader, output to its worker):
        // the same few buffers circulate instead of one allocation per batch.
        let (spent_input_tx, spent_input_rx) = mpsc::channel::<Vec<u8>>();
        for _ in 0..workers {
            let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(1);
            let (result_tx, result_rx) = mpsc::sync_channel::<Emitted>(1);
            let (spent_output_tx, spent_output_rx) = mpsc::channel::<Emitted>();
            batch_senders.push(batch_tx);
            result_receivers.push(result_rx);
            spent_outputs.push(spent_output_tx);
            let spent_input_tx = spent_input_tx.clone();
            scope.spawn(move || {
                for batch in batch_rx {
                    let mut e = spent_output_rx.try_recv().unwrap_or_default();
                    job.batch(&batch, &mut e);
                    // The reader may have stopped; the buffer is then dropped.
                    let _ = spent_input_tx.send(batch.bytes);
                    if result_tx.send(e).is_err() {
                        return;
                    }
                }
            });
        }
        drop(spent_input_tx);
        let reading = scope.spawn(move || -> Option<std::io::Error> {
            let mut lines = Lines::new(rest);
            let mut turn = 0;
            loop {
                let spare = spent_input_rx.try_recv().unwrap_or_default();
                let (batch, error) = lines.next_batch(spare);
                let Some(batch) = batch else {
                    return error;
                };
                if batch_senders[turn % workers].send(batch).is_err() {
                    // The writer stopped; it has its reason.
                    return None;
                }
                turn += 1;
                if error.is_some() {
                    return error;
                }
            }
        });
        let mut written = Ok(());
        for turn in 0.. {
            // A worker's channel closes only after the reader has finished and that worker has
            // handed back its last batch, so the first closed turn is the end of the input.
            let Ok(mut e) = result_receivers[turn % workers].recv() else {
                break;
            };
            written = drain(&mut e, out, problems, &mut total);
            if written.is_err() {
                break;
            }
            // The worker may have finished; the buffers are then dropped.
            let _ = spent_outputs[turn % workers].send(e);
        }
        // Unblocks the workers and, through them, the reader, when the writer stopped early.
        drop(result_receivers);
        let read_error = reading.join().ok().flatten();
        written?;
        match read_error {
            Some(e) => Err(ReaderError::Io(e)),
            None => Ok(total),
        }
    })
}
