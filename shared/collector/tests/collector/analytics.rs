//! The analytics SQL, run for real: a generator plants known answers in a week of events (failed
//! sign-ins from one country, a sign-in from a country new for its user, impossible travel, a
//! role assignment, a consent grant, forwarding and deleting inbox rules, a mass download, an
//! anonymous link, security-info changes, DLP matches), the real Rust writer stores them as
//! curated Parquet through [`CuratingEventStore`] (twice, as overlapping pulls do), and every
//! view and hunting query under `infra/athena/`, and each QuickSight data set of `template.yaml`,
//! runs through sqlglot and DuckDB ([`LocalEngine`]) with its answers checked exactly. Needs
//! `.venv` (scripts/test creates it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use collector::curated::CuratingEventStore;
use domain::analytics::Table;
use domain::model::{
    Actor, ActorKind, AuditEvent, EventResult, Location, Source, Target, fmt_time,
};
use domain::store::{EventStore, RawStore, StoreError, StoredEvent};
use query::analytics;
use serde_json::{Value, json};
use testkit::local_engine::LocalEngine;
use testkit::memory::MemoryEventStore;

/// A [`RawStore`] on a local folder: the key is the path (the layout DuckDB reads).
struct DirObjects(PathBuf);

#[async_trait::async_trait]
impl RawStore for DirObjects {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let path = self.0.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).map_err(|e| StoreError::backend("write", key, e))
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        std::fs::read(self.0.join(key)).map_err(|e| StoreError::backend("read", key, e))
    }
    async fn list(&self, _prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, h, m, 0).unwrap()
}

/// Builds events with unique ids.
#[derive(Default)]
struct Gen {
    events: Vec<AuditEvent>,
}

struct Ev<'a> {
    source: Source,
    stream: Option<&'a str>,
    time: DateTime<Utc>,
    service: &'a str,
    operation: &'a str,
    result: EventResult,
    user: &'a str,
    place: Option<(&'a str, f64, f64)>,
    targets: Vec<(&'a str, &'a str)>,
    details: Value,
}

impl Gen {
    fn push(&mut self, e: Ev<'_>) {
        let n = self.events.len();
        let key = format!("k{n:05}");
        self.events.push(AuditEvent {
            id: format!("{}:{key}", e.source.name()),
            record_id: Some(key.clone()),
            source: e.source,
            stream: e.stream.map(str::to_string),
            tenant_id: "t1".into(),
            time: e.time,
            service: Some(e.service.into()),
            category: None,
            operation: e.operation.into(),
            result: e.result,
            result_reason: None,
            actor: Actor {
                kind: ActorKind::User,
                id: None,
                upn: Some(e.user.into()),
                name: None,
                app_id: None,
            },
            targets: e
                .targets
                .iter()
                .map(|(kind, name)| Target {
                    kind: Some(kind.to_string()),
                    id: Some(format!("id-{name}")),
                    name: Some(name.to_string()),
                })
                .collect(),
            client_ip: Some(format!("203.0.113.{}", n % 250)),
            user_agent: None,
            location: e.place.map(|(c, lat, lon)| Location {
                city: None,
                state: None,
                country: Some(c.into()),
                lat: Some(lat),
                lon: Some(lon),
            }),
            details: e.details.as_object().cloned().unwrap_or_default(),
            dedupe_key: key,
            ingested_at: e.time + chrono::TimeDelta::minutes(5),
            raw: None,
            raw_ref: None,
        });
    }

    fn sign_in(&mut self, time: DateTime<Utc>, user: &str, ok: bool, place: (&str, f64, f64)) {
        self.push(Ev {
            source: Source::EntraSignIns,
            stream: Some("interactiveUser"),
            time,
            service: "Office 365 Exchange Online",
            operation: "Sign-in",
            result: if ok { EventResult::Success } else { EventResult::Failure },
            user,
            place: Some(place),
            targets: vec![],
            details: json!({"app_display_name": "Outlook", "status_code": if ok { 0 } else { 50126 }}),
        });
    }

    fn activity(
        &mut self,
        stream: &str,
        time: DateTime<Utc>,
        service: &str,
        operation: &str,
        user: &str,
        details: Value,
    ) {
        self.push(Ev {
            source: Source::M365Activity,
            stream: Some(stream),
            time,
            service,
            operation,
            result: EventResult::Success,
            user,
            place: None,
            targets: vec![],
            details,
        });
    }

    fn directory(
        &mut self,
        time: DateTime<Utc>,
        operation: &str,
        user: &str,
        targets: Vec<(&str, &str)>,
    ) {
        self.push(Ev {
            source: Source::EntraDirectoryAudits,
            stream: None,
            time,
            service: "Core Directory",
            operation,
            result: EventResult::Success,
            user,
            place: None,
            targets,
            details: json!({"operation_type": "Assign"}),
        });
    }
}

const SEATTLE: (&str, f64, f64) = ("US", 47.61, -122.33);
const LONDON: (&str, f64, f64) = ("GB", 51.51, -0.13);
const MOSCOW: (&str, f64, f64) = ("RU", 55.75, 37.62);
const BEIJING: (&str, f64, f64) = ("CN", 39.90, 116.40);
const SAO_PAULO: (&str, f64, f64) = ("BR", -23.55, -46.63);

/// The planted week (2024-05-01 .. 2024-05-07).
fn planted() -> Vec<AuditEvent> {
    let mut g = Gen::default();
    for day in 1..=3 {
        g.sign_in(at(day, 9, 0), "alice@contoso.com", true, SEATTLE);
        g.sign_in(at(day, 10, 0), "bob@contoso.com", true, LONDON);
    }
    g.sign_in(at(1, 8, 0), "carol@contoso.com", true, SEATTLE);
    // carol: exactly 4 failures from RU, 2 from US (below the threshold of 3).
    for m in 0..4 {
        g.sign_in(at(5, 3, m), "carol@contoso.com", false, MOSCOW);
    }
    g.sign_in(at(5, 8, 0), "carol@contoso.com", false, SEATTLE);
    g.sign_in(at(5, 8, 1), "carol@contoso.com", false, SEATTLE);
    g.sign_in(at(5, 4, 0), "dave@contoso.com", false, BEIJING);
    g.sign_in(at(5, 4, 1), "dave@contoso.com", false, BEIJING);
    // bob: London at 10:00, Sao Paulo at 12:00 (new country; ~9,500 km in 2 h).
    g.sign_in(at(6, 10, 0), "bob@contoso.com", true, LONDON);
    g.sign_in(at(6, 12, 0), "bob@contoso.com", true, SAO_PAULO);
    g.sign_in(at(6, 9, 0), "alice@contoso.com", true, SEATTLE);
    g.sign_in(at(6, 17, 0), "alice@contoso.com", true, SEATTLE);

    g.directory(
        at(5, 11, 0),
        "Add member to role",
        "admin@contoso.com",
        vec![
            ("User", "eve@contoso.com"),
            ("Role", "Global Administrator"),
        ],
    );
    g.directory(
        at(5, 11, 5),
        "Update user",
        "admin@contoso.com",
        vec![("User", "eve@contoso.com")],
    );
    g.directory(
        at(5, 11, 30),
        "Consent to application",
        "carol@contoso.com",
        vec![("ServicePrincipal", "Totally Legit Mail Reader")],
    );
    g.directory(
        at(5, 12, 0),
        "User registered security info",
        "carol@contoso.com",
        vec![("User", "carol@contoso.com")],
    );
    g.directory(
        at(6, 12, 0),
        "User deleted security info",
        "bob@contoso.com",
        vec![("User", "bob@contoso.com")],
    );

    let ex = "Audit.Exchange";
    g.activity(ex, at(5, 13, 0), "Exchange", "New-InboxRule", "carol@contoso.com",
        json!({"mailbox_owner_upn": "carol@contoso.com", "parameters": {"Name": "fwd", "ForwardTo": "drop@evil.example", "StopProcessingRules": "True"}}));
    g.activity(
        ex,
        at(5, 13, 5),
        "Exchange",
        "New-InboxRule",
        "alice@contoso.com",
        json!({"parameters": {"Name": "newsletters", "MoveToFolder": "News"}}),
    );
    g.activity(
        ex,
        at(6, 14, 0),
        "Exchange",
        "Set-InboxRule",
        "dave@contoso.com",
        json!({"parameters": {"Name": "hide", "DeleteMessage": "True"}}),
    );
    g.activity(
        ex,
        at(6, 14, 5),
        "Exchange",
        "MailItemsAccessed",
        "dave@contoso.com",
        json!({}),
    );

    let sp = "Audit.SharePoint";
    for i in 0..60 {
        g.activity(sp, at(5, 15, i % 60), "SharePoint", "FileDownloaded", "dave@contoso.com",
            json!({"file_name": format!("plan-{i}.docx"), "site_url": "https://contoso.sharepoint.com/sites/finance"}));
    }
    for i in 0..5 {
        g.activity(
            sp,
            at(5, 16, i),
            "OneDrive",
            "FileDownloaded",
            "alice@contoso.com",
            json!({"file_name": format!("notes-{i}.txt")}),
        );
    }
    g.activity(
        sp,
        at(6, 9, 30),
        "SharePoint",
        "AnonymousLinkCreated",
        "eve@contoso.com",
        json!({"file_name": "salaries.xlsx"}),
    );
    g.activity(sp, at(6, 9, 40), "SharePoint", "SharingInvitationCreated", "alice@contoso.com",
        json!({"file_name": "roadmap.pptx", "target_user_or_group_name": "bob@contoso.com", "target_user_or_group_type": "Member"}));

    let dlp = "DLP.All";
    for user in ["alice@contoso.com", "bob@contoso.com", "alice@contoso.com"] {
        g.activity(
            dlp,
            at(7, 10, 0),
            "Exchange",
            "DlpRuleMatch",
            user,
            json!({"policies": [{"id": "p1", "name": "PCI"}]}),
        );
    }
    for _ in 0..2 {
        g.activity(
            dlp,
            at(7, 11, 0),
            "SharePoint",
            "DlpRuleMatch",
            "carol@contoso.com",
            json!({"policies": [{"id": "p2", "name": "GDPR"}]}),
        );
    }
    g.events
}

/// What one pull stored: events new to the store and events it already held.
#[derive(Debug, PartialEq, Eq)]
struct Pulled {
    new: usize,
    duplicates: usize,
}

/// Stores events the way a pull does: through the curating event store.
async fn pull(store: &dyn EventStore, events: &[AuditEvent]) -> Pulled {
    let mut new = 0;
    let mut dup = 0;
    for page in events.chunks(17) {
        let batch = page
            .iter()
            .map(|e| StoredEvent {
                event: e.clone(),
                expires_at: 0,
            })
            .collect();
        for fresh in store.put_new(batch).await.unwrap() {
            if fresh { new += 1 } else { dup += 1 }
        }
    }
    Pulled {
        new,
        duplicates: dup,
    }
}

fn python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

/// Runs one ad-hoc SQL text (Athena dialect) through the local runner.
fn sql(data: &Path, text: &str) -> Table {
    let file = data.join("adhoc.sql");
    std::fs::write(&file, text).unwrap();
    let runner =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/athena/local_runner.py");
    let out = std::process::Command::new(python())
        .arg(runner)
        .arg("--data")
        .arg(data)
        .arg("--sql")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn count(data: &Path, from: &str) -> String {
    sql(data, &format!("SELECT count(*) AS n FROM {from}")).rows[0][0]
        .clone()
        .unwrap()
}

async fn hunt(engine: &LocalEngine, name: &str, params: Value) -> Table {
    let t = analytics::run_hunting_query(
        engine,
        name,
        params.as_object().unwrap(),
        Duration::from_secs(60),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    eprintln!("{name}:\n{}", t.render());
    t
}

fn strs(t: &Table, col: &str) -> Vec<String> {
    t.values(col)
        .into_iter()
        .map(|v| v.unwrap_or_default())
        .collect()
}

/// Each QuickSight data set of `template.yaml`: its SQL and the columns it declares.
fn quicksight_data_sets() -> Vec<(String, Vec<String>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let template = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(q) = l.trim().strip_prefix("SqlQuery: !Sub ") else {
            continue;
        };
        let sql = q.trim_matches('"').replace("\\\"", "\"");
        let columns = lines[i + 1..]
            .iter()
            .skip_while(|c| c.trim() == "Columns:")
            .map_while(|c| c.trim().strip_prefix("- {Name: "))
            .map(|c| c.split(',').next().unwrap_or_default().to_string())
            .collect();
        out.push((sql, columns));
    }
    out
}

/// The dashboard's data sets (issue 13) run through the local engine on the planted May 2024
/// events, `current_date` pinned to 2024-05-31 and the Glue database left to the runner: each
/// answers with the columns it declares, and with what was planted.
fn quicksight_data_sets_answer(data: &Path, total: usize) {
    let sets = quicksight_data_sets();
    assert_eq!(sets.len(), 3, "the template's QuickSight data sets");
    for (text, columns) in sets {
        let local = text
            .replace("\"${AnalyticsDatabaseName}\".", "")
            .replace("current_date", "DATE '2024-05-31'");
        let t = sql(data, &local);
        let names: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        assert_eq!(names, columns, "{text}");
        assert!(!t.rows.is_empty(), "no rows: {text}");
        if text.contains(".sign_ins ") {
            assert_eq!(t.rows.len(), 19, "every planted sign-in");
        }
        if text.contains(".events ") {
            let sum: usize = strs(&t, "events")
                .iter()
                .map(|n| n.parse::<usize>().unwrap())
                .sum();
            assert_eq!(
                sum, total,
                "the operations data set counts every event once"
            );
        }
        if text.contains(".directory_changes ") {
            for op in strs(&t, "operation") {
                assert!(
                    op.to_lowercase().contains("role")
                        || op.starts_with("Consent")
                        || op.contains("security info"),
                    "{op}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_query_answers_exactly_what_was_planted_and_a_second_pull_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let events = planted();
    let total = events.len();
    let store = CuratingEventStore::wrap(
        Arc::new(MemoryEventStore::default()),
        Arc::new(DirObjects(data.to_path_buf())),
    );

    assert_eq!(
        pull(store.as_ref(), &events).await,
        Pulled {
            new: total,
            duplicates: 0
        }
    );
    assert_eq!(count(data, "events"), total.to_string());
    assert_eq!(count(data, "curated_events"), total.to_string());

    // The same windows again, and an overlapping half: every row is written again (curated is
    // written before the dedupe), the view still counts each event once.
    assert_eq!(
        pull(store.as_ref(), &events).await,
        Pulled {
            new: 0,
            duplicates: total
        }
    );
    assert_eq!(
        pull(store.as_ref(), &events[total / 2..]).await,
        Pulled {
            new: 0,
            duplicates: total - total / 2
        }
    );
    assert_eq!(
        count(data, "curated_events"),
        (2 * total + total - total / 2).to_string()
    );
    assert_eq!(count(data, "events"), total.to_string());
    for view in [
        "sign_ins",
        "directory_changes",
        "mailbox_activity",
        "file_sharing",
    ] {
        let n: usize = count(data, view).parse().unwrap();
        assert!(n > 0, "{view} is empty");
    }
    assert_eq!(count(data, "sign_ins"), "19");
    assert_eq!(count(data, "directory_changes"), "5");
    assert_eq!(count(data, "mailbox_activity"), "7");
    assert_eq!(count(data, "file_sharing"), "69");
    quicksight_data_sets_answer(data, total);
    // The timestamp round-trips at millisecond precision, in UTC.
    let t = sql(
        data,
        "SELECT min(time) AS t FROM events WHERE dt = '2024-05-05'",
    );
    assert!(
        t.rows[0][0]
            .as_deref()
            .unwrap()
            .starts_with("2024-05-05 03:00:00")
    );
    assert_eq!(fmt_time(at(5, 3, 0)), "2024-05-05T03:00:00.000Z");

    let engine = LocalEngine::from_repo(data);
    let week = json!({"start_date": "2024-05-01", "end_date": "2024-05-07"});
    let with = |k: &str, v: Value| {
        let mut p = week.clone();
        p[k] = v;
        p
    };

    let t = hunt(
        &engine,
        "failed_sign_ins_by_user_country",
        with("min_failures", json!(3)),
    )
    .await;
    assert_eq!(strs(&t, "user_upn"), ["carol@contoso.com"]);
    assert_eq!(strs(&t, "country"), ["RU"]);
    assert_eq!(strs(&t, "failures"), ["4"]);
    let t = hunt(
        &engine,
        "failed_sign_ins_by_user_country",
        with("min_failures", json!(2)),
    )
    .await;
    assert_eq!(t.rows.len(), 3, "carol RU 4, carol US 2, dave CN 2");

    let t = hunt(
        &engine,
        "new_country_sign_ins",
        json!({"start_date": "2024-05-04", "end_date": "2024-05-07", "baseline_start": "2024-05-01"}),
    )
    .await;
    assert_eq!(strs(&t, "user_upn"), ["bob@contoso.com"]);
    assert_eq!(strs(&t, "country"), ["BR"]);

    let t = hunt(&engine, "impossible_travel", with("max_kmh", json!(1000))).await;
    assert_eq!(strs(&t, "user_upn"), ["bob@contoso.com"]);
    assert_eq!(strs(&t, "from_country"), ["GB"]);
    assert_eq!(strs(&t, "to_country"), ["BR"]);
    let km: f64 = strs(&t, "km")[0].parse().unwrap();
    assert!((9_400.0..9_600.0).contains(&km), "{km}");

    let t = hunt(&engine, "admin_role_assignments", week.clone()).await;
    assert_eq!(strs(&t, "assignee"), ["eve@contoso.com"]);
    assert_eq!(strs(&t, "role"), ["Global Administrator"]);
    assert_eq!(strs(&t, "actor"), ["admin@contoso.com"]);

    let t = hunt(&engine, "consent_grants", week.clone()).await;
    assert_eq!(strs(&t, "app"), ["Totally Legit Mail Reader"]);
    assert_eq!(strs(&t, "actor"), ["carol@contoso.com"]);

    let t = hunt(&engine, "inbox_rules_forward_delete", week.clone()).await;
    assert_eq!(strs(&t, "actor"), ["carol@contoso.com", "dave@contoso.com"]);
    assert_eq!(strs(&t, "forwards_to"), ["drop@evil.example", ""]);
    assert_eq!(strs(&t, "deletes"), ["false", "true"]);

    let t = hunt(
        &engine,
        "mass_downloads_or_external_sharing",
        with("min_downloads", json!(50)),
    )
    .await;
    assert_eq!(strs(&t, "kind"), ["external_sharing", "mass_download"]);
    assert_eq!(strs(&t, "actor"), ["eve@contoso.com", "dave@contoso.com"]);
    assert_eq!(strs(&t, "events"), ["1", "60"]);

    let t = hunt(&engine, "mfa_method_changes", week.clone()).await;
    assert_eq!(
        strs(&t, "user_changed"),
        ["carol@contoso.com", "bob@contoso.com"]
    );

    let t = hunt(&engine, "dlp_matches_by_policy", week.clone()).await;
    assert_eq!(strs(&t, "policy"), ["PCI", "GDPR"]);
    assert_eq!(strs(&t, "service"), ["Exchange", "SharePoint"]);
    assert_eq!(strs(&t, "matches"), ["3", "2"]);
    assert_eq!(strs(&t, "users"), ["2", "1"]);

    // A date range that excludes the planted day prunes it away.
    let t = hunt(
        &engine,
        "failed_sign_ins_by_user_country",
        json!({"start_date": "2024-05-06", "end_date": "2024-05-07", "min_failures": 1}),
    )
    .await;
    assert!(t.rows.is_empty());

    // Every hunting query in the catalog ran above.
    assert_eq!(domain::analytics::catalog().len(), 9);
}

#[tokio::test]
async fn the_local_engine_reports_time_limits_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let engine = LocalEngine::from_repo(dir.path());
    let p = json!({"start_date": "2024-05-01", "end_date": "2024-05-07"});
    // No data: the runner fails, and the failure is an engine error (5xx), not a panic.
    let err = analytics::run_hunting_query(
        &engine,
        "consent_grants",
        p.as_object().unwrap(),
        Duration::from_secs(60),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 502, "{err}");
    let err = analytics::run_hunting_query(
        &engine,
        "consent_grants",
        p.as_object().unwrap(),
        Duration::from_millis(1),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 504, "{err}");
}
