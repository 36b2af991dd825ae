//! `auditlake serve` without its configuration names every missing variable on stderr and exits
//! with status 2, printing nothing on stdout; with authentication disabled it refuses an address
//! that is not loopback unless asked twice.

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

/// `auditlake serve` with authentication off, the minimal configuration and `args`.
fn serve_unauthenticated(args: &[&str]) -> std::process::Output {
    unauthenticated(args).output().expect("auditlake runs")
}

fn unauthenticated(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auditlake"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AUDITLAKE_")) {
        cmd.env_remove(k);
    }
    cmd.arg("serve")
        .args(args)
        .env(
            "AUDITLAKE_TENANT_ID",
            "11111111-2222-4333-8444-555555555555",
        )
        .env("AUDITLAKE_EVENTS_TABLE", "events")
        .env("AUDITLAKE_STATE_TABLE", "state")
        .env("AUDITLAKE_AUTH_DISABLED", "true")
        // The stores are never reached in these runs: an endpoint nothing listens on, and no
        // credentials lookups beyond the environment.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Starts `auditlake serve` and returns the first line it prints, then stops it.
fn first_line_of_serve(args: &[&str]) -> String {
    use std::io::BufRead;
    let mut child = unauthenticated(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("auditlake starts");
    let mut line = String::new();
    let read = std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    let _ = child.kill();
    let _ = child.wait();
    read.expect("a line on stdout");
    line
}

#[test]
fn serve_without_authentication_refuses_every_interface_unless_asked_twice() {
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let out = serve_unauthenticated(&["--addr", addr]);
        assert_eq!(out.status.code(), Some(2), "{addr}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("refusing to serve without authentication")
                && err.contains("--unauthenticated-on-network"),
            "{addr}: {err}"
        );
        assert!(out.stdout.is_empty(), "{addr}");
    }
}

#[test]
fn serve_without_authentication_listens_on_loopback_or_when_asked_twice() {
    let line = first_line_of_serve(&["--addr", "127.0.0.1:0"]);
    assert!(line.starts_with("listening: http://127.0.0.1:"), "{line}");
    let line = first_line_of_serve(&["--addr", "0.0.0.0:0", "--unauthenticated-on-network"]);
    assert!(line.starts_with("listening: http://0.0.0.0:"), "{line}");
}
