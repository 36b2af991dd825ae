//! Sign-ins: v1.0 and beta without a clause serve interactive user sign-ins, beta's
//! `signInEventTypes` clause selects each kind (time windows and paging against `/_sim/truth`),
//! the queries Graph refuses, and a tenant without a premium licence refused while the other
//! collections still answer.

use std::collections::{HashMap, HashSet};

use m365_sim::start;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn sign_ins_v1_is_interactive_and_beta_selects_each_kind() -> TestResult {
    let sim = start(config(|c| {
        c.days = 1;
        c.events_per_hour = 40;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let source = "entra-sign-ins";
    let mut per_kind = HashMap::new();
    for kind in KINDS {
        let tr = truth_of(&c, &sim, source, Some(kind), None).await?;
        assert_eq!(tr["stream"], kind);
        assert!(
            tr["events"]
                .as_array()
                .is_some_and(|e| e.iter().all(|x| x["stream"] == kind))
        );
        per_kind.insert(kind, ids_of(&tr["ids"]));
    }
    // Volumes: non-interactive ~3x interactive, service principals ~0.5x, managed ~0.3x.
    let n = |k: &str| per_kind.get(k).map_or(0, Vec::len) as f64;
    let base = n("interactiveUser");
    assert!(base > 500.0, "{base}");
    for (kind, ratio) in [
        ("nonInteractiveUser", 3.0),
        ("servicePrincipal", 0.5),
        ("managedIdentity", 0.3),
    ] {
        let got = n(kind) / base;
        assert!((got / ratio - 1.0).abs() < 0.25, "{kind}: {got}");
    }
    let all = ids_of(&truth_of(&c, &sim, source, None, None).await?["ids"]);
    assert_eq!(
        all.len(),
        KINDS.iter().map(|k| n(k) as usize).sum::<usize>(),
        "no stream means all kinds"
    );
    // `count=true`: the same truth as a number, without the ids (a benchmark of a million
    // events reads it).
    for kind in KINDS.iter().copied().map(Some).chain([None]) {
        let mut q = vec![("count", "true")];
        q.extend(kind.map(|k| ("stream", k)));
        let url = reqwest::Url::parse_with_params(
            &format!("{}/_sim/truth/{source}", sim.base_url()),
            &q,
        )?;
        let counted: serde_json::Value = c.get(url).send().await?.json().await?;
        let want = kind.map_or(all.len(), |k| n(k) as usize);
        assert_eq!(counted["count"], want, "{kind:?}");
        assert!(counted.get("ids").is_none(), "{counted}");
        assert_eq!(counted["stream"], kind.map_or(json!(null), |k| json!(k)));
    }
    // v1.0 and beta without the clause: interactive user sign-ins only.
    let (v1, _) = pull_all(&c, &url_with(&sim, SIGN_INS_V1, None, None), &token).await?;
    assert!(v1.iter().all(|r| r["isInteractive"] == true));
    assert_eq!(sorted(record_ids(&v1)), per_kind["interactiveUser"].clone());
    let (beta, _) = pull_all(&c, &url_with(&sim, SIGN_INS_BETA, None, None), &token).await?;
    assert_eq!(record_ids(&beta), record_ids(&v1));
    assert!(
        beta.iter()
            .all(|r| r["signInEventTypes"] == json!(["interactiveUser"]))
    );
    // Each kind through the clause, written in the ways clients write it.
    let since = "2026-07-15T00:00:00Z";
    let forms = [
        "signInEventTypes/any(t: t eq '{k}') and createdDateTime ge {s}",
        "createdDateTime ge {s} and signInEventTypes/any(t:t eq '{k}')",
        "createdDateTime   ge {s}  and  signInEventTypes/any( x : x eq '{k}' )",
        "(signInEventTypes/any(kind: kind eq '{k}')) and (createdDateTime ge {s})",
    ];
    for (i, kind) in KINDS.iter().enumerate() {
        let filter = forms[i].replace("{k}", kind).replace("{s}", since);
        let (records, _) = pull_all(
            &c,
            &url_with(&sim, SIGN_INS_BETA, Some(&filter), Some(1000)),
            &token,
        )
        .await?;
        assert_eq!(sorted(record_ids(&records)), per_kind[kind], "{filter}");
        for r in &records {
            assert_eq!(r["signInEventTypes"], json!([kind]), "{r}");
            assert_eq!(r["isInteractive"], *kind == "interactiveUser");
        }
    }
    // Time window plus clause, bounds in any order, against truth.
    let tr = truth_of(&c, &sim, source, Some("servicePrincipal"), None).await?;
    let (lo, hi) = ("2026-07-16T20:00:00Z", "2026-07-17T02:30:00Z");
    let filter = format!(
        "createdDateTime le {hi} and signInEventTypes/any(t: t eq 'servicePrincipal') and createdDateTime ge {lo}"
    );
    let (records, _) = pull_all(
        &c,
        &url_with(&sim, SIGN_INS_BETA, Some(&filter), Some(7)),
        &token,
    )
    .await?;
    assert!(!records.is_empty());
    assert_eq!(
        sorted(record_ids(&records)),
        truth_ids_in(&tr, t(lo), t(hi))
    );
    // Paging keeps the clause: the nextLink carries it.
    let first = url_with(
        &sim,
        SIGN_INS_BETA,
        Some("signInEventTypes/any(t: t eq 'managedIdentity')"),
        Some(25),
    );
    let (_, _, body) = graph_get(&c, &first, &token).await?;
    let next = body["@odata.nextLink"].as_str().unwrap_or_default();
    assert!(
        next.contains("signInEventTypes") && next.contains("$top=25"),
        "{next}"
    );
    assert_eq!(
        body["@odata.context"],
        format!("{}/beta/$metadata#auditLogs/signIns", sim.base_url())
    );
    let (records, pages) = pull_all(&c, &first, &token).await?;
    assert_eq!(pages, per_kind["managedIdentity"].len().div_ceil(25));
    let unique: HashSet<String> = record_ids(&records).into_iter().collect();
    assert_eq!(unique.len(), records.len());
    // The v1.0 default page is 1000; v1.0 refuses the clause; beta refuses unknown kinds.
    let (_, _, body) = graph_get(
        &c,
        &url_with(
            &sim,
            SIGN_INS_BETA,
            Some("signInEventTypes/any(t: t eq 'nonInteractiveUser')"),
            None,
        ),
        &token,
    )
    .await?;
    assert_eq!(body["value"].as_array().map(Vec::len), Some(1000));
    for (path, filter, code) in [
        (
            SIGN_INS_V1,
            "signInEventTypes/any(t: t eq 'nonInteractiveUser')",
            "BadRequest",
        ),
        (
            SIGN_INS_BETA,
            "signInEventTypes/any(t: t eq 'robot')",
            "BadRequest",
        ),
        (
            SIGN_INS_BETA,
            "signInEventTypes/any(t: t eq 'servicePrincipal' or t eq 'managedIdentity')",
            "Request_UnsupportedQuery",
        ),
        (
            SIGN_INS_BETA,
            "userPrincipalName eq 'adele.vance@contoso.onmicrosoft.com'",
            "Request_UnsupportedQuery",
        ),
    ] {
        let (status, _, body) =
            graph_get(&c, &url_with(&sim, path, Some(filter), None), &token).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {filter}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    let resp = c
        .get(format!(
            "{}/_sim/truth/{source}?stream=robot",
            sim.base_url()
        ))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = c
        .get(format!(
            "{}/_sim/truth/intune-audit?stream=interactiveUser",
            sim.base_url()
        ))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Without a token: 401 as everywhere.
    let resp = c
        .get(format!("{}{SIGN_INS_V1}", sim.base_url()))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn sign_ins_need_a_premium_licence() -> TestResult {
    let sim = start(config(|c| c.premium = false)).await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    for url in [
        url_with(&sim, SIGN_INS_V1, None, None),
        url_with(&sim, SIGN_INS_BETA, None, None),
        url_with(
            &sim,
            SIGN_INS_BETA,
            Some("signInEventTypes/any(t: t eq 'servicePrincipal')"),
            Some(5),
        ),
    ] {
        let (status, headers, body) = graph_get(&c, &url, &token).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        assert_eq!(
            body["error"]["code"],
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        );
        assert_eq!(
            body["error"]["message"],
            "Neither tenant is B2C or tenant doesn't have premium license"
        );
        assert!(body["error"]["innerError"]["request-id"].is_string());
        assert!(headers.get("request-id").is_some());
    }
    // Other collections do not need the licence.
    for path in [AUDITS, INTUNE] {
        let (status, _, _) = graph_get(&c, &url_with(&sim, path, None, Some(1)), &token).await?;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    sim.shutdown().await;
    Ok(())
}
