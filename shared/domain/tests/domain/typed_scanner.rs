//! The typed path's hand-written scanner (`domain::normalize::typed::scan`) against the `Value`
//! path, on the edge cases a scanner of its own could get wrong: escapes of every kind (unicode
//! escapes and surrogate pairs among them), escaped sentinels, duplicate keys and keys in another
//! case at every level, whitespace, nulls, numbers in odd forms, deep and unknown nesting, and
//! lines that are not JSON or not UTF-8. Each case is one change to a plain Graph record; each
//! is checked record by record (a record the fast path takes must give the `Value` path's event,
//! byte for byte) and as NDJSON through every reader (`typed_identity::assert_same`), and the
//! cases the fast path is meant to take are checked to be taken, so that it is tested at all.
//! Also: 30,000 random one- and two-byte edits of these records, and input read in odd pieces,
//! interrupted and failing reads.

use std::io::Read;
use std::num::NonZeroUsize;

use chrono::{TimeZone, Utc};
use domain::model::Source;
use domain::normalize::{Context, normalize, normalize_file, normalize_reader, typed};
use serde_json::value::RawValue;

use super::typed_identity::{assert_same, reference, without_clock};

/// A plain Graph directory audit, on one line.
const PLAIN: &str = concat!(
    r#"{"id":"Directory_1","category":"UserManagement","correlationId":"c1","result":"success","#,
    r#""resultReason":"","activityDisplayName":"Update user","#,
    r#""activityDateTime":"2025-05-31T00:59:58.7467215Z","loggedByService":"Core Directory","#,
    r#""operationType":"Update","initiatedBy":{"user":{"id":"u1","displayName":"Ada","#,
    r#""userPrincipalName":"ada@contoso.example","ipAddress":"203.0.113.7","userType":"Member","#,
    r#""homeTenantId":"h1","homeTenantName":null},"app":null},"targetResources":[{"id":"t1","#,
    r#""displayName":"Eve","type":"User","userPrincipalName":"eve@contoso.example","#,
    r#""groupType":null,"modifiedProperties":[{"displayName":"Role","oldValue":null,"#,
    r#""newValue":"\"Admin\""}]}],"additionalDetails":[{"key":"User-Agent","#,
    r#""value":"Mozilla/5.0"},{"key":"AppId","value":"a1"}]}"#
);

/// What the fast path must do with a case.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Want {
    /// Take it (and give the `Value` path's event).
    Taken,
    /// Leave it to the `Value` path.
    Left,
}
use Want::{Left, Taken};

/// The cases: each replaces the first `from` in [`PLAIN`] by `to`.
const CASES: &[(&str, &str, Want)] = &[
    ("", "", Taken),
    // Escapes in a value that is written back.
    (r#""Update user""#, r#""Update \"user\"""#, Taken),
    (r#""Update user""#, r#""Update \\ user""#, Taken),
    (r#""Update user""#, r#""\\\"Update\\\"""#, Taken),
    (r#""Update user""#, r#""Update \/ user""#, Taken),
    (
        r#""Update user""#,
        r#""caf\u00e9 \u20AC \ud83d\ude00 \uD83D\uDE00""#,
        Taken,
    ),
    (r#""Update user""#, r#""tab\there\nline\r\b\f end""#, Taken),
    (r#""Update user""#, r#""\u0000nul \u001f""#, Taken),
    (r#""Update user""#, r#""\u0022quoted\u0022""#, Taken),
    (r#""Update user""#, r#""usér – ✓ 😀""#, Taken),
    (r#""Update user""#, r#"" \"padded\" ""#, Taken),
    (r#""Update user""#, r#""\tpadded\n""#, Taken),
    // Escapes serde_json refuses: the `Value` path quarantines the record.
    (r#""Update user""#, r#""\ud800""#, Left),
    (r#""Update user""#, r#""\udc00x""#, Left),
    (r#""Update user""#, r#""\ud800\u0041""#, Left),
    (r#""Update user""#, r#""\ud800\n""#, Left),
    (r#""Update user""#, r#""\u12""#, Left),
    (r#""Update user""#, r#""\x41""#, Left),
    (r#""Update user""#, "\"raw\ttab\"", Left),
    (r#""Update user""#, "\"raw\u{1}control\"", Left),
    // Escapes in values that are read, not only written.
    (r#""Directory_1""#, r#""Directory\u005f1""#, Taken),
    (r#""Directory_1""#, r#""Dir\"ectory""#, Taken),
    (r#""Directory_1""#, r#""Dir/ectory 1""#, Taken),
    (r#""Directory_1""#, r#"" Directory_1 ""#, Taken),
    (
        r#""2025-05-31T00:59:58.7467215Z""#,
        r#""2025-05-31T00:59:58\u002e7467215Z""#,
        Taken,
    ),
    (
        r#""2025-05-31T00:59:58.7467215Z""#,
        r#""2025-05-31 00:59:58.049661100""#,
        Taken,
    ),
    (
        r#""2025-05-31T00:59:58.7467215Z""#,
        r#""2025-05-31T02:59:58+02:00""#,
        Taken,
    ),
    (
        r#""2025-05-31T00:59:58.7467215Z""#,
        r#""2024-02-30T00:00:00Z""#,
        Left,
    ),
    (r#""success""#, r#""succ\u0065ss""#, Taken),
    (r#""success""#, r#""\"success\"""#, Taken),
    (r#""success""#, r#""SUCCESS""#, Taken),
    (r#""success""#, r#""failure""#, Taken),
    (r#""success""#, "0", Taken),
    (r#""success""#, r#""0""#, Taken),
    (r#""success""#, "1.0", Taken),
    // Escaped sentinels and blanks are absent, as `text` reads them.
    (r#""Mozilla/5.0""#, r#""n\/a""#, Taken),
    (r#""Mozilla/5.0""#, r#""\u003cnull\u003e""#, Taken),
    (r#""Mozilla/5.0""#, r#""\t""#, Taken),
    (r#""Mozilla/5.0""#, r#"" NULL ""#, Taken),
    (r#""Mozilla/5.0""#, r#""Not Available""#, Taken),
    (r#""User-Agent""#, r#""User\u002dAgent""#, Taken),
    (r#""User-Agent""#, r#""user-agent""#, Taken),
    (r#""AppId""#, r#""A\"pp""#, Taken),
    (r#""AppId""#, r#""User-Agent""#, Taken),
    (
        r#"{"key":"AppId","value":"a1"}"#,
        r#"{"key":1,"value":2.50}"#,
        Taken,
    ),
    (r#"{"key":"AppId","value":"a1"}"#, r#"{"key":"k"}"#, Taken),
    // Duplicate keys: `Value` keeps the last; left to it.
    (
        r#"{"id":"Directory_1","#,
        r#"{"id":"Directory_1","id":"Directory_2","#,
        Left,
    ),
    (
        r#""user":{"id":"u1","#,
        r#""user":{"id":"u1","id":"u2","#,
        Left,
    ),
    (
        r#""displayName":"Role","#,
        r#""displayName":"Role","displayName":"R","#,
        Left,
    ),
    (
        r#""groupType":null"#,
        r#""groupType":null,"extra":1,"extra":2"#,
        Taken,
    ),
    // Keys in another case, at every level, and guard keys.
    (r#""user":{"#, r#""User":{"#, Left),
    (r#""type":"User""#, r#""TYPE":"User""#, Left),
    (r#""type":"User""#, r#""Type":"User""#, Taken),
    (r#""displayName":"Ada""#, r#""DisplayName":"Ada""#, Left),
    (r#""category""#, r#""Category""#, Left),
    (r#""value":"a1""#, r#""Value":"a1""#, Left),
    (r#""category""#, r#""VALUE":1,"category""#, Left),
    (r#""category""#, r#""Properties":{},"category""#, Left),
    (r#""category""#, r#""\u0063ategory""#, Left),
    (r#""category""#, r#""\u0061bc":1,"category""#, Left),
    (r#""category""#, r#""😀":1,"category""#, Taken),
    (
        r#""category""#,
        r#""$serde_json::private::RawValue":"{}","category""#,
        Left,
    ),
    // Whitespace.
    (r#"","category""#, "\" ,\t\"category\"\t", Taken),
    (r#""category":"#, r#""category" : "#, Taken),
    (r#""category":"#, "\"category\":\t", Taken),
    (r#""category":"#, "\"category\":\r", Left),
    (r#""category":"#, "\"category\":\u{a0}", Left),
    // Nulls and values of other kinds.
    (r#""UserManagement""#, "null", Taken),
    (
        r#""UserManagement""#,
        r#"{"a":[1,{"b":"\u00e9\"x"}],"c":{"d":[[[]]]}}"#,
        Taken,
    ),
    (r#""UserManagement""#, "[\"x\"]", Taken),
    (r#""UserManagement""#, "true", Taken),
    (
        r#""app":null"#,
        r#""app":{"appId":"a","displayName":"App","servicePrincipalId":"s"}"#,
        Taken,
    ),
    (r#""user":{"#, r#""user":null,"x":{"#, Taken),
    (
        r#""user":{"#,
        r#""user":[],"app":{"displayName":"App"},"x":{"#,
        Left,
    ),
    (r#""initiatedBy":{"#, r#""initiatedBy":null,"x":{"#, Taken),
    (
        r#""targetResources":["#,
        r#""targetResources":[1,null,"x",{},"#,
        Taken,
    ),
    (
        r#""targetResources":["#,
        r#""targetResources":{},"x":["#,
        Taken,
    ),
    (
        r#""additionalDetails":["#,
        r#""additionalDetails":"x","y":["#,
        Taken,
    ),
    (
        r#""modifiedProperties":["#,
        r#""modifiedProperties":[null,7,"#,
        Taken,
    ),
    (r#""id":"u1","#, r#""id":null,"#, Taken),
    (r#""id":"Directory_1","#, r#""id":null,"#, Left),
    (r#""id":"Directory_1","#, r#""id":["Directory_1"],"#, Left),
    // Numbers in odd forms, as text.
    (r#""Update","#, "1E2,", Taken),
    (r#""Update","#, "-0,", Taken),
    (r#""Update","#, "0.0,", Taken),
    (r#""Update","#, "1e-7,", Taken),
    (r#""Update","#, "1.5e+3,", Taken),
    (r#""Update","#, "9007199254740993,", Taken),
    (r#""Update","#, "18446744073709551615,", Taken),
    (r#""Update","#, "-9223372036854775808,", Taken),
    (r#""Update","#, "123456789012345678901234567890,", Taken),
    (r#""Update","#, "1e400,", Left),
    (r#""Update","#, "01,", Left),
    (r#""Update","#, "-,", Left),
    (r#""Update","#, "1.,", Left),
    (r#""Update","#, "+1,", Left),
    (r#""groupType":null"#, r#""groupType":-1.25E-300"#, Taken),
    (r#""groupType":null"#, r#""groupType":1e999"#, Left),
    // Not JSON, or more than one value.
    (r#""additionalDetails""#, r#""additionalDetails"x"#, Left),
    (r#""Update","#, r#""Update",,"#, Left),
    (r#""Update","#, r#""Update" "x","#, Left),
];

/// [`PLAIN`] with one case applied.
fn case(from: &str, to: &str) -> String {
    assert!(PLAIN.contains(from), "{from} is not in the record");
    PLAIN.replacen(from, to, 1)
}

fn ctx() -> Context<'static> {
    Context {
        tenant_id: "t",
        stream: None,
        ingested_at: Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
    }
}

/// The fast path's event line for `line`, or `None` when it leaves it to the `Value` path.
fn fast(line: &str) -> Option<String> {
    let writer = typed::Writer::new(Source::EntraDirectoryAudits, ctx());
    let mut out = Vec::new();
    let taken = writer.write(line.as_bytes(), &mut out, &mut typed::Pool::default());
    assert!(taken || out.is_empty(), "a record not taken writes nothing");
    taken.then(|| String::from_utf8(out).unwrap())
}

/// The `Value` path's event line for `line`, or its reason to quarantine it.
fn slow(line: &str) -> Result<String, String> {
    let raw = RawValue::from_string(line.to_string()).map_err(|e| e.to_string())?;
    let event = normalize(Source::EntraDirectoryAudits, &raw, ctx()).map_err(|e| e.to_string())?;
    Ok(serde_json::to_string(&event).unwrap() + "\n")
}

#[test]
fn every_case_reads_as_the_value_path_reads_it() {
    for &(from, to, want) in CASES {
        let line = case(from, to);
        let got = fast(&line);
        if let Some(event) = &got {
            assert_eq!(Ok(event), slow(&line).as_ref(), "{line}");
        }
        let taken = if got.is_some() { Taken } else { Left };
        assert_eq!(taken, want, "{line}");
    }
}

#[test]
fn the_cases_read_the_same_through_every_reader() {
    let mut input = Vec::new();
    for (i, &(from, to, _)) in CASES.iter().enumerate() {
        input.extend_from_slice(case(from, to).as_bytes());
        input.push(b'\n');
        // Now and then the same record around other lines: padding, a bad byte, a list.
        match i % 7 {
            0 => input.extend_from_slice(format!("\u{a0} {PLAIN}\u{3000}\n").as_bytes()),
            1 => input.extend_from_slice(b"{\"id\":\"bad \xc3\x28 byte\"}\n"),
            2 => input.extend_from_slice(format!("{{\"value\":[{PLAIN}]}}\n").as_bytes()),
            3 => input.extend_from_slice(format!("[{PLAIN},{PLAIN}]\n\n").as_bytes()),
            4 => input.extend_from_slice(format!("{PLAIN}}}\n{{}}\n").as_bytes()),
            // A whole Graph record with a byte that is not UTF-8 in a value, then in a key: the
            // typed path reads bytes, so it must see these and leave them to the `Value` path.
            5 => {
                let (at, key) = (
                    PLAIN.find("Update user").unwrap(),
                    PLAIN.find("groupType").unwrap(),
                );
                for (cut, bad) in [
                    (at + 7, &b"\xff"[..]),
                    (key + 5, b"\xc3\x28"),
                    (at, b"\xe2\x82"),
                ] {
                    input.extend_from_slice(&PLAIN.as_bytes()[..cut]);
                    input.extend_from_slice(bad);
                    input.extend_from_slice(&PLAIN.as_bytes()[cut..]);
                    input.push(b'\n');
                }
            }
            _ => {}
        }
    }
    let events = assert_same(Source::EntraDirectoryAudits, &input, "cases.ndjson");
    assert!(events > CASES.len(), "only {events} events");
}

#[test]
fn deep_nesting_is_left_to_the_value_path() {
    for depth in [3, 50, 70, 127, 130, 300] {
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let line = case(r#""groupType":null"#, &format!("\"groupType\":{deep}"));
        let got = fast(&line);
        if let Some(event) = &got {
            assert_eq!(Ok(event), slow(&line).as_ref(), "depth {depth}");
        }
        assert_eq!(got.is_some(), depth <= 50, "depth {depth}");
        assert_same(Source::EntraDirectoryAudits, line.as_bytes(), "deep.ndjson");
    }
}

/// Random single-byte edits of the cases (a byte inserted, replaced or removed, drawn from the
/// bytes JSON gives meaning to, and some that are not UTF-8 on their own): whatever the fast path
/// takes must be what the `Value` path makes of it, and a line that is not UTF-8 it must leave.
#[test]
fn random_edits_are_taken_only_as_the_value_path_reads_them() {
    const BYTES: &[u8] = b"\"\\{}[],: \t\r\n0123456789-+.eEutrfalsn/bxX\x00\x1f\x7f\xc3\xa9\xff";
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let writer = typed::Writer::new(Source::EntraDirectoryAudits, ctx());
    let (mut taken, mut edits) = (0, 0);
    for round in 0..30_000 {
        let (from, to, _) = CASES[round % CASES.len()];
        let mut line = case(from, to).into_bytes();
        for _ in 0..=(next() % 2) {
            let at = (next() % line.len() as u64) as usize;
            let b = BYTES[(next() % BYTES.len() as u64) as usize];
            match next() % 3 {
                0 => line.insert(at, b),
                1 => line[at] = b,
                _ => drop(line.remove(at)),
            }
        }
        edits += 1;
        let mut out = Vec::new();
        if !writer.write(&line, &mut out, &mut typed::Pool::default()) {
            continue;
        }
        taken += 1;
        let text = std::str::from_utf8(&line).expect("a line the fast path takes is UTF-8");
        let event = String::from_utf8(out).unwrap();
        assert_eq!(Ok(event), slow(text), "{text}");
    }
    // Many edits land in values and leave the record readable: the comparison is exercised.
    assert!(taken > edits / 4, "taken {taken} of {edits}");
}

/// Hands out its bytes in pieces of `piece` bytes, says `Interrupted` before every third piece,
/// and fails for good at byte `fail_at`.
struct Pieces<'a> {
    bytes: &'a [u8],
    at: usize,
    piece: usize,
    calls: usize,
    fail_at: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        if self.at >= self.fail_at {
            return Err(std::io::Error::other("the disk went away"));
        }
        let end = (self.at + self.piece)
            .min(self.bytes.len())
            .min(self.fail_at);
        let n = (end - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn input_read_in_pieces_interrupted_or_failing_reads_the_same() {
    let mut input = Vec::new();
    for i in 0..400 {
        let (from, to, _) = CASES[i % CASES.len()];
        input.extend_from_slice(case(from, to).as_bytes());
        input.push(b'\n');
    }
    let (want, want_problems) = reference(Source::EntraDirectoryAudits, &input, "in");
    for piece in [1, 7, 1000, 70_000] {
        for threads in [1, 2, 3] {
            let reader = Pieces {
                bytes: &input,
                at: 0,
                piece,
                calls: 0,
                fail_at: usize::MAX,
            };
            let (mut out, mut problems) = (Vec::new(), Vec::new());
            let threads = NonZeroUsize::new(threads).unwrap();
            let run = normalize_file(
                Source::EntraDirectoryAudits,
                "t",
                reader,
                "in",
                &mut out,
                &mut problems,
                threads,
            );
            run.unwrap();
            let out = without_clock(&String::from_utf8(out).unwrap());
            assert_eq!(
                out,
                without_clock(&want),
                "piece {piece}, threads {threads}"
            );
            assert_eq!(String::from_utf8(problems).unwrap(), want_problems);
        }
    }
    // A read that fails: the whole lines before it are normalized, then the error is reported.
    let fail_at = input.len() / 2 + 17;
    let whole = input[..fail_at].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let (want, _) = reference(Source::EntraDirectoryAudits, &input[..whole], "in");
    for threads in [0, 1, 2, 3] {
        let reader = Pieces {
            bytes: &input,
            at: 0,
            piece: 5000,
            calls: 0,
            fail_at,
        };
        let (mut out, mut problems) = (Vec::new(), Vec::new());
        let run = match NonZeroUsize::new(threads) {
            None => normalize_reader(
                Source::EntraDirectoryAudits,
                "t",
                reader,
                "in",
                &mut out,
                &mut problems,
            ),
            Some(n) => normalize_file(
                Source::EntraDirectoryAudits,
                "t",
                reader,
                "in",
                &mut out,
                &mut problems,
                n,
            ),
        };
        assert!(run.unwrap_err().to_string().contains("the disk went away"));
        let out = without_clock(&String::from_utf8(out).unwrap());
        assert_eq!(out, without_clock(&want), "threads {threads}");
    }
}
