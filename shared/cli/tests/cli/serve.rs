//! `auditlake serve` without its configuration names every missing variable on stderr and exits
//! with status 2, printing nothing on stdout.

#[test]
fn serve_without_configuration_lists_every_missing_variable_and_exits_2() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auditlake"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AUDITLAKE_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("AUDITLAKE_ALLOWED_GROUPS", "g=owner")
        .output()
        .expect("auditlake runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for var in [
        "AUDITLAKE_TENANT_ID",
        "AUDITLAKE_EVENTS_TABLE",
        "AUDITLAKE_STATE_TABLE",
        "AUDITLAKE_API_AUDIENCE",
        "AUDITLAKE_ALLOWED_GROUPS",
    ] {
        assert!(err.contains(var), "{var} not reported in: {err}");
    }
    assert!(out.stdout.is_empty());
}
