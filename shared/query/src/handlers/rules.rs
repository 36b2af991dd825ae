//! The rule routes (issue 15): `GET /rules` (the built-in pack and the tenant's own rules), and,
//! with the admin role, `POST /rules`, `PUT /rules/{id}`, `DELETE /rules/{id}` for the tenant's
//! rules (Sigma YAML, checked by the `detect` crate before it is stored: a rule that does not load
//! is a 400 naming the line and field), and `POST /rules/{id}/test`, which runs one rule over a
//! time range of stored events and says what it would have raised (nothing is stored).
//!
//! A tenant rule file holds exactly one rule that raises alerts (a threshold file: the
//! correlation, with the detections it counts, which raise nothing of their own); no id in it may
//! be a built-in rule's or another tenant rule's. The detection function reads the tenant's rules
//! at start and every few minutes (`alerting::lambda`), so a stored rule applies to events stored
//! from then on; `POST /rules/{id}/test` is how to see what it would have raised before.

use std::sync::OnceLock;

use super::*;
use detect::{RuleError, RuleSet};
use domain::read::EventFilter;
use domain::triage::{RuleStore, TenantRule};

/// The longest window a tenant's threshold rule may count over (window state expires a day
/// after the longest window of the rules the detection function runs).
const MAX_TENANT_WINDOW_HOURS: i64 = 24;
/// A rule test reads at most this many events, over at most this many days.
const MAX_TEST_EVENTS: usize = 10_000;
const MAX_TEST_DAYS: i64 = 7;
/// Largest rule text.
const MAX_RULE_BYTES: usize = 32 * 1024;

/// The built-in pack, loaded once per process.
fn builtin() -> Result<&'static RuleSet, ApiError> {
    static PACK: OnceLock<Result<RuleSet, String>> = OnceLock::new();
    PACK.get_or_init(|| {
        detect::pack::builtin().map_err(|e| {
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    })
    .as_ref()
    .map_err(|problem| {
        tracing::error!(%problem, "The built-in rules do not load.");
        ApiError::Internal
    })
}

fn rule_store(app: &QueryApp) -> Result<&dyn RuleStore, ApiError> {
    app.ports.rules.as_deref().ok_or_else(|| {
        ApiError::Unavailable(
            "tenant rules are not configured on this API (AUDITLAKE_ALERTS_TABLE is not set)"
                .into(),
        )
    })
}

fn check_rule_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "`{}` is not a rule id (1 to 128 letters, digits or - _ .)",
            shown(id)
        )))
    }
}

/// A rule as `GET /rules` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RuleView {
    id: String,
    title: String,
    description: Option<String>,
    #[schema(value_type = crate::api_doc::SeverityName)]
    severity: domain::alert::Severity,
    /// MITRE ATT&CK technique ids.
    techniques: Vec<String>,
    /// `detection` (one event) or `threshold` (a count over a window).
    kind: String,
    /// The source whose events it reads.
    #[schema(value_type = crate::api_doc::SourceName)]
    source: Source,
    /// The streams it reads, `null` for every stream of the source.
    streams: Option<Vec<String>>,
    /// The fields an alert carries.
    fields: Vec<String>,
    /// `builtin` (the pack, `infra/detections/`) or `tenant`.
    origin: String,
    /// Tenant rules: the Sigma text, and the last change.
    yaml: Option<String>,
    updated_at: Option<String>,
    updated_by: Option<String>,
}

fn views(set: &RuleSet, tenant: Option<&TenantRule>) -> Vec<RuleView> {
    set.rules()
        .map(|m| RuleView {
            id: m.id.clone(),
            title: m.title.clone(),
            description: m.description.clone(),
            severity: m.severity,
            techniques: m.techniques.clone(),
            kind: match m.kind {
                detect::rule::RuleKind::Detection => "detection",
                detect::rule::RuleKind::Threshold => "threshold",
            }
            .into(),
            source: m.target.source,
            streams: m
                .target
                .streams
                .as_ref()
                .map(|s| s.iter().map(ToString::to_string).collect()),
            fields: m.fields.clone(),
            origin: if tenant.is_some() {
                "tenant"
            } else {
                "builtin"
            }
            .into(),
            yaml: tenant.map(|t| t.yaml.clone()),
            updated_at: tenant.map(|t| t.updated_at.clone()),
            updated_by: tenant.map(|t| t.updated_by.clone()),
        })
        .collect()
}

/// The rules.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RulesView {
    /// Built-in rules first, then the tenant's, each by id.
    rules: Vec<RuleView>,
    /// Tenant rules stored but no longer loading (a rule written for an older version): their ids
    /// and problems. The detection function skips them.
    broken: Vec<String>,
}

/// Every rule: the built-in pack and the tenant's own.
#[utoipa::path(get, path = "/rules",
    responses(
        (status = 200, description = "The rules", body = RulesView),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn list_rules(State(app): State<QueryApp>) -> Result<Json<RulesView>, ApiError> {
    let mut rules = views(builtin()?, None);
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    let mut broken = Vec::new();
    if let Some(store) = app.ports.rules.as_deref() {
        for t in store.list_rules().await? {
            match load_one(&t.id, &t.yaml) {
                Ok(set) => rules.extend(views(&set, Some(&t))),
                Err(e) => broken.push(format!("{}: {}", t.id, problems(&e))),
            }
        }
    }
    Ok(Json(RulesView { rules, broken }))
}

/// A tenant rule's text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleBody {
    /// Sigma YAML: one rule that raises alerts, or one correlation (`event_count`,
    /// `value_count`, at most 24 hours) with the detections it counts. At most 32 KiB.
    #[schema(max_length = 32768)]
    yaml: String,
}

fn problems(errors: &[RuleError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn rule_error(errors: &[RuleError]) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_rule",
        message: format!("the rule does not load: {}", problems(errors)),
    }
}

/// Loads one tenant rule file, named by its id in messages.
fn load_one(id: &str, yaml: &str) -> Result<RuleSet, Vec<RuleError>> {
    RuleSet::load([(format!("rule {id}").as_str(), yaml)])
}

/// Checks a tenant rule's text: it loads, raises through exactly one rule, counts over at most a
/// day, and shares no id with the built-in pack or the tenant's other rules (`others`). Returns
/// its id.
fn check_rule(yaml: &str, others: &[TenantRule]) -> Result<String, ApiError> {
    if yaml.len() > MAX_RULE_BYTES {
        return Err(ApiError::BadRequest {
            code: "invalid_body",
            message: format!("`yaml` is longer than {MAX_RULE_BYTES} bytes"),
        });
    }
    let set = RuleSet::load([("the rule", yaml)]).map_err(|e| rule_error(&e))?;
    let raising: Vec<&detect::RuleMeta> = set.rules().collect();
    let [meta] = raising.as_slice() else {
        return Err(ApiError::BadRequest {
            code: "invalid_rule",
            message: format!(
                "a tenant rule raises alerts through exactly one rule (this text has {}): send each rule on its own; a threshold's counted detections take `generate: false`",
                raising.len()
            ),
        });
    };
    let id = meta.id.clone();
    check_rule_id(&id).map_err(|_| ApiError::BadRequest {
        code: "invalid_rule",
        message: format!(
            "the rule's id `{}` must be 1 to 128 letters, digits or - _ . (a UUID, as Sigma's ids are)",
            shown(&id)
        ),
    })?;
    if set.longest_window() > chrono::Duration::hours(MAX_TENANT_WINDOW_HOURS) {
        return Err(ApiError::BadRequest {
            code: "invalid_rule",
            message: format!(
                "the rule: field `correlation.timespan`: a tenant threshold counts over at most {MAX_TENANT_WINDOW_HOURS} hours"
            ),
        });
    }
    let mut all = builtin()?.clone();
    for other in others.iter().filter(|o| o.id != id) {
        if let Ok(o) = load_one(&other.id, &other.yaml) {
            all = all.merge(o).map_err(|_| ApiError::Internal)?;
        }
    }
    all.merge(set).map_err(|e| {
        ApiError::Conflict(format!(
            "{}: a built-in or tenant rule already has that id",
            problems(&e).replace("the rule: field `id`: ", "")
        ))
    })?;
    Ok(id)
}

fn tenant_rule(app: &QueryApp, principal: &Principal, id: String, yaml: String) -> TenantRule {
    TenantRule {
        id,
        yaml,
        updated_at: fmt_time(app.ports.clock.now()),
        updated_by: principal.subject.clone(),
    }
}

fn is_builtin(id: &str) -> Result<bool, ApiError> {
    Ok(builtin()?.rules().any(|m| m.id == id))
}

/// Adds a tenant rule (admin role).
#[utoipa::path(post, path = "/rules",
    request_body = RuleBody,
    responses(
        (status = 201, description = "The rule as stored", body = RuleView),
        (status = 400, description = "A body that is not the JSON object; a rule that does not load (the message names the line and field: `invalid_rule`), that raises through more than one rule, counts over more than 24 hours, or whose id is not 1 to 128 letters, digits or - _ . (`invalid_body`, `invalid_rule`)", body = ErrorBody),
        (status = 409, description = "A built-in or tenant rule already has one of its ids (`conflict`)", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn create_rule(
    State(app): State<QueryApp>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let store = rule_store(&app)?;
    let others = store.list_rules().await?;
    let id = check_rule(&body.yaml, &others)?;
    let rule = tenant_rule(&app, &principal, id.clone(), body.yaml);
    if !store.put_rule(&rule, true).await? {
        return Err(ApiError::Conflict(format!(
            "a tenant rule `{id}` exists: PUT /rules/{id} replaces it"
        )));
    }
    tracing::info!(rule = %id, by = %principal.subject, "Tenant rule added.");
    stored_view(rule)
}

fn stored_view(rule: TenantRule) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let set = load_one(&rule.id, &rule.yaml).map_err(|e| rule_error(&e))?;
    let view = views(&set, Some(&rule))
        .into_iter()
        .next()
        .ok_or(ApiError::Internal)?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Replaces a tenant rule (admin role); the text's id must be the path's.
#[utoipa::path(put, path = "/rules/{id}",
    params(("id" = String, Path, max_length = 128, pattern = r"^[A-Za-z0-9._-]+$", description = "Rule id")),
    request_body = RuleBody,
    responses(
        (status = 200, description = "The rule as stored", body = RuleView),
        (status = 400, description = "Not a rule id; a body that is not the JSON object; a rule that does not load (naming the line and field), raises through more than one rule, counts over more than 24 hours, or whose id is not the path's (`invalid_parameter`, `invalid_body`, `invalid_rule`)", body = ErrorBody),
        (status = 404, description = "No tenant rule has this id (`not_found`)", body = ErrorBody),
        (status = 409, description = "A built-in rule (those are changed in `infra/detections/`), or an id of the text another rule has (`conflict`)", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn replace_rule(
    State(app): State<QueryApp>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<Json<RuleView>, ApiError> {
    check_rule_id(&id)?;
    if is_builtin(&id)? {
        return Err(builtin_refused(&id));
    }
    let store = rule_store(&app)?;
    let others = store.list_rules().await?;
    if !others.iter().any(|o| o.id == id) {
        return Err(ApiError::NotFound(format!("no tenant rule `{id}`")));
    }
    let text_id = check_rule(&body.yaml, &others)?;
    if text_id != id {
        return Err(ApiError::BadRequest {
            code: "invalid_rule",
            message: format!(
                "the rule's id is `{}`, not `{id}`: a rule keeps its id (POST /rules adds a new one)",
                shown(&text_id)
            ),
        });
    }
    let rule = tenant_rule(&app, &principal, id.clone(), body.yaml);
    if !store.put_rule(&rule, false).await? {
        return Err(ApiError::NotFound(format!("no tenant rule `{id}`")));
    }
    tracing::info!(rule = %id, by = %principal.subject, "Tenant rule replaced.");
    stored_view(rule).map(|(_, v)| v)
}

fn builtin_refused(id: &str) -> ApiError {
    ApiError::Conflict(format!(
        "`{id}` is a built-in rule: the pack is changed in infra/detections/, not through the API"
    ))
}

/// Deletes a tenant rule (admin role).
#[utoipa::path(delete, path = "/rules/{id}",
    params(("id" = String, Path, max_length = 128, pattern = r"^[A-Za-z0-9._-]+$", description = "Rule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a rule id (`invalid_parameter`)", body = ErrorBody),
        (status = 404, description = "No tenant rule has this id (`not_found`)", body = ErrorBody),
        (status = 409, description = "A built-in rule (`conflict`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn delete_rule(
    State(app): State<QueryApp>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_rule_id(&id)?;
    if is_builtin(&id)? {
        return Err(builtin_refused(&id));
    }
    if !rule_store(&app)?.delete_rule(&id).await? {
        return Err(ApiError::NotFound(format!("no tenant rule `{id}`")));
    }
    tracing::info!(rule = %id, by = %principal.subject, "Tenant rule deleted.");
    Ok(StatusCode::NO_CONTENT)
}

/// The range a rule test runs over.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleTestBody {
    /// Inclusive, RFC 3339 or a date. Default: a day before `end`.
    #[serde(default)]
    start: Option<String>,
    /// Exclusive. Default: now. At most 7 days after `start`.
    #[serde(default)]
    end: Option<String>,
}

/// What a rule would have raised.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RuleTestResult {
    rule_id: String,
    start: String,
    end: String,
    /// Stored events of the rule's source read (at most 10,000).
    events: u64,
    /// Of those, events whose raw record could not be read (evaluated on their normalized
    /// fields only).
    without_raw: u64,
    /// False when the test stopped at 10,000 events or its read budget: `searched_to` says how
    /// far back it got (events are read newest first).
    complete: bool,
    searched_to: Option<String>,
    /// The alerts it would have raised, oldest first (the lines `auditlake detect` prints).
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<serde_json::Value>,
}

/// Runs one rule over stored events and says what it would have raised (admin role). Nothing is
/// stored; threshold windows are counted over the range alone.
#[utoipa::path(post, path = "/rules/{id}/test",
    params(("id" = String, Path, max_length = 128, pattern = r"^[A-Za-z0-9._-]+$", description = "Rule id (built-in or tenant)")),
    request_body = RuleTestBody,
    responses(
        (status = 200, description = "What the rule would have raised", body = RuleTestResult),
        (status = 400, description = "Not a rule id; a body that is not the JSON object; a time that is not RFC 3339 or a date; `start` not before `end`, or more than 7 days apart (`invalid_parameter`, `invalid_body`)", body = ErrorBody),
        (status = 404, description = "No rule has this id (`not_found`)", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn test_rule(
    State(app): State<QueryApp>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RuleTestBody>,
) -> Result<Json<RuleTestResult>, ApiError> {
    check_rule_id(&id)?;
    let set = rule_by_id(&app, &id).await?;
    let source = set
        .rules()
        .find(|m| m.id == id)
        .map(|m| m.target.source)
        .ok_or_else(|| ApiError::NotFound(format!("no rule `{id}`")))?;
    let now = app.ports.clock.now();
    let end = body
        .end
        .as_deref()
        .map(|v| parse_instant("end", v))
        .transpose()?
        .unwrap_or(now);
    let start = body
        .start
        .as_deref()
        .map(|v| parse_instant("start", v))
        .transpose()?
        .unwrap_or(end - TimeDelta::days(1));
    if start >= end || end - start > TimeDelta::days(MAX_TEST_DAYS) {
        return Err(ApiError::invalid(format!(
            "`start` must be before `end`, and at most {MAX_TEST_DAYS} days before it"
        )));
    }
    let detector = detect::Detector::new(&set);
    let mut batch = detect::Batch::new(&detector);
    let mut before = None;
    let mut complete = true;
    let mut searched_to = None;
    let mut without_raw = 0;
    loop {
        let listing = list(
            app.ports.reader.as_ref(),
            &ListParams {
                filter: EventFilter {
                    source: Some(source),
                    ingested_by: Some(now),
                    ..EventFilter::default()
                },
                start,
                end,
                page_size: MAX_PAGE_SIZE,
                before: before.take(),
                budget: app.settings.read_budget,
                max_bytes: MAX_PAGE_BYTES,
            },
        )
        .await?;
        let raws = raw_records(&app, &listing.events).await;
        for (e, raw) in listing.events.iter().zip(&raws) {
            without_raw += u64::from(raw.is_none());
            batch.push(e, raw.as_ref());
        }
        match listing.next_before {
            Some(b) if (batch.events() as usize) < MAX_TEST_EVENTS => before = Some(b),
            Some(b) => {
                complete = false;
                searched_to = b.split_once('#').map(|(t, _)| t.to_owned());
                break;
            }
            None => break,
        }
    }
    let events = batch.events();
    let alerts = batch
        .finish()
        .await
        .iter()
        .filter(|a| a.rule_id == id)
        .map(|a| a.detect_line())
        .collect();
    Ok(Json(RuleTestResult {
        rule_id: id,
        start: fmt_time(start),
        end: fmt_time(end),
        events,
        without_raw,
        complete,
        searched_to,
        alerts,
    }))
}

/// The rule set holding rule `id`: its built-in file, or its tenant rule.
async fn rule_by_id(app: &QueryApp, id: &str) -> Result<RuleSet, ApiError> {
    if let Some(meta) = builtin()?.rules().find(|m| m.id == id) {
        let (file, text) = detect::pack::FILES
            .iter()
            .find(|(f, _)| *f == meta.origin)
            .ok_or(ApiError::Internal)?;
        return RuleSet::load([(*file, *text)]).map_err(|_| ApiError::Internal);
    }
    let store = rule_store(app)?;
    let rule = store
        .list_rules()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no rule `{id}`")))?;
    load_one(&rule.id, &rule.yaml).map_err(|e| rule_error(&e))
}

/// The raw records of `events`, each raw object read once; `None` where there is none.
async fn raw_records(app: &QueryApp, events: &[AuditEvent]) -> Vec<Option<serde_json::Value>> {
    use std::io::BufRead;
    let Some(raw) = app.ports.raw.as_deref() else {
        return events.iter().map(|_| None).collect();
    };
    let mut wanted: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in events {
        if let Some(r) = &e.raw_ref {
            wanted.entry(r.key.as_str()).or_default().push(r.line);
        }
    }
    let mut lines: HashMap<(String, u64), serde_json::Value> = HashMap::new();
    for (key, want) in wanted {
        if !key.starts_with("raw/") {
            continue;
        }
        let Ok(body) = raw.get(key).await else {
            continue;
        };
        let last = want.iter().copied().max().unwrap_or(0);
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(&body[..]));
        for (i, line) in reader.lines().enumerate() {
            let n = i as u64 + 1;
            if n > last {
                break;
            }
            let Ok(line) = line else { break };
            if want.contains(&n)
                && let Ok(v) = serde_json::from_str(&line)
            {
                lines.insert((key.to_owned(), n), v);
            }
        }
    }
    events
        .iter()
        .map(|e| match (&e.raw, &e.raw_ref) {
            (Some(r), _) => serde_json::from_str(r.get()).ok(),
            (None, Some(r)) => lines.remove(&(r.key.clone(), r.line)),
            (None, None) => None,
        })
        .collect()
}
