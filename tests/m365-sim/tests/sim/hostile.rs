//! The planted hostile values (`m365_sim::hostile`): the directory's records carry them, the
//! planted set is listed with the users' UPNs, the beacon counts calls, and planting changes no
//! record's existence or id (the truth is the same with `--no-hostile`).

use m365_sim::hostile::{IMG_PAYLOAD, JS_URL_PAYLOAD, SVG_PAYLOAD, script_payload};
use m365_sim::start;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{
    GRAPH_SCOPE, TestResult, client, config, pull_all, token_for, truth_of, url_with,
};

#[tokio::test]
async fn records_carry_the_payloads_and_the_truth_is_unchanged() -> TestResult {
    let c = client();
    // The beacon on this simulator is a fixed port's: start once to learn one, then again on it.
    let probe = start(config(|_| {})).await?;
    let port: u16 = probe.base_url().rsplit(':').next().ok_or("port")?.parse()?;
    probe.shutdown().await;
    let base = format!("http://127.0.0.1:{port}");
    let sim = start(config(|c| {
        c.port = port;
        c.hostile_beacon = Some(base.clone());
    }))
    .await?;
    let planted: Value = c
        .get(format!("{}/_sim/hostile", sim.base_url()))
        .send()
        .await?
        .json()
        .await?;
    let script = script_payload(&base);
    let mut want = vec![
        IMG_PAYLOAD.to_string(),
        script.clone(),
        SVG_PAYLOAD.into(),
        JS_URL_PAYLOAD.into(),
    ];
    want.sort();
    assert_eq!(planted["values"], serde_json::json!(want));
    assert_eq!(planted["users"].as_array().map(Vec::len), Some(2));
    assert_eq!(planted["beacon_hits"], 0);
    let upn = planted["users"][0]["upn"]
        .as_str()
        .ok_or("upn")?
        .to_string();

    // The payloads reach the records as plain strings: sign-ins name their users.
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (sign_ins, _) = pull_all(
        &c,
        &url_with(&sim, "/v1.0/auditLogs/signIns", None, Some(999)),
        &token,
    )
    .await?;
    let names: Vec<&str> = sign_ins
        .iter()
        .filter_map(|r| r["userDisplayName"].as_str())
        .collect();
    assert!(names.contains(&IMG_PAYLOAD), "no sign-in of the <img> user");
    assert!(
        names.contains(&script.as_str()),
        "no sign-in of the <script> user"
    );
    assert!(
        sign_ins
            .iter()
            .any(|r| r["userPrincipalName"] == upn.as_str())
    );

    // The same records, with the same ids, without the payloads.
    let plain = start(config(|c| c.hostile = false)).await?;
    let none: Value = c
        .get(format!("{}/_sim/hostile", plain.base_url()))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(none["values"], serde_json::json!([]));
    // By default the beacon is relative: the same bytes whatever port the simulator has.
    let relative = start(config(|_| {})).await?;
    let planted: Value = c
        .get(format!("{}/_sim/hostile", relative.base_url()))
        .send()
        .await?
        .json()
        .await?;
    assert!(
        planted["values"]
            .as_array()
            .is_some_and(|v| v.contains(&Value::from(script_payload("")))),
        "{planted}"
    );
    for source in ["entra-directory-audits", "entra-sign-ins", "intune-audit"] {
        let a = truth_of(&c, &sim, source, None, None).await?;
        let b = truth_of(&c, &plain, source, None, None).await?;
        assert_eq!(a["ids"], b["ids"], "{source}");
        assert!(
            a["ids"].as_array().is_some_and(|v| !v.is_empty()),
            "{source}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_beacon_counts_every_call() -> TestResult {
    let c = client();
    let sim = start(config(|_| {})).await?;
    let r = c
        .get(format!("{}/_sim/beacon?from=test", sim.base_url()))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    c.post(format!("{}/_sim/beacon", sim.base_url()))
        .send()
        .await?;
    let planted: Value = c
        .get(format!("{}/_sim/hostile", sim.base_url()))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(planted["beacon_hits"], 2);
    Ok(())
}
