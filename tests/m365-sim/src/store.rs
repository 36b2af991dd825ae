//! The event store: hour buckets of every source, generated on demand and cached (bounded), and
//! the two questions everything else asks of them: "which events lie in this time range, in
//! order" and "which events are visible by this instant".
//!
//! Only the buckets a query's time range touches are generated. The cache holds at most
//! [`CACHE_CAP_EVENTS`] event stubs and forgets the oldest-inserted buckets first; since buckets
//! are pure functions of their key, forgetting one only costs regeneration time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::clock::NS_PER_HOUR;
use crate::sources::{EventStub, SOURCES, ScheduleParams, generate_hour};
use crate::tenant::Tenant;

/// Upper bound on cached event stubs (about 100 bytes each).
pub const CACHE_CAP_EVENTS: usize = 1_000_000;

type HourKey = (usize, i64);

#[derive(Default)]
struct Cache {
    map: HashMap<HourKey, Arc<Vec<EventStub>>>,
    order: VecDeque<HourKey>,
    events: usize,
}

/// Generated events of every registered source.
pub struct EventStore {
    params: ScheduleParams,
    tenant: Arc<Tenant>,
    start_ns: i64,
    cache: Mutex<Cache>,
}

/// Iteration direction over event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first (Graph's default).
    Desc,
    /// Oldest first (`$orderby=<time> asc`).
    Asc,
}

impl EventStore {
    /// A store whose events exist from `start_ns` onward.
    pub fn new(params: ScheduleParams, tenant: Arc<Tenant>, start_ns: i64) -> Self {
        Self {
            params,
            tenant,
            start_ns,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The first instant at which events exist.
    pub fn start_ns(&self) -> i64 {
        self.start_ns
    }

    /// The tenant directory events refer to.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// One hour bucket of source `src` (newest first), from the cache or freshly generated.
    pub fn hour(&self, src: usize, hour: i64) -> Arc<Vec<EventStub>> {
        let key = (src, hour);
        if let Some(hit) = self.lock().map.get(&key) {
            return Arc::clone(hit);
        }
        let events = match SOURCES.get(src) {
            Some(source) => generate_hour(*source, &self.tenant, self.params, hour),
            None => Vec::new(),
        };
        let events = Arc::new(events);
        let mut cache = self.lock();
        if !cache.map.contains_key(&key) {
            cache.events += events.len();
            cache.map.insert(key, Arc::clone(&events));
            cache.order.push_back(key);
            while cache.events > CACHE_CAP_EVENTS && cache.order.len() > 1 {
                if let Some(old) = cache.order.pop_front()
                    && let Some(gone) = cache.map.remove(&old)
                {
                    cache.events = cache.events.saturating_sub(gone.len());
                }
            }
        }
        events
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Walks the events of `src` whose time lies in `[lo_ns, hi_ns]` (clamped to the start), in
    /// `order` (ties broken by id in the same direction), starting strictly after `after` (a
    /// `(time, id)` key in the walk's order) and calling `visit` until it returns `false`.
    pub fn walk(
        &self,
        src: usize,
        lo_ns: i64,
        hi_ns: i64,
        order: Order,
        after: Option<(i64, &str)>,
        mut visit: impl FnMut(&EventStub) -> bool,
    ) {
        let lo = lo_ns.max(self.start_ns);
        let hi = hi_ns;
        if hi < lo {
            return;
        }
        let (mut lo_h, mut hi_h) = (lo.div_euclid(NS_PER_HOUR), hi.div_euclid(NS_PER_HOUR));
        if let Some((t, _)) = after {
            match order {
                Order::Desc => hi_h = hi_h.min(t.div_euclid(NS_PER_HOUR)),
                Order::Asc => lo_h = lo_h.max(t.div_euclid(NS_PER_HOUR)),
            }
        }
        let passes = |e: &EventStub| -> bool {
            if e.time_ns < lo || e.time_ns > hi {
                return false;
            }
            match (after, order) {
                (None, _) => true,
                (Some((t, id)), Order::Desc) => (e.time_ns, &*e.id) < (t, id),
                (Some((t, id)), Order::Asc) => (e.time_ns, &*e.id) > (t, id),
            }
        };
        match order {
            Order::Desc => {
                for h in (lo_h..=hi_h).rev() {
                    let bucket = self.hour(src, h);
                    for e in bucket.iter().filter(|e| passes(e)) {
                        if !visit(e) {
                            return;
                        }
                    }
                }
            }
            Order::Asc => {
                for h in lo_h..=hi_h {
                    let bucket = self.hour(src, h);
                    for e in bucket.iter().rev().filter(|e| passes(e)) {
                        if !visit(e) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Ids of every event of `src` visible by `until_ns` (`time + delay <= until`), sorted.
    pub fn visible_ids(&self, src: usize, until_ns: i64) -> Vec<EventStub> {
        let mut out = Vec::new();
        self.walk(src, self.start_ns, until_ns, Order::Asc, None, |e| {
            if e.visible_ns <= until_ns {
                out.push(e.clone());
            }
            true
        });
        out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::NS_PER_SEC;

    fn store() -> EventStore {
        let params = ScheduleParams {
            seed: 3,
            events_per_hour: 40,
            ingest_delay_secs: 60,
            attacks_from_ns: Some(1_780_000_000 * NS_PER_SEC),
        };
        EventStore::new(
            params,
            Arc::new(Tenant::generate(3, "t")),
            1_780_000_000 * NS_PER_SEC,
        )
    }

    #[test]
    fn walk_respects_range_order_and_cursor() {
        let s = store();
        let lo = s.start_ns();
        let hi = lo + 5 * NS_PER_HOUR;
        let mut all = Vec::new();
        s.walk(0, lo, hi, Order::Desc, None, |e| {
            all.push((e.time_ns, e.id.to_string()));
            true
        });
        assert!(all.windows(2).all(|w| w[0] > w[1]));
        assert!(all.iter().all(|(t, _)| *t >= lo && *t <= hi));
        let mid = &all[all.len() / 2];
        let mut rest = Vec::new();
        s.walk(0, lo, hi, Order::Desc, Some((mid.0, &mid.1)), |e| {
            rest.push((e.time_ns, e.id.to_string()));
            true
        });
        assert_eq!(rest, all[all.len() / 2 + 1..].to_vec());
        let mut asc = Vec::new();
        s.walk(0, lo, hi, Order::Asc, None, |e| {
            asc.push((e.time_ns, e.id.to_string()));
            true
        });
        asc.reverse();
        assert_eq!(asc, all);
    }

    #[test]
    fn nothing_before_start() {
        let s = store();
        let mut n = 0;
        s.walk(0, 0, s.start_ns() - 1, Order::Desc, None, |_| {
            n += 1;
            true
        });
        assert_eq!(n, 0);
    }
}
