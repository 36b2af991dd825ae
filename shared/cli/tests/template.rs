//! template.yaml against the code. For every function in the template:
//! - its `Environment.Variables` are `AUDITLAKE_*` variables its configuration parses: for a
//!   puller, a subset of `PULLER_VARS` without another source's own variables and without the
//!   endpoint overrides (tests only), including every required one;
//! - its IAM statements grant exactly the calls in `aws::permissions` (no more, no less):
//!   inline documents only, `Allow` only, no `*` in an action or as a resource, KMS only under
//!   the `UseKmsKey` condition.
//!
//! A function whose crate (`functions/<name>`) is not in this checkout is skipped with a message,
//! so the template can describe a function that lands in another branch.
//!
//! Which optional puller variables the template sets: `AUDITLAKE_CLOUD`,
//! `AUDITLAKE_HOT_RETENTION_DAYS` and `AUDITLAKE_INITIAL_LOOKBACK_DAYS` (stack parameters), and
//! the source's own list (`AUDITLAKE_SIGNIN_KINDS`, `AUDITLAKE_CONTENT_TYPES`). The tuning knobs
//! (`LAG_SECS`, `WRITE_CONCURRENCY`, ...) keep their code defaults; an operator may add them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aws::permissions::{self, FunctionCalls, Resource};
use domain::config::{PULLER_VARS, QUERY_VARS};
use domain::model::Source;
use serde_json::{Map, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn real_template() -> String {
    std::fs::read_to_string(root().join("template.yaml")).unwrap()
}

// ------------------------------------------------------------------------------------- parsing

/// Parses a CloudFormation YAML template, turning short tags into their long form: `!Ref X` ->
/// `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` -> `{"Fn::Sub": s}`.
fn parse(text: &str) -> Result<Value, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    Ok(untag(doc))
}

fn untag(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(untag).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match untag(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, untag(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = untag(t.value);
            let mut out = Map::new();
            match name {
                "Ref" => {
                    out.insert("Ref".into(), inner);
                }
                "GetAtt" => {
                    let parts = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((a, b)) => vec![Value::from(a), Value::from(b)],
                            None => vec![Value::from(s)],
                        },
                        other => return json_fn("GetAtt", other),
                    };
                    out.insert("Fn::GetAtt".into(), Value::Array(parts));
                }
                other => {
                    out.insert(format!("Fn::{other}"), inner);
                }
            }
            Value::Object(out)
        }
    }
}

fn json_fn(name: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(format!("Fn::{name}"), v);
    Value::Object(m)
}

fn is_no_value(v: &Value) -> bool {
    v.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue")
}

/// The alternatives an expression can take: both branches of `Fn::If` (without `AWS::NoValue`),
/// each with the conditions that select it.
fn branches(v: &Value, conds: &[String]) -> Vec<(Value, Vec<String>)> {
    if let Some(args) = v.get("Fn::If").and_then(Value::as_array)
        && args.len() == 3
    {
        let cond = args[0].as_str().unwrap_or("?").to_string();
        let mut yes = conds.to_vec();
        yes.push(cond.clone());
        let mut no = conds.to_vec();
        no.push(format!("!{cond}"));
        let mut out = branches(&args[1], &yes);
        out.extend(branches(&args[2], &no));
        return out;
    }
    if is_no_value(v) {
        return Vec::new();
    }
    vec![(v.clone(), conds.to_vec())]
}

/// A resource expression as one string: `"*"`, `"Ref KmsKeyArn"`, `"GetAtt EventsTable.Arn"`,
/// `"Sub ${LakeBucket.Arn}/raw/*"`.
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 1 => {
            let (k, inner) = m.iter().next().unwrap();
            let name = k.trim_start_matches("Fn::");
            match (name, inner) {
                ("GetAtt", Value::Array(parts)) => format!(
                    "GetAtt {}",
                    parts
                        .iter()
                        .map(|p| p.as_str().unwrap_or("?"))
                        .collect::<Vec<_>>()
                        .join(".")
                ),
                (_, Value::String(s)) => format!("{name} {s}"),
                (_, other) => format!("{name} {other}"),
            }
        }
        other => other.to_string(),
    }
}

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
        Resource::EventsIndex(i) => vec![format!("Sub ${{EventsTable.Arn}}/index/{i}")],
        Resource::StateTable => vec!["GetAtt StateTable.Arn".into()],
        // Secret or certificate, chosen by the UseCertificate condition: both branches grant.
        Resource::CredentialParameter => vec![
            ssm("ClientSecretParameterName"),
            ssm("ClientCertParameterName"),
        ],
        Resource::CursorKeyParameter => vec![ssm("CursorKeyParameterName")],
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
    }
}

// ------------------------------------------------------------------------------------ checking

/// What the check found.
#[derive(Debug, Default)]
struct Report {
    /// Functions fully checked.
    checked: Vec<String>,
    /// `name: why` of functions skipped.
    skipped: Vec<String>,
    /// One line per problem, each naming the function.
    problems: Vec<String>,
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
];

/// The puller variables without a default that must be set (the credential is checked apart).
const PULLER_REQUIRED: &[&str] = &[
    "AUDITLAKE_TENANT_ID",
    "AUDITLAKE_CLIENT_ID",
    "AUDITLAKE_BUCKET",
    "AUDITLAKE_EVENTS_TABLE",
    "AUDITLAKE_STATE_TABLE",
];

/// What the query API's configuration parses (`config::QUERY_VARS`) less what a deployment must
/// never set: the switch that turns auth off and the login-host override.
fn query_api_vars() -> BTreeSet<&'static str> {
    QUERY_VARS
        .iter()
        .map(|v| v.0)
        .filter(|v| !matches!(*v, "AUDITLAKE_AUTH_DISABLED" | "AUDITLAKE_LOGIN_URL"))
        .collect()
}
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
                .map(|v| v.0)
                .filter(|v| !others.contains(v))
                .collect();
            (parsed, PULLER_REQUIRED.to_vec())
        }
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
    if f.source.is_some()
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

fn check_iam(f: &FunctionCalls, props: &Value, problems: &mut Vec<String>) {
    let name = f.name;
    // (action, rendered resource) -> the conditions of each statement granting it.
    let mut granted: BTreeMap<(String, String), Vec<Vec<String>>> = BTreeMap::new();
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
                if stmt.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    problems.push(format!("{name}: statement {sid} is not Effect: Allow"));
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
                for r in stmt.get("Resource").map(as_list).unwrap_or_default() {
                    for (r, rconds) in branches(&r, &conds) {
                        resources.push((render(&r), rconds));
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
                    for (r, rconds) in &resources {
                        if r == "*" {
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
fn check(template: &str, functions_dir: &Path) -> Report {
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
        if f.source.is_some() {
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

// --------------------------------------------------------------------------------------- tests

fn functions_dir() -> PathBuf {
    root().join("functions")
}

#[test]
fn the_template_matches_the_calls_list_and_the_configuration() {
    let report = check(&real_template(), &functions_dir());
    for s in &report.skipped {
        eprintln!("skipped {s}");
    }
    assert!(
        report.problems.is_empty(),
        "template.yaml disagrees with the code:\n  {}",
        report.problems.join("\n  ")
    );
    for s in Source::ALL {
        let name = permissions::puller(s).name;
        assert!(
            report.checked.iter().any(|c| c == name),
            "{name} was not checked: {report:?}"
        );
    }
}

/// Replaces the first occurrence of `from` (which must exist) in the real template.
fn broken(from: &str, to: &str) -> String {
    let t = real_template();
    assert!(
        t.contains(from),
        "fixture text not in template.yaml: {from}"
    );
    t.replacen(from, to, 1)
}

const DIRECTORY_AUDITS_INSERTS: &str = "            - Sid: EventInserts\n              Effect: Allow\n              Action: dynamodb:PutItem\n";

#[test]
fn an_action_beyond_the_calls_list_is_named() {
    let t = broken(
        DIRECTORY_AUDITS_INSERTS,
        "            - Sid: EventInserts\n              Effect: Allow\n              Action: [dynamodb:PutItem, dynamodb:DeleteItem]\n",
    );
    let report = check(&t, &functions_dir());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let p = &report.problems[0];
    assert!(
        p.starts_with("pull-entra-directory-audits:")
            && p.contains("dynamodb:DeleteItem on GetAtt EventsTable.Arn")
            && p.contains("not in its calls list"),
        "{p}"
    );
}

#[test]
fn a_wildcard_action_or_resource_is_named() {
    let t = broken(
        DIRECTORY_AUDITS_INSERTS,
        "            - Sid: EventInserts\n              Effect: Allow\n              Action: dynamodb:*\n",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains("pull-entra-directory-audits: statement EventInserts grants the wildcard action dynamodb:*"),
        "{problems}"
    );
    // The PutItem the code makes on the events table is now missing as well.
    assert!(
        problems.contains("its calls list has dynamodb:PutItem on GetAtt EventsTable.Arn"),
        "{problems}"
    );

    let t = broken(
        "              Action: dynamodb:PutItem\n              Resource: !GetAtt EventsTable.Arn\n",
        "              Action: dynamodb:PutItem\n              Resource: \"*\"\n",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains("pull-entra-directory-audits: statement EventInserts grants dynamodb:PutItem on every resource (*)"),
        "{problems}"
    );
}

#[test]
fn a_missing_call_is_named() {
    let t = broken("                - dynamodb:UpdateItem\n", "");
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: its calls list has dynamodb:UpdateItem on GetAtt \
             StateTable.Arn, which its IAM statements do not grant"
                .to_string()
        ]
    );
}

#[test]
fn kms_outside_its_condition_is_named() {
    let t = broken(
        "            - Sid: EventInserts\n",
        "            - Sid: Kms\n              Effect: Allow\n              Action: kms:GenerateDataKey\n              Resource: !Ref KmsKeyArn\n            - Sid: EventInserts\n",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains("pull-entra-directory-audits: kms:GenerateDataKey on Ref KmsKeyArn must be granted only under the UseKmsKey condition"),
        "{problems}"
    );
}

#[test]
fn a_variable_the_configuration_does_not_parse_is_named() {
    let t = broken(
        "          AUDITLAKE_CLOUD: !Ref Cloud\n",
        "          AUDITLAKE_CLOUD: !Ref Cloud\n          AUDITLAKE_COLOUR: blue\n          AUDITLAKE_CONTENT_TYPES: Audit.General\n          AUDITLAKE_GRAPH_URL: http://127.0.0.1:1\n",
    );
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: environment sets AUDITLAKE_COLOUR, which its configuration does not parse".to_string(),
            "pull-entra-directory-audits: environment sets AUDITLAKE_CONTENT_TYPES, which its configuration does not parse".to_string(),
            "pull-entra-directory-audits: environment sets AUDITLAKE_GRAPH_URL, which a deployed function must never get".to_string(),
        ]
    );
    let t = broken("          AUDITLAKE_BUCKET: !Ref LakeBucket\n", "");
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: environment lacks AUDITLAKE_BUCKET, which its configuration requires"
                .to_string()
        ]
    );
}

#[test]
fn a_function_without_its_crate_is_skipped_with_a_message_and_checked_once_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    for s in Source::ALL {
        std::fs::create_dir(dir.path().join(permissions::puller(s).name)).unwrap();
    }
    let template = real_template();
    let report = check(&template, dir.path());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(
        report.skipped[0].starts_with("query-api: functions/query-api is not in this checkout"),
        "{:?}",
        report.skipped
    );

    // With its crate present the query API is checked like any other function.
    std::fs::create_dir(dir.path().join("query-api")).unwrap();
    let report = check(&template, dir.path());
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.checked.iter().any(|c| c == "query-api"));
    let t = template.replacen(
        "                - dynamodb:BatchGetItem\n                - dynamodb:Query\n",
        "                - dynamodb:BatchGetItem\n                - dynamodb:Query\n                - dynamodb:Scan\n",
        1,
    );
    let problems = check(&t, dir.path()).problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("query-api: IAM grants dynamodb:Scan"));
}

#[test]
fn a_function_missing_from_the_template_or_the_calls_list_is_named() {
    let t = broken(
        "        Binary: pull-intune-audit\n",
        "        Binary: pull-intune-audit-v2\n",
    );
    let problems = check(&t, &functions_dir()).problems;
    assert!(problems.contains(&"pull-intune-audit-v2 (PullIntuneAuditFunction): not in the calls list (shared/aws/src/permissions.rs)".to_string()), "{problems:?}");
    assert!(
        problems
            .contains(&"pull-intune-audit: in the calls list but not in template.yaml".to_string()),
        "{problems:?}"
    );
}

#[test]
fn short_tags_parse_into_their_long_form() {
    let v = parse(
        "A: !Ref X\nB: !GetAtt T.Arn\nC: !Sub \"${T.Arn}/x\"\nD: !If [C, !Ref Y, !Ref AWS::NoValue]\nE: !Join [\",\", [a, b]]\n",
    )
    .unwrap();
    assert_eq!(v["A"], serde_json::json!({"Ref": "X"}));
    assert_eq!(v["B"], serde_json::json!({"Fn::GetAtt": ["T", "Arn"]}));
    assert_eq!(render(&v["C"]), "Sub ${T.Arn}/x");
    let b = branches(&v["D"], &[]);
    assert_eq!(
        b,
        vec![(serde_json::json!({"Ref": "Y"}), vec!["C".to_string()])]
    );
    assert_eq!(v["E"], serde_json::json!({"Fn::Join": [",", ["a", "b"]]}));
}
