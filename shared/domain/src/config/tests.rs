//! The configuration parsers against good and bad variable sets.

use super::*;
use crate::cloud::Cloud;
use crate::model::Source;
use crate::stream::{ContentType, SignInKind};
use chrono::TimeDelta;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn minimal() -> Vec<(String, String)> {
    vars(&[
        (
            "AUDITLAKE_TENANT_ID",
            "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35",
        ),
        ("AUDITLAKE_CLIENT_ID", "app"),
        ("AUDITLAKE_CLIENT_SECRET_PARAM", "/auditlake/secret"),
        ("AUDITLAKE_BUCKET", "b"),
        ("AUDITLAKE_EVENTS_TABLE", "e"),
        ("AUDITLAKE_STATE_TABLE", "s"),
    ])
}

/// Every declared variable, once.
fn declared() -> Vec<Var> {
    let mut all: Vec<Var> = PULLER_VARS
        .iter()
        .chain(QUERY_VARS)
        .chain(DETECT_VARS)
        .chain(NOTIFY_VARS)
        .chain(FORWARD_VARS)
        .copied()
        .collect();
    all.sort_by_key(|v| v.name);
    all.dedup();
    all
}

#[test]
fn each_variable_is_declared_once_with_a_default_inside_its_range() {
    let all = declared();
    let mut names: Vec<&str> = all.iter().map(|v| v.name).collect();
    names.dedup();
    assert_eq!(names.len(), all.len(), "a name declared twice differently");
    for v in &all {
        assert!(v.name.starts_with(PREFIX), "{}", v.name);
        assert!(!v.meaning.is_empty(), "{} has no meaning", v.name);
        if let (Some((min, max)), Some(d)) = (v.range, v.default) {
            let d: u64 = d
                .parse()
                .unwrap_or_else(|_| panic!("{}: default `{d}`", v.name));
            assert!(
                (min..=max).contains(&d),
                "{}: {d} outside {min}..={max}",
                v.name
            );
        }
    }
}

#[test]
fn a_number_outside_its_declared_range_names_the_range() {
    let mut v = minimal();
    v.push(("AUDITLAKE_BLOB_CONCURRENCY".into(), "65".into()));
    let err = PullerConfig::from_vars(v).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].var, vars::BLOB_CONCURRENCY.name);
    assert_eq!(err.problems[0].problem, "65 is out of range 1..=64");
}

#[test]
fn defaults_apply() {
    let c = PullerConfig::from_vars(minimal()).unwrap();
    assert_eq!(c.lag, TimeDelta::seconds(120));
    assert_eq!(c.overlap, None);
    assert_eq!(
        default_overlap(Source::EntraSignIns),
        TimeDelta::seconds(1800)
    );
    assert_eq!(default_overlap(Source::M365Activity), TimeDelta::hours(2));
    assert_eq!(c.content_types, ContentType::ALL.to_vec());
    assert_eq!(c.publisher_id, c.tenant_id);
    assert_eq!(c.blob_concurrency, 8);
    assert_eq!(c.initial_lookback, TimeDelta::days(7));
    assert_eq!(c.cloud, Cloud::Commercial);
    assert_eq!(c.endpoints.graph, "https://graph.microsoft.com");
    assert_eq!(
        c.credential,
        CredentialSource::Secret {
            param: "/auditlake/secret".into()
        }
    );
}

#[test]
fn every_problem_is_reported_together() {
    let err = PullerConfig::from_vars(vars(&[
        ("AUDITLAKE_TENANT_ID", "contoso.com"),
        ("AUDITLAKE_LAG_SECS", "soon"),
        ("AUDITLAKE_CLOUD", "mars"),
        ("AUDITLAKE_GRAPH_URL", "ftp://x"),
        ("UNRELATED", "x"),
    ]))
    .unwrap_err();
    let names: Vec<&str> = err.problems.iter().map(|p| p.var.as_str()).collect();
    for want in [
        "AUDITLAKE_TENANT_ID",
        "AUDITLAKE_CLIENT_ID",
        "AUDITLAKE_CLIENT_SECRET_PARAM",
        "AUDITLAKE_CLOUD",
        "AUDITLAKE_GRAPH_URL",
        "AUDITLAKE_BUCKET",
        "AUDITLAKE_EVENTS_TABLE",
        "AUDITLAKE_STATE_TABLE",
        "AUDITLAKE_LAG_SECS",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let text = err.to_string();
    assert!(text.contains("`soon` is not a whole number"), "{text}");
}

#[test]
fn overrides_replace_cloud_hosts_but_not_scopes() {
    let mut v = minimal();
    v.push(("AUDITLAKE_CLOUD".into(), "gcc-high".into()));
    v.push(("AUDITLAKE_GRAPH_URL".into(), "http://127.0.0.1:9/".into()));
    let c = PullerConfig::from_vars(v).unwrap();
    assert_eq!(c.endpoints.graph, "http://127.0.0.1:9");
    assert_eq!(c.endpoints.login, "https://login.microsoftonline.us");
    assert_eq!(
        c.endpoints.graph_scope,
        "https://graph.microsoft.us/.default"
    );
}

#[test]
fn endpoint_overrides_are_https_or_loopback_http() {
    // Tokens and the client secret go to these hosts: plain http is for a local simulator.
    for ok in [
        "https://graph.example",
        "http://localhost:8080",
        "http://[::1]:9",
        "http://127.0.0.2:9",
    ] {
        let mut v = minimal();
        v.push(("AUDITLAKE_GRAPH_URL".into(), ok.into()));
        assert!(PullerConfig::from_vars(v).is_ok(), "{ok}");
    }
    for bad in [
        "http://graph.example",
        "http://10.0.0.5:8080",
        "ftp://127.0.0.1/",
        "graph",
    ] {
        let mut v = minimal();
        v.push(("AUDITLAKE_MANAGEMENT_URL".into(), bad.into()));
        let err = PullerConfig::from_vars(v).unwrap_err().to_string();
        assert!(err.contains("AUDITLAKE_MANAGEMENT_URL"), "{bad}: {err}");
    }
}

#[test]
fn every_var_is_documented_once() {
    let mut names: Vec<&str> = PULLER_VARS.iter().map(|v| v.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), PULLER_VARS.len());
    assert!(names.iter().all(|n| n.starts_with(PREFIX)));
}

#[test]
fn sign_in_kinds_and_history() {
    let c = PullerConfig::from_vars(minimal()).unwrap();
    assert_eq!(c.signin_kinds, SignInKind::ALL.to_vec());
    assert_eq!(c.history, None);
    let mut v = minimal();
    v.push((
        "AUDITLAKE_SIGNIN_KINDS".into(),
        "interactiveUser, servicePrincipal".into(),
    ));
    v.push(("AUDITLAKE_HISTORY_DAYS".into(), "7".into()));
    let c = PullerConfig::from_vars(v).unwrap();
    assert_eq!(
        c.signin_kinds,
        vec![SignInKind::InteractiveUser, SignInKind::ServicePrincipal]
    );
    assert_eq!(c.history, Some(TimeDelta::days(7)));
    let mut v = minimal();
    v.push((
        "AUDITLAKE_SIGNIN_KINDS".into(),
        "interactiveUser,robots".into(),
    ));
    let err = PullerConfig::from_vars(v).unwrap_err();
    assert_eq!(err.problems[0].var, "AUDITLAKE_SIGNIN_KINDS");
}

#[test]
fn query_config_reports_every_problem_and_parses_groups() {
    let err = QueryConfig::from_vars(vars(&[
        ("AUDITLAKE_AUTH_DISABLED", "yes"),
        ("AUDITLAKE_ALLOWED_GROUPS", "g1=read,g2=root"),
        ("AUDITLAKE_API_READ_BUDGET", "0"),
        ("AUDITLAKE_ATHENA_WORKGROUP", "wg"),
        ("AUDITLAKE_ANALYTICS_TIMEOUT_SECS", "0"),
    ]))
    .unwrap_err();
    let names: Vec<&str> = err.problems.iter().map(|p| p.var.as_str()).collect();
    for want in [
        "AUDITLAKE_TENANT_ID",
        "AUDITLAKE_EVENTS_TABLE",
        "AUDITLAKE_STATE_TABLE",
        "AUDITLAKE_AUTH_DISABLED",
        "AUDITLAKE_API_AUDIENCE",
        "AUDITLAKE_ALLOWED_GROUPS",
        "AUDITLAKE_API_READ_BUDGET",
        "AUDITLAKE_ATHENA_DATABASE",
        "AUDITLAKE_ANALYTICS_TIMEOUT_SECS",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let c = QueryConfig::from_vars(vars(&[
        (
            "AUDITLAKE_TENANT_ID",
            "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35",
        ),
        ("AUDITLAKE_EVENTS_TABLE", "e"),
        ("AUDITLAKE_STATE_TABLE", "s"),
        ("AUDITLAKE_API_AUDIENCE", "api://auditlake"),
        ("AUDITLAKE_LOGIN_URL", "http://127.0.0.1:9/"),
        (
            "AUDITLAKE_ALLOWED_GROUPS",
            "g1=read, g2=auditlake.admin, 5f1c0b7e-0000-4000-8000-00000000000a",
        ),
    ]))
    .unwrap();
    use crate::access::Role;
    // A bare group object id, as the template's ApiAllowedGroups documents it, grants read.
    assert_eq!(
        c.allowed_groups,
        vec![
            ("g1".into(), Role::Read),
            ("g2".into(), Role::Admin),
            ("5f1c0b7e-0000-4000-8000-00000000000a".into(), Role::Read)
        ]
    );
    assert_eq!(
        c.issuer,
        "http://127.0.0.1:9/8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35/v2.0"
    );
    assert!(!c.auth_disabled);
    assert_eq!(c.read_budget, 100);
    assert_eq!(c.athena, None, "hunting queries are off unless configured");
    assert_eq!(c.analytics_timeout, std::time::Duration::from_secs(25));
    let names: Vec<&str> = QUERY_VARS.iter().map(|v| v.name).collect();
    let mut dedup = names.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len());
}

#[test]
fn guid_check() {
    assert!(is_guid("8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35"));
    assert!(!is_guid("8f3c5a2e6b1d4c9ea7f02d4b6e8a1c35"));
    assert!(!is_guid("contoso.onmicrosoft.com"));
}
