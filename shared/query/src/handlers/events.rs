//! `GET /events` (the listing: filters, paging by signed cursor, the pin) and `GET /events/{id}`
//! (one event, its annotations, its raw record read by reference when the store kept only that).

use super::*;

/// A page of events (the contract's page), with how much was read.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Page {
    /// AuditEvent JSON (the contract), newest first.
    #[schema(value_type = Vec<Object>)]
    events: Vec<AuditEvent>,
    /// Pass as `cursor` with the same filters for the next page; `null` when there is none.
    next_cursor: Option<String>,
    scan: Scan,
}

const EVENT_PARAMS: [&str; 12] = [
    "source",
    "stream",
    "service",
    "actor",
    "operation",
    "result",
    "ip",
    "start",
    "end",
    "q",
    "page_size",
    "cursor",
];

/// Search events, newest first, one page at a time.
#[utoipa::path(get, path = "/events",
    params(
        ("source" = inline(Option<crate::api_doc::SourceName>), Query, description = "Source name"),
        ("stream" = Option<String>, Query, description = "Stream (sign-in kind, content type), exact"),
        ("service" = Option<String>, Query, description = "Service, exact"),
        ("actor" = Option<String>, Query, description = "Actor UPN, object id, display name or app id (ignoring case)"),
        ("operation" = Option<String>, Query, description = "Operation, exact"),
        ("result" = inline(Option<crate::api_doc::ResultName>), Query, description = "The event's outcome"),
        ("ip" = Option<String>, Query, description = "Client IP (ignoring case)"),
        ("start" = Option<String>, Query, pattern = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$",
            description = "Inclusive; RFC 3339 or a date (midnight UTC). Before `end`. Default: the hot retention back from `end` (with `q`: 24 hours)"),
        ("end" = Option<String>, Query, pattern = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$",
            description = "Exclusive; RFC 3339 or a date (midnight UTC), at most 2262-04-11T23:59:59Z (later ones are a 400). Default: now (plus 5 minutes of clock skew)"),
        ("q" = Option<String>, Query, max_length = 200,
            description = "Free text over the normalized fields, details included (ignoring case; the raw record is not in the hot store), at most 200 characters; `end` - `start` at most 7 days"),
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 500,
            description = "Events per page, 1 to 500, default 50. A page may hold fewer (a byte cap on the answer, or the read budget: see `scan`) and still have a `next_cursor`"),
        ("cursor" = Option<String>, Query,
            description = "`next_cursor` of the previous page, sent with the same filters (another filter, an altered or a foreign cursor is a 400 `invalid_cursor`)"),
    ),
    responses(
        (status = 200, description = "A page, newest first", body = Page),
        (status = 400, description = "An unknown or repeated parameter, a value out of its range (above), `start` not before `end`, `q` over more than 7 days, `end` after 2262-04-11, or a cursor that is altered, foreign or from other filters (`invalid_parameter`, `unknown_parameter`, `invalid_cursor`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn list_events(
    State(app): State<QueryApp>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Page>, ApiError> {
    let p = params(query, &EVENT_PARAMS)?;
    for k in ["stream", "service", "actor", "operation", "ip"] {
        if p.get(k).is_some_and(|v| v.len() > MAX_FILTER_BYTES) {
            return Err(ApiError::invalid(format!(
                "`{k}` is longer than {MAX_FILTER_BYTES} bytes"
            )));
        }
    }
    let mut filter = EventFilter {
        source: p
            .get("source")
            .map(|s| s.parse::<Source>())
            .transpose()
            .map_err(|e| ApiError::invalid(format!("`source`: {e}")))?,
        stream: p.get("stream").cloned(),
        service: p.get("service").cloned(),
        actor: p.get("actor").cloned(),
        operation: p.get("operation").cloned(),
        result: p
            .get("result")
            .map(|r| {
                serde_json::from_value::<EventResult>(serde_json::Value::String(r.clone())).map_err(
                    |_| {
                        ApiError::invalid(format!(
                            "`result`: `{r}` is not one of success, failure, partial, unknown"
                        ))
                    },
                )
            })
            .transpose()?,
        ip: p.get("ip").map(|s| s.to_lowercase()),
        q: p.get("q").map(|s| s.to_lowercase()),
        ingested_by: None,
    };
    if filter
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > Q_MAX_CHARS)
    {
        return Err(ApiError::invalid(format!(
            "`q` is longer than {Q_MAX_CHARS} characters"
        )));
    }
    let page_size = match p.get("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(format!(
                    "`page_size` must be a whole number from 1 to {MAX_PAGE_SIZE}, got `{v}`"
                )));
            }
        },
    };
    let start = p
        .get("start")
        .map(|v| parse_instant("start", v))
        .transpose()?;
    let end = p.get("end").map(|v| parse_instant("end", v)).transpose()?;
    // The filters as given, canonical: the cursor is bound to them. The encoding is JSON (a list
    // of name and value pairs), so no value can spell another filter: with `name=value` lines, an
    // `operation` of "x\nresult=success" read the same as two filters.
    let canonical: Vec<(&str, String)> = EVENT_PARAMS
        .iter()
        .filter(|k| !matches!(**k, "cursor" | "page_size"))
        .filter_map(|k| {
            let v = match *k {
                "start" => start.map(fmt_time),
                "end" => end.map(fmt_time),
                "actor" | "ip" | "q" => p.get(*k).map(|v| v.to_lowercase()),
                _ => p.get(*k).cloned(),
            }?;
            Some((*k, v))
        })
        .collect();
    let digest = CursorCodec::digest(&serde_json::to_string(&canonical).unwrap_or_default());
    let (cursor, pin) = cursor_and_pin(&app, &p, &digest)?;
    filter.ingested_by = Some(pin);
    let end = end.unwrap_or(pin + TimeDelta::minutes(END_SLACK_MINUTES));
    let start = match (start, &filter.q) {
        (Some(s), _) => s,
        (None, Some(_)) => end - TimeDelta::hours(Q_DEFAULT_HOURS),
        (None, None) => end - app.settings.hot_retention,
    };
    if start >= end {
        return Err(ApiError::invalid(format!(
            "`start` ({}) must be before `end` ({})",
            fmt_time(start),
            fmt_time(end)
        )));
    }
    if filter.q.is_some() && end - start > TimeDelta::days(Q_MAX_DAYS) {
        return Err(ApiError::invalid(format!(
            "`q` searches at most {Q_MAX_DAYS} days; narrow `start` and `end`"
        )));
    }
    let listing = list(
        app.ports.reader.as_ref(),
        &ListParams {
            filter,
            start,
            end,
            page_size,
            before: cursor.map(|c| c.before),
            budget: app.settings.read_budget,
            max_bytes: MAX_PAGE_BYTES,
        },
    )
    .await?;
    let next_cursor = listing.next_before.map(|before| {
        app.cursors.encode(&Cursor {
            filters: digest.clone(),
            pin_ms: pin.timestamp_millis(),
            before,
        })
    });
    Ok(Json(Page {
        events: listing.events,
        next_cursor,
        scan: listing.scan,
    }))
}

/// The `cursor` parameter checked against the listing's filter digest, and the pin: the cursor's,
/// or now for a first page.
pub(super) fn cursor_and_pin(
    app: &QueryApp,
    p: &HashMap<String, String>,
    digest: &str,
) -> Result<(Option<Cursor>, DateTime<Utc>), ApiError> {
    let cursor = p
        .get("cursor")
        .map(|c| app.cursors.decode(c, digest))
        .transpose()
        .map_err(|e| ApiError::BadRequest {
            code: "invalid_cursor",
            message: e.to_string(),
        })?;
    let pin = match &cursor {
        Some(c) => {
            DateTime::from_timestamp_millis(c.pin_ms).ok_or_else(|| ApiError::BadRequest {
                code: "invalid_cursor",
                message: "`cursor` holds an impossible time".into(),
            })?
        }
        None => app.ports.clock.now(),
    };
    Ok((cursor, pin))
}

/// One event with its annotations.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EventView {
    /// The AuditEvent JSON with `raw`, the record as Microsoft sent it, read from the raw layer
    /// by the reference the hot store keeps; `raw_ref` (where it is) takes `raw`'s place only
    /// when it cannot be read or the API has no bucket.
    #[schema(value_type = Object)]
    event: AuditEvent,
    tags: Vec<String>,
    /// Oldest first.
    #[schema(value_type = Vec<CommentSchema>)]
    comments: Vec<Comment>,
}

/// A comment on an event: the OpenAPI schema of `domain::read::Comment`, which the core defines
/// without a schema derive. Field for field the same; the OpenAPI test checks the two agree.
#[derive(ToSchema)]
#[schema(as = Comment)]
#[allow(dead_code)]
pub(super) struct CommentSchema {
    id: String,
    /// The token's subject (object id).
    author: String,
    /// The token's display name or UPN, when it carries one.
    author_name: Option<String>,
    text: String,
    created_at: String,
}

pub(super) fn check_id(id: &str) -> Result<(), ApiError> {
    keys::parse_event_id(id).map(|_| ()).ok_or_else(|| {
        ApiError::invalid(format!(
            "`{}` is not an event id (`<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>`, the key 1 to {} letters, digits or - . _ ~; e.g. entra-directory-audits:20240304T050607Z-abc)",
            shown(id),
            keys::MAX_DEDUPE_KEY_BYTES
        ))
    })
}

pub(super) fn no_event(id: &str) -> ApiError {
    ApiError::NotFound(format!("no event `{id}`"))
}

/// One event: the normalized event with its raw record (read from the raw layer by its reference), tags and comments.
#[utoipa::path(get, path = "/events/{id}",
    params(("id" = String, Path, max_length = 2048, pattern = r"^(entra-directory-audits|entra-sign-ins|intune-audit|exchange-message-trace|entra-risk-detections|entra-provisioning|defender-alerts|m365-activity):.+$",
        description = "Event id, `<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>` (the event time to the second), at most 2048 bytes (DynamoDB's partition key limit)")),
    responses(
        (status = 200, description = "The event with its raw record, tags and comments", body = EventView),
        (status = 400, description = "Not an event id: no known source before the `:`, nothing after it, or longer than 2048 bytes (`invalid_parameter`)", body = ErrorBody),
        (status = 404, description = "No such event (`not_found`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn get_event(
    State(app): State<QueryApp>,
    Path(id): Path<String>,
) -> Result<Json<EventView>, ApiError> {
    check_id(&id)?;
    let mut record = app
        .ports
        .reader
        .record(&id)
        .await?
        .ok_or_else(|| no_event(&id))?;
    if record.event.raw.is_none()
        && let (Some(reference), Some(raw)) = (&record.event.raw_ref, &app.ports.raw)
    {
        // A record over the inline limit: its raw JSON is line `line` of a raw object. When it
        // cannot be read the event is still answered, with the reference, and the log says why.
        // The contract's AuditEvent carries `raw` or `raw_ref`, never both.
        match raw_line(raw.as_ref(), reference).await {
            Ok(value) => {
                record.event.raw = Some(value);
                record.event.raw_ref = None;
            }
            Err(problem) => {
                tracing::warn!(event = %id, key = %reference.key, line = reference.line, %problem, "Could not read the raw record of an event kept by reference.")
            }
        }
    }
    Ok(Json(EventView {
        event: record.event,
        tags: record.tags,
        comments: record.comments,
    }))
}

/// Line `reference.line` (1-based) of the gzip NDJSON raw object `reference.key`, as JSON.
async fn raw_line(
    raw: &dyn domain::store::RawStore,
    reference: &domain::model::RawRef,
) -> Result<Box<serde_json::value::RawValue>, String> {
    use std::io::BufRead;
    if !reference.key.starts_with("raw/") || reference.line == 0 {
        return Err("not a raw-layer reference".into());
    }
    let body = raw.get(&reference.key).await.map_err(|e| e.to_string())?;
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(&body[..]));
    let line = reader
        .lines()
        .nth((reference.line - 1) as usize)
        .ok_or_else(|| format!("the object has fewer than {} lines", reference.line))?
        .map_err(|e| format!("not gzip text: {e}"))?;
    serde_json::value::RawValue::from_string(line).map_err(|e| format!("not JSON: {e}"))
}
