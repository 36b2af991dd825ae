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

fn is_envelope_record(map: &RawMap) -> bool {
    map.get("properties")
        .is_some_and(|p| p.get().trim_start().starts_with('{'))
        && (map.contains_key("operationName") || map.contains_key("resourceId"))
}

fn array_in(map: &RawMap, key: &str) -> Option<Vec<Box<RawValue>>> {
    serde_json::from_str(map.get(key)?.get()).ok()
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
fn ndjson_line(line: &str, name: &str, line_no: u64, out: &mut dyn FnMut(Item)) {
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

/// Reads every item from `input` (named `name` in positions), calling `out` for each.
pub fn read(input: impl Read, name: &str, out: &mut dyn FnMut(Item)) -> std::io::Result<()> {
    let mut reader = BufReader::new(input);
    let mut line = String::new();
    let mut line_no = 0u64;
    // Find the first non-blank line to tell NDJSON from one JSON document.
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        line_no += 1;
        if line_no == 1 && line.starts_with('\u{feff}') {
            // A UTF-8 byte-order mark (Windows PowerShell's `Out-File`) is not part of the JSON.
            line.drain(..'\u{feff}'.len_utf8());
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let first_is_complete = serde_json::from_str::<Box<RawValue>>(line.trim()).is_ok();
    if !first_is_complete {
        // One (pretty-printed) JSON document.
        let mut doc = std::mem::take(&mut line);
        reader.read_to_string(&mut doc)?;
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
        return Ok(());
    }
    loop {
        ndjson_line(&line, name, line_no, out);
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        line_no += 1;
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
