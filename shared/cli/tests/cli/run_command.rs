//! `auditlake run` refuses to start on bad configuration, naming every problem at once.

use std::process::Command;

#[test]
fn run_without_configuration_lists_every_missing_variable_and_exits_2() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditlake"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AUDITLAKE_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["run", "--source", "entra-directory-audits"])
        .env("AUDITLAKE_LAG_SECS", "soon")
        .output()
        .expect("auditlake runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for var in [
        "AUDITLAKE_TENANT_ID",
        "AUDITLAKE_CLIENT_ID",
        "AUDITLAKE_CLIENT_SECRET_PARAM",
        "AUDITLAKE_BUCKET",
        "AUDITLAKE_EVENTS_TABLE",
        "AUDITLAKE_STATE_TABLE",
        "AUDITLAKE_LAG_SECS",
    ] {
        assert!(err.contains(var), "{var} not reported in: {err}");
    }
    assert!(out.stdout.is_empty());
}
