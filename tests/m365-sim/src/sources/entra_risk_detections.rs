//! Source `entra-risk-detections`: Entra ID Protection risk detections as served by Graph
//! `GET /{v1.0|beta}/identityProtection/riskDetections` (the same records from both), windowed
//! and ordered on `detectedDateTime`.
//!
//! Records follow the v1.0 `riskDetection` entity (every property present, nulls included).
//! Detections are rare (a tenth of the base volume): mostly real-time sign-in risks
//! (`unfamiliarFeatures`, `anonymizedIPAddress`, `unlikelyTravel`, `maliciousIPAddress`,
//! `suspiciousBrowser`) from an address away from the user's home, with the sign-in's request
//! and correlation ids and a `userAgent` in `additionalInfo` (a JSON string of `{Key, Value}`
//! pairs, as Graph sends it); the rest offline user risks (`leakedCredentials`,
//! `investigationsThreatIntelligence`, `anomalousUserActivity`) without address, location or
//! sign-in ids, whose `activityDateTime` precedes detection by hours to days. States are
//! mostly `atRisk`, the rest remediated (by MFA or a password change), dismissed or confirmed,
//! each with the `riskDetail` Identity Protection gives it. Everything is derived from the
//! event seed.
//!
//! The collection needs an Entra ID P2 licence ([`crate::SimConfig::premium_p2`]) and draws on
//! Identity Protection's budget of 1 request per second per tenant; its 429s, budget refusals
//! and injected throttles alike, carry no `Retry-After` (Microsoft Graph's service-specific
//! throttling limits say so of these resources).

use serde::Serialize;
use serde_json::value::RawValue;

use super::{EventStub, GraphResource, Precondition, SimSource, SourceApi};
use crate::budget::IDENTITY_PROTECTION;
use crate::clock::{NS_PER_SEC, graph_datetime};
use crate::rng::Rng;
use crate::tenant::{Tenant, random_ip};

/// The risk detections source.
#[derive(Debug, Clone, Copy)]
pub struct EntraRiskDetections;

/// Real-time sign-in risks: (riskEventType, source, timing, weight).
const SIGN_IN_RISKS: &[(&str, &str, &str, u32)] = &[
    ("unfamiliarFeatures", "IdentityProtection", "realtime", 30),
    ("anonymizedIPAddress", "IdentityProtection", "realtime", 15),
    ("unlikelyTravel", "IdentityProtection", "offline", 12),
    ("maliciousIPAddress", "IdentityProtection", "offline", 5),
    ("suspiciousBrowser", "IdentityProtection", "offline", 4),
    (
        "mcasImpossibleTravel",
        "MicrosoftCloudAppSecurity",
        "offline",
        3,
    ),
];
/// Offline user risks.
const USER_RISKS: &[(&str, &str, &str, u32)] = &[
    ("leakedCredentials", "IdentityProtection", "offline", 8),
    (
        "investigationsThreatIntelligence",
        "IdentityProtection",
        "offline",
        3,
    ),
    ("anomalousUserActivity", "IdentityProtection", "offline", 2),
];
/// (riskState, riskDetail, weight).
const STATES: &[(&str, &str, u32)] = &[
    ("atRisk", "none", 60),
    ("remediated", "userPassedMFADrivenByRiskBasedPolicy", 18),
    ("remediated", "userPerformedSecuredPasswordChange", 6),
    ("dismissed", "adminDismissedAllRiskForUser", 8),
    ("confirmedSafe", "adminConfirmedSigninSafe", 5),
    ("confirmedCompromised", "adminConfirmedUserCompromised", 3),
];
/// Where risky sign-ins come from: (city, state, country, latitude, longitude).
const PLACES: &[(&str, &str, &str, f64, f64)] = &[
    ("Lagos", "Lagos", "NG", 6.4541, 3.3947),
    ("Bucharest", "Bucuresti", "RO", 44.4268, 26.1025),
    ("Sao Paulo", "Sao Paulo", "BR", -23.5505, -46.6333),
    ("Hanoi", "Ha Noi", "VN", 21.0278, 105.8342),
    ("Amsterdam", "Noord-Holland", "NL", 52.3676, 4.9041),
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "python-requests/2.31.0",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RiskDetection<'a> {
    id: &'a str,
    request_id: Option<String>,
    correlation_id: Option<String>,
    risk_event_type: &'static str,
    risk_state: &'static str,
    risk_level: &'static str,
    risk_detail: &'static str,
    source: &'static str,
    detection_timing_type: &'static str,
    activity: &'static str,
    token_issuer_type: &'static str,
    ip_address: Option<String>,
    location: Option<Location>,
    activity_date_time: String,
    detected_date_time: String,
    last_updated_date_time: String,
    user_id: String,
    user_display_name: String,
    user_principal_name: String,
    additional_info: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    city: &'static str,
    state: &'static str,
    country_or_region: &'static str,
    geo_coordinates: Geo,
}

#[derive(Serialize)]
struct Geo {
    altitude: Option<f64>,
    latitude: f64,
    longitude: f64,
}

/// The record id: 64 lowercase hex digits, as Identity Protection's ids are.
fn head(rng: &mut Rng) -> String {
    rng.string_from(b"0123456789abcdef", 64)
}

fn weighted<'a, T>(rng: &mut Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let weights: Vec<u32> = items.iter().map(weight).collect();
    &items[rng.weighted(&weights).unwrap_or(0)]
}

fn render_event(tenant: &Tenant, event: &EventStub) -> Result<Box<RawValue>, serde_json::Error> {
    let mut rng = Rng::new(event.seed);
    let id = head(&mut rng);
    let user = tenant
        .users
        .get(rng.below(tenant.users.len().max(1) as u64) as usize);
    let sign_in = rng.chance(0.8);
    let &(kind, source, timing, _) = if sign_in {
        weighted(&mut rng, SIGN_IN_RISKS, |r| r.3)
    } else {
        weighted(&mut rng, USER_RISKS, |r| r.3)
    };
    let &(state, detail, _) = weighted(&mut rng, STATES, |s| s.2);
    let level = ["low", "medium", "medium", "high"][rng.below(4) as usize];
    let detected_ns = event.time_ns;
    // Offline detections surface hours after the activity; real-time ones within seconds.
    let lead_ns = if timing == "realtime" {
        rng.range(1, 30) as i64 * NS_PER_SEC
    } else {
        rng.range(600, 3 * 86_400) as i64 * NS_PER_SEC
    };
    let updated_ns = if state == "atRisk" {
        detected_ns
    } else {
        detected_ns + rng.range(60, 86_400) as i64 * NS_PER_SEC
    };
    let (ip, location, request_id, correlation_id, info) = if sign_in {
        let &(city, st, country, latitude, longitude) = rng.pick(PLACES).unwrap_or(&PLACES[0]);
        let ua = rng.pick(USER_AGENTS).copied().unwrap_or(USER_AGENTS[0]);
        let info = serde_json::to_string(&[serde_json::json!({"Key": "userAgent", "Value": ua})])?;
        (
            Some(random_ip(&mut rng)),
            Some(Location {
                city,
                state: st,
                country_or_region: country,
                geo_coordinates: Geo {
                    altitude: None,
                    latitude,
                    longitude,
                },
            }),
            Some(rng.guid()),
            Some(rng.guid()),
            info,
        )
    } else {
        (None, None, None, None, "[]".to_string())
    };
    let record = RiskDetection {
        id: &id,
        request_id,
        correlation_id,
        risk_event_type: kind,
        risk_state: state,
        risk_level: level,
        risk_detail: detail,
        source,
        detection_timing_type: timing,
        activity: if sign_in { "signin" } else { "user" },
        token_issuer_type: "AzureAD",
        ip_address: ip,
        location,
        activity_date_time: graph_datetime(detected_ns - lead_ns),
        detected_date_time: graph_datetime(detected_ns),
        last_updated_date_time: graph_datetime(updated_ns),
        user_id: user.map_or_else(String::new, |u| u.id.clone()),
        user_display_name: user.map_or_else(String::new, |u| u.display_name.clone()),
        user_principal_name: user.map_or_else(String::new, |u| u.upn.clone()),
        additional_info: info,
    };
    serde_json::value::to_raw_value(&record)
}

impl SimSource for EntraRiskDetections {
    fn name(&self) -> &'static str {
        "entra-risk-detections"
    }

    fn api(&self) -> SourceApi {
        SourceApi::Graph(GraphResource {
            precondition: Precondition::PremiumP2Licence,
            budget: Some(IDENTITY_PROTECTION),
            throttle_retry_after: false,
            ..GraphResource::basic(
                "identityProtection/riskDetections",
                "detectedDateTime",
                500,
                500,
            )
        })
    }

    fn volume(&self) -> f64 {
        0.1
    }

    fn record_id(&self, _tenant: &Tenant, seed: u64) -> String {
        head(&mut Rng::new(seed))
    }

    fn render(
        &self,
        tenant: &Tenant,
        event: &EventStub,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        render_event(tenant, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn detections_look_like_identity_protection() {
        let tenant = Tenant::generate(4, "t");
        let (mut sign_ins, mut at_risk) = (0, 0);
        let n = 1000;
        for seed in 0..n {
            let ev = EventStub {
                time_ns: 1_780_000_000_000_000_000,
                visible_ns: 1_780_000_000_000_000_000,
                seed,
                stream: 0,
                id: EntraRiskDetections
                    .record_id(&tenant, seed)
                    .into_boxed_str(),
                plant: None,
            };
            let raw = EntraRiskDetections
                .render(&tenant, &ev)
                .map(|r| r.get().to_string())
                .unwrap_or_default();
            let v: Value = serde_json::from_str(&raw).unwrap_or_default();
            assert_eq!(v["id"].as_str(), Some(&*ev.id));
            assert_eq!(v["id"].as_str().map(str::len), Some(64));
            assert!(
                v["userPrincipalName"]
                    .as_str()
                    .is_some_and(|u| u.contains('@'))
            );
            let info: Value = serde_json::from_str(v["additionalInfo"].as_str().unwrap_or(""))
                .unwrap_or_default();
            assert!(info.is_array(), "{raw}");
            if v["activity"] == "signin" {
                sign_ins += 1;
                assert!(v["ipAddress"].is_string() && v["requestId"].is_string());
                assert_eq!(info[0]["Key"], "userAgent");
            } else {
                assert!(v["ipAddress"].is_null() && v["location"].is_null());
            }
            if v["riskState"] == "atRisk" {
                at_risk += 1;
                assert_eq!(v["lastUpdatedDateTime"], v["detectedDateTime"]);
            }
            assert!(v["activityDateTime"].as_str() < v["detectedDateTime"].as_str());
        }
        let share = |x: i32| f64::from(x) / n as f64;
        assert!((0.7..0.9).contains(&share(sign_ins)), "{}", share(sign_ins));
        assert!((0.5..0.7).contains(&share(at_risk)), "{}", share(at_risk));
    }
}
