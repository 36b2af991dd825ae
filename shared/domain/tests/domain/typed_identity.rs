//! The typed fast path (`domain::normalize::typed`) and the batched, threaded reader give exactly
//! the output of the `Value` path they shortcut (issue 14): run side by side on the same inputs,
//! byte for byte. The reference here is the reader as it was before the fast path: `input::read`
//! and `normalize`/`normalize_envelope` per item, written one event per line. Inputs: directory
//! audits generated in many shapes (nulls, sentinels, numbers, escapes, keys in other cases,
//! duplicate keys, list responses and envelopes on a line, bad lines), the shared corpus read in
//! place, and the fast path's own record-by-record answers. Comparing with today's code rather
//! than a frozen file keeps this test right when the event format changes on purpose.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use domain::model::Source;
use domain::normalize::input::{self, Item};
use domain::normalize::{
    Context, accepts_envelope, normalize, normalize_envelope, normalize_file, normalize_reader,
    typed,
};
use serde_json::value::RawValue;

/// The reader before issue 14, kept as the oracle: events and problem lines as it wrote them.
pub(super) fn reference(source: Source, input: &[u8], name: &str) -> (String, String) {
    let ctx = Context {
        tenant_id: "t",
        stream: None,
        ingested_at: Utc::now(),
    };
    let (mut out, mut problems) = (String::new(), String::new());
    let mut stopped = false;
    input::read(input, name, &mut |item| {
        if stopped {
            return;
        }
        let (position, normalized) = match item {
            Item::Record { position, raw } => (position, normalize(source, &raw, ctx)),
            Item::Envelope { position, raw } if accepts_envelope(source) => {
                (position, normalize_envelope(source, &raw, ctx))
            }
            Item::Envelope { position, .. } => {
                problems.push_str(&format!("stopped at {position}\n"));
                stopped = true;
                return;
            }
            Item::Invalid { position, reason } => {
                problems.push_str(&format!("{position}: {reason}\n"));
                return;
            }
        };
        match normalized {
            Ok(mut event) => {
                if let Some(r) = event
                    .raw
                    .as_ref()
                    .filter(|r| r.get().contains(['\n', '\r']))
                {
                    event.raw = RawValue::from_string(r.get().replace(['\n', '\r'], " ")).ok();
                }
                out.push_str(&serde_json::to_string(&event).unwrap());
                out.push('\n');
            }
            Err(e) => problems.push_str(&format!("{position}: {e}\n")),
        }
    })
    .unwrap();
    (out, problems)
}

/// `normalize_reader` (threads = 0) or `normalize_file` over `input`.
fn current(source: Source, input: &[u8], name: &str, threads: usize) -> (String, String) {
    let (mut out, mut problems) = (Vec::new(), Vec::new());
    let result = match NonZeroUsize::new(threads) {
        None => normalize_reader(source, "t", input, name, &mut out, &mut problems),
        Some(n) => normalize_file(source, "t", input, name, &mut out, &mut problems, n),
    };
    let mut problems = String::from_utf8(problems).unwrap();
    if let Err(e) = result {
        let position = e.to_string();
        let position = position.split(": ").next().unwrap();
        problems.push_str(&format!("stopped at {position}\n"));
    }
    (String::from_utf8(out).unwrap(), problems)
}

/// Each event line with its `ingested_at` (the clock at the run's start) set to one value.
pub(super) fn without_clock(out: &str) -> String {
    const KEY: &str = ",\"ingested_at\":\"";
    out.lines()
        .map(|l| match l.find(KEY) {
            Some(i) => format!("{}{KEY}<now>{}", &l[..i], &l[i + KEY.len() + 24..]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that every way of reading `input` gives the reference's output, byte for byte.
pub(super) fn assert_same(source: Source, input: &[u8], name: &str) -> usize {
    let (want_out, want_problems) = reference(source, input, name);
    let want_out = without_clock(&want_out);
    for threads in [0, 1, 2, 3] {
        let (out, problems) = current(source, input, name, threads);
        let out = without_clock(&out);
        if out != want_out {
            let (a, b) = (out.lines(), want_out.lines());
            let first = a.zip(b).position(|(x, y)| x != y);
            panic!(
                "{name}, threads {threads}: events differ (first differing line {first:?}; {} against {} lines):\n{:?}\n{:?}",
                out.lines().count(),
                want_out.lines().count(),
                first.and_then(|i| out.lines().nth(i)),
                first.and_then(|i| want_out.lines().nth(i)),
            );
        }
        assert_eq!(problems, want_problems, "{name}, threads {threads}");
    }
    want_out.lines().count()
}

/// A small deterministic generator (xorshift), so a failure names a reproducible input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

/// One directory-audit line in one of many shapes; most are the plain Graph shape the fast path
/// takes, the rest each exercise a rule it must leave to the `Value` path or follow exactly.
fn record(rng: &mut Rng, i: usize) -> String {
    let id = match rng.next() % 12 {
        0 => "\"a/b c\"".to_string(),
        1 => "null".to_string(),
        2 => "\"<null>\"".to_string(),
        3 => format!("{i}"),
        4 => format!("\" Directory_{i} \""),
        _ => format!("\"Directory_{i:08x}_AB12C_{}\"", rng.next() % 100000),
    };
    let time = rng.pick(&[
        "\"2025-05-31T00:59:58.7467215Z\"",
        "\"2025-05-31T00:59:58Z\"",
        "\"2025-05-31T02:59:58.1+02:00\"",
        "\"2025-05-31 00:59:58.049661100\"",
        "\"2025-05-31T00:59:58\"",
        "\"last tuesday\"",
        "12",
        "\"\"",
    ]);
    let operation = rng.pick(&[
        "\"Add member to role\"",
        "\"Update application \\u2013 Certificates and secrets management\"",
        "\"Update application – Certificates\"",
        "\"  padded  \"",
        "\"N/A\"",
        "\"say \\\"hi\\\"\\n\"",
        "null",
    ]);
    let result = rng.pick(&[
        "\"success\"",
        "\"failure\"",
        "\"timeout\"",
        "\"unknownFutureValue\"",
        "\"PartiallySucceeded\"",
        "0",
        "1",
        "1.50",
        "true",
        "null",
        "{\"a\": 1}",
    ]);
    let reason = rng.pick(&[
        "\"\"",
        "\"Microsoft.Online.Workflows.ObjectNotFound\"",
        "null",
        "\" n/a \"",
    ]);
    let user = rng.pick(&[
        r#"{"id":"40cb37e6-cc0a-47a6-9a6d-3ab5529f9971","displayName":"Grady Archie","userPrincipalName":"grady.archie@contoso.onmicrosoft.com","ipAddress":"203.0.113.58"}"#,
        r#"{"id":null,"displayName":"Only A Name","userPrincipalName":"","ipAddress":"203.0.113.9","userType":"Member","homeTenantId":"h1"}"#,
        r#"{"id":"u2","displayName":null,"userPrincipalName":"x@y","ipAddress":null,"userType":null,"homeTenantId":"<null>","homeTenantName":null}"#,
        r#"null"#,
        r#"[1,2]"#,
        r#""someone""#,
    ]);
    let app = rng.pick(&[
        r#"null"#,
        r#"{"appId":"a1","displayName":"Deployer","servicePrincipalId":"sp1","servicePrincipalName":null}"#,
        r#"{"appId":null,"displayName":null,"servicePrincipalId":null,"servicePrincipalName":"Only SPN"}"#,
        r#"{"appId":"a2","displayName":null,"servicePrincipalId":"","servicePrincipalName":"Named"}"#,
    ]);
    let initiated_by = match rng.next() % 10 {
        0 => "null".to_string(),
        1 => "\"text\"".to_string(),
        _ => format!("{{\"user\":{user},\"app\":{app}}}"),
    };
    let mut targets = Vec::new();
    for t in 0..(rng.next() % 4) {
        let props: Vec<&str> = (0..(rng.next() % 3))
            .map(|_| {
                rng.pick(&[
                    r#"{"displayName":"Role.DisplayName","oldValue":null,"newValue":"\"Global Administrator\""}"#,
                    r#"{"displayName":"KeyDescription","oldValue":"[]","newValue":"[\"[KeyIdentifier=e9, KeyType=Password]\"]"}"#,
                    r#"{"displayName":null,"oldValue":3,"newValue":false}"#,
                    r#""not an object""#,
                ])
            })
            .collect();
        let kind = rng.pick(&[
            r#""type":"User""#,
            r#""Type":"Group""#,
            r#""type":null,"Type":"Role""#,
            r#""type":"Application","Type":"Ignored""#,
            r#""groupType":null"#,
        ]);
        targets.push(match rng.next() % 9 {
            0 => "5".to_string(),
            1 => "null".to_string(),
            _ => format!(
                r#"{{"id":"t{t}-{i}","displayName":{},{kind},"userPrincipalName":{},"modifiedProperties":[{}]}}"#,
                rng.pick(&["\"Target Name\"", "null", "\"\""]),
                rng.pick(&["null", "\"eve@contoso.example\""]),
                props.join(",")
            ),
        });
    }
    let targets = if rng.one_in(15) {
        "{\"not\":\"an array\"}".to_string()
    } else {
        format!("[{}]", targets.join(","))
    };
    let details: Vec<&str> = (0..(rng.next() % 4))
        .map(|_| {
            rng.pick(&[
                r#"{"key":"User-Agent","value":"Mozilla/5.0 (X11)"}"#,
                r#"{"key":"user-agent","value":"curl/8"}"#,
                r#"{"key":"AppId","value":"24e528a4-6fa2-4ac3-80d5-f88726e17191"}"#,
                r#"{"key":"AppId","value":null}"#,
                r#"{"key":null,"value":"lost"}"#,
                r#"{"key":"Count","value":42}"#,
                r#"17"#,
            ])
        })
        .collect();
    let mut fields = vec![
        format!("\"id\":{id}"),
        "\"category\":\"ApplicationManagement\"".to_string(),
        "\"correlationId\":\"64520543-2c2c-4bb2-93e3-5bd49bfaadd6\"".to_string(),
        format!("\"result\":{result}"),
        format!("\"resultReason\":{reason}"),
        format!("\"activityDisplayName\":{operation}"),
        format!("\"activityDateTime\":{time}"),
        "\"loggedByService\":\"Core Directory\"".to_string(),
        format!(
            "\"operationType\":{}",
            rng.pick(&["\"Update\"", "null", "7"])
        ),
        format!("\"initiatedBy\":{initiated_by}"),
        format!("\"targetResources\":{targets}"),
        format!("\"additionalDetails\":[{}]", details.join(",")),
    ];
    // Rarer shapes, one at a time: each must go to the `Value` path or be read as it reads them.
    match rng.next() % 40 {
        0 => fields.push("\"ActivityDateTime\":\"2020-01-01T00:00:00Z\"".into()),
        1 => fields[0] = fields[0].replace("\"id\"", "\"ID\""),
        2 => fields.push("\"id\":\"second\"".into()),
        3 => fields.push("\"durationMs\":1e999".into()),
        4 => fields.push("\"value\":[{\"id\":\"inner\"}]".into()),
        5 => fields.push("\"properties\":{\"id\":\"p\"},\"operationName\":\"x\"".into()),
        6 => fields.push("\"extra\":{\"deep\":[[[{\"a\":[1,2,{\"b\":null}]}]]],\"n\":-0.0}".into()),
        7 => fields.push("\"\\u0069d\":\"escaped key\"".into()),
        8 => fields.push("\"$serde_json::private::RawValue\":\"{}\"".into()),
        9 => fields.push("\"records\":5".into()),
        10 => fields.push("\"bad\":\"\\ud800\"".into()),
        11 => fields.push("\"big\":18446744073709551616".into()),
        12 => fields[1] = "\"category\":\"caf\\u00e9 \\ud83d\\ude00 \\/ \\\"q\\\"\"".into(),
        13 => fields[1] = "\"category\" :\t\"spaced\" ".into(),
        14 => fields[1] = "\"category\":\"\\u003cnull\\u003e\"".into(),
        15 => fields[9] = fields[9].replacen("{\"id\":", "{\"id\":\"dup\",\"id\":", 1),
        16 => fields[9] = fields[9].replacen("\"app\"", "\"App\"", 1),
        17 => fields.push("\"n\":[-0,1E2,0.5e-3,-12345678901234567890]".into()),
        _ => {}
    }
    if rng.one_in(10) {
        let n = fields.len() as u64;
        fields.swap(0, (rng.next() % n) as usize);
    }
    let sep = if rng.one_in(8) { " , " } else { "," };
    let mut line = format!("{{{}}}", fields.join(sep));
    match rng.next() % 50 {
        0 => line.push_str("   "),
        1 => line = format!("  {line}"),
        2 => line = line.replacen(',', ",\r", 1),
        3 => line.push('\r'),
        4 => line.truncate(line.len() / 2),
        5 => line = format!("[{line},{line}]"),
        6 => line = format!("{{\"value\":[{line}]}}"),
        7 => line = String::new(),
        _ => {}
    }
    line
}

fn generated(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(record(&mut rng, i).as_bytes());
        out.push(b'\n');
        if rng.one_in(200) {
            out.extend_from_slice(b"{\"id\": \"bad\xff\xfe\"}\n");
        }
    }
    out
}

#[test]
fn generated_directory_audits_read_the_same_on_every_path() {
    // About 4 MB: many batches, so the threaded reader's ordering is exercised.
    let input = generated(0x5eed, 4000);
    let events = assert_same(Source::EntraDirectoryAudits, &input, "gen.ndjson");
    assert!(events > 1000, "{events} events: the generator lost its way");
    // The same bytes as another source's records: that source has no fast path, nothing changes.
    assert_same(Source::EntraSignIns, &input, "gen.ndjson");
}

#[test]
fn the_fast_path_takes_plain_graph_records_and_leaves_the_rest() {
    let ctx = Context {
        tenant_id: "t",
        stream: Some("s"),
        ingested_at: Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
    };
    let writer = typed::Writer::new(Source::EntraDirectoryAudits, ctx);
    // One scratch for every record, as a thread of the reader keeps it.
    let scratch = std::cell::RefCell::new(typed::Scratch::default());
    let fast = |line: &str| {
        let mut out = b"kept".to_vec();
        let mut scratch = scratch.borrow_mut();
        let mut pool = scratch.pool();
        let taken = writer.write(line.as_bytes(), &mut out, &mut pool);
        scratch.keep(pool);
        assert!(out.starts_with(b"kept"), "what was in the buffer is kept");
        if !taken {
            assert_eq!(out, b"kept", "a record not taken writes nothing");
        }
        taken.then(|| String::from_utf8(out[4..].to_vec()).unwrap())
    };
    let mut rng = Rng(42);
    let (mut taken, mut left) = (0, 0);
    for i in 0..3000 {
        let line = record(&mut rng, i);
        let line = line.trim();
        let value = RawValue::from_string(line.to_string())
            .ok()
            .map(|raw| normalize(Source::EntraDirectoryAudits, &raw, ctx));
        match fast(line) {
            Some(fast) => {
                taken += 1;
                let Some(Ok(slow)) = value else {
                    panic!("the fast path took a record the Value path refuses: {line}");
                };
                assert_eq!(fast, serde_json::to_string(&slow).unwrap() + "\n", "{line}");
            }
            None => left += 1,
        }
    }
    // About a quarter of the generated records are plain enough; a fast path that took none would
    // pass the rest of this file untested.
    assert!(taken > 500 && left > 500, "taken {taken}, left {left}");

    let plain = r#"{"id":"Directory_1","activityDateTime":"2024-04-30T22:15:01Z","activityDisplayName":"Add user","initiatedBy":{"user":{"id":"u"}}}"#;
    assert!(fast(plain).is_some());
    for other in [
        plain.replace("\"id\"", "\"Id\""),
        plain.replace("\"user\"", "\"User\""),
        plain.replace("{\"id\":\"Directory_1\",", "{"),
        plain.replace("2024-04-30T22:15:01Z", "soon"),
        format!("[{plain}]"),
    ] {
        assert!(fast(&other).is_none(), "{other}");
    }
    let sign_ins = typed::Writer::new(Source::EntraSignIns, ctx);
    assert!(!sign_ins.write(
        plain.as_bytes(),
        &mut Vec::new(),
        &mut typed::Pool::default()
    ));
}

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    // A CI run must check the corpus; elsewhere it may be absent.
    assert!(
        std::env::var_os("CI").is_none(),
        "corpus not found at {}",
        dir.display()
    );
    eprintln!("note: corpus not found at {}; not checked", dir.display());
    None
}

#[test]
fn the_corpus_reads_the_same_on_every_path() {
    let Some(dir) = corpus() else { return };
    let mut events = 0;
    for (folder, source) in [
        ("graph-directory-audits", Source::EntraDirectoryAudits),
        ("graph-signins", Source::EntraSignIns),
        ("intune-audit-events", Source::IntuneAudit),
        ("message-trace", Source::ExchangeMessageTrace),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            events += assert_same(source, &bytes, &name);
            // Each record on a line of its own (compact), as an export or the raw layer has it.
            if source == Source::EntraDirectoryAudits {
                let mut lines = Vec::new();
                input::read(&bytes[..], &name, &mut |item| {
                    if let Item::Record { raw, .. } = item {
                        let v: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
                        lines.extend(v.to_string().into_bytes());
                        lines.push(b'\n');
                    }
                })
                .unwrap();
                events += assert_same(source, &lines, &name);
            }
        }
    }
    assert!(events > 20, "only {events} events from the corpus");
}
