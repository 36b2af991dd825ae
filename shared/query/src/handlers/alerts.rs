//! The alert routes (issue 15): `GET /alerts` (filters by rule, severity, status and when the
//! alert was raised; newest first, cursor paging as `/events`), `GET /alerts/{id}` (with its
//! comments and the events behind it), and, with the annotate role, `PATCH /alerts/{id}`
//! (status, assignee) and `POST /alerts/{id}/comments`. Without an alerts table configured
//! (`AUDITLAKE_ALERTS_TABLE`) they answer 503.

use super::*;
use domain::alert::Severity;
use domain::triage::{AlertChange, AlertFilter, AlertReader, AlertStatus, StoredAlert};

/// At most this many of an alert's events are read into `GET /alerts/{id}` (a threshold alert
/// names up to 100; the rest are listed by id).
pub(super) const MAX_ALERT_EVENTS: usize = 20;
/// Requests one `GET /alerts` call may send.
const ALERT_READ_BUDGET: u32 = 40;
const MAX_ASSIGNEE_CHARS: usize = 256;

const ALERT_PARAMS: [&str; 7] = [
    "rule",
    "severity",
    "status",
    "start",
    "end",
    "page_size",
    "cursor",
];

pub(super) fn alert_reader(app: &QueryApp) -> Result<&dyn AlertReader, ApiError> {
    app.ports.alerts.as_deref().ok_or_else(|| {
        ApiError::Unavailable(
            "alerts are not configured on this API (AUDITLAKE_ALERTS_TABLE is not set)".into(),
        )
    })
}

fn check_alert_id(id: &str) -> Result<(), ApiError> {
    let ok = id.len() == 35
        && id.starts_with("al-")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "`{}` is not an alert id (`al-` and 32 lowercase hex digits)",
            shown(id)
        )))
    }
}

fn no_alert(id: &str) -> ApiError {
    ApiError::NotFound(format!("no alert `{id}`"))
}

/// An alert: the contract's alert (DESIGN "Alert JSON") with its triage state. The OpenAPI
/// schema of `domain::triage::StoredAlert`, field for field (checked in `tests/api/alerts.rs`).
#[derive(ToSchema)]
#[schema(as = Alert)]
#[allow(dead_code)]
pub(super) struct AlertSchema {
    /// `al-` and 32 hex digits, derived from the rule and the event (a retry raises the same id).
    id: String,
    rule_id: String,
    title: String,
    severity: crate::api_doc::SeverityName,
    /// MITRE ATT&CK technique ids (`T1078.004`).
    techniques: Vec<String>,
    /// The event that raised it (a threshold: the one that crossed it).
    event_id: String,
    /// Microsoft's id of that event's record.
    record_id: Option<String>,
    /// Every event behind it, oldest first (at most 100).
    event_ids: Vec<String>,
    /// A threshold's group, as JSON text of the group-by fields.
    group: Option<String>,
    #[schema(value_type = Object)]
    summary: serde_json::Value,
    /// The rule's `fields:` values in the triggering event.
    #[schema(value_type = Object)]
    fields: serde_json::Value,
    status: crate::api_doc::AlertStatusName,
    assignee: Option<String>,
    /// When the detection path stored it (RFC 3339).
    created_at: String,
    /// The last triage change, and who made it (the token's subject).
    updated_at: Option<String>,
    updated_by: Option<String>,
}

/// A page of alerts.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AlertsPage {
    /// Newest first (by when they were raised).
    #[schema(value_type = Vec<AlertSchema>)]
    alerts: Vec<StoredAlert>,
    /// Pass as `cursor` with the same filters for the next page; `null` when there is none.
    next_cursor: Option<String>,
    scan: Scan,
}

/// List alerts, newest first.
#[utoipa::path(get, path = "/alerts",
    params(
        ("rule" = Option<String>, Query, max_length = 256, description = "Rule id, exact"),
        ("severity" = inline(Option<crate::api_doc::SeverityName>), Query, description = "Severity, exact"),
        ("status" = inline(Option<crate::api_doc::AlertStatusName>), Query, description = "Triage status"),
        ("start" = Option<String>, Query, pattern = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$",
            description = "Raised at or after; RFC 3339 or a date. Default: the alert retention back from `end`"),
        ("end" = Option<String>, Query, pattern = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$",
            description = "Raised before; RFC 3339 or a date, at most 2262-04-11T23:59:59Z. Default: now"),
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Alerts per page, 1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, with the same filters"),
    ),
    responses(
        (status = 200, description = "A page of alerts, newest first", body = AlertsPage),
        (status = 400, description = "An unknown or repeated parameter, a value out of its range, `start` not before `end`, or a cursor that is altered or from other filters (`invalid_parameter`, `unknown_parameter`, `invalid_cursor`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn list_alerts(
    State(app): State<QueryApp>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<AlertsPage>, ApiError> {
    let p = params(query, &ALERT_PARAMS)?;
    let reader = alert_reader(&app)?;
    if p.get("rule").is_some_and(|v| v.len() > 256) {
        return Err(ApiError::invalid("`rule` is longer than 256 bytes"));
    }
    let severity = p
        .get("severity")
        .map(|s| s.parse::<Severity>())
        .transpose()
        .map_err(|e| ApiError::invalid(format!("`severity`: {e}")))?;
    let status = p
        .get("status")
        .map(|s| s.parse::<AlertStatus>())
        .transpose()
        .map_err(|e| ApiError::invalid(format!("`status`: {e}")))?;
    let page_size = page_size(&p)?;
    let start = p
        .get("start")
        .map(|v| parse_instant("start", v))
        .transpose()?;
    let end = p.get("end").map(|v| parse_instant("end", v)).transpose()?;
    let canonical: Vec<(&str, String)> = ALERT_PARAMS
        .iter()
        .filter(|k| !matches!(**k, "cursor" | "page_size"))
        .filter_map(|k| {
            let v = match *k {
                "start" => start.map(fmt_time),
                "end" => end.map(fmt_time),
                _ => p.get(*k).cloned(),
            }?;
            Some((*k, v))
        })
        .collect();
    // Prefixed, so a cursor of `/events` is foreign here.
    let digest = format!(
        "alerts:{}",
        CursorCodec::digest(&serde_json::to_string(&canonical).unwrap_or_default())
    );
    let (cursor, pin) = cursor_and_pin(&app, &p, &digest)?;
    let end = end.unwrap_or(pin + TimeDelta::milliseconds(1));
    let start = start.unwrap_or(end - app.settings.alert_retention);
    if start >= end {
        return Err(ApiError::invalid(format!(
            "`start` ({}) must be before `end` ({})",
            fmt_time(start),
            fmt_time(end)
        )));
    }
    let filter = AlertFilter {
        rule: p.get("rule").cloned(),
        severity,
        status,
        start,
        end,
    };
    let page = reader
        .list(
            &filter,
            cursor.as_ref().map(|c| c.before.as_str()),
            pin,
            page_size,
            ALERT_READ_BUDGET,
        )
        .await?;
    let complete = page.resume.is_none() || page.alerts.len() >= page_size;
    let next_cursor = page.resume.clone().map(|before| {
        app.cursors.encode(&Cursor {
            filters: digest.clone(),
            pin_ms: pin.timestamp_millis(),
            before,
        })
    });
    Ok(Json(AlertsPage {
        scan: Scan {
            requests: page.requests,
            examined: page.examined,
            complete,
            searched_to: if complete {
                None
            } else {
                page.resume
                    .as_deref()
                    .and_then(|r| r.split_once('#'))
                    .map(|(t, _)| t.to_owned())
            },
        },
        alerts: page.alerts,
        next_cursor,
    }))
}

/// `page_size`: 1 to 500, default 50.
pub(super) fn page_size(p: &HashMap<String, String>) -> Result<usize, ApiError> {
    match p.get("page_size") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "`page_size` must be a whole number from 1 to {MAX_PAGE_SIZE}, got `{v}`"
            ))),
        },
    }
}

/// One alert, its comments and the events behind it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AlertDetail {
    #[schema(value_type = AlertSchema)]
    alert: StoredAlert,
    /// Oldest first.
    #[schema(value_type = Vec<CommentSchema>)]
    comments: Vec<Comment>,
    /// The first 20 of `alert.event_ids` still in the hot store (AuditEvent JSON without the raw
    /// record; `GET /events/{id}` has it).
    #[schema(value_type = Vec<Object>)]
    events: Vec<AuditEvent>,
    /// Ids among those first 20 that are no longer stored (past the hot retention).
    missing_events: Vec<String>,
}

/// One alert with its comments and triggering events.
#[utoipa::path(get, path = "/alerts/{id}",
    params(("id" = String, Path, pattern = r"^al-[0-9a-f]{32}$", description = "Alert id")),
    responses(
        (status = 200, description = "The alert, its comments and its events", body = AlertDetail),
        (status = 400, description = "Not an alert id (`invalid_parameter`)", body = ErrorBody),
        (status = 404, description = "No such alert (`not_found`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn get_alert(
    State(app): State<QueryApp>,
    Path(id): Path<String>,
) -> Result<Json<AlertDetail>, ApiError> {
    check_alert_id(&id)?;
    let (alert, comments) = alert_reader(&app)?
        .get(&id)
        .await?
        .ok_or_else(|| no_alert(&id))?;
    let wanted: Vec<&String> = alert
        .alert
        .event_ids
        .iter()
        .take(MAX_ALERT_EVENTS)
        .collect();
    let reads = futures::future::join_all(wanted.iter().map(|e| app.ports.reader.record(e))).await;
    let mut events = Vec::new();
    let mut missing_events = Vec::new();
    for (eid, read) in wanted.into_iter().zip(reads) {
        match read? {
            Some(r) => events.push(r.event),
            None => missing_events.push(eid.clone()),
        }
    }
    Ok(Json(AlertDetail {
        alert,
        comments,
        events,
        missing_events,
    }))
}

/// A triage change: either field or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AlertPatch {
    #[serde(default)]
    #[schema(value_type = Option<crate::api_doc::AlertStatusName>)]
    status: Option<AlertStatus>,
    /// Whom to assign it to (1 to 256 characters), or `null` to unassign.
    #[serde(default, deserialize_with = "some_or_null")]
    #[schema(value_type = Option<String>, max_length = 256)]
    assignee: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn some_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Changes an alert's status or assignee (annotate role); returns the alert.
#[utoipa::path(patch, path = "/alerts/{id}",
    params(("id" = String, Path, pattern = r"^al-[0-9a-f]{32}$", description = "Alert id")),
    request_body = AlertPatch,
    responses(
        (status = 200, description = "The alert after the change", body = AlertSchema),
        (status = 400, description = "Not an alert id; a body that is not the JSON object; neither `status` nor `assignee`; an assignee empty or over 256 characters (`invalid_parameter`, `invalid_body`)", body = ErrorBody),
        (status = 404, description = "No such alert (`not_found`)", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn patch_alert(
    State(app): State<QueryApp>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AlertPatch>,
) -> Result<Json<StoredAlert>, ApiError> {
    check_alert_id(&id)?;
    let reader = alert_reader(&app)?;
    if body.status.is_none() && body.assignee.is_none() {
        return Err(ApiError::BadRequest {
            code: "invalid_body",
            message: "give a `status` or an `assignee`".into(),
        });
    }
    let assignee = match body.assignee {
        Some(Some(who)) => {
            let who = who.trim().to_owned();
            if who.is_empty() || who.chars().count() > MAX_ASSIGNEE_CHARS {
                return Err(ApiError::BadRequest {
                    code: "invalid_body",
                    message: format!(
                        "`assignee` must be 1 to {MAX_ASSIGNEE_CHARS} characters, or null to unassign"
                    ),
                });
            }
            Some(Some(who))
        }
        other => other,
    };
    let change = AlertChange {
        status: body.status,
        assignee,
        by: principal.subject.clone(),
        at: app.ports.clock.now(),
    };
    let after = reader
        .update(&id, &change)
        .await?
        .ok_or_else(|| no_alert(&id))?;
    tracing::info!(alert = %id, by = %principal.subject, status = ?change.status, "Alert triaged.");
    Ok(Json(after))
}

/// Comments on an alert (annotate role); the author is the token's subject.
#[utoipa::path(post, path = "/alerts/{id}/comments",
    params(("id" = String, Path, pattern = r"^al-[0-9a-f]{32}$", description = "Alert id")),
    request_body = CommentBody,
    responses(
        (status = 201, description = "The comment as stored", body = CommentSchema),
        (status = 400, description = "Not an alert id; a body that is not the JSON object; or `text` empty once trimmed or over 4000 characters (`invalid_parameter`, `invalid_body`)", body = ErrorBody),
        (status = 404, description = "No such alert (`not_found`)", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn post_alert_comment(
    State(app): State<QueryApp>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CommentBody>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    check_alert_id(&id)?;
    let reader = alert_reader(&app)?;
    let comment = annotations::new_comment(&app, &principal, &body)?;
    if !reader.add_comment(&id, &comment).await? {
        return Err(no_alert(&id));
    }
    Ok((StatusCode::CREATED, Json(comment)))
}
