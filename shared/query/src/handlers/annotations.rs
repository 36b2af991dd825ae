//! The annotation routes (annotate role): `PATCH /events/{id}/tags` (at most 50 tags per event,
//! a condition of the store's write) and `POST /events/{id}/comments`; comments on alerts are
//! checked and made the same way ([`new_comment`]).

use super::*;

/// Tags to add and remove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TagsBody {
    /// Tags to add: each 1 to 64 letters, digits, spaces or - _ . : /, none twice; an event
    /// holds at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    add: Vec<String>,
    /// Tags to remove (absent ones are ignored); at most 50 tags in `add` and `remove` together.
    #[serde(default)]
    #[schema(max_items = 50)]
    remove: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TagsView {
    id: String,
    tags: Vec<String>,
}

fn check_tags(tags: &[String]) -> Result<(), ApiError> {
    for t in tags {
        let ok = !t.is_empty()
            && t.chars().count() <= MAX_TAG_CHARS
            && t.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | ' '));
        if !ok {
            return Err(ApiError::BadRequest {
                code: "invalid_body",
                message: format!(
                    "tag `{t}` must be 1 to {MAX_TAG_CHARS} letters, digits, spaces or - _ . : /"
                ),
            });
        }
    }
    Ok(())
}

/// Adds and removes tags (annotate role); returns the event's tags.
#[utoipa::path(patch, path = "/events/{id}/tags",
    params(("id" = String, Path, max_length = 2048, pattern = r"^(entra-directory-audits|entra-sign-ins|intune-audit|exchange-message-trace|entra-risk-detections|entra-provisioning|defender-alerts|m365-activity):.+$",
        description = "Event id, `<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>` (the event time to the second), at most 2048 bytes")),
    request_body = TagsBody,
    responses(
        (status = 200, description = "The event's tags after the change", body = TagsView),
        (status = 400, description = "Not an event id; a body that is not the JSON object (unknown field, wrong type); neither `add` nor `remove`; over 50 tags in one request; a tag given twice; a tag that is empty, longer than 64 characters or has other characters than letters, digits, spaces and - _ . : /; or a change that would leave the event with over 50 tags (`invalid_parameter`, `invalid_body`)", body = ErrorBody),
        (status = 404, description = "No such event (`not_found`)", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn patch_tags(
    State(app): State<QueryApp>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TagsBody>,
) -> Result<Json<TagsView>, ApiError> {
    check_id(&id)?;
    if body.add.is_empty() && body.remove.is_empty() {
        return Err(ApiError::BadRequest {
            code: "invalid_body",
            message: "give tags to `add` or `remove`".into(),
        });
    }
    if body.add.len() + body.remove.len() > MAX_TAGS {
        return Err(ApiError::BadRequest {
            code: "invalid_body",
            message: format!("at most {MAX_TAGS} tags per request"),
        });
    }
    check_tags(&body.add)?;
    check_tags(&body.remove)?;
    // DynamoDB refuses a string set with repeats, so they are refused here rather than turning
    // into a 503; a tag both added and removed has no meaning.
    for (name, list) in [("add", &body.add), ("remove", &body.remove)] {
        let mut seen = std::collections::HashSet::new();
        if let Some(t) = list.iter().find(|t| !seen.insert(t.as_str())) {
            return Err(ApiError::BadRequest {
                code: "invalid_body",
                message: format!("tag `{t}` is in `{name}` more than once"),
            });
        }
    }
    if let Some(t) = body.add.iter().find(|t| body.remove.contains(t)) {
        return Err(ApiError::BadRequest {
            code: "invalid_body",
            message: format!("tag `{t}` is in both `add` and `remove`"),
        });
    }
    match app
        .ports
        .annotator
        .update_tags(&id, &body.add, &body.remove, MAX_TAGS)
        .await?
    {
        TagUpdate::Done(tags) => Ok(Json(TagsView { id, tags })),
        TagUpdate::NoEvent => Err(no_event(&id)),
        TagUpdate::TooMany { limit } => Err(ApiError::BadRequest {
            code: "too_many_tags",
            message: format!(
                "an event carries at most {limit} tags; remove some before adding these"
            ),
        }),
    }
}

/// A new comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CommentBody {
    /// 1 to 4000 characters once trimmed.
    #[schema(min_length = 1, max_length = 4000)]
    text: String,
}

/// Comments on an event (annotate role); the author is the token's subject.
#[utoipa::path(post, path = "/events/{id}/comments",
    params(("id" = String, Path, max_length = 2048, pattern = r"^(entra-directory-audits|entra-sign-ins|intune-audit|exchange-message-trace|entra-risk-detections|entra-provisioning|defender-alerts|m365-activity):.+$",
        description = "Event id, `<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>` (the event time to the second), at most 2048 bytes")),
    request_body = CommentBody,
    responses(
        (status = 201, description = "The comment as stored", body = CommentSchema),
        (status = 400, description = "Not an event id; a body that is not the JSON object (unknown field, wrong type); or `text` empty once trimmed or over 4000 characters (`invalid_parameter`, `invalid_body`)", body = ErrorBody),
        (status = 404, description = "No such event (`not_found`)", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
pub(super) async fn post_comment(
    State(app): State<QueryApp>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CommentBody>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    check_id(&id)?;
    let comment = new_comment(&app, &principal, &body)?;
    if !app.ports.annotator.add_comment(&id, &comment).await? {
        return Err(no_event(&id));
    }
    Ok((StatusCode::CREATED, Json(comment)))
}

/// A comment by the caller, its text checked (events and alerts take the same comments).
pub(super) fn new_comment(
    app: &QueryApp,
    principal: &Principal,
    body: &CommentBody,
) -> Result<Comment, ApiError> {
    let text = body.text.trim().to_string();
    if text.is_empty() || text.chars().count() > MAX_COMMENT_CHARS {
        return Err(ApiError::BadRequest {
            code: "invalid_body",
            message: format!("`text` must be 1 to {MAX_COMMENT_CHARS} characters"),
        });
    }
    Ok(Comment {
        id: uuid::Uuid::new_v4().simple().to_string(),
        author: principal.subject.clone(),
        author_name: principal.name.clone().or(principal.upn.clone()),
        text,
        created_at: fmt_time(app.ports.clock.now()),
    })
}
