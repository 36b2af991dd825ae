//! The `m365-sim` binary: its `listening:` line, the switch flags (`--no-premium`,
//! `--message-trace-unprovisioned`, `--no-budgets`), a clean exit on SIGTERM.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn binary_prints_the_listening_line_and_stops_on_sigterm() -> TestResult {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args([
            "--port",
            "0",
            "--now",
            NOW,
            "--seed",
            "3",
            "--no-premium",
            "--message-trace-unprovisioned",
            "--no-budgets",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30))?;
    let base = line
        .trim()
        .strip_prefix("listening: ")
        .unwrap_or_default()
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
    assert!(
        base["http://127.0.0.1:".len()..]
            .parse::<u16>()
            .is_ok_and(|p| p > 0),
        "{line:?}"
    );
    let clock: Value = client()
        .get(format!("{base}/_sim/clock"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(clock["now"], NOW);
    // The switch flags: no licence, no message trace service principal, no budgets.
    let c = client();
    let token: Value = c
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", GRAPH_SCOPE),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"].as_str().unwrap_or_default();
    let (status, _, _) = graph_get(&c, &format!("{base}{SIGN_INS_V1}"), token).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = graph_get(&c, &format!("{base}{TRACES}"), token).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for _ in 0..8 {
        let (status, _, _) = graph_get(&c, &format!("{base}{AUDITS}?$top=1"), token).await?;
        assert_eq!(status, StatusCode::OK);
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            assert!(status.success(), "clean exit on SIGTERM: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("simulator did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
