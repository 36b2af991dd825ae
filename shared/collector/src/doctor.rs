//! Preflight checks (`auditlake doctor`): turns Microsoft's silent or cryptic failures into plain
//! sentences before, or instead of, a failed pull. It gets a token (a wrong or expired secret is
//! named), then asks each source for one record of the last hour and explains what comes back: a
//! missing application permission, sign-ins without an Entra ID P1/P2 licence, message trace
//! without its service principal. It also reads the app registration's own credentials, when
//! the app may (`Application.Read.All`), to warn of a secret or certificate expiring within 30 days.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::auth::{ClientCredentials, TokenSource};
use crate::http::{ApiClient, ApiError, ClientBuildError, RetryPolicy};
use crate::sources::m365_activity::ContentType;
use crate::sources::{SourceError, SourcePuller, source_for};
use domain::config::{CredentialSource, PullerConfig};
use domain::model::{Source, Window};
use domain::store::ParameterStore;
use domain::stream::Stream;
use runtime::clock::{Clock, Deadline};

pub use domain::store::{Finding, Severity};

/// The Graph sources the doctor knows how to probe.
pub const GRAPH_SOURCES: [Source; 7] = [
    Source::EntraDirectoryAudits,
    Source::EntraSignIns,
    Source::IntuneAudit,
    Source::ExchangeMessageTrace,
    Source::EntraRiskDetections,
    Source::EntraProvisioning,
    Source::DefenderAlerts,
];

fn permission(source: Source) -> &'static str {
    match source {
        Source::EntraDirectoryAudits | Source::EntraSignIns | Source::EntraProvisioning => {
            "AuditLog.Read.All"
        }
        Source::EntraRiskDetections => "IdentityRiskEvent.Read.All",
        Source::DefenderAlerts => "SecurityAlert.Read.All",
        Source::IntuneAudit => "DeviceManagementApps.Read.All",
        Source::ExchangeMessageTrace => "ExchangeMessageTrace.Read.All",
        Source::M365Activity => "ActivityFeed.Read",
    }
}

/// Explains a probe's failure.
fn explain(source: Source, stream: Option<Stream>, err: &SourceError) -> Finding {
    let info = err.info();
    let what = match stream {
        Some(s) => format!("{source} ({s})"),
        None => source.to_string(),
    };
    let message = match err {
        SourceError::Api(ApiError::Api { code, .. }) if code == "AF10001" => {
            let permission = stream
                .and_then(Stream::content_type)
                .map_or("ActivityFeed.Read", ContentType::permission);
            format!(
                "{what}: the app registration lacks the Office 365 Management APIs application permission {permission} \
                 (or admin consent was not granted); add it under API permissions > Office 365 Management APIs and grant admin consent. \
                 Microsoft said: {}",
                info.message
            )
        }
        SourceError::Api(ApiError::Api { code, message, .. })
            if source == Source::M365Activity
                && code.starts_with("AF2001")
                && message.to_ascii_lowercase().contains("audit") =>
        {
            format!(
                "{what}: unified audit logging is not turned on for the tenant, so the Management Activity API has nothing to serve; \
                 turn it on in the Microsoft Purview portal (Audit > Start recording user and admin activity); it can take hours to take effect. \
                 Microsoft said: {message}"
            )
        }
        SourceError::Api(ApiError::Api {
            status: 403, code, ..
        }) if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" => {
            let (logs, licence) = match source {
                Source::EntraProvisioning => ("provisioning logs", "P1 or P2"),
                Source::EntraRiskDetections => ("risk detections", "P2"),
                _ => ("sign-in logs", "P1 or P2"),
            };
            format!(
                "{what}: Microsoft refuses {logs} because the tenant has no Microsoft Entra ID {licence} licence; \
                 buy or trial one (data appears up to 3 days later) or disable this source"
            )
        }
        // Identity Protection answers a tenant without Entra ID P2 with a plain 403 whose
        // message names the licence, not with the permission error (Authorization_RequestDenied).
        SourceError::Api(ApiError::Api {
            status: 403,
            code,
            message,
            ..
        }) if source == Source::EntraRiskDetections
            && code != "Authorization_RequestDenied"
            && message.to_ascii_lowercase().contains("licen") =>
        {
            format!(
                "{what}: Microsoft refuses risk detections because the tenant has no Microsoft Entra ID P2 licence \
                 (Identity Protection); buy or trial one or disable this source. Microsoft said: {message}"
            )
        }
        SourceError::Api(ApiError::Api { status: 403, .. }) => format!(
            "{what}: the app registration lacks the application permission {} (or admin consent was not granted); \
             add it under API permissions and grant admin consent. Microsoft said: {}",
            permission(source),
            info.message
        ),
        SourceError::Api(ApiError::Api { status: 401, .. })
            if source == Source::ExchangeMessageTrace =>
        {
            format!(
                "{what}: Microsoft answers 401: the tenant's Exchange message-trace service principal \
             (app id 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373) is not provisioned yet, or {} is missing; \
             provisioning can take hours to propagate",
                permission(source)
            )
        }
        _ => format!("{what}: {}", info.message),
    };
    Finding {
        severity: Severity::Error,
        source: Some(source),
        stream,
        code: info.code,
        message,
    }
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(default, rename = "passwordCredentials")]
    passwords: Vec<Credential>,
    #[serde(default, rename = "keyCredentials")]
    keys: Vec<Credential>,
}

#[derive(Deserialize)]
struct Credential {
    #[serde(default, rename = "displayName")]
    name: Option<String>,
    #[serde(default, rename = "endDateTime")]
    end: Option<String>,
}

/// Warns of the app's secrets and certificates that expire within 30 days (or have expired).
async fn credential_expiry(
    api: &ApiClient,
    config: &PullerConfig,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let url = format!(
        "{}/v1.0/applications(appId='{}')?$select=passwordCredentials,keyCredentials",
        config.endpoints.graph, config.client_id
    );
    let creds: Credentials = match api
        .get(&url, &Deadline::after(std::time::Duration::from_secs(30)))
        .await
    {
        Ok(r) => match serde_json::from_slice(&r.body) {
            Ok(c) => c,
            Err(_) => return Vec::new(),
        },
        Err(_) => {
            return vec![Finding {
                severity: Severity::Ok,
                source: None,
                stream: None,
                code: "ExpiryNotChecked".into(),
                message: "secret and certificate expiry not checked: the app may not read its own registration \
                          (Application.Read.All); watch the expiry dates in the Entra admin center"
                    .into(),
            }];
        }
    };
    let mut out = Vec::new();
    for (kind, list) in [
        ("client secret", &creds.passwords),
        ("certificate", &creds.keys),
    ] {
        for c in list {
            let Some(end) = c.end.as_deref().and_then(domain::model::parse_time) else {
                continue;
            };
            let name = c.name.clone().unwrap_or_else(|| "(unnamed)".into());
            let days = (end - now).num_days();
            if end <= now {
                out.push(Finding {
                    severity: Severity::Warning,
                    source: None,
                    stream: None,
                    code: "CredentialExpired".into(),
                    message: format!(
                        "{kind} {name} expired on {}; remove it from the app registration",
                        domain::model::fmt_time(end)
                    ),
                });
            } else if end - now <= TimeDelta::days(30) {
                out.push(Finding {
                    severity: Severity::Warning,
                    source: None,
                    stream: None,
                    code: "CredentialExpiresSoon".into(),
                    message: format!(
                        "{kind} {name} expires in {days} day(s), on {}: create a new one and update the SSM parameter before then",
                        domain::model::fmt_time(end)
                    ),
                });
            }
        }
    }
    out
}

/// Reads the certificate auditlake itself signs with (certificate auth) and warns when it expires
/// within 30 days: this needs no Graph permission, unlike [`credential_expiry`].
async fn stored_certificate_expiry(
    config: &PullerConfig,
    params: &dyn ParameterStore,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let CredentialSource::Certificate { param } = &config.credential else {
        return Vec::new();
    };
    let Ok(values) = params.get_secure(std::slice::from_ref(param)).await else {
        return Vec::new(); // The token check already reported an unreadable parameter.
    };
    let Some(end) = values
        .get(param)
        .and_then(|pem| crate::auth::certificate_not_after(pem.expose_secret()))
    else {
        return Vec::new();
    };
    let when = domain::model::fmt_time(end);
    let (severity, code, message) = if end <= now {
        (
            Severity::Error,
            "CertificateExpired",
            format!(
                "the certificate in {param} expired on {when}; upload a new one to the app registration and store it in {param}"
            ),
        )
    } else if end - now <= TimeDelta::days(30) {
        (
            Severity::Warning,
            "CertificateExpiresSoon",
            format!(
                "the certificate in {param} expires in {} day(s), on {when}: upload a new one to the app registration and store it in {param} before then",
                (end - now).num_days()
            ),
        )
    } else {
        (
            Severity::Ok,
            "CertificateValid",
            format!("the certificate in {param} is valid until {when}"),
        )
    };
    vec![Finding {
        severity,
        source: None,
        stream: None,
        code: code.into(),
        message,
    }]
}

/// Runs every check for `sources` and returns the findings, errors first.
pub async fn check(
    config: &PullerConfig,
    sources: &[Source],
    params: Arc<dyn ParameterStore>,
    clock: Arc<dyn Clock>,
) -> Result<Vec<Finding>, ClientBuildError> {
    check_streams(config, sources, None, None, true, params, clock).await
}

/// The checks of one stream at a puller's first run: token and probe, no expiry. The probe goes
/// through the puller's own source, so it is paced by the same request budget as the pull.
pub async fn check_stream(
    config: &PullerConfig,
    puller: Arc<dyn SourcePuller>,
    stream: Option<Stream>,
    params: Arc<dyn ParameterStore>,
    clock: Arc<dyn Clock>,
) -> Result<Vec<Finding>, ClientBuildError> {
    let source = puller.source();
    check_streams(
        config,
        &[source],
        Some(puller),
        Some(stream),
        false,
        params,
        clock,
    )
    .await
}

async fn check_streams(
    config: &PullerConfig,
    sources: &[Source],
    given: Option<Arc<dyn SourcePuller>>,
    only_stream: Option<Option<Stream>>,
    expiry: bool,
    params: Arc<dyn ParameterStore>,
    clock: Arc<dyn Clock>,
) -> Result<Vec<Finding>, ClientBuildError> {
    let http = reqwest::Client::builder()
        .timeout(config.http_timeout)
        .build()
        .map_err(|e| ClientBuildError(e.to_string()))?;
    let stored = params.clone();
    let tokens: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new(
        http.clone(),
        config.endpoints.token_url(&config.tenant_id),
        config.client_id.clone(),
        config.credential.clone(),
        params,
        clock.clone(),
    ));
    let mut findings = Vec::new();
    if let Err(e) = tokens.token(&config.endpoints.graph_scope).await {
        let info = e.info();
        findings.push(Finding {
            severity: Severity::Error,
            source: None,
            stream: None,
            code: info.code,
            message: format!("cannot get a token for Microsoft Graph: {}", info.message),
        });
        return Ok(findings);
    }
    findings.push(Finding {
        severity: Severity::Ok,
        source: None,
        stream: None,
        code: "TokenOk".into(),
        message: format!(
            "the app {} gets Microsoft Graph tokens in tenant {}",
            config.client_id, config.tenant_id
        ),
    });
    // One quick attempt per probe: the doctor reports, it does not wait out throttling.
    let policy = RetryPolicy {
        max_retries: 2,
        ..RetryPolicy::default()
    };
    let probe_config = PullerConfig {
        page_size: 1,
        max_retries: 2,
        ..config.clone()
    };
    let api = ApiClient::new(
        "Microsoft Graph",
        http.clone(),
        tokens.clone(),
        config.endpoints.graph_scope.clone(),
        clock.clone(),
        policy,
    );
    let now = clock.now();
    for &source in sources {
        let puller = match &given {
            Some(p) => p.clone(),
            // A probe never commits a blob, so the ledger can be a throwaway.
            None => source_for(
                source,
                &probe_config,
                http.clone(),
                tokens.clone(),
                clock.clone(),
                Arc::new(domain::store::ledger::MemoryLedger::default()),
            ),
        };
        let window = Window::new(now - config.lag - TimeDelta::hours(1), now - config.lag);
        let deadline = Deadline::after(std::time::Duration::from_secs(60));
        for stream in puller.streams() {
            if only_stream.is_some_and(|only| only != stream) {
                continue;
            }
            let probe = puller.probe(stream, window, &deadline).await;
            findings.push(match probe {
                Err(e) => explain(source, stream, &e),
                Ok(p) => Finding {
                    severity: Severity::Ok,
                    source: Some(source),
                    stream,
                    code: "ReadOk".into(),
                    message: format!(
                        "{source}{}: readable ({} {} in the last hour)",
                        stream.map(|s| format!(" ({s})")).unwrap_or_default(),
                        p.count,
                        p.what
                    ),
                },
            });
        }
    }
    if expiry {
        findings.extend(stored_certificate_expiry(config, stored.as_ref(), now).await);
        findings.extend(credential_expiry(&api, config, now).await);
    }
    findings.sort_by_key(|f| match f.severity {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Ok => 2,
    });
    Ok(findings)
}
