//! Times on the fast path without chrono's format strings: Graph's own spelling of a time
//! (`2025-05-31T00:59:58.7467215Z`) is read digit by digit, and an event's `time` and the time in
//! its id are written digit by digit. Each gives exactly what `crate::model::parse_time`,
//! `fmt_time` and `keys::event_id` give (chrono parses a format string at every call, which cost
//! about a fifth of a record's instructions); anything else (another spelling, an offset, a year
//! past 9999, a leap second) is handed to those functions.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use crate::model::{fmt_time, parse_time};

/// The digits `b[from..to]` as a number (all must be ASCII digits).
#[inline]
fn digits(b: &[u8], from: usize, to: usize) -> Option<u32> {
    let mut n = 0u32;
    for &c in b.get(from..to)? {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

/// A record's time: the instant, and its UTC calendar parts when they can be written digit by
/// digit (a year of four digits, no leap second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    pub at: DateTime<Utc>,
    parts: Option<Parts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
}

/// `YYYY-MM-DDTHH:MM:SS` with 1 to 9 fractional digits or none, then `Z`: read as chrono's
/// RFC 3339 parser reads it (seconds 60, a leap second, are left to it).
fn graph_time(s: &str) -> Option<Time> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[b.len() - 1] != b'Z' {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 7)?, digits(b, 8, 10)?);
    let (hour, minute, second) = (digits(b, 11, 13)?, digits(b, 14, 16)?, digits(b, 17, 19)?);
    if second > 59 {
        return None;
    }
    let nanos = match b.len() - 20 {
        0 => 0,
        // A dot and 1 to 9 digits, padded to nanoseconds.
        n @ 2..=10 if b[19] == b'.' => digits(b, 20, b.len() - 1)? * 10u32.pow(10 - n as u32),
        _ => return None,
    };
    // chrono checks the date and the time of day (February 29th, hour 24 and the like).
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let at = date
        .and_hms_nano_opt(hour, minute, second, nanos)?
        .and_utc();
    let parts = Parts {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
    };
    Some(Time {
        at,
        parts: Some(parts),
    })
}

/// The time of a record, as `parse_time` reads it.
pub fn parse(s: &str) -> Option<Time> {
    graph_time(s).or_else(|| {
        let at = parse_time(s)?;
        Some(Time {
            at,
            parts: parts_of(at),
        })
    })
}

fn parts_of(t: DateTime<Utc>) -> Option<Parts> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    Some(Parts {
        year,
        month: t.month(),
        day: t.day(),
        hour: t.hour(),
        minute: t.minute(),
        second: t.second(),
        nanos,
    })
}

/// Writes `n` as `N` decimal digits (zero-padded; `n` has no more) into `to`.
#[inline]
fn put<const N: usize>(to: &mut [u8; N], n: u32) {
    let mut n = n;
    for d in to.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends `t` as the JSON string `fmt_time` makes of it (`"2025-05-31T00:59:58.746Z"`).
pub fn write_time(out: &mut Vec<u8>, t: &Time) {
    let Some(p) = t.parts else {
        out.push(b'"');
        out.extend_from_slice(fmt_time(t.at).as_bytes());
        out.push(b'"');
        return;
    };
    let mut s = *b"\"0000-00-00T00:00:00.000Z\"";
    let (mut year, mut two, mut millis) = ([0u8; 4], [0u8; 2], [0u8; 3]);
    put(&mut year, p.year);
    s[1..5].copy_from_slice(&year);
    for (at, n) in [
        (6, p.month),
        (9, p.day),
        (12, p.hour),
        (15, p.minute),
        (18, p.second),
    ] {
        put(&mut two, n);
        s[at..at + 2].copy_from_slice(&two);
    }
    put(&mut millis, p.nanos / 1_000_000);
    s[21..24].copy_from_slice(&millis);
    out.extend_from_slice(&s);
}

/// Appends the time part of an event id (`keys::event_id`'s `%Y%m%dT%H%M%SZ`).
pub fn write_id_time(out: &mut Vec<u8>, t: &Time) {
    let Some(p) = t.parts else {
        out.extend_from_slice(t.at.format("%Y%m%dT%H%M%SZ").to_string().as_bytes());
        return;
    };
    let mut s = *b"00000000T000000Z";
    let (mut year, mut two) = ([0u8; 4], [0u8; 2]);
    put(&mut year, p.year);
    s[0..4].copy_from_slice(&year);
    for (at, n) in [
        (4, p.month),
        (6, p.day),
        (9, p.hour),
        (11, p.minute),
        (13, p.second),
    ] {
        put(&mut two, n);
        s[at..at + 2].copy_from_slice(&two);
    }
    out.extend_from_slice(&s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Source;
    use crate::store::keys;
    use chrono::TimeZone;

    #[test]
    fn graph_times_read_as_parse_time_reads_them() {
        let mut cases: Vec<String> = [
            "2025-05-31T00:59:58.7467215Z",
            "2025-05-31T00:59:58Z",
            "2025-05-31T00:59:58.1Z",
            "2025-05-31T00:59:58.123456789Z",
            "2025-05-31T00:59:58.1234567891Z",
            "2025-05-31T00:59:58.Z",
            "2025-05-31T00:59:60Z",
            "2025-05-31T00:59:60.5Z",
            "2025-05-31T24:00:00Z",
            "2025-05-31T23:60:00Z",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-00-01T00:00:00Z",
            "2025-01-00T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2025-05-31t00:59:58Z",
            "2025-05-31T00:59:58z",
            "2025-05-31 00:59:58Z",
            "2025-05-31T00:59:58+02:00",
            "2025-05-31T00:59:58.5+00:00",
            "2025-05-31T0a:59:58Z",
            "2025-05-31T00:59:58.12a4Z",
            "+2025-05-31T00:59:58Z",
            "2025-5-31T00:59:58Z",
            "2025-05-31T00:59:58",
            "2025-05-31T00:59Z",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for digits in 0..=9 {
            cases.push(format!(
                "2026-12-02T04:33:07{}Z",
                &".987654321"[..digits + 1]
            ));
        }
        for s in &cases {
            let fast = parse(s);
            assert_eq!(fast.map(|t| t.at), parse_time(s), "{s}");
            // Parts read from the string are the instant's own.
            if let Some(t) = fast {
                assert_eq!(t.parts, parts_of(t.at), "{s}");
            }
        }
    }

    #[test]
    fn times_write_as_fmt_time_and_event_id_write_them() {
        let mut times = vec![
            Utc.with_ymd_and_hms(2025, 5, 31, 0, 59, 58).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            parse_time("2016-12-31T23:59:60.5Z").unwrap(),
        ];
        // A walk over many seconds and fractions (a deterministic sequence).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % (400 * 365 * 86_400)) as i64 - 100 * 365 * 86_400;
            let nanos = ((x >> 32) % 1_000_000_000) as u32;
            times.push(DateTime::from_timestamp(secs + 1_600_000_000, nanos).unwrap());
        }
        for at in times {
            let t = Time {
                at,
                parts: parts_of(at),
            };
            let t = &t;
            let mut out = Vec::new();
            write_time(&mut out, t);
            assert_eq!(out, format!("\"{}\"", fmt_time(at)).into_bytes(), "{t:?}");
            let mut id = b"entra-directory-audits:".to_vec();
            write_id_time(&mut id, t);
            id.extend_from_slice(b"-k");
            let want = keys::event_id(Source::EntraDirectoryAudits, at, "k");
            assert_eq!(String::from_utf8(id).unwrap(), want, "{t:?}");
        }
    }
}
