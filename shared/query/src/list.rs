//! The listing engine behind `GET /events`: newest first over the time index (one hour bucket at
//! a time, every source's bucket read concurrently and merged by sort key; days a source has no
//! presence marker for are skipped whole) or over the actor or
//! IP index, with a read budget per call. It stops when the page is full, the range is done or
//! the budget is spent, and says where to go on; it never reads more than the budget, so free
//! text over a long range is many short calls rather than one unbounded scan.

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use futures::future::try_join_all;
use serde::Serialize;

use domain::model::{AuditEvent, Source, fmt_time, parse_time};
use domain::read::{EventFilter, EventReader, Lookup, PRESENCE_DAYS, TsRange};
use domain::store::{StoreError, keys};

/// One call's listing request (filters already parsed and pinned).
#[derive(Debug, Clone)]
pub struct ListParams {
    pub filter: EventFilter,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub page_size: usize,
    /// Resume below this sort key (from the cursor).
    pub before: Option<String>,
    /// Database requests this call may send.
    pub budget: u32,
    /// The page ends early, its cursor going on, before its events' JSON would pass this many
    /// bytes (at least one event is always listed).
    pub max_bytes: usize,
}

/// How much a call read, and whether it stopped on its budget.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Scan {
    /// Database requests sent.
    pub requests: u32,
    /// Items read, matching or not.
    pub examined: u64,
    /// False when the call stopped on its read budget before filling the page; the cursor goes on.
    pub complete: bool,
    /// When stopped early: event time down to which the range was searched.
    pub searched_to: Option<String>,
}

/// One page.
#[derive(Debug, Clone)]
pub struct Listing {
    pub events: Vec<AuditEvent>,
    /// Sort key to resume below; `None` when the listing is done.
    pub next_before: Option<String>,
    pub scan: Scan,
}

/// The hour bucket holding the greatest sort key below `hi`.
fn hour_below(hi: &str) -> Option<DateTime<Utc>> {
    let (time, exact) = match hi.split_once('#') {
        Some((t, _)) => (t, false),
        None => (hi, true),
    };
    let mut t = parse_time(time)?;
    if exact {
        t -= TimeDelta::milliseconds(1);
    }
    t.duration_trunc(TimeDelta::hours(1)).ok()
}

fn sk(e: &AuditEvent) -> String {
    keys::sort_key(e)
}

/// The index a filter set is best answered by, if any: the IP index for `ip`, the actor index
/// for an actor given as a UPN (the index holds UPNs where there is one; an id or name goes
/// through the time index with a filter).
pub fn lookup_for(filter: &EventFilter) -> Option<Lookup> {
    if let Some(ip) = &filter.ip {
        return Some(Lookup::Ip(ip.to_lowercase()));
    }
    filter
        .actor
        .as_ref()
        .filter(|a| a.contains('@'))
        .map(|a| Lookup::Actor(a.to_lowercase()))
}

/// Lists one page.
pub async fn list(reader: &dyn EventReader, p: &ListParams) -> Result<Listing, StoreError> {
    // Sort keys carry the event time to the second: the range is read from the start's second
    // and every event is checked against the exact bounds (`in_range`).
    let lo = fmt_time(keys::key_second(p.start));
    let in_range = |e: &AuditEvent| e.time >= p.start && e.time < p.end;
    let mut hi = p.before.clone().unwrap_or_else(|| fmt_time(p.end));
    let lookup = lookup_for(&p.filter);
    let sources: Vec<Source> = match p.filter.source {
        Some(s) => vec![s],
        None => Source::ALL.to_vec(),
    };
    let mut present: HashMap<NaiveDate, Vec<Source>> = HashMap::new();
    // Bucket rounds read by this call.
    let mut rounds = 0u32;
    let mut events: Vec<AuditEvent> = Vec::new();
    let mut scan = Scan {
        complete: true,
        ..Scan::default()
    };
    let next_before = loop {
        if events.len() >= p.page_size {
            break events.last().map(sk);
        }
        if hi <= lo {
            break None;
        }
        if scan.requests >= p.budget {
            scan.complete = false;
            scan.searched_to = Some(hi.split('#').next().unwrap_or(&hi).to_string());
            break Some(hi);
        }
        let need = p.page_size - events.len();
        let left = p.budget - scan.requests;
        match &lookup {
            Some(l) => {
                let range = TsRange {
                    lo: lo.clone(),
                    hi: hi.clone(),
                };
                let page = reader.lookup(l, &range, &p.filter, need, left).await?;
                scan.requests += page.requests;
                scan.examined += page.examined;
                events.extend(page.events.into_iter().filter(in_range).take(need));
                hi = page.resume.unwrap_or_else(|| lo.clone());
            }
            None => {
                let Some(hour) = hour_below(&hi) else {
                    break None;
                };
                // Days without a presence marker for a source hold none of its events: skip
                // them whole instead of reading 24 empty buckets. One request reads the markers
                // of this day and up to PRESENCE_DAYS - 1 days before it.
                let day = hour.date_naive();
                if !present.contains_key(&day) {
                    let first = p
                        .start
                        .date_naive()
                        .max(day - TimeDelta::days(PRESENCE_DAYS - 1))
                        .min(day);
                    let (found, requests) = reader.presence(first, day).await?;
                    scan.requests += requests;
                    let mut d = first;
                    while d <= day {
                        present.entry(d).or_default();
                        d += TimeDelta::days(1);
                    }
                    for (d, s) in found {
                        present.entry(d).or_default().push(s);
                    }
                    // The budget is checked again before the buckets are read.
                    continue;
                }
                let here: Vec<Source> = sources
                    .iter()
                    .copied()
                    .filter(|s| present.get(&day).is_some_and(|on| on.contains(s)))
                    .collect();
                if here.is_empty() {
                    let midnight = day.and_hms_opt(0, 0, 0).map(|t| fmt_time(t.and_utc()));
                    hi = midnight.unwrap_or_default().max(lo.clone());
                    continue;
                }
                let sources = &here;
                // A round reads every present source (a subset would leave the merge
                // incomplete): when fewer requests are left than sources, stop here, unless this
                // call has not read a bucket yet (every call must progress, even on a budget below
                // the number of sources).
                if (left as usize) < sources.len() && rounds > 0 {
                    scan.complete = false;
                    scan.searched_to = Some(hi.split('#').next().unwrap_or(&hi).to_string());
                    break Some(hi);
                }
                let hour_lo = fmt_time(hour).max(lo.clone());
                let range = TsRange {
                    lo: hour_lo.clone(),
                    hi: hi.clone(),
                };
                let per_source = (left / sources.len() as u32).max(1);
                let pages =
                    try_join_all(sources.iter().map(|s| {
                        reader.time_bucket(*s, hour, &range, &p.filter, need, per_source)
                    }))
                    .await?;
                // Every source was read completely down to its resume point; above the highest
                // of them the union is complete, below it the next round reads again.
                let boundary = pages.iter().filter_map(|pg| pg.resume.clone()).max();
                let mut round: Vec<(String, AuditEvent)> = Vec::new();
                for page in pages {
                    scan.requests += page.requests;
                    scan.examined += page.examined;
                    round.extend(
                        page.events
                            .into_iter()
                            .filter(in_range)
                            .map(|e| (sk(&e), e)),
                    );
                }
                if let Some(b) = &boundary {
                    round.retain(|(k, _)| k >= b);
                }
                rounds += 1;
                round.sort_by(|a, b| b.0.cmp(&a.0));
                events.extend(round.into_iter().take(need).map(|(_, e)| e));
                hi = boundary.unwrap_or(hour_lo);
            }
        }
    };
    let (events, next_before) = cap_bytes(events, next_before, p.max_bytes);
    Ok(Listing {
        events,
        next_before,
        scan,
    })
}

/// Keeps the longest prefix of `events` whose JSON stays within `max_bytes` (at least one
/// event); when some are dropped, the listing resumes below the last one kept, so the next page
/// starts with the first dropped.
fn cap_bytes(
    mut events: Vec<AuditEvent>,
    next_before: Option<String>,
    max_bytes: usize,
) -> (Vec<AuditEvent>, Option<String>) {
    let mut total = 0usize;
    let mut keep = events.len();
    for (i, e) in events.iter().enumerate() {
        // A comma between events, and the event's own JSON.
        total += 1 + serde_json::to_vec(e).map_or(0, |v| v.len());
        if total > max_bytes && i > 0 {
            keep = i;
            break;
        }
    }
    if keep == events.len() {
        return (events, next_before);
    }
    events.truncate(keep);
    let resume = events.last().map(sk);
    (events, resume)
}
