//! `auditlake detect`: the built-in rules (and a directory of the tenant's own) over records in
//! any format `normalize` reads, one alert per line on stdout. Records are normalized as a pull
//! would (quarantined ones are reported on stderr, as `normalize` does), each event is evaluated
//! as it comes out, and thresholds run over the whole input in time order at the end.
//!
//! Exit codes (DESIGN "auditlake detect"): 0 nothing raised, 4 alerts raised, 2 a usage or rule
//! error, 3 some records quarantined (alerts are still printed), 1 an I/O error.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use detect::{Batch, Detector, RuleError, RuleSet};
use domain::model::{AuditEvent, Source};
use domain::stream::Stream;

/// Every `.yml` / `.yaml` file under `dir` (recursively), sorted, as (path, text); `dir` may be
/// one rule file.
fn rule_files(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    if dir.is_file() {
        let text = std::fs::read_to_string(dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        return Ok(vec![(dir.display().to_string(), text)]);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot read {}: {e}", d.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                out.push((path.display().to_string(), text));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The built-in pack, plus `dir`'s rules.
fn rules(dir: Option<&Path>) -> Result<RuleSet, Vec<String>> {
    let show = |errors: Vec<RuleError>| errors.iter().map(ToString::to_string).collect();
    let builtin = detect::pack::builtin().map_err(show)?;
    let Some(dir) = dir else {
        return Ok(builtin);
    };
    let files = rule_files(dir).map_err(|e| vec![e])?;
    if files.is_empty() {
        return Err(vec![format!(
            "{}: no rule files (*.yml, *.yaml) found",
            dir.display()
        )]);
    }
    let own = RuleSet::load(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).map_err(show)?;
    builtin.merge(own).map_err(show)
}

/// Takes `normalize`'s AuditEvent lines and evaluates each as it is complete.
struct Sink<'d> {
    batch: Batch<'d>,
    /// `--stream`: the stream of events that do not name one.
    stream: Option<String>,
    line: Vec<u8>,
    unreadable: u64,
}

impl Sink<'_> {
    fn evaluate(&mut self, line: &[u8]) {
        if line.is_empty() {
            return;
        }
        let Ok(mut event) = serde_json::from_slice::<AuditEvent>(line) else {
            // normalize writes only events it made; count, do not guess.
            self.unreadable += 1;
            return;
        };
        if event.stream.is_none() {
            event.stream.clone_from(&self.stream);
        }
        let raw = event
            .raw
            .as_ref()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r.get()).ok());
        self.batch.push(&event, raw.as_ref());
    }
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(at) = newline(rest) {
            self.line.extend_from_slice(&rest[..at]);
            let line = std::mem::take(&mut self.line);
            self.evaluate(&line);
            self.line = line;
            self.line.clear();
            rest = &rest[at + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// What `auditlake detect` was asked.
pub struct Args<'a> {
    pub source: Source,
    pub stream: Option<Stream>,
    pub tenant: &'a str,
    pub rules: Option<&'a Path>,
    pub files: &'a [PathBuf],
}

pub async fn run(args: Args<'_>) -> ExitCode {
    let Args {
        source,
        stream,
        tenant,
        rules: rules_dir,
        files,
    } = args;
    let set = match rules(rules_dir) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                eprintln!("auditlake: {e}");
            }
            return ExitCode::from(2);
        }
    };
    let detector = Detector::new(&set);
    let mut sink = Sink {
        batch: Batch::new(&detector),
        stream: stream.map(|s| s.name().to_owned()),
        line: Vec::new(),
        unreadable: 0,
    };
    let total = match crate::normalize_inputs(source, tenant, files, &mut sink) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let rest = std::mem::take(&mut sink.line);
    sink.evaluate(&rest);
    let events = sink.batch.events();
    let observations = sink.batch.observations();
    let unreadable = sink.unreadable;
    let alerts = sink.batch.finish().await;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for a in &alerts {
        if writeln!(out, "{}", a.detect_line()).is_err() {
            return ExitCode::SUCCESS; // stdout closed (a pipe into head)
        }
    }
    if out.flush().is_err() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "auditlake: {events} events evaluated against {} rules, {} alerts raised, {} quarantined, {observations} threshold observations",
        detector.rule_count(),
        alerts.len(),
        total.quarantined
    );
    if unreadable > 0 {
        eprintln!(
            "auditlake: {unreadable} normalized lines could not be read back (a bug: please report it)"
        );
        return ExitCode::from(1);
    }
    if total.quarantined > 0 {
        ExitCode::from(3)
    } else if alerts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    }
}
