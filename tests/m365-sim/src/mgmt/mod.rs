//! The Office 365 Management Activity API: subscriptions, content blobs and their records.
//!
//! Served under `/api/v1.0/{tenant}/activity/feed` (see [`routes`] for the operations, their
//! errors and the order in which a request is checked). This module holds the model behind them:
//!
//! - **Content types** ([`CONTENT_TYPES`]): `Audit.AzureActiveDirectory`, `Audit.Exchange`,
//!   `Audit.SharePoint`, `Audit.General` and `DLP.All`, with relative volumes 0.8, 1.0, 1.0, 0.3
//!   and 0.1 (Exchange and SharePoint dominate real tenants; DLP matches are rare).
//! - **Blobs** are a pure function of `(seed, content type, slot)`, like the Graph hour buckets:
//!   slot `k` of a content type is the blob created at `k x mgmt_blob_interval_secs` since the
//!   epoch. Blobs exist from `initial now - days` onward (the first slot at or after it), and
//!   exist whether or not a subscription was enabled at the time: the simulator does not model
//!   "content published while stopped is lost" nor "the first blobs take up to 12 h", and it never
//!   drops blobs while a subscription is disabled. A blob is *listed* (visible to
//!   `subscriptions/content`) at `contentCreated` plus the listing delay (quirk 1, else at once),
//!   and can be fetched until `contentExpiration` (`contentCreated + 7 days`, quirk 5 aside).
//! - **Records** per blob: `events_per_hour x volume x interval / 3600` on average, varied 50-150%
//!   per blob, each with a `CreationTime` 60-90 minutes before `contentCreated` (see [`records`]
//!   for the record shapes); plus the planted attack records of the blob, from 60 minutes to 60
//!   minutes plus one interval before it (see [`crate::attacks::activity`]).
//! - **Quirks** ([`MgmtSettings`], all off by default): listing delay, late and unordered
//!   records, the previous blob's last record repeated, blobs listed twice, blobs expiring 20
//!   minutes after listing, the `Audit.Exchange` subscription disabled after N listings, AF429 as
//!   HTTP 403 and the `NextPageUrl` header spelling.
//! - **Ground truth** ([`MgmtState::truth`]) for `/_sim/truth/m365-activity` and the `mgmt`
//!   counters of `/_sim/stats` ([`MgmtState::stats_json`]).
//!
//! Quirk details: the listing delay is uniform in `[0, mgmt_listing_delay_secs]` per blob, and
//! listings are sorted by the listed instant, so `contentCreated` is not monotonic in a listing.
//! Late records (quirk 2) are 1-3 extra records 3-5 days older than the blob, in about 5% of
//! blobs. The repeated record (quirk 3) is the last *own* record of the previous slot (a blob
//! without records of its own passes nothing on); it is the very same JSON. A relisted blob
//! (quirk 4) shows up a second time at `contentCreated + 1..3 days` with that later
//! `contentCreated`, the same contentId, contentUri, records and expiration. An early-expiring
//! blob (quirk 5) has `contentExpiration = listed + 20 min`, even in its relisting.
//!
//! Simplifications: a blob is made every interval even when it holds no records (Microsoft
//! publishes no empty blobs); webhooks, `subscriptions/notifications` and
//! `resources/dlpSensitiveTypes` are not served; the "15 minutes between start calls" advice and
//! the partial listing of a window starting exactly at a blob's creation are not modelled.
//!
//! Every random decision about a blob is drawn unconditionally and in a fixed order, so switching
//! a quirk on changes only what that quirk is about: the same blobs keep the same records.

pub mod records;
pub mod routes;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde_json::{Value, json};

use crate::SimConfig;
use crate::attacks::{Schedule, activity};
use crate::clock::{NS_PER_SEC, from_ns, rfc3339};
use crate::rng::{Rng, hash_str, seed_of};
use crate::tenant::Tenant;

/// The name of the Management Activity API in `/_sim/sources` and `/_sim/truth`.
pub const SOURCE_NAME: &str = "m365-activity";

/// Seven days: a blob's normal lifetime and the oldest allowed listing `startTime`.
pub const RETENTION_NS: i64 = 7 * 86_400 * NS_PER_SEC;

/// Most records held in the blob cache before it is emptied.
const CACHE_CAP_RECORDS: usize = 100_000;

/// One content type of the feed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContentType {
    /// The `contentType` value, e.g. `Audit.Exchange`.
    pub name: &'static str,
    /// Share of `events_per_hour` this content type carries.
    pub volume: f64,
    /// The permission reading it needs.
    pub permission: &'static str,
}

/// Every content type, in the order `subscriptions/list` shows them.
pub const CONTENT_TYPES: &[ContentType] = &[
    ContentType {
        name: "Audit.AzureActiveDirectory",
        volume: 0.8,
        permission: "ActivityFeed.Read",
    },
    ContentType {
        name: "Audit.Exchange",
        volume: 1.0,
        permission: "ActivityFeed.Read",
    },
    ContentType {
        name: "Audit.SharePoint",
        volume: 1.0,
        permission: "ActivityFeed.Read",
    },
    ContentType {
        name: "Audit.General",
        volume: 0.3,
        permission: "ActivityFeed.Read",
    },
    ContentType {
        name: "DLP.All",
        volume: 0.1,
        permission: "ActivityFeed.ReadDlp",
    },
];

/// Index of `Audit.Exchange` in [`CONTENT_TYPES`] (the subscription quirk 6 disables).
pub const EXCHANGE: usize = 1;

/// The index of a content type by name (exact, else ASCII case-insensitive).
pub fn content_type_index(name: &str) -> Option<usize> {
    CONTENT_TYPES
        .iter()
        .position(|c| c.name == name)
        .or_else(|| {
            CONTENT_TYPES
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        })
}

/// The Management API settings a [`SimConfig`] resolves to (quirks switched on by
/// `mgmt_quirks` included).
#[derive(Debug, Clone, PartialEq)]
pub struct MgmtSettings {
    /// Blob interval, ns.
    pub interval_ns: i64,
    /// Content items per listing page.
    pub page_size: usize,
    /// Status of an AF429.
    pub af429_status: StatusCode,
    /// `NextPageUri` or `NextPageUrl`.
    pub next_page_header: String,
    /// Quirk 1: upper bound of the listing delay, ns (0 = off).
    pub listing_delay_ns: i64,
    /// Quirk 2.
    pub late_records: bool,
    /// Quirk 3.
    pub repeat_last: bool,
    /// Quirk 4.
    pub relist: bool,
    /// Quirk 5.
    pub early_expiry: bool,
    /// Quirk 6.
    pub disable_after: Option<u64>,
}

impl MgmtSettings {
    /// Resolves `config`. With `mgmt_quirks`, every quirk is on: listing delay up to 5400 s
    /// (unless set otherwise), late records, repeated last record, relisting, early expiry, the
    /// `Audit.Exchange` subscription disabled after 20 listings (unless set otherwise), AF429 as
    /// HTTP 403 and the `NextPageUrl` header spelling.
    pub fn from_config(c: &SimConfig) -> Self {
        let q = c.mgmt_quirks;
        let delay_secs = if q && c.mgmt_listing_delay_secs == 0 {
            5400
        } else {
            c.mgmt_listing_delay_secs
        };
        let af429 = if q { 403 } else { c.mgmt_af429_status };
        Self {
            interval_ns: i64::try_from(c.mgmt_blob_interval_secs.clamp(1, 86_400)).unwrap_or(600)
                * NS_PER_SEC,
            page_size: c.mgmt_page_size.max(1),
            af429_status: StatusCode::from_u16(af429).unwrap_or(StatusCode::TOO_MANY_REQUESTS),
            next_page_header: if q {
                "NextPageUrl".to_string()
            } else {
                c.mgmt_next_page_header.clone()
            },
            listing_delay_ns: i64::try_from(delay_secs.min(7 * 86_400)).unwrap_or(0) * NS_PER_SEC,
            late_records: q || c.mgmt_late_records,
            repeat_last: q || c.mgmt_repeat_last,
            relist: q || c.mgmt_relist,
            early_expiry: q || c.mgmt_early_expiry,
            disable_after: c.mgmt_disable_after.or(if q { Some(20) } else { None }),
        }
    }

    /// Rejects Management API settings that make no sense.
    pub fn validate(c: &SimConfig) -> Result<(), String> {
        if !(60..=86_400).contains(&c.mgmt_blob_interval_secs) {
            return Err(format!(
                "mgmt_blob_interval_secs must be in 60..=86400, got {}",
                c.mgmt_blob_interval_secs
            ));
        }
        if !(1..=10_000).contains(&c.mgmt_page_size) {
            return Err(format!(
                "mgmt_page_size must be in 1..=10000, got {}",
                c.mgmt_page_size
            ));
        }
        if !matches!(c.mgmt_af429_status, 429 | 403) {
            return Err(format!(
                "mgmt_af429_status must be 429 or 403, got {}",
                c.mgmt_af429_status
            ));
        }
        if !matches!(
            c.mgmt_next_page_header.as_str(),
            "NextPageUri" | "NextPageUrl"
        ) {
            return Err(format!(
                "mgmt_next_page_header must be NextPageUri or NextPageUrl, got {}",
                c.mgmt_next_page_header
            ));
        }
        if c.mgmt_listing_delay_secs > 7 * 86_400 {
            return Err("mgmt_listing_delay_secs must be at most 604800".to_string());
        }
        for t in &c.mgmt_denied_content_types {
            if content_type_index(t).is_none() {
                return Err(format!(
                    "mgmt_denied_content_types: unknown content type '{t}'"
                ));
            }
        }
        Ok(())
    }
}

/// Everything decided about one blob without generating its records.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobMeta {
    /// Index into [`CONTENT_TYPES`].
    pub ct: usize,
    /// Slot number: `created_ns / interval_ns`.
    pub slot: i64,
    /// `contentCreated`, ns.
    pub created_ns: i64,
    /// When it first appears in listings, ns.
    pub listed_ns: i64,
    /// `contentExpiration`, ns.
    pub expiration_ns: i64,
    /// Quirk 4: the `contentCreated` (and listing instant) of its second listing.
    pub relisted_ns: Option<i64>,
    /// Quirk 2: number of late records it carries (0 when off).
    pub late_records: usize,
    /// Its own records (the repeated one of quirk 3 not counted).
    pub own_count: usize,
    /// `contentId`.
    pub content_id: String,
}

/// One line of a content listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingEntry {
    /// When it became listed (the sort key, with the content id).
    pub listed_ns: i64,
    /// `contentCreated` as shown in this listing.
    pub created_ns: i64,
    /// `contentExpiration`.
    pub expiration_ns: i64,
    /// `contentId`.
    pub content_id: String,
    /// Index into [`CONTENT_TYPES`].
    pub ct: usize,
}

/// Counters behind the `mgmt` object of `/_sim/stats`.
#[derive(Debug, Default)]
pub struct MgmtStats {
    /// Successful content listings (every page answered 200 counts once).
    pub listings: AtomicU64,
    /// Blob fetches answered 200.
    pub blob_fetches: AtomicU64,
    /// Blob fetches answered AF20051.
    pub expired_fetches: AtomicU64,
    /// AF429 answers (injected faults and the request budget).
    pub af429: AtomicU64,
    /// Requests without `PublisherIdentifier`.
    pub missing_publisher: AtomicU64,
    /// Successful starts per content type.
    pub subscription_starts: Mutex<BTreeMap<String, u64>>,
    /// Times quirk 6 disabled a subscription, per content type.
    pub disabled: Mutex<BTreeMap<String, u64>>,
}

/// A subscription's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStatus {
    /// Enabled: listings work.
    Enabled,
    /// Stopped, or disabled by quirk 6: listings answer AF20023.
    Disabled,
}

/// The Management API's live state.
#[derive(Debug)]
pub struct MgmtState {
    /// Resolved settings.
    pub settings: MgmtSettings,
    seed: u64,
    events_per_hour: u32,
    /// The tenant GUID in the URLs.
    pub tenant_id: String,
    tenant: Arc<Tenant>,
    /// The first slot that exists (per content type).
    first_slot: i64,
    region: String,
    subs: Mutex<BTreeMap<usize, SubStatus>>,
    cache: Mutex<RecordCache>,
    fetches: Mutex<HashMap<String, u64>>,
    disabled_once: AtomicBool,
    /// Planted attacks, when there are any (see [`crate::attacks::activity`]).
    attacks: Option<Schedule>,
    /// Counters.
    pub stats: MgmtStats,
}

/// Own records per `(content type, slot)`, and how many records it holds.
type RecordCache = (HashMap<(usize, i64), Arc<Vec<Value>>>, usize);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `2015-05-23T17:35:00.000Z`: the listing's time format.
pub fn content_time(ns: i64) -> String {
    from_ns(ns).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `20240101120000` then nine more digits: the stamps inside a `contentId`.
fn id_stamp(ns: i64, frac: u64) -> String {
    format!("{}{frac:09}", from_ns(ns).format("%Y%m%d%H%M%S"))
}

impl MgmtState {
    /// State for `config`, whose history starts at `start_ns`.
    pub fn new(config: &SimConfig, tenant: Arc<Tenant>, start_ns: i64) -> Self {
        let settings = MgmtSettings::from_config(config);
        let first_slot = start_ns.div_euclid(settings.interval_ns)
            + i64::from(start_ns.rem_euclid(settings.interval_ns) != 0);
        let region = format!(
            "na{:04}",
            seed_of(&[config.seed, hash_str("mgmt-region")]) % 10_000
        );
        Self {
            settings,
            seed: config.seed,
            events_per_hour: config.events_per_hour,
            tenant_id: config.tenant.clone(),
            tenant,
            first_slot,
            region,
            subs: Mutex::new(BTreeMap::new()),
            cache: Mutex::new((HashMap::new(), 0)),
            fetches: Mutex::new(HashMap::new()),
            disabled_once: AtomicBool::new(false),
            attacks: config
                .attacks
                .then_some(Schedule {
                    seed: config.seed,
                    from_ns: start_ns,
                    ingest_delay_secs: config.ingest_delay_secs,
                })
                .filter(|_| config.events_per_hour > 0),
            stats: MgmtStats::default(),
        }
    }

    /// The first slot that exists.
    pub fn first_slot(&self) -> i64 {
        self.first_slot
    }

    /// The blob of `ct` at `slot` (whether it exists is the caller's question).
    pub fn meta(&self, ct: usize, slot: i64) -> BlobMeta {
        let s = &self.settings;
        let mut rng = Rng::new(seed_of(&[
            self.seed,
            hash_str("mgmt-blob"),
            ct as u64,
            slot as u64,
        ]));
        let created_ns = slot.saturating_mul(s.interval_ns);
        // Every draw happens whatever the settings, in this order.
        let frac_start = rng.below(1_000_000_000);
        let frac_end = rng.below(1_000_000_000);
        // `unit` always consumes one draw (`range` does not when its span is empty).
        let delay_ms = (rng.unit() * (s.listing_delay_ns / 1_000_000 + 1) as f64) as i64;
        let volume = CONTENT_TYPES.get(ct).map_or(0.0, |c| c.volume);
        let mean = f64::from(self.events_per_hour) * volume * (s.interval_ns as f64)
            / (3600.0 * NS_PER_SEC as f64);
        let x = mean * (0.5 + rng.unit());
        let frac = x - x.floor();
        let own_count = x.floor() as usize + usize::from(rng.chance(frac));
        let late = rng.chance(0.05);
        let late_count = rng.range(1, 3) as usize;
        let relist = rng.chance(0.03);
        let relist_ms = rng.range(86_400_000, 3 * 86_400_000);
        let early = rng.chance(0.03);
        let listed_ns = created_ns + delay_ms * 1_000_000;
        let expiration_ns = if s.early_expiry && early {
            listed_ns + 20 * 60 * NS_PER_SEC
        } else {
            created_ns + RETENTION_NS
        };
        let (lower, upper) = id_tags(ct);
        let content_id = format!(
            "{}${}${lower}${upper}${}",
            id_stamp(created_ns, frac_start),
            id_stamp(created_ns + s.interval_ns, frac_end),
            self.region
        );
        BlobMeta {
            ct,
            slot,
            created_ns,
            listed_ns,
            expiration_ns,
            relisted_ns: (s.relist && relist).then(|| created_ns + (relist_ms as i64) * 1_000_000),
            late_records: if s.late_records && late && own_count > 0 {
                late_count
            } else {
                0
            },
            own_count,
            content_id,
        }
    }

    /// The blob a `contentId` names, if it is one of ours and exists by `now_ns` (listed).
    pub fn find(&self, content_id: &str, now_ns: i64) -> Option<BlobMeta> {
        let parts: Vec<&str> = content_id.split('$').collect();
        let [start, _, _, upper, _] = parts.as_slice() else {
            return None;
        };
        let ct = CONTENT_TYPES
            .iter()
            .position(|c| c.name.replace('.', "_") == *upper)?;
        let stamp = start.get(..14)?;
        let created = NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").ok()?;
        let created_ns = created.and_utc().timestamp().checked_mul(NS_PER_SEC)?;
        // Nothing is listed before it is created (and later stamps could overflow).
        if created_ns > now_ns || created_ns.rem_euclid(self.settings.interval_ns) != 0 {
            return None;
        }
        let slot = created_ns.div_euclid(self.settings.interval_ns);
        if slot < self.first_slot {
            return None;
        }
        let meta = self.meta(ct, slot);
        (meta.content_id == content_id && meta.listed_ns <= now_ns).then_some(meta)
    }

    /// Is a `contentId` well formed (five `$`-separated parts, a known content type)?
    pub fn well_formed(content_id: &str) -> bool {
        let parts: Vec<&str> = content_id.split('$').collect();
        parts.len() == 5
            && parts
                .first()
                .is_some_and(|p| p.len() == 23 && p.bytes().all(|b| b.is_ascii_digit()))
    }

    /// A blob's own records (generated or cached).
    fn own_records(&self, meta: &BlobMeta) -> Arc<Vec<Value>> {
        let key = (meta.ct, meta.slot);
        if let Some(r) = lock(&self.cache).0.get(&key) {
            return Arc::clone(r);
        }
        let planted = match &self.attacks {
            Some(schedule) => activity::in_blob(
                schedule,
                &self.tenant,
                &self.tenant_id,
                meta.ct,
                meta.slot,
                self.settings.interval_ns,
            ),
            None => Vec::new(),
        };
        let recs = Arc::new(records::generate(
            self.seed,
            &self.tenant,
            &self.tenant_id,
            meta,
            self.settings.late_records,
            planted,
        ));
        let mut cache = lock(&self.cache);
        if cache.1 + recs.len() > CACHE_CAP_RECORDS {
            cache.0.clear();
            cache.1 = 0;
        }
        cache.1 += recs.len();
        cache.0.insert(key, Arc::clone(&recs));
        recs
    }

    /// Quirk 3: the record a blob repeats from the previous blob of its content type.
    fn repeated(&self, meta: &BlobMeta) -> Option<Value> {
        if !self.settings.repeat_last || meta.slot <= self.first_slot {
            return None;
        }
        let prev = self.meta(meta.ct, meta.slot - 1);
        self.own_records(&prev).last().cloned()
    }

    /// Every record of a blob, as served.
    pub fn blob_records(&self, meta: &BlobMeta) -> Vec<Value> {
        let own = self.own_records(meta);
        let mut out = Vec::with_capacity(own.len() + 1);
        out.extend(self.repeated(meta));
        out.extend(own.iter().cloned());
        out
    }

    /// The record ids of a blob, as served (in order).
    pub fn blob_ids(&self, meta: &BlobMeta) -> Vec<String> {
        let id = |v: &Value| v["Id"].as_str().unwrap_or_default().to_string();
        let mut out: Vec<String> = self.repeated(meta).iter().map(id).collect();
        out.extend(self.own_records(meta).iter().map(id));
        out
    }

    /// The listing of `ct`: entries whose shown `contentCreated` lies in `[lo_ns, hi_ns)` and
    /// that are listed by `now_ns`, sorted by (listed instant, content id).
    pub fn listing(&self, ct: usize, lo_ns: i64, hi_ns: i64, now_ns: i64) -> Vec<ListingEntry> {
        let iv = self.settings.interval_ns;
        let ceil = |t: i64| t.div_euclid(iv) + i64::from(t.rem_euclid(iv) != 0);
        let mut out = Vec::new();
        let hi = hi_ns.min(now_ns.saturating_add(1));
        for slot in ceil(lo_ns).max(self.first_slot)..ceil(hi) {
            let m = self.meta(ct, slot);
            if m.listed_ns <= now_ns {
                out.push(ListingEntry {
                    listed_ns: m.listed_ns,
                    created_ns: m.created_ns,
                    expiration_ns: m.expiration_ns,
                    content_id: m.content_id,
                    ct,
                });
            }
        }
        if self.settings.relist {
            let day = 86_400 * NS_PER_SEC;
            for slot in ceil(lo_ns - 3 * day).max(self.first_slot)..ceil(hi - day) {
                let m = self.meta(ct, slot);
                if let Some(r) = m.relisted_ns
                    && r >= lo_ns
                    && r < hi_ns
                    && r <= now_ns
                {
                    out.push(ListingEntry {
                        listed_ns: r,
                        created_ns: r,
                        expiration_ns: m.expiration_ns,
                        content_id: m.content_id,
                        ct,
                    });
                }
            }
        }
        out.sort_by(|a, b| (a.listed_ns, &a.content_id).cmp(&(b.listed_ns, &b.content_id)));
        out
    }

    /// Every blob of `ct` listed by `until_ns`, oldest slot first.
    pub fn listed_blobs(&self, ct: usize, until_ns: i64) -> Vec<BlobMeta> {
        let last = until_ns.div_euclid(self.settings.interval_ns);
        (self.first_slot..=last)
            .map(|slot| self.meta(ct, slot))
            .filter(|m| m.listed_ns <= until_ns)
            .collect()
    }

    /// The subscription of `ct`, if one exists.
    pub fn subscription(&self, ct: usize) -> Option<SubStatus> {
        lock(&self.subs).get(&ct).copied()
    }

    /// Every subscription that exists, in content type order.
    pub fn subscriptions(&self) -> Vec<(usize, SubStatus)> {
        lock(&self.subs).iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Starts `ct`: `false` when it was already enabled.
    pub fn start(&self, ct: usize) -> bool {
        let mut subs = lock(&self.subs);
        if subs.get(&ct) == Some(&SubStatus::Enabled) {
            return false;
        }
        subs.insert(ct, SubStatus::Enabled);
        drop(subs);
        if let Some(c) = CONTENT_TYPES.get(ct) {
            *lock(&self.stats.subscription_starts)
                .entry(c.name.to_string())
                .or_insert(0) += 1;
        }
        true
    }

    /// Stops `ct`: `false` when no subscription exists.
    pub fn stop(&self, ct: usize) -> bool {
        let mut subs = lock(&self.subs);
        match subs.get_mut(&ct) {
            Some(s) => {
                *s = SubStatus::Disabled;
                true
            }
            None => false,
        }
    }

    /// Counts a successful listing and applies quirk 6.
    pub fn listed(&self) {
        let n = self.stats.listings.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(after) = self.settings.disable_after else {
            return;
        };
        if n < after || self.disabled_once.load(Ordering::Relaxed) {
            return;
        }
        let mut subs = lock(&self.subs);
        if subs.get(&EXCHANGE) == Some(&SubStatus::Enabled)
            && !self.disabled_once.swap(true, Ordering::Relaxed)
        {
            subs.insert(EXCHANGE, SubStatus::Disabled);
            drop(subs);
            *lock(&self.stats.disabled)
                .entry(CONTENT_TYPES[EXCHANGE].name.to_string())
                .or_insert(0) += 1;
        }
    }

    /// Counts a successful fetch of a blob.
    pub fn fetched(&self, content_id: &str) {
        self.stats.blob_fetches.fetch_add(1, Ordering::Relaxed);
        *lock(&self.fetches)
            .entry(content_id.to_string())
            .or_insert(0) += 1;
    }

    /// Successful fetches of a blob so far.
    pub fn fetch_count(&self, content_id: &str) -> u64 {
        lock(&self.fetches).get(content_id).copied().unwrap_or(0)
    }

    /// The `mgmt` object of `/_sim/stats`.
    pub fn stats_json(&self) -> Value {
        let twice = lock(&self.fetches).values().filter(|n| **n > 1).count();
        json!({
            "listings": self.stats.listings.load(Ordering::Relaxed),
            "blob_fetches": self.stats.blob_fetches.load(Ordering::Relaxed),
            "blobs_fetched_twice": twice,
            "expired_fetches": self.stats.expired_fetches.load(Ordering::Relaxed),
            "subscription_starts": *lock(&self.stats.subscription_starts),
            "disabled": *lock(&self.stats.disabled),
            "af429": self.stats.af429.load(Ordering::Relaxed),
            "missing_publisher": self.stats.missing_publisher.load(Ordering::Relaxed),
        })
    }

    /// `/_sim/truth/m365-activity`: see the module doc of [`crate::server`].
    pub fn truth(&self, until_ns: i64, stream: Option<usize>, detail: bool) -> Value {
        let mut ids: BTreeSet<String> = BTreeSet::new();
        let mut lost: HashSet<String> = HashSet::new();
        let mut kept: HashSet<String> = HashSet::new();
        let mut blobs = Vec::new();
        let mut expired_blobs = Vec::new();
        for (ct, c) in CONTENT_TYPES.iter().enumerate() {
            if stream.is_some_and(|s| s != ct) {
                continue;
            }
            for m in self.listed_blobs(ct, until_ns) {
                let blob_ids = self.blob_ids(&m);
                let fetches = self.fetch_count(&m.content_id);
                let expired = m.expiration_ns <= until_ns;
                if expired && fetches == 0 {
                    lost.extend(blob_ids.iter().cloned());
                    expired_blobs.push(m.content_id.clone());
                } else {
                    kept.extend(blob_ids.iter().cloned());
                }
                if detail {
                    blobs.push(json!({
                        "content_type": c.name,
                        "content_id": m.content_id,
                        "content_created": content_time(m.created_ns),
                        "listed_at": content_time(m.listed_ns),
                        "expiration": content_time(m.expiration_ns),
                        "fetches": fetches,
                        "records": blob_ids.len(),
                    }));
                }
                ids.extend(blob_ids);
            }
        }
        let mut expired: Vec<&String> = lost.iter().filter(|i| !kept.contains(*i)).collect();
        expired.sort_unstable();
        let mut body = json!({
            "source": SOURCE_NAME,
            "as_of": rfc3339(from_ns(until_ns)),
            "ids": ids,
            "expired_ids": expired,
        });
        if let Some(s) = stream {
            body["stream"] = json!(CONTENT_TYPES.get(s).map(|c| c.name));
        }
        if detail {
            expired_blobs.sort_unstable();
            body["blobs"] = Value::Array(blobs);
            body["expired_content_ids"] = json!(expired_blobs);
        }
        body
    }
}

/// `("audit_exchange", "Audit_Exchange")`: the content type as it appears inside a contentId.
fn id_tags(ct: usize) -> (String, String) {
    let name = CONTENT_TYPES.get(ct).map_or("Unknown", |c| c.name);
    let upper = name.replace('.', "_");
    (upper.to_ascii_lowercase(), upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(f: impl FnOnce(&mut SimConfig)) -> MgmtState {
        let mut c = SimConfig::default();
        f(&mut c);
        let tenant = Arc::new(Tenant::generate(c.seed, &c.tenant));
        MgmtState::new(&c, tenant, 1_700_000_000 * NS_PER_SEC)
    }

    #[test]
    fn content_ids_look_like_microsofts_and_resolve() {
        let s = state(|_| {});
        let m = s.meta(1, s.first_slot() + 3);
        let parts: Vec<&str> = m.content_id.split('$').collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[2], "audit_exchange");
        assert_eq!(parts[3], "Audit_Exchange");
        assert_eq!(parts[0].len(), 23);
        assert!(MgmtState::well_formed(&m.content_id));
        assert_eq!(s.find(&m.content_id, m.listed_ns), Some(m.clone()));
        assert_eq!(s.find(&m.content_id, m.listed_ns - 1), None);
        let forged = m.content_id.replace("$na", "$eu");
        assert_eq!(s.find(&forged, m.listed_ns), None);
        assert_eq!(id_tags(4), ("dlp_all".to_string(), "DLP_All".to_string()));
    }

    #[test]
    fn quirks_do_not_change_the_shared_draws() {
        let off = state(|_| {});
        let on = state(|c| c.mgmt_quirks = true);
        for slot in off.first_slot()..off.first_slot() + 50 {
            let (a, b) = (off.meta(0, slot), on.meta(0, slot));
            assert_eq!(a.content_id, b.content_id);
            assert_eq!(a.own_count, b.own_count);
            assert_eq!(a.listed_ns, a.created_ns);
            assert!(b.listed_ns - b.created_ns <= 5400 * NS_PER_SEC);
        }
    }

    #[test]
    fn quirks_switch_resolves_sensible_parameters() {
        let s = MgmtSettings::from_config(&SimConfig {
            mgmt_quirks: true,
            ..SimConfig::default()
        });
        assert_eq!(s.listing_delay_ns, 5400 * NS_PER_SEC);
        assert!(s.late_records && s.repeat_last && s.relist && s.early_expiry);
        assert_eq!(s.disable_after, Some(20));
        assert_eq!(s.af429_status, StatusCode::FORBIDDEN);
        assert_eq!(s.next_page_header, "NextPageUrl");
        let d = MgmtSettings::from_config(&SimConfig::default());
        assert_eq!(d.listing_delay_ns, 0);
        assert!(!d.late_records && !d.repeat_last && !d.relist && !d.early_expiry);
        assert_eq!(d.af429_status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(d.next_page_header, "NextPageUri");
    }
}
