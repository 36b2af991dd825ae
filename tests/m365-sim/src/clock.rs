//! The simulator's virtual clock and the time formats Microsoft puts on the wire.
//!
//! The clock is frozen: it moves only when a test (or the demo) tells it to through
//! `POST /_sim/clock`, and never backwards. Event existence and visibility, token expiry and the
//! HTTP `Date` header all read it, so a test can live through a simulated week in seconds.
//! Internally instants are `i64` nanoseconds since the Unix epoch (enough until the year 2262).

use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Nanoseconds per second.
pub const NS_PER_SEC: i64 = 1_000_000_000;
/// Nanoseconds per hour (the generation bucket).
pub const NS_PER_HOUR: i64 = 3600 * NS_PER_SEC;

/// A frozen, forward-only clock shared by every handler.
#[derive(Debug)]
pub struct VirtualClock {
    now: Mutex<DateTime<Utc>>,
}

/// Why the clock refused to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackwardsError {
    /// The current virtual time.
    pub current: DateTime<Utc>,
    /// The time that was asked for.
    pub requested: DateTime<Utc>,
}

impl VirtualClock {
    /// A clock standing at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the clock to `to`; refuses to go backwards.
    pub fn set(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, BackwardsError> {
        let mut guard = self.now.lock().unwrap_or_else(|p| p.into_inner());
        if to < *guard {
            return Err(BackwardsError {
                current: *guard,
                requested: to,
            });
        }
        *guard = to;
        Ok(to)
    }

    /// Moves the clock forward by `ns` nanoseconds (negative values are refused by the caller).
    pub fn advance_ns(&self, ns: i64) -> Result<DateTime<Utc>, BackwardsError> {
        let mut guard = self.now.lock().unwrap_or_else(|p| p.into_inner());
        let to = from_ns(to_ns(*guard).saturating_add(ns));
        if to < *guard {
            return Err(BackwardsError {
                current: *guard,
                requested: to,
            });
        }
        *guard = to;
        Ok(to)
    }
}

/// Instant to nanoseconds since the epoch (saturating outside chrono's i64 range).
pub fn to_ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Nanoseconds since the epoch to an instant.
pub fn from_ns(ns: i64) -> DateTime<Utc> {
    Utc.timestamp_nanos(ns)
}

/// Parses an RFC 3339 timestamp (any offset, up to 9 fractional digits) into UTC.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 for `/_sim` answers: `2026-07-17T13:48:10Z`, fractional digits only when present.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Graph's rendering of a `DateTimeOffset`: up to 7 fractional digits (100 ns ticks) with
/// trailing zeros dropped, as .NET does on the wire (`2026-07-17T10:12:27.185138Z`,
/// `2026-07-17T13:48:10.9301252Z`), and no fraction at all on a whole second.
pub fn graph_datetime(ns: i64) -> String {
    let t = from_ns(ns);
    let ticks = (ns.rem_euclid(NS_PER_SEC)) / 100;
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if ticks == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{ticks:07}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// The HTTP `Date` header format (RFC 7231 IMF-fixdate).
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The `innerError.date` format Graph uses (no zone designator).
pub fn graph_error_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The `timestamp` format of Entra token errors (`2024-01-01 00:00:00Z`).
pub fn entra_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_datetime_trims_like_dotnet() {
        let base = parse_rfc3339("2026-07-17T13:48:10Z")
            .map(to_ns)
            .unwrap_or(0);
        assert_eq!(graph_datetime(base), "2026-07-17T13:48:10Z");
        assert_eq!(
            graph_datetime(base + 930_125_200),
            "2026-07-17T13:48:10.9301252Z"
        );
        assert_eq!(
            graph_datetime(base + 185_138_000),
            "2026-07-17T13:48:10.185138Z"
        );
    }

    #[test]
    fn clock_refuses_to_go_backwards() {
        let t0 = parse_rfc3339("2026-01-01T00:00:00Z").unwrap_or_default();
        let c = VirtualClock::new(t0);
        assert!(c.advance_ns(NS_PER_SEC).is_ok());
        assert!(c.set(t0).is_err());
        assert_eq!(to_ns(c.now()) - to_ns(t0), NS_PER_SEC);
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        let t = parse_rfc3339("1994-11-06T08:49:37Z").unwrap_or_default();
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
