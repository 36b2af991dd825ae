//! The aggregates: `GET /filter-options` and `GET /summary` (per-day counters and top lists over
//! the last N days) and `GET /sources` (each stream's health and each delivery channel's).

use super::*;

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ValueCount {
    value: String,
    count: u64,
}

/// Distinct values seen, with approximate counts, most frequent first.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct FilterOptions {
    /// First and last day counted (event time, UTC).
    from: String,
    to: String,
    /// Always true: counters are bumped on insert, not recounted.
    approximate: bool,
    /// True when the read budget ran out before every day was counted: `from` is then the
    /// oldest day counted. Ask for fewer days for a whole answer.
    partial: bool,
    /// Each list: the 100 most frequent values.
    sources: Vec<ValueCount>,
    services: Vec<ValueCount>,
    operations: Vec<ValueCount>,
    results: Vec<ValueCount>,
    actors: Vec<ValueCount>,
}

/// The per-dimension totals of the last `days` days (today included), newest first, as far as
/// the read budget reaches.
struct Counted {
    /// The oldest day counted whole, and today.
    from: NaiveDate,
    to: NaiveDate,
    /// Fewer days than asked were counted: the read budget ran out.
    partial: bool,
    /// Per dimension, the [`TOP_VALUES`] most frequent values.
    dims: BTreeMap<String, Vec<ValueCount>>,
}

async fn counted(app: &QueryApp, days: u32) -> Result<Counted, ApiError> {
    use domain::read::PRESENCE_DAYS;
    let today = app.ports.clock.now().date_naive();
    let oldest = today
        .checked_sub_days(chrono::Days::new(u64::from(days.saturating_sub(1))))
        .unwrap_or(today);
    // Newest first, PRESENCE_DAYS at a time: one request for the presence markers of the span
    // (days without a marker hold no event, so no counter), then the counters of the days that
    // have one. `covered` is the oldest day up to which the answer is whole.
    let mut budget = app.settings.read_budget;
    let mut rows = Vec::new();
    let mut covered = None;
    let mut partial = false;
    let mut last = today;
    'spans: while last >= oldest {
        let first = last
            .checked_sub_days(chrono::Days::new((PRESENCE_DAYS - 1) as u64))
            .unwrap_or(oldest)
            .max(oldest);
        if budget == 0 {
            partial = true;
            break;
        }
        let (found, requests) = app.ports.reader.presence(first, last).await?;
        budget = budget.saturating_sub(requests.max(1));
        let mut present: Vec<NaiveDate> = found.into_iter().map(|(d, _)| d).collect();
        present.sort_unstable_by(|a, b| b.cmp(a));
        present.dedup();
        if !present.is_empty() {
            let read = app.ports.reader.aggregates(&present, budget).await?;
            budget = budget.saturating_sub(read.requests);
            rows.extend(read.rows);
            if read.days_read < present.len() {
                // Whole down to the oldest day read (or, with none read, nothing of this span).
                covered = read
                    .days_read
                    .checked_sub(1)
                    .map(|k| present[k])
                    .or(covered);
                partial = true;
                break 'spans;
            }
        }
        covered = Some(first);
        match first.pred_opt() {
            Some(d) => last = d,
            None => break,
        }
    }
    let mut sums: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in rows {
        *sums.entry(r.dim).or_default().entry(r.value).or_insert(0) += r.count;
    }
    let dims = sums
        .into_iter()
        .map(|(dim, values)| {
            let mut v: Vec<ValueCount> = values
                .into_iter()
                .map(|(value, count)| ValueCount { value, count })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v.truncate(TOP_VALUES);
            (dim, v)
        })
        .collect();
    if partial {
        tracing::info!(days, "Counters read partly: the read budget ran out.");
    }
    let from = covered.unwrap_or(today);
    Ok(Counted {
        from,
        to: today,
        partial,
        dims,
    })
}

/// Distinct sources, services, operations, results and actors (for filter pickers), from the
/// per-day counters kept on insert; approximate.
#[utoipa::path(get, path = "/filter-options",
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 366, description = "Days back, today included: 1 to 366, default 30")),
    responses(
        (status = 200, description = "Distinct values with counts; `partial` when the read budget ran out first", body = FilterOptions),
        (status = 400, description = "An unknown or repeated parameter, or `days` not a whole number from 1 to 366 (`invalid_parameter`, `unknown_parameter`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn filter_options(
    State(app): State<QueryApp>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<FilterOptions>, ApiError> {
    let p = params(query, &["days"])?;
    let days = parse_days(&p, 30)?;
    let Counted {
        from,
        to,
        partial,
        mut dims,
    } = counted(&app, days).await?;
    let mut take = |d: &str| dims.remove(d).unwrap_or_default();
    Ok(Json(FilterOptions {
        from: from.to_string(),
        to: to.to_string(),
        approximate: true,
        partial,
        sources: take("source"),
        services: take("service"),
        operations: take("operation"),
        results: take("result"),
        actors: take("actor"),
    }))
}

/// Counts over the last `days` days by source, service, operation, result and actor.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Summary {
    days: u32,
    from: String,
    to: String,
    /// Always true: exact answers come from Athena.
    approximate: bool,
    /// True when the read budget ran out before every day was counted: `from` is then the
    /// oldest day counted, and `total` covers `from` to `to`.
    partial: bool,
    /// Events from `from` to `to`, every source.
    total: u64,
    by_source: Vec<ValueCount>,
    by_service: Vec<ValueCount>,
    by_operation: Vec<ValueCount>,
    by_result: Vec<ValueCount>,
    /// Each `by_` list: the 100 most frequent values; `by_actor` the most active actors.
    by_actor: Vec<ValueCount>,
}

/// Event counts over the last N days, from the per-day counters; approximate.
#[utoipa::path(get, path = "/summary",
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 366, description = "Days back, today included: 1 to 366, default 7")),
    responses(
        (status = 200, description = "Counts; `partial` when the read budget ran out first", body = Summary),
        (status = 400, description = "An unknown or repeated parameter, or `days` not a whole number from 1 to 366 (`invalid_parameter`, `unknown_parameter`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn summary(
    State(app): State<QueryApp>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Summary>, ApiError> {
    let p = params(query, &["days"])?;
    let days = parse_days(&p, 7)?;
    let Counted {
        from,
        to,
        partial,
        mut dims,
    } = counted(&app, days).await?;
    let mut take = |d: &str| dims.remove(d).unwrap_or_default();
    let by_source = take("source");
    let by_actor = take("actor");
    Ok(Json(Summary {
        days,
        from: from.to_string(),
        to: to.to_string(),
        approximate: true,
        partial,
        total: by_source.iter().map(|v| v.count).sum(),
        by_source,
        by_service: take("service"),
        by_operation: take("operation"),
        by_result: take("result"),
        by_actor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SourceHealth {
    source: String,
    stream: Option<String>,
    /// The stream's health record (last run, last success, lag, totals, last error with
    /// Microsoft's code, gaps, doctor findings); `null` when it never ran.
    #[schema(value_type = Option<Object>)]
    health: Option<Health>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SourcesView {
    sources: Vec<SourceHealth>,
    /// Each notification and forwarding channel that has delivered or failed: `channel`
    /// (`topic`, `webhook:<name>`, `forward`), `last_success`, `last_failure`, `last_error`,
    /// `delivered`, `failed`, `refused`, `consecutive_failures` (0 is healthy).
    #[schema(value_type = Vec<Object>)]
    deliveries: Vec<domain::delivery::DeliveryHealth>,
    /// The audit search backfill's jobs, oldest first: `status` (`running`, `complete`,
    /// `complete_with_failures`), the range and filters, windows done, pending, running and
    /// failed (each failed window with its reason), records, new, duplicates, queries submitted
    /// and failed, splits, throttled submissions, and the last error.
    #[schema(value_type = Vec<Object>)]
    backfills: Vec<domain::backfill::BackfillProgress>,
}

/// Each source and stream's health, from the state table.
#[utoipa::path(get, path = "/sources",
    responses(
        (status = 200, description = "Every source and stream, with its health record or null", body = SourcesView),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn sources(State(app): State<QueryApp>) -> Result<Json<SourcesView>, ApiError> {
    let mut keys = Vec::new();
    for source in Source::ALL {
        let streams: Vec<Option<Stream>> = match source {
            Source::EntraSignIns => app
                .settings
                .signin_kinds
                .iter()
                .map(|&k| Some(Stream::SignIn(k)))
                .collect(),
            Source::M365Activity => app
                .settings
                .content_types
                .iter()
                .map(|&c| Some(Stream::Content(c)))
                .collect(),
            _ => vec![None],
        };
        for stream in streams {
            keys.push(StreamKey::new(
                app.settings.tenant_id.clone(),
                source,
                stream,
            ));
        }
    }
    let healths =
        futures::future::try_join_all(keys.iter().map(|k| app.ports.state.health(k))).await?;
    let deliveries = match &app.ports.deliveries {
        Some(d) => d.deliveries().await?,
        None => Vec::new(),
    };
    let backfills = match &app.ports.backfills {
        Some(b) => b
            .list(&app.settings.tenant_id)
            .await?
            .iter()
            .map(domain::backfill::BackfillJob::progress)
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(SourcesView {
        deliveries,
        backfills,
        sources: keys
            .into_iter()
            .zip(healths)
            .map(|(k, health)| SourceHealth {
                source: k.source.name().to_string(),
                stream: k.stream.map(|s| s.name().to_string()),
                health,
            })
            .collect(),
    }))
}
