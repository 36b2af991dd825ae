//! Normalizing a whole input (a file, stdin): the items [`input`] finds are normalized and
//! written as AuditEvent NDJSON, each quarantined record as one line (position and reason) on the
//! problems stream. NDJSON is read in batches of lines of bounded size; a batch is normalized
//! into its own buffers (each line by the typed fast path, [`typed::normalize_line`], or else the
//! `Value` path) and written whole, so [`normalize_file`] can spread the batches over threads and
//! still write them in input order, with memory bounded by the batches in flight, not the input.

use std::io::{BufRead, Read, Write};
use std::num::NonZeroUsize;
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::input::{self, Item, Start};
use super::{Context, accepts_envelope, normalize, normalize_envelope, typed};
use crate::model::{AuditEvent, Source};

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

/// A batch is cut after this many bytes of input (or [`BATCH_LINES`] lines): large enough that
/// handing it to a thread costs nothing next to normalizing it, small enough that the batches in
/// flight (three per thread at most) stay a few MB.
const BATCH_BYTES: usize = 256 * 1024;
const BATCH_LINES: usize = 4096;

/// Buffered output is written out once it passes this size while a document is read.
const FLUSH_BYTES: usize = 1024 * 1024;

/// What every record of one input is normalized with.
#[derive(Clone, Copy)]
struct Job<'a> {
    source: Source,
    tenant_id: &'a str,
    name: &'a str,
    ingested_at: DateTime<Utc>,
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
}

impl Emitted {
    fn stop(&mut self, failure: ReaderError) {
        self.failure = Some(failure);
        self.stopped = true;
    }
}

impl Job<'_> {
    fn ctx(&self) -> Context<'_> {
        Context {
            tenant_id: self.tenant_id,
            stream: None,
            ingested_at: self.ingested_at,
        }
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
    fn line(&self, bytes: &[u8], line_no: u64, e: &mut Emitted) {
        if e.stopped {
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
        // A `\r` inside the line is whitespace the `Value` path turns into a space in `raw`.
        if !record.contains('\r')
            && let Some(event) = typed::normalize_line(self.source, record, self.ctx())
        {
            e.counts.normalized += 1;
            if let Err(err) = write_with_raw(&mut e.out, &event, record) {
                e.stop(ReaderError::Io(err.into()));
            }
            return;
        }
        input::ndjson_line(text, self.name, line_no, &mut |item| self.item(item, e));
    }

    fn batch(&self, batch: &Batch, e: &mut Emitted) {
        let mut start = 0;
        for (i, &end) in batch.ends.iter().enumerate() {
            self.line(&batch.bytes[start..end], batch.first_line_no + i as u64, e);
            start = end;
        }
    }
}

fn problem(problems: &mut Vec<u8>, position: &str, reason: &dyn std::fmt::Display) {
    // Writing to a Vec cannot fail.
    let _ = writeln!(problems, "{position}: {reason}");
}

/// Writes `event` (whose `raw` is `None`) as one NDJSON line with `record` as its `raw`: the
/// same bytes as serializing the event with `raw` set to the record, because `raw` is the last
/// field written (`raw_ref` is `None` on this path), and a `RawValue` is written as it is. This
/// saves copying and re-validating every record into a `RawValue`.
fn write_with_raw(out: &mut Vec<u8>, event: &AuditEvent, record: &str) -> serde_json::Result<()> {
    debug_assert!(event.raw.is_none() && event.raw_ref.is_none());
    serde_json::to_writer(&mut *out, event)?;
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    out.extend_from_slice(b",\"raw\":");
    out.extend_from_slice(record.as_bytes());
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Consecutive lines of NDJSON input, each with its line end.
#[derive(Default)]
struct Batch {
    first_line_no: u64,
    bytes: Vec<u8>,
    /// Where each line ends in `bytes`.
    ends: Vec<usize>,
}

/// Reads the next batch: `first` (the input's first line, already read) then lines of `reader`
/// numbered from `*line_no + 1`. Also says whether the input may go on, and the read error that
/// ended the batch early (the lines before it are in the batch).
fn read_batch(
    reader: &mut impl BufRead,
    first: Option<String>,
    line_no: &mut u64,
) -> (Batch, bool, Option<std::io::Error>) {
    let mut batch = Batch::default();
    match first {
        Some(first) => {
            batch.first_line_no = *line_no;
            batch.bytes = first.into_bytes();
            batch.ends.push(batch.bytes.len());
        }
        None => batch.first_line_no = *line_no + 1,
    }
    while batch.bytes.len() < BATCH_BYTES && batch.ends.len() < BATCH_LINES {
        match reader.read_until(b'\n', &mut batch.bytes) {
            Ok(0) => return (batch, false, None),
            Ok(_) => {
                *line_no += 1;
                batch.ends.push(batch.bytes.len());
            }
            Err(e) => {
                batch
                    .bytes
                    .truncate(batch.ends.last().copied().unwrap_or(0));
                return (batch, false, Some(e));
            }
        }
    }
    (batch, true, None)
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
    let job = Job {
        source,
        tenant_id,
        name,
        ingested_at: Utc::now(),
    };
    let mut total = Counts::default();
    let Some(mut rest) = begin(job, input, out, problems, &mut total)? else {
        return Ok(total);
    };
    let mut first = rest.first.take();
    loop {
        let (batch, more, error) = read_batch(&mut rest.reader, first.take(), &mut rest.line_no);
        let mut e = Emitted::default();
        job.batch(&batch, &mut e);
        drain(&mut e, out, problems, &mut total)?;
        if let Some(error) = error {
            return Err(error.into());
        }
        if !more {
            return Ok(total);
        }
    }
}

/// [`normalize_reader`] with NDJSON batches normalized on `threads` threads (one thread reads,
/// the calling thread writes, in input order). Batch `i` goes to worker `i % threads` and its
/// output is taken back in the same turn, so order needs no sorting and each worker holds at
/// most one batch waiting, one being normalized and one written out waiting.
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
    let job = Job {
        source,
        tenant_id,
        name,
        ingested_at: Utc::now(),
    };
    let mut total = Counts::default();
    let Some(mut rest) = begin(job, input, out, problems, &mut total)? else {
        return Ok(total);
    };
    let workers = threads.get();
    std::thread::scope(|scope| {
        let mut batch_senders = Vec::with_capacity(workers);
        let mut result_receivers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(1);
            let (result_tx, result_rx) = mpsc::sync_channel::<Emitted>(1);
            batch_senders.push(batch_tx);
            result_receivers.push(result_rx);
            scope.spawn(move || {
                for batch in batch_rx {
                    let mut e = Emitted::default();
                    job.batch(&batch, &mut e);
                    if result_tx.send(e).is_err() {
                        return;
                    }
                }
            });
        }
        let reading = scope.spawn(move || -> Option<std::io::Error> {
            let mut first = rest.first.take();
            let mut turn = 0;
            loop {
                let (batch, more, error) =
                    read_batch(&mut rest.reader, first.take(), &mut rest.line_no);
                if !batch.ends.is_empty() {
                    if batch_senders[turn % workers].send(batch).is_err() {
                        // The writer stopped; it has its reason.
                        return None;
                    }
                    turn += 1;
                }
                if error.is_some() || !more {
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
