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

/// `YYYY-MM-DDTHH:MM:SS` with 1 to 9 fractional digits or none, then `Z`: read as chrono's
/// RFC 3339 parser reads it (seconds 60, a leap second, are left to it).
fn graph_time(s: &str) -> Option<DateTime<Utc>> {
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
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(
        date.and_hms_nano_opt(hour, minute, second, nanos)?
            .and_utc(),
    )
}

/// The time of a record, as `parse_time` reads it.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    graph_time(s).or_else(|| parse_time(s))
}

/// The parts of a time that [`write_time`] and [`write_id_time`] write, when they can be written
/// digit by digit: a year of four digits and no leap second.
struct Parts {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
}

fn parts(t: DateTime<Utc>) -> Option<Parts> {
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

/// Appends `n` as `width` decimal digits (zero-padded; `n` has no more).
#[inline]
fn push_digits(out: &mut Vec<u8>, n: u32, width: u32) {
    let mut p = 10u32.pow(width - 1);
    while p > 0 {
        out.push(b'0' + (n / p % 10) as u8);
        p /= 10;
    }
}

/// Appends `t` as the JSON string `fmt_time` makes of it (`"2025-05-31T00:59:58.746Z"`).
pub fn write_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    let Some(p) = parts(t) else {
        out.push(b'"');
        out.extend_from_slice(fmt_time(t).as_bytes());
        out.push(b'"');
        return;
    };
    out.push(b'"');
    push_digits(out, p.year, 4);
    out.push(b'-');
    push_digits(out, p.month, 2);
    out.push(b'-');
    push_digits(out, p.day, 2);
    out.push(b'T');
    push_digits(out, p.hour, 2);
    out.push(b':');
    push_digits(out, p.minute, 2);
    out.push(b':');
    push_digits(out, p.second, 2);
    out.push(b'.');
    push_digits(out, p.nanos / 1_000_000, 3);
    out.extend_from_slice(b"Z\"");
}

/// Appends the time part of an event id (`keys::event_id`'s `%Y%m%dT%H%M%SZ`).
pub fn write_id_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    let Some(p) = parts(t) else {
        out.extend_from_slice(t.format("%Y%m%dT%H%M%SZ").to_string().as_bytes());
        return;
    };
    push_digits(out, p.year, 4);
    push_digits(out, p.month, 2);
    push_digits(out, p.day, 2);
    out.push(b'T');
    push_digits(out, p.hour, 2);
    push_digits(out, p.minute, 2);
    push_digits(out, p.second, 2);
    out.push(b'Z');
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
            assert_eq!(parse(s), parse_time(s), "{s}");
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
        for t in times {
            let mut out = Vec::new();
            write_time(&mut out, t);
            assert_eq!(out, format!("\"{}\"", fmt_time(t)).into_bytes(), "{t:?}");
            let mut id = b"entra-directory-audits:".to_vec();
            write_id_time(&mut id, t);
            id.extend_from_slice(b"-k");
            let want = keys::event_id(Source::EntraDirectoryAudits, t, "k");
            assert_eq!(String::from_utf8(id).unwrap(), want, "{t:?}");
        }
    }
}
