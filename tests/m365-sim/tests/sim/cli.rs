//! The `m365-sim` binary: its `listening:` line, the switch flags (`--no-premium`,
//! `--message-trace-unprovisioned`, `--no-budgets`, `--no-attacks`), a clean exit on SIGTERM, and the Management
//! Activity API's flags. The `--client-cert`, `--reject-ps256`, `--api-audience` and
//! `--issuer-key` flags are tested with their features (`certificates`, `oidc`).

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::support::mgmt::{MGMT_SCOPE, code};
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
            "--no-attacks",
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
    // The switch flags: no licence, no message trace service principal, no budgets, no attacks.
    let c = client();
    let attacks: Value = c
        .get(format!("{base}/_sim/truth/attacks"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(attacks["count"], 0, "{attacks}");
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

#[test]
fn the_binary_takes_the_management_api_flags() -> TestResult {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let help = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .arg("--help")
        .output()?;
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    for flag in [
        "--mgmt-blob-interval-secs",
        "--mgmt-page-size",
        "--mgmt-af429-status",
        "--mgmt-next-page-header",
        "--mgmt-deny-content-type",
        "--mgmt-audit-disabled",
        "--mgmt-listing-delay-secs",
        "--mgmt-late-records",
        "--mgmt-repeat-last",
        "--mgmt-relist",
        "--mgmt-early-expiry",
        "--mgmt-disable-after",
        "--mgmt-quirks",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args(["--mgmt-af429-status", "500"])
        .output()?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mgmt_af429_status"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args([
            "--port",
            "0",
            "--now",
            NOW,
            "--mgmt-page-size",
            "5",
            "--mgmt-next-page-header",
            "NextPageUrl",
            "--mgmt-deny-content-type",
            "DLP.All",
            "--mgmt-disable-after",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let base = line
        .trim()
        .strip_prefix("listening: ")
        .unwrap_or_default()
        .to_string();
    let rt = tokio::runtime::Runtime::new()?;
    let result: Res<Vec<(u16, String)>> = rt.block_on(async {
        let c = Client::new();
        let tok: Value = c
            .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("scope", MGMT_SCOPE),
            ])
            .send()
            .await?
            .json()
            .await?;
        let tok = tok["access_token"].as_str().unwrap_or_default().to_string();
        let feed = format!("{base}/api/v1.0/{TENANT}/activity/feed");
        let mut out = Vec::new();
        for (post, path) in [
            (true, "subscriptions/start?contentType=DLP.All"),
            (true, "subscriptions/start?contentType=Audit.Exchange"),
            (false, "subscriptions/content?contentType=Audit.Exchange"),
            (false, "subscriptions/content?contentType=Audit.Exchange"),
            (false, "subscriptions/content?contentType=Audit.Exchange"),
        ] {
            let url = format!("{feed}/{path}");
            let req = if post { c.post(url) } else { c.get(url) };
            let resp = req.bearer_auth(&tok).send().await?;
            let status = resp.status().as_u16();
            let paged = resp.headers().contains_key("NextPageUrl");
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let what = if paged { "paged" } else { code(&body) };
            out.push((status, what.to_string()));
        }
        Ok(out)
    });
    let _ = child.kill();
    let _ = child.wait();
    let got = result?;
    let want: Vec<(u16, String)> = [
        (401, "AF10001"),
        (200, ""),
        (200, "paged"),
        (200, "paged"),
        (400, "AF20023"),
    ]
    .into_iter()
    .map(|(s, w)| (s, w.to_string()))
    .collect();
    assert_eq!(got, want);
    Ok(())
}
