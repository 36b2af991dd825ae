//! Hostile values planted in the directory, so that every record naming them carries script and
//! markup payloads, as a real tenant's attacker-chosen display names do: what renders the records
//! (the web console) must show them as inert text. On by default ([`SimConfig::hostile`],
//! `--no-hostile` turns it off); only names change, never which records exist or their ids, so
//! the truth of `/_sim/truth` and every count are the same either way.
//!
//! - the last user's display name: `<img src=x onerror=window.__pwned=1>`;
//! - the one before: a `<script>` that fetches `/_sim/beacon` (relative: on whatever origin
//!   renders it, so the records stay byte-identical for a seed whatever port the simulator has;
//!   [`SimConfig::hostile_beacon`] makes it absolute, e.g. this simulator's URL);
//! - the last group's: `"><svg onload=window.__pwned=2>` (a target of directory changes);
//! - the last generated device's: a `javascript:` URL that would set `window.__pwned = 3`.
//!
//! `GET /_sim/hostile` lists what was planted (with the users' UPNs, to find their events) and
//! how often the beacon was called: `{"users": [{"upn", "display_name"}], "values": [...],
//! "beacon_hits": N}`. `GET` or `POST /_sim/beacon` (any query) counts one hit and answers 204,
//! so a payload that ever ran in a browser is seen here even though its answer is unreadable
//! cross-origin.
//!
//! [`SimConfig::hostile`]: crate::SimConfig::hostile
//! [`SimConfig::hostile_beacon`]: crate::SimConfig::hostile_beacon

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::server::SimState;
use crate::tenant::Tenant;

/// The `<img>` payload of the last user's display name.
pub const IMG_PAYLOAD: &str = "<img src=x onerror=window.__pwned=1>";
/// The markup payload of the last group's display name.
pub const SVG_PAYLOAD: &str = "\"><svg onload=window.__pwned=2>";
/// The `javascript:` URL of the last device's display name.
pub const JS_URL_PAYLOAD: &str = "javascript:window.__pwned=3";

/// The `<script>` payload: it would call `base`'s beacon (`""`: the page's own origin).
pub fn script_payload(base: &str) -> String {
    format!("<script>fetch('{base}/_sim/beacon?from=script')</script>")
}

/// Plants the payloads in `tenant`; `base` is where the script's beacon is (`""`: relative).
pub fn plant(tenant: &mut Tenant, base: &str) {
    let n = tenant.users.len();
    if let Some(u) = n.checked_sub(1).and_then(|i| tenant.users.get_mut(i)) {
        u.display_name = IMG_PAYLOAD.to_string();
    }
    if let Some(u) = n.checked_sub(2).and_then(|i| tenant.users.get_mut(i)) {
        u.display_name = script_payload(base);
    }
    if let Some(g) = tenant.groups.last_mut() {
        g.display_name = SVG_PAYLOAD.to_string();
    }
    if let Some(d) = tenant.devices.last_mut() {
        d.display_name = JS_URL_PAYLOAD.to_string();
    }
}

/// Calls of the beacon.
#[derive(Debug, Default)]
pub struct Beacon(AtomicU64);

impl Beacon {
    pub fn hits(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_sim/hostile", get(planted))
        .route("/_sim/beacon", get(beacon).post(beacon))
}

async fn beacon(State(state): State<Arc<SimState>>) -> Response {
    state.beacon.0.fetch_add(1, Ordering::SeqCst);
    tracing::warn!("The hostile-data beacon was called: a planted payload ran somewhere.");
    StatusCode::NO_CONTENT.into_response()
}

async fn planted(State(state): State<Arc<SimState>>) -> Response {
    let tenant = state.store.tenant();
    let hostile = |s: &str| s.contains('<') || s.starts_with("javascript:");
    let users: Vec<_> = tenant
        .users
        .iter()
        .filter(|u| hostile(&u.display_name))
        .map(|u| json!({"upn": u.upn, "display_name": u.display_name}))
        .collect();
    let mut values: Vec<String> = tenant
        .users
        .iter()
        .map(|u| u.display_name.clone())
        .chain(tenant.groups.iter().map(|g| g.display_name.clone()))
        .chain(tenant.devices.iter().map(|d| d.display_name.clone()))
        .filter(|v| hostile(v))
        .collect();
    values.sort();
    axum::Json(json!({
        "users": users,
        "values": values,
        "beacon_hits": state.beacon.hits(),
    }))
    .into_response()
}
