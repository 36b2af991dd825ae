//! Reading records out of the files an operator has: a Graph list response `{"value": [...]}`, a
//! JSON array, one record, or NDJSON (one record, array or list per line). NDJSON is streamed line
//! by line, so a file of any size runs in constant memory; a single JSON document is read whole.
//! Every record carries its position (`file:line 3`, `file:#12`) for error reports.

use std::io::{BufRead, BufReader, Read};

use serde_json::value::RawValue;

/// One item found in the input.
#[derive(Debug)]
pub enum Item {
    /// A record to normalize.
    Record {
        position: String,
        raw: Box<RawValue>,
    },
    /// A record in Azure Monitor's diagnostic-settings envelope (`{"records": [...]}` or a line with
    /// the Graph object under `properties`).
    Envelope {
        position: String,
        raw: Box<RawValue>,
    },
    /// Something that is not JSON; it is reported and counted, never silently dropped.
    Invalid { position: String, reason: String },
}

type RawMap = std::collections::HashMap<String, Box<RawValue>>;

/// A key of `map` equal to `key` ignoring ASCII case (exports lower-case the envelope's keys).
fn key_ci<'m>(map: &'m RawMap, key: &str) -> Option<&'m RawValue> {
    map.get(key)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .map(|v| &**v)
}

fn is_envelope_record(map: &RawMap) -> bool {
    key_ci(map, "properties").is_some_and(|p| p.get().trim_start().starts_with('{'))
        && (key_ci(map, "operationName").is_some() || key_ci(map, "resourceId").is_some())
}

fn array_in(map: &RawMap, key: &str) -> Option<Vec<Box<RawValue>>> {
    serde_json::from_str(key_ci(map, key)?.get()).ok()
}

fn emit_all(items: Vec<Box<RawValue>>, position: &str, envelope: bool, out: &mut dyn FnMut(Item)) {
    for (i, raw) in items.into_iter().enumerate() {
        let position = format!("{position}#{}", i + 1);
        out(if envelope {
            Item::Envelope { position, raw }
        } else {
            Item::Record { position, raw }
        });
    }
}

/// Expands one top-level JSON value into items.
fn expand(raw: Box<RawValue>, position: &str, out: &mut dyn FnMut(Item)) {
    let text = raw.get().trim_start();
    if text.starts_with('[') {
        match serde_json::from_str::<Vec<Box<RawValue>>>(raw.get()) {
            Ok(items) => emit_all(items, position, false, out),
            Err(e) => out(Item::Invalid {
                position: position.to_string(),
                reason: e.to_string(),
            }),
        }
        return;
    }
    if text.starts_with('{')
        && let Ok(map) = serde_json::from_str::<RawMap>(raw.get())
    {
        if let Some(items) = array_in(&map, "value") {
            return emit_all(items, position, false, out);
        }
        if let Some(items) = array_in(&map, "records") {
            return emit_all(items, position, true, out);
        }
        if is_envelope_record(&map) {
            return out(Item::Envelope {
                position: position.to_string(),
                raw,
            });
        }
    }
    out(Item::Record {
        position: position.to_string(),
        raw,
    });
}

/// True when a line holds a whole JSON object or array on its own.
fn is_whole_line(line: &str) -> bool {
    let t = line.trim();
    t.starts_with(['{', '[']) && serde_json::from_str::<Box<RawValue>>(t).is_ok()
}

/// Handles one NDJSON line (blank lines are skipped).
pub(crate) fn ndjson_line(line: &str, name: &str, line_no: u64, out: &mut dyn FnMut(Item)) {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return;
    }
    let position = format!("{name}:line {line_no}");
    match serde_json::from_str::<Box<RawValue>>(trimmed) {
        Ok(raw) => expand(raw, &position, out),
        Err(e) => out(Item::Invalid {
            position,
            reason: format!("not JSON: {e}"),
        }),
    }
}

/// One line of input: text, or bytes that are not UTF-8.
enum Line {
    Text(String),
    /// Not UTF-8 from this byte of the line on (0-based).
    NotUtf8 {
        at: usize,
    },
}

/// The next line (with its newline), `None` at the end.
fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<Line>> {
    buf.clear();
    if reader.read_until(b'\n', buf)? == 0 {
        return Ok(None);
    }
    Ok(Some(line_of(buf)))
}

fn line_of(bytes: &[u8]) -> Line {
    match std::str::from_utf8(bytes) {
        Ok(s) => Line::Text(s.to_string()),
        Err(e) => Line::NotUtf8 {
            at: e.valid_up_to(),
        },
    }
}

pub(crate) fn not_utf8(name: &str, line_no: u64, at: usize) -> Item {
    Item::Invalid {
        position: format!("{name}:line {line_no}"),
        reason: format!(
            "not UTF-8 text (an invalid byte at byte {} of the line)",
            at + 1
        ),
    }
}

/// Handles one line of NDJSON, text or not.
fn any_line(line: &Line, name: &str, line_no: u64, out: &mut dyn FnMut(Item)) {
    match line {
        Line::Text(t) => ndjson_line(t, name, line_no, out),
        Line::NotUtf8 { at } => out(not_utf8(name, line_no, *at)),
    }
}

/// Reads every item from `input` (named `name` in positions), calling `out` for each. A line
/// that is not UTF-8 or not JSON is one [`Item::Invalid`] with its position; reading goes on.
pub fn read(input: impl Read, name: &str, out: &mut dyn FnMut(Item)) -> std::io::Result<()> {
    let Start::Ndjson {
        first,
        mut line_no,
        mut reader,
    } = start(input, name, out)?
    else {
        return Ok(());
    };
    if let Some(first) = first {
        ndjson_line(&first, name, line_no, out);
    }
    let mut buf = Vec::new();
    while let Some(l) = next_line(&mut reader, &mut buf)? {
        line_no += 1;
        any_line(&l, name, line_no, out);
    }
    Ok(())
}

/// What [`start`] left to read.
pub(crate) enum Start<R> {
    /// The input is read to its end.
    Done,
    /// The input is NDJSON: `first` is its first line (`None` when that line was not UTF-8 and
    /// has been reported), line `line_no` of the input, and every line of `reader` follows it.
    Ndjson {
        first: Option<String>,
        line_no: u64,
        reader: BufReader<R>,
    },
}

/// Reads the start of `input` to tell NDJSON from one JSON document or a CSV export: reads a
/// document or CSV file to its end (calling `out` for each item), and hands back an NDJSON input
/// after its first non-blank line, for [`read`] or a caller that reads lines in batches.
pub(crate) fn start<R: Read>(
    input: R,
    name: &str,
    out: &mut dyn FnMut(Item),
) -> std::io::Result<Start<R>> {
    let mut reader = BufReader::new(input);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    // Find the first non-blank line to tell NDJSON from one JSON document.
    let mut line = loop {
        let Some(l) = next_line(&mut reader, &mut buf)? else {
            return Ok(Start::Done);
        };
        line_no += 1;
        match l {
            Line::Text(mut t) => {
                if line_no == 1 && t.starts_with('\u{feff}') {
                    // A UTF-8 byte-order mark (Windows PowerShell's `Out-File`) is not JSON.
                    t.drain(..'\u{feff}'.len_utf8());
                }
                if !t.trim().is_empty() {
                    break t;
                }
            }
            Line::NotUtf8 { at } => {
                // Not text, so not the start of one document: NDJSON from here.
                out(not_utf8(name, line_no, at));
                return Ok(Start::Ndjson {
                    first: None,
                    line_no,
                    reader,
                });
            }
        }
    };
    let first = line.trim_start();
    if first.starts_with("#TYPE") || (!first.starts_with(['{', '[']) && first.contains(',')) {
        // Not JSON: a CSV export with a header line (PowerShell's `Export-Csv`).
        read_csv(line, reader, name, line_no, out)?;
        return Ok(Start::Done);
    }
    let first_is_complete = serde_json::from_str::<Box<RawValue>>(line.trim()).is_ok();
    if !first_is_complete {
        // One (pretty-printed) JSON document.
        let mut bytes = std::mem::take(&mut line).into_bytes();
        reader.read_to_end(&mut bytes)?;
        let doc = match String::from_utf8(bytes) {
            Ok(doc) => doc,
            Err(e) => {
                // Not text as a whole: NDJSON with a bad line, read line by line.
                for (i, l) in e.as_bytes().split(|b| *b == b'\n').enumerate() {
                    any_line(&line_of(l), name, line_no + i as u64, out);
                }
                return Ok(Start::Done);
            }
        };
        match serde_json::from_str::<Box<RawValue>>(doc.trim()) {
            Ok(raw) => expand(raw, &format!("{name}:"), out),
            // Not one document, yet later lines are whole JSON values: NDJSON whose first line
            // is broken (a truncated export). Read it line by line so the rest is not lost.
            Err(_) if doc.lines().skip(1).any(is_whole_line) => {
                for (i, l) in doc.lines().enumerate() {
                    ndjson_line(l, name, line_no + i as u64, out);
                }
            }
            Err(e) => out(Item::Invalid {
                position: format!("{name}:line {}", e.line() as u64 + line_no - 1),
                reason: format!("not JSON or NDJSON: {e}"),
            }),
        }
        return Ok(Start::Done);
    }
    Ok(Start::Ndjson {
        first: Some(line),
        line_no,
        reader,
    })
}

/// A reader that turns CRLF line ends into LF: Windows writes CSV with CRLF, and the CSV reader
/// counts lines (the positions errors report) right only for LF. A `\r` not before `\n` stays.
struct Lf<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    cr: bool,
}

impl<R: Read> Lf<R> {
    fn new(inner: R) -> Self {
        Lf {
            inner,
            buf: Vec::new(),
            pos: 0,
            cr: false,
        }
    }
}

impl<R: Read> Read for Lf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            let mut chunk = [0u8; 8192];
            let n = self.inner.read(&mut chunk)?;
            self.buf.clear();
            self.pos = 0;
            if n == 0 {
                if std::mem::take(&mut self.cr) {
                    self.buf.push(b'\r');
                    break;
                }
                return Ok(0);
            }
            for &b in &chunk[..n] {
                if std::mem::take(&mut self.cr) && b != b'\n' {
                    self.buf.push(b'\r');
                }
                if b == b'\r' {
                    self.cr = true;
                } else {
                    self.buf.push(b);
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads a CSV export whose first non-blank line (`first`, line `line_no`) is its header, or
/// Windows PowerShell's `#TYPE ...` line before it: each row becomes one record, a JSON object of
/// the header's names and the row's values as strings (the raw layer keeps that object, the
/// file having no JSON of its own). A row that cannot be read (not UTF-8, another number of
/// fields) is one [`Item::Invalid`] with its line; reading goes on.
fn read_csv(
    first: String,
    rest: impl BufRead,
    name: &str,
    mut line_no: u64,
    out: &mut dyn FnMut(Item),
) -> std::io::Result<()> {
    let mut head = first;
    let mut rest = rest;
    if head.trim_start().starts_with("#TYPE") {
        head.clear();
        rest.read_line(&mut head)?;
        line_no += 1;
    }
    let input = Lf::new(std::io::Cursor::new(head.into_bytes()).chain(rest));
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let headers = match csv.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            out(Item::Invalid {
                position: format!("{name}:line {line_no}"),
                reason: format!("not JSON, nor a CSV header: {e}"),
            });
            return Ok(());
        }
    };
    let mut row = csv::StringRecord::new();
    loop {
        // The line the next row starts on (the header is line `line_no` of the file).
        let row_line = line_no - 1 + csv.position().line();
        match csv.read_record(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let object: serde_json::Map<String, serde_json::Value> = headers
                    .iter()
                    .zip(row.iter())
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                    .collect();
                let position = format!("{name}:line {row_line}");
                match serde_json::value::to_raw_value(&object) {
                    Ok(raw) => out(Item::Record { position, raw }),
                    Err(e) => out(Item::Invalid {
                        position,
                        reason: e.to_string(),
                    }),
                }
            }
            Err(e) => {
                if let csv::ErrorKind::Io(io) = e.kind() {
                    return Err(std::io::Error::new(io.kind(), io.to_string()));
                }
                out(Item::Invalid {
                    position: format!("{name}:line {row_line}"),
                    reason: format!("not a CSV row: {e}"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        read(input.as_bytes(), "f", &mut |item| {
            out.push(match item {
                Item::Record { position, raw } => (position, format!("R {}", raw.get())),
                Item::Envelope { position, .. } => (position, "E".into()),
                Item::Invalid { position, .. } => (position, "I".into()),
            })
        })
        .unwrap();
        out
    }

    #[test]
    fn csv_rows_are_records_with_their_line_and_bad_rows_are_reported() {
        for eol in ["\n", "\r\n"] {
            let text = [
                "#TYPE Deserialized.MessageTraceV2",
                "\"Received\",\"Subject\",\"Size\"",
                "\"2026-03-04T09:15:27Z\",\"a, b\",\"1\"",
                "\"2026-03-04T09:16:00Z\",\"He said \"\"hi\"\"\",\"2\"",
                "\"2026-03-04T09:17:00Z\",\"short\"",
                "\"2026-03-04T09:18:00Z\",\"last\",\"4\"",
                "",
            ]
            .join(eol);
            let out = collect(&text);
            assert_eq!(
                out,
                vec![
                    (
                        "f:line 3".into(),
                        r#"R {"Received":"2026-03-04T09:15:27Z","Size":"1","Subject":"a, b"}"#.into()
                    ),
                    (
                        "f:line 4".into(),
                        r#"R {"Received":"2026-03-04T09:16:00Z","Size":"2","Subject":"He said \"hi\""}"#.into()
                    ),
                    ("f:line 5".into(), "I".into()),
                    (
                        "f:line 6".into(),
                        r#"R {"Received":"2026-03-04T09:18:00Z","Size":"4","Subject":"last"}"#.into()
                    ),
                ],
                "{eol:?}"
            );
        }
    }

    #[test]
    fn graph_list_keeps_record_bytes() {
        let out = collect(
            "{\"@odata.context\": \"x\",\n \"value\": [ {\"id\" : \"a\"}, {\"id\":\"b\"} ]\n}",
        );
        assert_eq!(
            out,
            vec![
                ("f:#1".into(), "R {\"id\" : \"a\"}".into()),
                ("f:#2".into(), "R {\"id\":\"b\"}".into())
            ]
        );
    }

    #[test]
    fn ndjson_with_a_bad_line_reports_it() {
        let out = collect("{\"id\":1}\n\n{broken\n[{\"id\":2},{\"id\":3}]\n");
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], ("f:line 1".into(), "R {\"id\":1}".into()));
        assert_eq!(out[1], ("f:line 3".into(), "I".into()));
        assert_eq!(out[2].0, "f:line 4#1");
        assert_eq!(out[3].0, "f:line 4#2");
    }

    #[test]
    fn single_pretty_record_and_array() {
        assert_eq!(collect("{\n \"id\": 1\n}\n").len(), 1);
        assert_eq!(collect("[\n{\"id\": 1},\n{\"id\": 2}\n]").len(), 2);
        assert!(collect("").is_empty());
    }

    #[test]
    fn envelopes_are_recognised() {
        let out = collect("{\"records\": [{\"properties\": {}, \"operationName\": \"x\"}]}");
        assert_eq!(out, vec![("f:line 1#1".into(), "E".into())]);
        let out = collect(
            "{\"time\":\"t\",\"operationName\":\"Update device\",\"properties\":{\"id\":\"x\"}}\n",
        );
        assert_eq!(out, vec![("f:line 1".into(), "E".into())]);
    }

    #[test]
    fn garbage_document_is_reported() {
        let out = collect("{\n not json at all");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, "I");
    }
}
