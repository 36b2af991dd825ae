//! Pieces of the OpenAPI document that many routes share (issue 12, item 11: the document names
//! every status a route can answer and every limit it enforces): the failures of a route behind
//! the role check ([`Guarded`]: 401, 403, 503) and of one that reads the stores ([`StoreFailed`]:
//! 500), and the closed vocabularies a filter takes ([`SourceName`], [`ResultName`], [`SeverityName`],
//! [`AlertStatusName`]).
//! `tests/api/openapi.rs` holds these against the router and the core's enums.

use utoipa::{IntoResponses, ToSchema};

use super::error::ErrorBody;

/// What a route behind the role check (every route but `/health`, `/version`, `/openapi.json`)
/// answers when the caller cannot be let in.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Guarded {
    /// No bearer token, or one that fails a check (signature, issuer, audience, lifetime, an ID
    /// token instead of an access token, ...); the message names the check and never echoes the
    /// token. Code `unauthorized`.
    #[response(
        status = 401,
        headers(("WWW-Authenticate" = String, description = "`Bearer`"))
    )]
    Unauthorized(ErrorBody),
    /// A valid token without the role this route needs (app role or a group granted it). Code
    /// `forbidden`.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// A dependency did not answer: the token issuer's keys cannot be fetched, or (routes that
    /// read or write events) the store did not answer, or (hunting queries) no analytics engine is
    /// configured. Try again. Code `unavailable`.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What a route reading the stores answers when a stored item cannot be read.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum StoreFailed {
    /// A stored item is corrupt or missing its parts; the details are logged, never sent. Code
    /// `internal`.
    #[response(status = 500)]
    Internal(ErrorBody),
}

/// A source's contract name (`domain::model::Source`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum SourceName {
    #[schema(rename = "entra-directory-audits")]
    EntraDirectoryAudits,
    #[schema(rename = "entra-sign-ins")]
    EntraSignIns,
    #[schema(rename = "intune-audit")]
    IntuneAudit,
    #[schema(rename = "exchange-message-trace")]
    ExchangeMessageTrace,
    #[schema(rename = "entra-risk-detections")]
    EntraRiskDetections,
    #[schema(rename = "entra-provisioning")]
    EntraProvisioning,
    #[schema(rename = "defender-alerts")]
    DefenderAlerts,
    #[schema(rename = "m365-activity")]
    M365Activity,
}

/// An event's outcome (`domain::model::EventResult`).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ResultName {
    Success,
    Failure,
    Partial,
    Unknown,
}

/// An alert's severity (`domain::alert::Severity`, Sigma's levels).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum SeverityName {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

/// An alert's triage status (`domain::triage::AlertStatus`).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum AlertStatusName {
    Open,
    Acknowledged,
    Closed,
}
