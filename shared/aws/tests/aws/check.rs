//! template.yaml against the code. For every function in the template:
//! - its `Environment.Variables` are `AUDITLAKE_*` variables its configuration parses: for a
//!   puller, a subset of `PULLER_VARS` without another source's own variables and without the
//!   endpoint overrides (tests only), including every required one;
//! - its IAM statements grant exactly the calls in `aws::permissions` (no more, no less):
//!   inline documents only, no `*` in an allowed action or as a resource, KMS only under the
//!   `UseKmsKey` condition, no allowed action that could tamper with the audit store;
//! - its one `Deny` statement, `permissions::TAMPER_SID`, denies exactly
//!   `permissions::TAMPER_ACTIONS` on both buckets and their objects (any other `Deny` is named,
//!   so the check cannot be satisfied by a statement it does not understand).
//!
//! A function whose crate (`functions/<name>`) is not in this checkout is skipped with a message,
//! so the template can describe a function that lands in another branch.
//!
//! Which optional puller variables the template sets: `AUDITLAKE_CLOUD`,
//! `AUDITLAKE_HOT_RETENTION_DAYS` and `AUDITLAKE_INITIAL_LOOKBACK_DAYS` (stack parameters), and
//! the source's own list (`AUDITLAKE_SIGNIN_KINDS`, `AUDITLAKE_CONTENT_TYPES`). The tuning knobs
//! (`LAG_SECS`, `WRITE_CONCURRENCY`, ...) keep their code defaults; an operator may add them.
//!
//! This module is the checker; `template` runs it over the real template and `mistakes` over
//! broken copies of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws::permissions::{self, FunctionCalls, Resource, TAMPER_ACTIONS, TAMPER_SID};
use domain::config::{
    ASK_VARS, BACKFILL_VARS, DETECT_VARS, FORWARD_VARS, NOTIFY_VARS, PULLER_VARS, QUERY_VARS,
};
use domain::model::Source;
use serde_json::Value;

use crate::cfn::{branches, parse, render};

/// The template expressions a resource of the calls list is granted by.
fn expressions(r: Resource) -> Vec<String> {
    let ssm = |p: &str| {
        format!(
            "Sub arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{{p}}}"
        )
    };
    match r {
        Resource::RawPrefix(s) => {
            vec![format!("Sub ${{LakeBucket.Arn}}/raw/source={}/*", s.name())]
        }
        Resource::AllRaw => vec!["Sub ${LakeBucket.Arn}/raw/*".into()],
        Resource::QuarantinePrefix(s) => vec![format!(
            "Sub ${{LakeBucket.Arn}}/quarantine/source={}/*",
            s.name()
        )],
        Resource::CuratedPrefix(s) => vec![format!(
            "Sub ${{LakeBucket.Arn}}/curated/source={}/*",
            s.name()
        )],
        Resource::EventsTable => vec!["GetAtt EventsTable.Arn".into()],
        Resource::IngestItems => vec![format!(
            "GetAtt EventsTable.Arn {INGEST_CONDITION}"
        )],
        Resource::AnnotationItems => vec![format!(
            "GetAtt EventsTable.Arn {ANNOTATION_CONDITION}"
        )],
        Resource::EventsIndex(i) => vec![format!("Sub ${{EventsTable.Arn}}/index/{i}")],
        Resource::StateTable => vec!["GetAtt StateTable.Arn".into()],
        // Secret or certificate, chosen by the UseCertificate condition: both branches grant.
        Resource::CredentialParameter => vec![
            ssm("ClientSecretParameterName"),
            ssm("ClientCertParameterName"),
        ],
        Resource::CursorKeyParameter => vec![ssm("CursorKeyParameterName")],
        Resource::LlmKeyParameter => vec![ssm("LlmKeyParameterName")],
        Resource::BucketKmsKey => vec!["Ref KmsKeyArn".into()],
        Resource::AllCurated => vec!["Sub ${LakeBucket.Arn}/curated/*".into()],
        Resource::AthenaResults => vec!["Sub ${LakeBucket.Arn}/athena-results/*".into()],
        Resource::LakeBucket => vec!["GetAtt LakeBucket.Arn".into()],
        Resource::AnalyticsWorkGroup => vec![
            "Sub arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AnalyticsWorkGroup}".into(),
        ],
        Resource::GlueCatalog => {
            vec!["Sub arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog".into()]
        }
        Resource::GlueDatabase => vec![
            "Sub arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/${AnalyticsDatabaseName}".into(),
        ],
        Resource::GlueTables => vec![
            "Sub arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${AnalyticsDatabaseName}/*".into(),
        ],
        Resource::AlertsTable => vec!["GetAtt AlertsTable.Arn".into()],
        Resource::AlertsIndex => vec!["Sub ${AlertsTable.Arn}/index/by_month".into()],
        Resource::AlertItems => vec![format!("GetAtt AlertsTable.Arn {ALERT_CONDITION}")],
        Resource::AlertNoteItems => vec![format!("GetAtt AlertsTable.Arn {ALERT_NOTES_CONDITION}")],
        Resource::EventsStream => vec!["GetAtt EventsTable.StreamArn".into()],
        Resource::DetectionDeadLetters => vec!["GetAtt DetectionDeadLetterQueue.Arn".into()],
        Resource::AlertsStream => vec!["GetAtt AlertsTable.StreamArn".into()],
        Resource::DeliveryItems => vec![format!("GetAtt AlertsTable.Arn {DELIVERY_CONDITION}")],
        Resource::AlertTopic => vec!["Ref AlertTopic".into()],
        Resource::WebhookSecretParameter => vec![ssm("WebhookSecretParameterName")],
        Resource::ForwardSecretParameter => vec![ssm("ForwardSecretParameterName")],
        Resource::NotifyDeadLetters => vec!["GetAtt NotifyDeadLetterQueue.Arn".into()],
        Resource::ForwardDeadLetters => vec!["GetAtt ForwardDeadLetterQueue.Arn".into()],
    }
}

/// The IAM conditions that split the events table's items between ingestion and annotations,
/// as [`iam_condition`] renders them.
const INGEST_CONDITION: &str = "if ForAllValues:StringNotLike dynamodb:LeadingKeys note#*";
const ANNOTATION_CONDITION: &str = "if ForAllValues:StringLike dynamodb:LeadingKeys note#*";
/// The conditions that keep the query API's alerts-table writes off the alert items but for
/// triage updates.
const ALERT_CONDITION: &str = "if ForAllValues:StringLike dynamodb:LeadingKeys alert#*";
/// The delivery functions write only their markers and health items.
const DELIVERY_CONDITION: &str = "if ForAllValues:StringLike dynamodb:LeadingKeys delivery,dlv#*";
const ALERT_NOTES_CONDITION: &str =
    "if ForAllValues:StringLike dynamodb:LeadingKeys acomment#*,rules";

/// A statement's IAM `Condition` block as one string (`if <operator> <key> <values>`, sorted),
/// appended to each resource it grants, so a conditional grant only matches a resource of the
/// calls list that names the same condition. Empty without a condition.
fn iam_condition(stmt: &Value) -> String {
    let Some(cond) = stmt.get("Condition").and_then(Value::as_object) else {
        return String::new();
    };
    let mut parts = Vec::new();
    for (op, keys) in cond {
        for (key, values) in keys.as_object().cloned().unwrap_or_default() {
            let mut values: Vec<String> = as_list(&values).iter().map(render).collect();
            values.sort();
            parts.push(format!("if {op} {key} {}", values.join(",")));
        }
    }
    parts.sort();
    parts.join(" ")
}

// ------------------------------------------------------------------------------------ checking

/// What the check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Functions fully checked.
    pub checked: Vec<String>,
    /// `name: why` of functions skipped.
    pub skipped: Vec<String>,
    /// One line per problem, each naming the function.
    pub problems: Vec<String>,
}

/// Variables only one source reads; another source's function must not be given them.
fn source_only_vars(source: Source) -> &'static [&'static str] {
    match source {
        Source::EntraSignIns => &["AUDITLAKE_SIGNIN_KINDS"],
        Source::M365Activity => &[
            "AUDITLAKE_CONTENT_TYPES",
            "AUDITLAKE_PUBLISHER_ID",
            "AUDITLAKE_BLOB_CONCURRENCY",
        ],
        _ => &[],
    }
}

/// Variables a deployed function is never given: endpoint overrides point at test doubles.
const NEVER_DEPLOYED: &[&str] = &[
    "AUDITLAKE_LOGIN_URL",
    "AUDITLAKE_GRAPH_URL",
    "AUDITLAKE_MANAGEMENT_URL",
    "AUDITLAKE_AUTH_DISABLED",
    "AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK",
    "AUDITLAKE_DESTINATIONS_CA_FILE",
];

/// The puller variables without a default that must be set (the credential is checked apart).
const PULLER_REQUIRED: &[&str] = &[
    "AUDITLAKE_TENANT_ID",
    "AUDITLAKE_CLIENT_ID",
    "AUDITLAKE_BUCKET",
    "AUDITLAKE_EVENTS_TABLE",
    "AUDITLAKE_STATE_TABLE",
];

/// What the query API's configuration parses (`config::QUERY_VARS`, and `config::ASK_VARS` for
/// the questions `mcp::router` answers) less what a deployment must never set: the switch that
/// turns auth off, the login-host override, and the local stacks' loopback and CA switches.
fn query_api_vars() -> BTreeSet<&'static str> {
    QUERY_VARS
        .iter()
        .chain(ASK_VARS)
        .map(|v| v.name)
        .filter(|v| {
            !matches!(
                *v,
                "AUDITLAKE_AUTH_DISABLED"
                    | "AUDITLAKE_LOGIN_URL"
                    | "AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK"
                    | "AUDITLAKE_DESTINATIONS_CA_FILE"
            )
        })
        .collect()
}
const DETECT_REQUIRED: &[&str] = &["AUDITLAKE_BUCKET", "AUDITLAKE_ALERTS_TABLE"];
const NOTIFY_REQUIRED: &[&str] = &["AUDITLAKE_ALERTS_TABLE"];
const FORWARD_REQUIRED: &[&str] = &[
    "AUDITLAKE_BUCKET",
    "AUDITLAKE_ALERTS_TABLE",
    "AUDITLAKE_FORWARD_URL",
    "AUDITLAKE_FORWARD_SECRET_PARAM",
];
const QUERY_API_REQUIRED: &[&str] = &[
    "AUDITLAKE_TENANT_ID",
    "AUDITLAKE_EVENTS_TABLE",
    "AUDITLAKE_STATE_TABLE",
    "AUDITLAKE_API_AUDIENCE",
    "AUDITLAKE_CURSOR_KEY_PARAM",
];

fn check_env(f: &FunctionCalls, props: &Value, problems: &mut Vec<String>) {
    let name = f.name;
    let vars: BTreeSet<String> = props
        .pointer("/Environment/Variables")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let (parsed, required): (BTreeSet<&str>, Vec<&str>) = match f.source {
        Some(source) => {
            let others: BTreeSet<&str> = Source::ALL
                .iter()
                .filter(|s| **s != source)
                .flat_map(|s| source_only_vars(*s).iter().copied())
                .collect();
            let parsed = PULLER_VARS
                .iter()
                .map(|v| v.name)
                .filter(|v| !others.contains(v))
                .collect();
            (parsed, PULLER_REQUIRED.to_vec())
        }
        // The backfill parses the puller's variables and its own, and reads none that only
        // one source's puller does.
        None if name == permissions::backfill().name => {
            let only: BTreeSet<&str> = Source::ALL
                .iter()
                .flat_map(|s| source_only_vars(*s).iter().copied())
                .collect();
            let parsed = PULLER_VARS
                .iter()
                .chain(BACKFILL_VARS)
                .map(|v| v.name)
                .filter(|v| !only.contains(v))
                .collect();
            (parsed, PULLER_REQUIRED.to_vec())
        }
        None if name == permissions::detector().name => (
            DETECT_VARS.iter().map(|v| v.name).collect(),
            DETECT_REQUIRED.to_vec(),
        ),
        None if name == permissions::notifier().name => (
            NOTIFY_VARS.iter().map(|v| v.name).collect(),
            NOTIFY_REQUIRED.to_vec(),
        ),
        None if name == permissions::forwarder().name => (
            FORWARD_VARS.iter().map(|v| v.name).collect(),
            FORWARD_REQUIRED.to_vec(),
        ),
        None => (query_api_vars(), QUERY_API_REQUIRED.to_vec()),
    };
    for v in &vars {
        if NEVER_DEPLOYED.contains(&v.as_str()) {
            problems.push(format!(
                "{name}: environment sets {v}, which a deployed function must never get"
            ));
        } else if !parsed.contains(v.as_str()) {
            problems.push(format!(
                "{name}: environment sets {v}, which its configuration does not parse"
            ));
        }
    }
    if vars.iter().any(|v| v.starts_with("AWS_ENDPOINT_URL")) {
        problems.push(format!(
            "{name}: the template never points at a local stack"
        ));
    }
    for r in required {
        if !vars.contains(r) {
            problems.push(format!(
                "{name}: environment lacks {r}, which its configuration requires"
            ));
        }
    }
    if (f.source.is_some() || name == permissions::backfill().name)
        && !vars.contains("AUDITLAKE_CLIENT_SECRET_PARAM")
        && !vars.contains("AUDITLAKE_CLIENT_CERT_PARAM")
    {
        problems.push(format!(
            "{name}: environment lacks AUDITLAKE_CLIENT_SECRET_PARAM or AUDITLAKE_CLIENT_CERT_PARAM"
        ));
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// What the tamper Deny covers: the lake bucket, the access-log bucket and their objects.
const TAMPER_RESOURCES: &[&str] = &[
    "GetAtt LakeBucket.Arn",
    "Sub ${LakeBucket.Arn}/*",
    "GetAtt AccessLogBucket.Arn",
    "Sub ${AccessLogBucket.Arn}/*",
];

/// The tamper Deny statement: exactly `TAMPER_ACTIONS` on exactly `TAMPER_RESOURCES`, under no
/// condition (a conditional Deny would lapse with its condition).
fn check_deny(name: &str, stmt: &Value, conds: &[String], problems: &mut Vec<String>) {
    let rendered = |key: &str| -> BTreeSet<String> {
        stmt.get(key)
            .map(as_list)
            .unwrap_or_default()
            .iter()
            .map(render)
            .collect()
    };
    let want: BTreeSet<String> = TAMPER_ACTIONS.iter().map(|a| a.to_string()).collect();
    let actions = rendered("Action");
    for a in want.difference(&actions) {
        problems.push(format!("{name}: statement {TAMPER_SID} does not deny {a}"));
    }
    for a in actions.difference(&want) {
        problems.push(format!(
            "{name}: statement {TAMPER_SID} denies {a}, which is not in permissions::TAMPER_ACTIONS"
        ));
    }
    let want: BTreeSet<String> = TAMPER_RESOURCES.iter().map(|r| r.to_string()).collect();
    let resources = rendered("Resource");
    for r in want.difference(&resources) {
        problems.push(format!("{name}: statement {TAMPER_SID} does not cover {r}"));
    }
    for r in resources.difference(&want) {
        problems.push(format!(
            "{name}: statement {TAMPER_SID} names {r}, a resource it should not"
        ));
    }
    if !conds.is_empty() || stmt.get("Condition").is_some() {
        problems.push(format!(
            "{name}: statement {TAMPER_SID} must hold unconditionally"
        ));
    }
}

fn check_iam(f: &FunctionCalls, props: &Value, problems: &mut Vec<String>) {
    let name = f.name;
    // (action, rendered resource) -> the conditions of each statement granting it.
    let mut granted: BTreeMap<(String, String), Vec<Vec<String>>> = BTreeMap::new();
    let mut denies = 0;
    for policy in props
        .get("Policies")
        .map(as_list)
        .unwrap_or_default()
        .iter()
    {
        let Some(statements) = policy.get("Statement") else {
            problems.push(format!(
                "{name}: policy {} is not an inline document (managed policies and SAM policy \
                 templates cannot be checked against the calls list)",
                render(policy)
            ));
            continue;
        };
        for stmt in as_list(statements) {
            for (stmt, conds) in branches(&stmt, &[]) {
                let sid = stmt
                    .get("Sid")
                    .and_then(Value::as_str)
                    .unwrap_or("(no Sid)");
                match stmt.get("Effect").and_then(Value::as_str) {
                    Some("Allow") => {}
                    Some("Deny") if sid == TAMPER_SID => {
                        denies += 1;
                        check_deny(name, &stmt, &conds, problems);
                        continue;
                    }
                    _ => {
                        problems.push(format!(
                            "{name}: statement {sid} is neither Effect: Allow nor the Deny \
                             {TAMPER_SID}"
                        ));
                        continue;
                    }
                }
                if stmt.get("NotAction").is_some() || stmt.get("NotResource").is_some() {
                    problems.push(format!(
                        "{name}: statement {sid} uses NotAction/NotResource"
                    ));
                }
                let actions: Vec<String> = stmt
                    .get("Action")
                    .map(as_list)
                    .unwrap_or_default()
                    .iter()
                    .map(render)
                    .collect();
                let mut resources = Vec::new();
                let iam = iam_condition(&stmt);
                for r in stmt.get("Resource").map(as_list).unwrap_or_default() {
                    for (r, rconds) in branches(&r, &conds) {
                        let r = match iam.as_str() {
                            "" => render(&r),
                            c => format!("{} {c}", render(&r)),
                        };
                        resources.push((r, rconds));
                    }
                }
                if actions.is_empty() || resources.is_empty() {
                    problems.push(format!(
                        "{name}: statement {sid} has no Action or no Resource"
                    ));
                }
                for a in &actions {
                    if a.contains('*') {
                        problems.push(format!(
                            "{name}: statement {sid} grants the wildcard action {a}"
                        ));
                    }
                    if permissions::is_tampering(a) {
                        problems.push(format!(
                            "{name}: statement {sid} allows {a}, which no function may have \
                             (permissions::TAMPER_ACTIONS)"
                        ));
                    }
                    for (r, rconds) in &resources {
                        if r == "*" || r.starts_with("* if ") {
                            problems.push(format!(
                                "{name}: statement {sid} grants {a} on every resource (*)"
                            ));
                        }
                        granted
                            .entry((a.clone(), r.clone()))
                            .or_default()
                            .push(rconds.clone());
                    }
                }
            }
        }
    }

    if denies != 1 {
        problems.push(format!(
            "{name}: needs exactly one Deny statement {TAMPER_SID} (found {denies})"
        ));
    }

    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    for (action, resource) in f.grants() {
        for e in expressions(resource) {
            wanted.insert((action.to_string(), e));
        }
    }
    for (a, r) in granted.keys() {
        if !wanted.contains(&(a.clone(), r.clone())) {
            problems.push(format!(
                "{name}: IAM grants {a} on {r}, which is not in its calls list \
                 (shared/aws/src/permissions.rs)"
            ));
        }
    }
    for (a, r) in &wanted {
        if !granted.contains_key(&(a.clone(), r.clone())) {
            problems.push(format!(
                "{name}: its calls list has {a} on {r}, which its IAM statements do not grant"
            ));
        }
    }
    for ((a, r), occurrences) in &granted {
        let kms = a.starts_with("kms:");
        let under_kms = occurrences
            .iter()
            .all(|conds| conds.iter().any(|c| c == "UseKmsKey"));
        if kms && !under_kms {
            problems.push(format!(
                "{name}: {a} on {r} must be granted only under the UseKmsKey condition"
            ));
        }
    }
}

/// Checks every function of `template` against the calls list and configuration; functions
/// whose crate is not under `functions_dir` are skipped.
pub fn check(template: &str, functions_dir: &Path) -> Report {
    let mut report = Report::default();
    let doc = match parse(template) {
        Ok(d) => d,
        Err(e) => {
            report
                .problems
                .push(format!("template.yaml does not parse: {e}"));
            return report;
        }
    };
    let expected: BTreeMap<&str, FunctionCalls> = permissions::all()
        .into_iter()
        .map(|f| (f.name, f))
        .collect();
    let mut seen = BTreeSet::new();
    let resources = doc
        .get("Resources")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (logical, res) in &resources {
        let ty = res.get("Type").and_then(Value::as_str).unwrap_or("");
        if ty == "AWS::Lambda::Function" {
            report.problems.push(format!(
                "{logical}: declare functions as AWS::Serverless::Function so they are checked"
            ));
            continue;
        }
        if ty != "AWS::Serverless::Function" {
            continue;
        }
        let Some(binary) = res
            .pointer("/Metadata/BuildProperties/Binary")
            .and_then(Value::as_str)
        else {
            report
                .problems
                .push(format!("{logical}: no Metadata.BuildProperties.Binary"));
            continue;
        };
        seen.insert(binary.to_string());
        let Some(f) = expected.get(binary) else {
            report.problems.push(format!(
                "{binary} ({logical}): not in the calls list (shared/aws/src/permissions.rs)"
            ));
            continue;
        };
        if !functions_dir.join(binary).is_dir() {
            report.skipped.push(format!(
                "{binary}: functions/{binary} is not in this checkout; its environment and IAM \
                 are checked once the crate lands"
            ));
            continue;
        }
        let props = res.get("Properties").cloned().unwrap_or(Value::Null);
        let before = report.problems.len();
        check_env(f, &props, &mut report.problems);
        check_iam(f, &props, &mut report.problems);
        if f.source.is_some() || binary == permissions::backfill().name {
            if props.get("ReservedConcurrentExecutions") != Some(&Value::from(1)) {
                report.problems.push(format!(
                    "{binary}: a puller needs ReservedConcurrentExecutions: 1"
                ));
            }
            let scheduled = props
                .get("Events")
                .and_then(Value::as_object)
                .is_some_and(|ev| {
                    ev.values()
                        .any(|e| e.get("Type").and_then(Value::as_str) == Some("Schedule"))
                });
            if !scheduled {
                report
                    .problems
                    .push(format!("{binary}: a puller needs a Schedule event"));
            }
        }
        if report.problems.len() == before {
            report.checked.push(binary.to_string());
        }
    }
    for name in expected.keys() {
        if !seen.contains(*name) {
            report.problems.push(format!(
                "{name}: in the calls list but not in template.yaml"
            ));
        }
    }
    report
}
