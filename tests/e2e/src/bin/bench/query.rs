//! `auditlake-bench query`: what a page of `GET /events` costs. Starts moto, provisions the local
//! tables and writes N generated events (default 100,000) spread over several days, five sources,
//! streams, hundreds of actors and IPs, a dozen operations and every result, through the real
//! `DynamoEventStore::put_new` (so the presence markers and counters the API reads are written as
//! in production). It then serves the real query API (`query_app_with_clock`, auth disabled, the
//! clock fixed just after the newest event) on loopback and, for each representative request,
//! follows the first few pages by `next_cursor`, several times over: per page the DynamoDB
//! requests (`scan.requests`), items examined (`scan.examined`), events returned, an estimate of
//! the read capacity (from items examined and the average item size read back from the table;
//! moto reports no consumed capacity) and the wall latency (p50 and max over the repeats). The
//! latency is measured against moto, a local emulator, not DynamoDB. Prints a table and one JSON
//! line; any request that fails or a page that breaks its contract is an error.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use domain::model::{AuditEvent, Source, fmt_time};
use domain::store::{EventStore, StoredEvent};
use e2e::{Moto, StackNames, local_sdk_config, provision};
use serde_json::{Value, json};
use testkit::clock::ManualClock;

#[derive(Args, Clone)]
pub struct QueryArgs {
    /// Events to store before measuring.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub events: u64,
    /// Days the events are spread over, ending at `--now`.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=89))]
    pub days: u32,
    /// Concurrent DynamoDB writes while storing (DynamoEventStore's concurrency).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,
    /// Pages followed per request (the first and the ones after it).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub pages: u32,
    /// Times each request's pages are walked (latency p50 and max are over these).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeats: u32,
    /// `page_size` of every request.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub page_size: u32,
    /// The newest event is just before this instant (RFC 3339); the API's clock is one hour later.
    #[arg(long, default_value = "2025-06-02T00:00:00Z")]
    pub now: String,
}

const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";
const ACTORS: u64 = 300;
const IPS: u64 = 500;
const OPERATIONS: [&str; 12] = [
    "Add user",
    "Update user",
    "Delete user",
    "Reset password",
    "Add member to group",
    "Remove member from group",
    "Sign-in activity",
    "Add app role assignment to service principal",
    "Add service principal",
    "Update application",
    "Set-Mailbox",
    "FileAccessed",
];
/// A marker carried by one event in 97, found only by free text.
const NEEDLE: &str = "needle-17";

/// splitmix64: a fixed pseudo-random stream, so every run stores the same events.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn upn(a: u64) -> String {
    format!("user{a:03}@contoso.com")
}

fn ip(i: u64) -> String {
    format!("198.51.{}.{}", i / 250, i % 250 + 1)
}

/// The `n`th of `total` events, its time spread over `days` days before `newest`.
fn event(n: u64, total: u64, days: u32, newest: DateTime<Utc>) -> AuditEvent {
    let r = mix(n);
    let span_ms = i64::from(days) * 86_400_000;
    // Evenly spread, jittered within one slot; strictly below `newest`.
    let slot = span_ms / total.max(1) as i64;
    let offset = n as i64 * slot + (r % slot.max(1) as u64) as i64;
    let time = newest - TimeDelta::milliseconds(span_ms - offset.min(span_ms - 1));
    let source = match r % 20 {
        0..=7 => Source::EntraSignIns,
        8..=12 => Source::EntraDirectoryAudits,
        13..=15 => Source::M365Activity,
        16..=17 => Source::IntuneAudit,
        _ => Source::ExchangeMessageTrace,
    };
    let stream = (source == Source::EntraSignIns).then(|| {
        ["interactiveUser", "nonInteractiveUser", "servicePrincipal"][(r >> 8) as usize % 3]
    });
    let actor = (r >> 12) % ACTORS;
    let operation = OPERATIONS[((r >> 20) % OPERATIONS.len() as u64) as usize];
    let result = match (r >> 24) % 20 {
        0..=16 => "success",
        17 => "failure",
        18 => "partial",
        _ => "unknown",
    };
    let result = if (r >> 28).is_multiple_of(10) {
        "failure"
    } else {
        result
    };
    let service = [
        "Core Directory",
        "Exchange",
        "SharePoint",
        "Intune",
        "AzureAD",
    ][((r >> 32) % 5) as usize];
    let key = format!("q{n:08}");
    let marker = if n % 97 == 17 { NEEDLE } else { "plain" };
    serde_json::from_value(json!({
        "id": format!("{}:{key}", source.name()),
        "record_id": key,
        "source": source.name(),
        "stream": stream,
        "tenant_id": TENANT,
        "time": fmt_time(time),
        "service": service,
        "category": "UserManagement",
        "operation": operation,
        "result": result,
        "result_reason": (result == "failure").then_some("50126: Invalid username or password"),
        "actor": {"kind": "user", "id": format!("{:08x}-0000-4000-8000-{:012x}", actor, actor),
                  "upn": upn(actor), "name": format!("User {actor}"), "app_id": null},
        "targets": [{"kind": "user", "id": format!("t-{}", (r >> 40) % 1000),
                     "name": format!("target {}", (r >> 40) % 1000)}],
        "client_ip": ip((r >> 44) % IPS),
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
        "location": {"city": "Redmond", "state": "Washington", "country": "US"},
        "details": {"marker": marker, "correlationId": format!("{:016x}", mix(r)),
                    "loggedByService": service, "additional": "x".repeat(((r >> 50) % 400) as usize)},
        "dedupe_key": key,
        "ingested_at": fmt_time(time + TimeDelta::minutes(3)),
    }))
    .expect("a generated event is valid")
}

/// Estimated read units of a page (eventually consistent, 0.5 per started 4 KB): a time-index
/// page reads whole items (`examined x avg item bytes`, at least 0.5 per request); an ip or
/// actor lookup fetches each examined event with BatchGetItem, which rounds every item up to
/// 4 KB separately (0.5 per item under 4 KB), plus its keys-only index Queries (0.5 each).
fn read_units(lookup: bool, requests: u64, examined: u64, avg_item: f64) -> f64 {
    if lookup {
        let per_item = (avg_item / 4096.0).ceil().max(1.0) * 0.5;
        examined as f64 * per_item + 0.5 * requests.saturating_sub(examined.div_ceil(100)) as f64
    } else {
        ((examined as f64 * avg_item / 4096.0).ceil() * 0.5).max(0.5 * requests as f64)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One page's figures (scan figures are the same on every repeat; latencies are per repeat).
#[derive(Default, Clone)]
struct PageFigures {
    requests: u64,
    examined: u64,
    events: u64,
    complete: bool,
    latencies_ms: Vec<f64>,
}

pub async fn run(args: QueryArgs) -> Result<(), String> {
    let newest = domain::model::parse_time(&args.now)
        .ok_or_else(|| format!("--now: `{}` is not RFC 3339", args.now))?;
    let moto = Moto::start().await?;
    let sdk = local_sdk_config(&moto.endpoint).await;
    let names = StackNames::default();
    provision(&sdk, &names, "unused").await?;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let store = aws::DynamoEventStore::new(
        ddb.clone(),
        names.events_table.clone(),
        args.concurrency as usize,
    );

    // --- store ------------------------------------------------------------------------------
    eprintln!(
        "auditlake-bench query: storing {} events over {} days into moto (write concurrency {})",
        args.events, args.days, args.concurrency
    );
    let started = Instant::now();
    let batch = 1000u64;
    let mut stored = 0u64;
    let mut n = 0u64;
    while n < args.events {
        let hi = (n + batch).min(args.events);
        let events: Vec<StoredEvent> = (n..hi)
            .map(|i| StoredEvent {
                event: event(i, args.events, args.days, newest),
                expires_at: (newest + TimeDelta::days(90)).timestamp(),
            })
            .collect();
        let fresh = store
            .put_new(events)
            .await
            .map_err(|e| format!("put_new: {e}"))?;
        stored += fresh.iter().filter(|f| **f).count() as u64;
        n = hi;
        if n == args.events {
            // The counters, as the pipeline writes them after each chunk.
            store.flush().await;
        }
        if n.is_multiple_of(10_000) || n == args.events {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "  {n} / {} stored ({:.0} events/s)",
                args.events,
                n as f64 / secs.max(1e-9)
            );
        }
    }
    let store_secs = started.elapsed().as_secs_f64();
    if stored != args.events {
        return Err(format!(
            "{stored} of {} events were new: ids collide",
            args.events
        ));
    }

    // Average event item size, from a sample of the stored events read back by key (a Scan
    // would mostly meet counter and presence items).
    let mut sizes: Vec<usize> = Vec::new();
    let step = (args.events / 200).max(1);
    for i in (0..args.events).step_by(step as usize) {
        let e = event(i, args.events, args.days, newest);
        let got = ddb
            .get_item()
            .table_name(&names.events_table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(domain::store::keys::event_pk(
                    e.source, e.time,
                )),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S(domain::store::keys::sort_key(&e)),
            )
            .send()
            .await
            .map_err(|e| {
                format!(
                    "get_item: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        if let Some(item) = got.item() {
            sizes.push(aws::cost::item_size(item));
        }
    }
    if sizes.is_empty() {
        return Err("no stored event could be read back".into());
    }
    let avg_item = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;

    // --- serve ------------------------------------------------------------------------------
    let vars = [
        ("AUDITLAKE_TENANT_ID", TENANT),
        ("AUDITLAKE_EVENTS_TABLE", names.events_table.as_str()),
        ("AUDITLAKE_STATE_TABLE", names.state_table.as_str()),
        ("AUDITLAKE_AUTH_DISABLED", "true"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let config =
        domain::config::QueryConfig::from_vars(vars).map_err(|e| format!("config: {e}"))?;
    let clock = Arc::new(ManualClock::new(newest + TimeDelta::hours(1)));
    let app = query::query_app_with_clock(&sdk, &config, clock)
        .await
        .map_err(|e| format!("query app: {e}"))?;
    let (addr, server) = query::spawn(app, "127.0.0.1:0")
        .await
        .map_err(|e| format!("serve: {e}"))?;
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let narrow_start = newest - TimeDelta::days(i64::from(args.days) / 2 + 1);
    let narrow_end = narrow_start + TimeDelta::hours(1);
    let cases: Vec<(&str, String, bool)> = vec![
        ("no filter", String::new(), false),
        ("source", "source=entra-directory-audits".into(), false),
        (
            "source+operation",
            "source=entra-sign-ins&operation=Reset%20password".into(),
            false,
        ),
        ("result=failure", "result=failure".into(), false),
        ("actor=<upn> (by_actor)", format!("actor={}", upn(42)), true),
        ("ip (by_ip)", format!("ip={}", ip(7)), true),
        ("q free text", format!("q={NEEDLE}"), false),
        (
            "start/end (1 hour)",
            format!(
                "start={}&end={}",
                fmt_time(narrow_start),
                fmt_time(narrow_end)
            ),
            false,
        ),
    ];

    eprintln!(
        "auditlake-bench query: {} requests x {} pages x {} repeats (page_size {})",
        cases.len(),
        args.pages,
        args.repeats,
        args.page_size
    );
    let mut results: Vec<(&str, String, bool, Vec<PageFigures>)> = Vec::new();
    for (name, query, lookup) in &cases {
        let mut pages: Vec<PageFigures> = Vec::new();
        for repeat in 0..args.repeats {
            let mut cursor: Option<String> = None;
            let mut seen = std::collections::HashSet::new();
            for page in 0..args.pages as usize {
                let mut url = format!("{base}/events?page_size={}", args.page_size);
                if !query.is_empty() {
                    url.push('&');
                    url.push_str(query);
                }
                if let Some(c) = &cursor {
                    url.push_str("&cursor=");
                    url.push_str(c);
                }
                let t0 = Instant::now();
                let resp = http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| format!("GET {url}: {e}"))?;
                let status = resp.status();
                let body: Value = resp.json().await.map_err(|e| format!("GET {url}: {e}"))?;
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                if !status.is_success() {
                    return Err(format!("GET {url}: {status} {body}"));
                }
                let events = body["events"].as_array().cloned().unwrap_or_default();
                for e in &events {
                    let id = e["id"].as_str().unwrap_or_default().to_string();
                    if !seen.insert(id.clone()) {
                        return Err(format!("{name}: {id} repeated across pages"));
                    }
                }
                if events.len() > args.page_size as usize {
                    return Err(format!("{name}: a page of {} events", events.len()));
                }
                if pages.len() <= page {
                    pages.push(PageFigures::default());
                }
                let f = &mut pages[page];
                let scan = &body["scan"];
                let (requests, examined) = (
                    scan["requests"].as_u64().unwrap_or(0),
                    scan["examined"].as_u64().unwrap_or(0),
                );
                if repeat == 0 {
                    f.requests = requests;
                    f.examined = examined;
                    f.events = events.len() as u64;
                    f.complete = scan["complete"].as_bool().unwrap_or(false);
                } else if (f.requests, f.examined) != (requests, examined) {
                    return Err(format!(
                        "{name}, page {}: scan figures changed between repeats",
                        page + 1
                    ));
                }
                f.latencies_ms.push(ms);
                cursor = body["next_cursor"].as_str().map(String::from);
                if cursor.is_none() {
                    break;
                }
            }
        }
        results.push((name, query.clone(), *lookup, pages));
    }
    server.abort();

    // --- report -----------------------------------------------------------------------------
    println!(
        "query benchmark: GET /events over {} stored events ({} days, 5 sources), page_size {}, \
         against moto (local emulator), not DynamoDB",
        args.events, args.days, args.page_size
    );
    println!(
        "  stored in {:.1} s ({:.0} events/s, write concurrency {}); avg event item {:.0} bytes",
        store_secs,
        args.events as f64 / store_secs.max(1e-9),
        args.concurrency,
        avg_item
    );
    println!(
        "  {:<24} {:>4} {:>8} {:>9} {:>7} {:>8} {:>9} {:>9}",
        "request", "page", "requests", "examined", "events", "RCU est", "p50 ms", "max ms"
    );
    let mut json_cases = Vec::new();
    for (name, query, lookup, pages) in &results {
        let mut json_pages = Vec::new();
        for (i, p) in pages.iter().enumerate() {
            let mut l = p.latencies_ms.clone();
            l.sort_by(f64::total_cmp);
            let (p50, max) = (percentile(&l, 0.5), l.last().copied().unwrap_or(0.0));
            let rcu = read_units(*lookup, p.requests, p.examined, avg_item);
            println!(
                "  {:<24} {:>4} {:>8} {:>9} {:>7} {:>8.1} {:>9.1} {:>9.1}{}",
                if i == 0 { *name } else { "" },
                i + 1,
                p.requests,
                p.examined,
                p.events,
                rcu,
                p50,
                max,
                if p.complete {
                    ""
                } else {
                    "  (stopped on budget)"
                }
            );
            json_pages.push(json!({
                "page": i + 1, "requests": p.requests, "examined": p.examined,
                "events": p.events, "complete": p.complete, "rcu_estimate": rcu,
                "latency_p50_ms": super::round(p50, 1), "latency_max_ms": super::round(max, 1),
            }));
        }
        json_cases.push(json!({"request": name, "query": query, "pages": json_pages}));
    }
    let figures = json!({
        "bench": "query",
        "backend": "moto (local emulator), not DynamoDB",
        "events": args.events,
        "days": args.days,
        "page_size": args.page_size,
        "repeats": args.repeats,
        "store_secs": super::round(store_secs, 1),
        "store_events_per_sec": super::round(args.events as f64 / store_secs.max(1e-9), 1),
        "write_concurrency": args.concurrency,
        "avg_item_bytes": super::round(avg_item, 1),
        "rcu_method": "estimate: 0.5 RCU per started 4 KB of items examined (time index), 0.5 per event fetched by BatchGetItem plus 0.5 per index Query (ip, actor)",
        "cases": json_cases,
    });
    println!("{figures}");
    drop(moto);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_events_are_distinct_and_inside_the_span() {
        let newest = domain::model::parse_time("2025-06-02T00:00:00Z").unwrap();
        let evs: Vec<AuditEvent> = (0..500).map(|n| event(n, 500, 2, newest)).collect();
        let ids: std::collections::HashSet<_> = evs.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids.len(), 500);
        assert!(
            evs.iter()
                .all(|e| e.time < newest && e.time >= newest - TimeDelta::days(2))
        );
        assert!(evs.iter().any(|e| e.source == Source::ExchangeMessageTrace));
    }

    #[test]
    fn read_units_round_per_request_and_per_item() {
        // 100 items of 1 KB on the time index: 25 started 4 KB blocks = 12.5 RCU.
        assert_eq!(read_units(false, 2, 100, 1024.0), 12.5);
        // Nothing examined still costs 0.5 a request.
        assert_eq!(read_units(false, 3, 0, 1024.0), 1.5);
        // 50 events fetched by BatchGetItem: 0.5 each, plus one index Query.
        assert_eq!(read_units(true, 2, 50, 1024.0), 25.5);
    }
}
