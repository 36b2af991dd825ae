//! `auditlake mcp` (the MCP server over stdio) refuses to start without a caller, and both it and
//! `serve` report the questions' configuration problems with the query API's, exit 2. The
//! server itself is checked with the official MCP Python SDK (tests/mcp/test_mcp.py).

fn auditlake(args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auditlake"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AUDITLAKE_")) {
        cmd.env_remove(k);
    }
    cmd.args(args)
        .env(
            "AUDITLAKE_TENANT_ID",
            "11111111-2222-4333-8444-555555555555",
        )
        .env("AUDITLAKE_EVENTS_TABLE", "events")
        .env("AUDITLAKE_STATE_TABLE", "state")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdin(std::process::Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("auditlake runs")
}

#[test]
fn mcp_without_a_token_refuses_to_start_unless_auth_is_disabled() {
    let out = auditlake(&["mcp"], &[("AUDITLAKE_API_AUDIENCE", "api://auditlake")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AUDITLAKE_MCP_TOKEN is not set"), "{err}");
    assert!(out.stdout.is_empty(), "stdout carries only the protocol");
    let out = auditlake(
        &["mcp", "--token-env", "MY_TOKEN"],
        &[("AUDITLAKE_API_AUDIENCE", "api://auditlake")],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("MY_TOKEN is not set"));
}

#[test]
fn a_model_endpoint_off_its_allow_list_is_a_configuration_error_of_serve_and_mcp() {
    for args in [&["mcp"][..], &["serve", "--addr", "127.0.0.1:0"][..]] {
        let out = auditlake(
            args,
            &[
                ("AUDITLAKE_AUTH_DISABLED", "true"),
                ("AUDITLAKE_LLM_BASE_URL", "https://llm.example.net/v1"),
                ("AUDITLAKE_LLM_ALLOWLIST", "api.openai.com"),
                ("AUDITLAKE_LLM_MAX_STEPS", "99"),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for var in [
            "AUDITLAKE_LLM_BASE_URL",
            "AUDITLAKE_LLM_MODEL",
            "AUDITLAKE_LLM_MAX_STEPS",
        ] {
            assert!(err.contains(var), "{args:?}: {var} not reported in: {err}");
        }
    }
}
