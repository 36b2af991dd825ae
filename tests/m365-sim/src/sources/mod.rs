//! The simulated audit sources: the [`SimSource`] trait, the one registry table, and the shared
//! event schedule every source uses.
//!
//! # Adding a source
//! Write `src/sources/<name>.rs` with a unit struct implementing [`SimSource`] (its name, how it
//! is exposed over HTTP through [`SourceApi`], how to derive a record id from an event seed and
//! how to render the record), then add one line to [`SOURCES`]. Routing, paging, filtering,
//! faults, budgets, `/_sim/sources` and `/_sim/truth` pick it up from the table. A Graph
//! collection's query rules (required bounds, longest range, history, licence or provisioning
//! precondition, request budget, stream selection) are data in its [`GraphResource`]; a source
//! whose `/beta` records differ from `/v1.0` overrides [`SimSource::render_version`]; a source
//! with several kinds of events (sign-ins) lists them in [`SimSource::streams`].
//!
//! # The event schedule (shared by all sources)
//! Time is cut into hour buckets (`hour = unix_seconds / 3600`). The events of one bucket are a
//! pure function of `(seed, source name, hour)`, so any hour can be generated on its own, in any
//! order, identically every time:
//! - **Count**: `events_per_hour x volume()` on average, varied per hour uniformly between 50%
//!   and 150% of it (exactly 0 when the rate is 0). A source with streams draws each stream
//!   separately with the stream's own volume (and its own generator), so every stream's count
//!   varies on its own.
//! - **Times**: uniform in the hour at 100 ns resolution (Graph's 7 fractional digits).
//! - **Existence**: an event exists from the simulator's `start = initial now - days` onward; a
//!   bucket straddling `start` is generated whole and cut, so a different `now` or `days` never
//!   changes the events both runs have in common.
//! - **Ingestion delay**: each event gets a delay `d` uniform in `[0, ingest_delay_secs]`
//!   (millisecond resolution) and is *visible* (returned by the API, counted by `/_sim/truth`)
//!   only once `event_time + d <= now`. About 2% of events are **late**: their delay is uniform
//!   in `[ingest_delay_secs, min(3 x ingest_delay_secs, 1800 s)]` (never below the normal
//!   maximum), so they surface after later events but still within a 30-minute collector
//!   overlap. Late events are what makes an overlap necessary; the cap is what makes 30 minutes
//!   sufficient.
//! - **Per-event seed**: every event carries a 64-bit seed from which the source renders the
//!   record (and its id) on demand, so the store holds small stubs, not JSON.
//! - **Planted attacks** ([`crate::attacks`]) join the buckets of the Graph sources they belong
//!   to after the benign draws, as stubs with [`EventStub::plant`] set; the count above is the
//!   benign events' alone.

pub mod defender_alerts;
pub mod entra_directory_audits;
pub mod entra_provisioning;
pub mod entra_risk_detections;
pub mod entra_sign_ins;
pub mod exchange_message_trace;
pub mod intune_audit;

use serde_json::value::RawValue;

use crate::attacks::PlantRef;
use crate::budget::BudgetSpec;
use crate::clock::NS_PER_HOUR;
use crate::rng::{Rng, hash_str, seed_of};
use crate::tenant::Tenant;

/// Every source the simulator serves, in the order `/_sim/sources` lists them.
pub static SOURCES: &[&dyn SimSource] = &[
    &entra_directory_audits::EntraDirectoryAudits,
    &entra_sign_ins::EntraSignIns,
    &intune_audit::IntuneAudit,
    &exchange_message_trace::ExchangeMessageTrace,
    &entra_risk_detections::EntraRiskDetections,
    &entra_provisioning::EntraProvisioning,
    &defender_alerts::DefenderAlerts,
];

/// Share of events whose ingestion delay is "late" (see the module doc).
pub const LATE_SHARE: f64 = 0.02;
/// Upper bound on any late delay, in seconds.
pub const LATE_CAP_SECS: u64 = 1800;

/// One simulated audit source.
pub trait SimSource: Send + Sync {
    /// The Source name used everywhere (`entra-directory-audits`).
    fn name(&self) -> &'static str;

    /// How the source is served over HTTP.
    fn api(&self) -> SourceApi;

    /// Relative volume: this source produces `events_per_hour x volume()` events per hour.
    /// Ignored when the source has [`SimSource::streams`] (each stream has its own volume).
    fn volume(&self) -> f64 {
        1.0
    }

    /// The source's streams (sign-in kinds, ...), in a fixed order; empty for a source without
    /// streams. Every event belongs to exactly one stream ([`EventStub::stream`] is its index).
    fn streams(&self) -> &'static [Stream] {
        &[]
    }

    /// The record id (Graph `id`) of the event with this seed; must equal the `id` that
    /// [`SimSource::render`] puts in the record, and be unique across events.
    fn record_id(&self, tenant: &Tenant, seed: u64) -> String;

    /// The record id of a planted attack record with this seed (see [`crate::attacks`]); must
    /// equal the `id` the source renders for it. The default is [`SimSource::record_id`], right
    /// for sources whose id does not depend on what the record is about.
    fn planted_record_id(&self, tenant: &Tenant, seed: u64, plant: &PlantRef) -> String {
        let _ = plant;
        self.record_id(tenant, seed)
    }

    /// The full record as Microsoft would send it from `/v1.0` (one element of a Graph `value`
    /// array). A planted record ([`EventStub::plant`]) is rendered with the plan of its
    /// scenario ([`crate::attacks::plans`]).
    fn render(
        &self,
        tenant: &Tenant,
        event: &EventStub,
    ) -> Result<Box<RawValue>, serde_json::Error>;

    /// The instants (ns, each a multiple of 100, increasing) at which the record of `event` is
    /// updated after its creation, for a source whose records change
    /// ([`GraphResource::changes_within_secs`]); each update becomes the version served once it
    /// is visible (after the event's own ingestion delay). Default: none, the record never
    /// changes.
    fn updates(&self, tenant: &Tenant, event: &EventStub) -> Vec<i64> {
        let _ = (tenant, event);
        Vec::new()
    }

    /// The record after its first `revision` updates ([`SimSource::updates`]; 0 is the record as
    /// created, [`SimSource::render`]).
    fn render_revision(
        &self,
        tenant: &Tenant,
        event: &EventStub,
        revision: usize,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        let _ = revision;
        self.render(tenant, event)
    }

    /// The record as served by one API version. The default serves the same record from both
    /// (true of most Graph audit resources); sources whose beta shape differs override it.
    fn render_version(
        &self,
        tenant: &Tenant,
        event: &EventStub,
        version: ApiVersion,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        let _ = version;
        self.render(tenant, event)
    }
}

/// A stream of a source: its name on the wire and its share of the volume.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    /// The name callers select it by (`nonInteractiveUser`), also `/_sim/truth?stream=`.
    pub name: &'static str,
    /// Relative volume: `events_per_hour x volume` events per hour.
    pub volume: f64,
}

/// The Graph API version a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/v1.0`.
    V1,
    /// `/beta`.
    Beta,
}

impl ApiVersion {
    /// The path segment (`v1.0`, `beta`).
    pub fn segment(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }

    /// Both versions, in routing order.
    pub const ALL: [ApiVersion; 2] = [ApiVersion::V1, ApiVersion::Beta];
}

/// How a source is exposed.
#[derive(Debug, Clone, Copy)]
pub enum SourceApi {
    /// A Graph list endpoint served by [`crate::graph`] under `/v1.0/` and `/beta/`.
    Graph(GraphResource),
}

impl SourceApi {
    /// The Graph collection, for Graph sources.
    pub fn graph(self) -> Option<GraphResource> {
        match self {
            Self::Graph(res) => Some(res),
        }
    }
}

/// What a tenant needs before Graph serves a collection at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing beyond a valid token.
    None,
    /// An Entra ID P1/P2 licence ([`crate::SimConfig::premium`]); otherwise 403
    /// `Authentication_RequestFromNonPremiumTenantOrB2CTenant`.
    PremiumLicence,
    /// An Entra ID P2 licence ([`crate::SimConfig::premium_p2`], which needs
    /// [`crate::SimConfig::premium`] too); otherwise 403 `Forbidden` naming the licence.
    /// (Microsoft serves P1 tenants risk detections with limited detail; the simulator models
    /// only the two ends.)
    PremiumP2Licence,
    /// The Exchange message trace service principal provisioned in the tenant
    /// ([`crate::SimConfig::message_trace_provisioned`]); otherwise 401.
    MessageTraceServicePrincipal,
}

/// A Graph collection: where it lives, which property is its time axis, and its query rules.
#[derive(Debug, Clone, Copy)]
pub struct GraphResource {
    /// The path below `/v1.0/`, e.g. `auditLogs/directoryAudits`.
    pub path: &'static str,
    /// The property `$filter` and the ordering work on, e.g. `activityDateTime`.
    pub time_field: &'static str,
    /// Page size without `$top`.
    pub default_top: usize,
    /// Largest accepted `$top`.
    pub max_top: usize,
    /// `$filter` must bound the time field on both sides (else 400).
    pub require_bounds: bool,
    /// Longest accepted span between the two bounds, in seconds (else 400).
    pub max_range_secs: Option<i64>,
    /// Records older than this many days (before the request's virtual time) are not served.
    pub history_days: Option<u32>,
    /// The collection property whose `any` lambda selects one of the source's streams
    /// (`signInEventTypes/any(t: t eq 'nonInteractiveUser')`), accepted on `/beta` only.
    /// Without it a request gets the first stream.
    pub stream_property: Option<&'static str>,
    /// What the tenant needs before the collection is served.
    pub precondition: Precondition,
    /// The request budget this collection draws on (shared by name with other collections).
    pub budget: Option<BudgetSpec>,
    /// Whether its 429s (budget refusals and injected throttles) carry `Retry-After`; Identity
    /// Protection's do not (Microsoft Graph's service-specific throttling limits).
    pub throttle_retry_after: bool,
    /// For a collection whose records change after they are created (Defender alerts): the
    /// longest time from an event's creation to its last update ([`SimSource::updates`]).
    /// `time_field` is then the time of the record's current version, which a request filters
    /// on; events stay scheduled, walked and paged by their creation time.
    pub changes_within_secs: Option<i64>,
}

impl GraphResource {
    /// A collection with no special rules: optional bounds, all history, no streams, no
    /// precondition, no budget. Sources refine it with struct update syntax.
    pub const fn basic(
        path: &'static str,
        time_field: &'static str,
        default_top: usize,
        max_top: usize,
    ) -> Self {
        Self {
            path,
            time_field,
            default_top,
            max_top,
            require_bounds: false,
            max_range_secs: None,
            history_days: None,
            stream_property: None,
            precondition: Precondition::None,
            budget: None,
            throttle_retry_after: true,
            changes_within_secs: None,
        }
    }
}

/// The schedule facts of one event; the record itself is rendered from `seed` on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStub {
    /// Event time (ns since epoch; a multiple of 100).
    pub time_ns: i64,
    /// When it becomes visible: `time_ns + ingestion delay`.
    pub visible_ns: i64,
    /// The per-event seed the record is rendered from.
    pub seed: u64,
    /// Index of the event's stream in [`SimSource::streams`] (0 for a source without streams).
    pub stream: u8,
    /// The record id.
    pub id: Box<str>,
    /// Set for a planted attack record (see [`crate::attacks`]): the source renders it with
    /// the scenario's choices forced instead of drawing them.
    pub plant: Option<PlantRef>,
}

/// The inputs of the schedule that come from the simulator's configuration.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleParams {
    /// The simulator seed.
    pub seed: u64,
    /// Mean events per hour (before the source's `volume()`).
    pub events_per_hour: u32,
    /// Upper bound of the normal ingestion delay, in seconds.
    pub ingest_delay_secs: u64,
    /// Plant attack scenarios whose first record is at or after this instant (ns); `None`
    /// plants none (see [`crate::attacks`]).
    pub attacks_from_ns: Option<i64>,
}

/// Generates one hour bucket of `source`, sorted newest first (time desc, then id desc).
///
/// A source without streams draws from one generator keyed by `(seed, source, hour)`; a source
/// with streams draws each stream from its own generator keyed by `(seed, source, stream,
/// hour)`, with the stream's own volume, and the buckets are merged.
pub fn generate_hour(
    source: &dyn SimSource,
    tenant: &Tenant,
    params: ScheduleParams,
    hour: i64,
) -> Vec<EventStub> {
    let mut out = Vec::new();
    let streams = source.streams();
    if streams.is_empty() {
        let rng = Rng::new(seed_of(&[
            params.seed,
            hash_str(source.name()),
            hour as u64,
        ]));
        fill_hour(
            &mut out,
            rng,
            source,
            tenant,
            params,
            hour,
            source.volume(),
            0,
        );
    } else {
        for (k, stream) in streams.iter().enumerate() {
            let rng = Rng::new(seed_of(&[
                params.seed,
                hash_str(source.name()),
                hash_str(stream.name),
                hour as u64,
            ]));
            let k = u8::try_from(k).unwrap_or(u8::MAX);
            fill_hour(
                &mut out,
                rng,
                source,
                tenant,
                params,
                hour,
                stream.volume,
                k,
            );
        }
    }
    // Planted attacks join the bucket after every benign draw, so planting changes no benign
    // event.
    out.extend(crate::attacks::graph_stubs(source, tenant, &params, hour));
    out.sort_unstable_by(|a, b| (b.time_ns, &b.id).cmp(&(a.time_ns, &a.id)));
    out
}

#[allow(clippy::too_many_arguments)]
fn fill_hour(
    out: &mut Vec<EventStub>,
    mut rng: Rng,
    source: &dyn SimSource,
    tenant: &Tenant,
    params: ScheduleParams,
    hour: i64,
    volume: f64,
    stream: u8,
) {
    let mean = (f64::from(params.events_per_hour) * volume).round() as u64;
    let count = if mean == 0 {
        0
    } else {
        rng.range((mean / 2).max(1), mean + mean / 2)
    };
    let normal_max_ms = params.ingest_delay_secs.saturating_mul(1000);
    let late_max_ms = params
        .ingest_delay_secs
        .saturating_mul(3)
        .min(LATE_CAP_SECS)
        .saturating_mul(1000)
        .max(normal_max_ms);
    let hour_start = hour.saturating_mul(NS_PER_HOUR);
    out.reserve(count as usize);
    for _ in 0..count {
        let seed = rng.next_u64();
        let ticks = rng.below((NS_PER_HOUR / 100) as u64) as i64;
        let time_ns = hour_start + ticks * 100;
        let delay_ms = if rng.chance(LATE_SHARE) {
            rng.range(normal_max_ms, late_max_ms)
        } else {
            rng.range(0, normal_max_ms)
        };
        let delay_ns = i64::try_from(delay_ms)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000);
        out.push(EventStub {
            time_ns,
            visible_ns: time_ns.saturating_add(delay_ns),
            seed,
            stream,
            id: source.record_id(tenant, seed).into_boxed_str(),
            plant: None,
        });
    }
}

/// Which version of `event` a request at `as_of_ns` is served, and that version's time: the
/// last of its [`SimSource::updates`] visible by then (each update shifted by the event's own
/// ingestion delay), or the record as created (revision 0, its event time).
pub fn current_revision(
    source: &dyn SimSource,
    tenant: &Tenant,
    event: &EventStub,
    as_of_ns: i64,
) -> (usize, i64) {
    let delay = event.visible_ns - event.time_ns;
    let mut current = (0, event.time_ns);
    for (k, at) in source.updates(tenant, event).into_iter().enumerate() {
        if at.saturating_add(delay) <= as_of_ns {
            current = (k + 1, at);
        }
    }
    current
}

/// Looks a source up by name.
pub fn find(name: &str) -> Option<(usize, &'static dyn SimSource)> {
    SOURCES
        .iter()
        .enumerate()
        .find(|(_, s)| s.name() == name)
        .map(|(i, s)| (i, *s))
}

/// The index of `source`'s stream called `name` (ASCII case-insensitive).
pub fn stream_index(source: &dyn SimSource, name: &str) -> Option<u8> {
    source
        .streams()
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(name))
        .and_then(|i| u8::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(eph: u32, delay: u64) -> ScheduleParams {
        ScheduleParams {
            seed: 5,
            events_per_hour: eph,
            ingest_delay_secs: delay,
            attacks_from_ns: None,
        }
    }

    #[test]
    fn hours_are_reproducible_sorted_and_sized() {
        let tenant = Tenant::generate(5, "t");
        let src = SOURCES[0];
        for hour in 490_000..490_020 {
            let a = generate_hour(src, &tenant, params(60, 120), hour);
            let b = generate_hour(src, &tenant, params(60, 120), hour);
            assert_eq!(a, b);
            assert!((30..=90).contains(&a.len()), "{}", a.len());
            assert!(
                a.windows(2)
                    .all(|w| (w[0].time_ns, &w[0].id) > (w[1].time_ns, &w[1].id))
            );
            for e in &a {
                assert_eq!(e.time_ns.div_euclid(NS_PER_HOUR), hour);
                assert_eq!(e.time_ns % 100, 0);
                assert!(e.visible_ns >= e.time_ns);
                assert!(e.visible_ns - e.time_ns <= 360 * 1_000_000_000);
            }
        }
        assert!(generate_hour(src, &tenant, params(0, 120), 490_000).is_empty());
    }

    #[test]
    fn streams_have_their_own_volumes_and_generators() {
        let tenant = Tenant::generate(5, "t");
        let Some((_, sign_ins)) = find("entra-sign-ins") else {
            panic!("entra-sign-ins is registered");
        };
        let mut counts = [0u32; 4];
        for hour in 600_000..600_048 {
            let bucket = generate_hour(sign_ins, &tenant, params(100, 120), hour);
            assert!(
                bucket
                    .windows(2)
                    .all(|w| (w[0].time_ns, &w[0].id) > (w[1].time_ns, &w[1].id))
            );
            for e in &bucket {
                counts[usize::from(e.stream)] += 1;
            }
        }
        let per_hour = counts.map(|c| f64::from(c) / 48.0);
        for (got, want) in per_hour.iter().zip([100.0, 300.0, 50.0, 30.0]) {
            assert!((got / want - 1.0).abs() < 0.15, "{per_hour:?}");
        }
        assert_eq!(stream_index(sign_ins, "SERVICEPRINCIPAL"), Some(2));
        assert_eq!(stream_index(sign_ins, "nope"), None);
        let names: Vec<&str> = SOURCES.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "entra-directory-audits",
                "entra-sign-ins",
                "intune-audit",
                "exchange-message-trace",
                "entra-risk-detections",
                "entra-provisioning",
                "defender-alerts"
            ]
        );
    }

    #[test]
    fn late_events_exist_and_respect_the_cap() {
        let tenant = Tenant::generate(5, "t");
        let src = SOURCES[0];
        let mut late = 0;
        let mut total = 0;
        for hour in 500_000..500_040 {
            for e in generate_hour(src, &tenant, params(100, 900), hour) {
                let d = e.visible_ns - e.time_ns;
                assert!(d <= 1800 * 1_000_000_000);
                if d > 900 * 1_000_000_000 {
                    late += 1;
                }
                total += 1;
            }
        }
        let share = f64::from(late) / f64::from(total);
        assert!((0.005..0.04).contains(&share), "late share {share}");
    }
}
