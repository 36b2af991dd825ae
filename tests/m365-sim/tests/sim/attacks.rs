//! Planted attack scenarios and `/_sim/truth/attacks`: a day holds every scenario, each one's
//! records are served by the normal endpoints with what its rule matches on, the truth narrows
//! by instant and source and refuses nonsense, it is a function of the seed, and switching
//! attacks off removes exactly the planted records and nothing benign.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use m365_sim::attacks::SCENARIOS;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::mgmt::{Api, TYPES};
use crate::support::*;

/// The end of a simulated day: one day of history then holds that whole day.
const END_OF_DAY: &str = "2026-07-17T23:59:59Z";

async fn attacks(api: &Api, query: &str) -> Res<(StatusCode, Value)> {
    let resp = api
        .c
        .get(format!("{}/_sim/truth/attacks{query}", api.base()))
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.json().await?))
}

fn day_config(seed: u64, on: bool) -> m365_sim::SimConfig {
    config(|c| {
        c.seed = seed;
        c.days = 1;
        c.events_per_hour = 20;
        c.now = Some(t(END_OF_DAY));
        c.attacks = on;
    })
}

/// Every record the simulator serves over the day, by source: Graph records by `id` (sign-ins
/// from beta, interactive), Management Activity records by `Id`.
async fn serve_all(api: &Api) -> Res<HashMap<&'static str, HashMap<String, Value>>> {
    let token = token_for(&api.c, &api.sim, GRAPH_SCOPE).await?;
    let mut out: HashMap<&'static str, HashMap<String, Value>> = HashMap::new();
    let interactive = "signInEventTypes/any(t: t eq 'interactiveUser')";
    for (source, path, filter) in [
        ("entra-directory-audits", AUDITS, None),
        ("entra-sign-ins", SIGN_INS_BETA, Some(interactive)),
        ("intune-audit", INTUNE, None),
    ] {
        let url = url_with(&api.sim, path, filter, Some(1000));
        let (records, _) = pull_all(&api.c, &url, &token).await?;
        let by_id = records
            .into_iter()
            .map(|r| (r["id"].as_str().unwrap_or_default().to_string(), r))
            .collect();
        out.insert(source, by_id);
    }
    api.start_all().await?;
    let mut activity = HashMap::new();
    for ct in TYPES {
        for (_, records) in api.pull(ct, 1).await? {
            for r in records {
                activity.insert(r["Id"].as_str().unwrap_or_default().to_string(), r);
            }
        }
    }
    out.insert("m365-activity", activity);
    Ok(out)
}

/// What the record that raises the alert says, as the rule reads it.
fn operation(r: &Value) -> String {
    ["activityDisplayName", "activityType", "Operation"]
        .iter()
        .find_map(|k| r[*k].as_str())
        .map_or_else(
            || format!("sign-in {}", r["status"]["errorCode"]),
            str::to_string,
        )
}

#[tokio::test]
async fn a_day_holds_every_scenario_served_by_the_normal_endpoints() -> TestResult {
    let api = Api::new(day_config(3, true)).await?;
    let (status, truth) = attacks(&api, "").await?;
    assert_eq!(status, StatusCode::OK, "{truth}");
    assert_eq!(truth["as_of"], END_OF_DAY);
    let list = truth["attacks"].as_array().cloned().unwrap_or_default();
    assert_eq!(truth["count"], list.len());
    let names: BTreeSet<&str> = list.iter().filter_map(|a| a["scenario"].as_str()).collect();
    assert_eq!(names.len(), SCENARIOS.len(), "{names:?}");
    assert_eq!(list.len(), SCENARIOS.len(), "each scenario once a day");
    let served = serve_all(&api).await?;
    let mut ops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in &list {
        let name = a["scenario"].as_str().unwrap_or_default();
        let kind = SCENARIOS.iter().find(|s| s.name == name).expect("known");
        assert_eq!(a["rule_id"], kind.rule_id, "{a}");
        assert_eq!(a["source"], kind.feed.source(), "{a}");
        assert_eq!(a["stream"].as_str(), kind.feed.stream(), "{a}");
        assert!(
            a["id"]
                .as_str()
                .is_some_and(|i| i == format!("2026-07-17/{name}"))
        );
        let ids = ids_of(&a["record_ids"]);
        assert_eq!(ids.len(), usize::from(kind.records), "{name}");
        let trigger = a["trigger_record_id"].as_str().unwrap_or_default();
        let at = kind.crosses_at.map_or(0, |n| usize::from(n) - 1);
        assert_eq!(
            ids[at], trigger,
            "{name}: the trigger is the crossing record"
        );
        assert_eq!(a["threshold"].as_u64(), kind.crosses_at.map(u64::from));
        let (time, trigger_time, visible) = (
            t(a["time"].as_str().unwrap_or_default()),
            t(a["trigger_time"].as_str().unwrap_or_default()),
            t(a["visible_at"].as_str().unwrap_or_default()),
        );
        assert!(time.to_rfc3339().starts_with("2026-07-17"), "{a}");
        assert!(time <= trigger_time && trigger_time <= visible && visible <= t(END_OF_DAY));
        // Every record is an ordinary record of its source, served by its endpoint.
        let of_source = &served[a["source"].as_str().unwrap_or_default()];
        for id in &ids {
            assert!(of_source.contains_key(id), "{name}: {id} is not served");
        }
        let r = &of_source[trigger];
        ops.entry(name.to_string())
            .or_default()
            .insert(operation(r));
        match kind.feed.source() {
            "entra-directory-audits" => assert_eq!(r["result"], "success", "{r}"),
            "intune-audit" => assert_eq!(r["activityResult"], "Success", "{r}"),
            "entra-sign-ins" => {
                let code = r["status"]["errorCode"].as_i64();
                assert_eq!(code == Some(0), kind.crosses_at.is_none(), "{r}");
                assert_eq!(r["signInEventTypes"][0], "interactiveUser");
            }
            _ => assert_eq!(r["CreationTime"].as_str().map(str::len), Some(19), "{r}"),
        }
    }
    let op = |n: &str| {
        ops.get(n)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(op("global-admin-assigned"), ["Add member to role"]);
    assert_eq!(
        op("ca-policy-deleted"),
        ["Delete conditional access policy"]
    );
    assert_eq!(op("device-wiped"), ["Wipe ManagedDevice"]);
    assert_eq!(op("mass-download"), ["FileDownloaded"]);
    assert_eq!(op("brute-force"), ["sign-in 50126"]);
    assert_eq!(op("ediscovery-search"), ["New-ComplianceSearch"]);
    Ok(())
}

#[tokio::test]
async fn switching_attacks_off_removes_exactly_the_planted_records() -> TestResult {
    let on = Api::new(day_config(4, true)).await?;
    let off = Api::new(day_config(4, false)).await?;
    let (_, truth) = attacks(&on, "").await?;
    let (status, none) = attacks(&off, "").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["count"], 0, "{none}");
    let mut planted: HashMap<String, BTreeSet<String>> = HashMap::new();
    for a in truth["attacks"].as_array().cloned().unwrap_or_default() {
        let source = a["source"].as_str().unwrap_or_default().to_string();
        planted
            .entry(source)
            .or_default()
            .extend(ids_of(&a["record_ids"]));
    }
    for source in [
        "entra-directory-audits",
        "entra-sign-ins",
        "intune-audit",
        "exchange-message-trace",
        "m365-activity",
    ] {
        let ids = |v: Value| ids_of(&v["ids"]).into_iter().collect::<BTreeSet<_>>();
        let with = ids(truth_of(&on.c, &on.sim, source, None, None).await?);
        let without = ids(truth_of(&off.c, &off.sim, source, None, None).await?);
        let mine = planted.remove(source).unwrap_or_default();
        assert!(without.len() > 100, "{source}: {}", without.len());
        assert!(
            without.is_subset(&with),
            "{source}: a benign record changed"
        );
        let added: BTreeSet<String> = with.difference(&without).cloned().collect();
        assert_eq!(
            added, mine,
            "{source}: the added records are the planted ones"
        );
        assert_eq!(mine.is_empty(), source == "exchange-message-trace");
    }
    Ok(())
}

#[tokio::test]
async fn the_truth_narrows_by_instant_and_source_and_is_the_seeds() -> TestResult {
    let api = Api::new(day_config(5, true)).await?;
    let (_, all) = attacks(&api, "").await?;
    let noon = "2026-07-17T12:00:00Z";
    let (_, half) = attacks(&api, &format!("?until={noon}")).await?;
    let listed = |v: &Value| -> Vec<String> {
        v["attacks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (all_ids, half_ids) = (listed(&all), listed(&half));
    assert!(
        !half_ids.is_empty() && half_ids.len() < all_ids.len(),
        "{half_ids:?}"
    );
    assert!(half_ids.iter().all(|i| all_ids.contains(i)));
    for a in half["attacks"].as_array().cloned().unwrap_or_default() {
        assert!(
            t(a["visible_at"].as_str().unwrap_or_default()) <= t(noon),
            "{a}"
        );
    }
    let (_, signins) = attacks(&api, "?source=entra-sign-ins").await?;
    let sources: BTreeSet<&str> = signins["attacks"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["source"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(sources, BTreeSet::from(["entra-sign-ins"]));
    assert_eq!(signins["count"], 6);
    for bad in ["?until=yesterday", "?source=nope"] {
        let (status, body) = attacks(&api, bad).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "BadRequest");
    }
    // The same seed plants the same attacks; another seed others.
    let again = Api::new(day_config(5, true)).await?;
    assert_eq!(attacks(&again, "").await?.1, all);
    let other = Api::new(day_config(6, true)).await?;
    let (_, theirs) = attacks(&other, "").await?;
    assert_ne!(
        theirs["attacks"][0]["record_ids"],
        all["attacks"][0]["record_ids"]
    );
    Ok(())
}
