//! Sigma's `logsource` (`product` / `service` / `category`) mapped to auditlake's sources and
//! streams, so a rule runs only on the events it was written for.
//!
//! | logsource | runs on |
//! |---|---|
//! | `product: azure`, `service: signinlogs` (Sentinel's `SigninLogs`; SigmaHQ uses it for every kind) | `entra-sign-ins`, every stream |
//! | `product: azure`, `service: noninteractiveusersigninlogs` / `serviceprincipalsigninlogs` / `managedidentitysigninlogs` | that stream of `entra-sign-ins` |
//! | `product: azure`, `service: auditlogs` (older rules: `audit`, `entra_id`) | `entra-directory-audits` |
//! | `product: m365` (any service: `exchange`, `threat_management`, `audit`, `sharepoint`, ...) | `m365-activity`, the content type the service names, or every one |
//! | no product, `service: m365` / `office365` / `microsoft365` (older SigmaHQ rules) | `m365-activity` |
//! | `product: azure`, `service: riskdetection` (SigmaHQ's Identity Protection rules) | `entra-risk-detections` |
//! | `product: azure`, `service: provisioninglogs` (the diagnostic category `ProvisioningLogs`) | `entra-provisioning` |
//! | `product: intune` | `intune-audit` |
//! | `product: exchange`, `service: messagetrace` | `exchange-message-trace` |
//! | `product: auditlake`, `service: <source>`, optional `category: <stream>` | that source (and stream) |
//!
//! Anything else (Azure activity logs, Windows, ...) is not collected by auditlake: such a rule
//! is refused with a message naming the logsource, never loaded to match nothing.

use domain::model::Source;
use domain::stream::{ContentType, SignInKind, Stream};
use rsigma_parser::LogSource;

/// Where a rule runs: a source, and the streams of it (`None`: every stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub source: Source,
    pub streams: Option<Vec<Stream>>,
}

impl Target {
    fn all(source: Source) -> Self {
        Target {
            source,
            streams: None,
        }
    }

    fn one(source: Source, stream: Stream) -> Self {
        Target {
            source,
            streams: Some(vec![stream]),
        }
    }

    /// Does an event of `source` in `stream` belong here? An event whose stream is not known (a
    /// file given to `auditlake detect` without `--stream`) belongs to every stream of its source:
    /// the rule's own conditions (an operation name, a workload) still have to match.
    pub fn covers(&self, source: Source, stream: Option<&str>) -> bool {
        self.source == source
            && match (&self.streams, stream) {
                (None, _) | (Some(_), None) => true,
                (Some(list), Some(s)) => list.iter().any(|l| l.name() == s),
            }
    }
}

fn lower(v: &Option<String>) -> Option<String> {
    v.as_deref().map(|s| s.trim().to_ascii_lowercase())
}

/// The target of a logsource, or why there is none.
pub fn target_of(ls: &LogSource) -> Result<Target, String> {
    let product = lower(&ls.product);
    let service = lower(&ls.service);
    let category = ls.category.as_deref().map(str::trim);
    let describe = || {
        format!(
            "logsource (product: {}, service: {}) is not one auditlake collects; use product azure \
             (signinlogs, auditlogs, riskdetection, provisioninglogs), m365, intune, exchange (messagetrace) or auditlake \
             (service: a source name)",
            ls.product.as_deref().unwrap_or("-"),
            ls.service.as_deref().unwrap_or("-")
        )
    };
    match (product.as_deref(), service.as_deref()) {
        (Some("azure"), Some("signinlogs")) => Ok(Target::all(Source::EntraSignIns)),
        (Some("azure"), Some("noninteractiveusersigninlogs")) => Ok(Target::one(
            Source::EntraSignIns,
            SignInKind::NonInteractiveUser.into(),
        )),
        (Some("azure"), Some("serviceprincipalsigninlogs")) => Ok(Target::one(
            Source::EntraSignIns,
            SignInKind::ServicePrincipal.into(),
        )),
        (Some("azure"), Some("managedidentitysigninlogs")) => Ok(Target::one(
            Source::EntraSignIns,
            SignInKind::ManagedIdentity.into(),
        )),
        // `audit` and `entra_id` are older SigmaHQ names of the same log.
        (Some("azure"), Some("auditlogs" | "audit" | "entra_id")) => {
            Ok(Target::all(Source::EntraDirectoryAudits))
        }
        (Some("azure"), Some("riskdetection")) => Ok(Target::all(Source::EntraRiskDetections)),
        (Some("azure"), Some("provisioninglogs")) => Ok(Target::all(Source::EntraProvisioning)),
        (Some("m365"), service) => Ok(match service.and_then(content_type_of_service) {
            Some(ct) => Target::one(Source::M365Activity, ct.into()),
            None => Target::all(Source::M365Activity),
        }),
        // Older SigmaHQ Microsoft 365 rules name the service and no product.
        (None, Some("m365" | "office365" | "microsoft365")) => {
            Ok(Target::all(Source::M365Activity))
        }
        (Some("intune"), _) => Ok(Target::all(Source::IntuneAudit)),
        (Some("exchange"), Some("messagetrace")) => Ok(Target::all(Source::ExchangeMessageTrace)),
        (Some("auditlake"), Some(service)) => {
            let source: Source = service
                .parse()
                .map_err(|_| format!("logsource service `{service}` is not an auditlake source"))?;
            match category {
                None => Ok(Target::all(source)),
                Some(c) => {
                    let stream: Stream = c.parse()?;
                    Ok(Target::one(source, stream))
                }
            }
        }
        _ => Err(describe()),
    }
}

/// SigmaHQ's `m365` services and the Management API content type that carries them.
fn content_type_of_service(service: &str) -> Option<ContentType> {
    match service {
        "exchange" => Some(ContentType::Exchange),
        "sharepoint" | "onedrive" => Some(ContentType::SharePoint),
        "azureactivedirectory" => Some(ContentType::AzureActiveDirectory),
        "threat_management" | "threat_detection" | "general" => Some(ContentType::General),
        "dlp" => Some(ContentType::Dlp),
        // `audit` and anything else: every content type.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(product: &str, service: Option<&str>, category: Option<&str>) -> LogSource {
        LogSource {
            product: Some(product.into()),
            service: service.map(Into::into),
            category: category.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn sentinel_and_sigmahq_names_map_to_sources() {
        let t = target_of(&ls("azure", Some("SigninLogs"), None)).unwrap();
        assert_eq!(t, Target::all(Source::EntraSignIns));
        let t = target_of(&ls("azure", Some("auditlogs"), None)).unwrap();
        assert!(t.covers(Source::EntraDirectoryAudits, None));
        let t = target_of(&ls("azure", Some("riskdetection"), None)).unwrap();
        assert_eq!(t, Target::all(Source::EntraRiskDetections));
        let t = target_of(&ls("azure", Some("ProvisioningLogs"), None)).unwrap();
        assert_eq!(t, Target::all(Source::EntraProvisioning));
        let t = target_of(&ls("m365", Some("exchange"), None)).unwrap();
        assert!(t.covers(Source::M365Activity, Some("Audit.Exchange")));
        assert!(!t.covers(Source::M365Activity, Some("Audit.SharePoint")));
        assert!(
            t.covers(Source::M365Activity, None),
            "an unknown stream is every stream"
        );
        assert!(!t.covers(Source::EntraSignIns, None));
        let t = target_of(&ls(
            "auditlake",
            Some("entra-sign-ins"),
            Some("servicePrincipal"),
        ))
        .unwrap();
        assert!(t.covers(Source::EntraSignIns, Some("servicePrincipal")));
        assert!(!t.covers(Source::EntraSignIns, Some("interactiveUser")));
        // Older SigmaHQ names.
        let t = target_of(&ls("azure", Some("entra_id"), None)).unwrap();
        assert_eq!(t, Target::all(Source::EntraDirectoryAudits));
        let old = LogSource {
            service: Some("Office365".into()),
            ..Default::default()
        };
        assert_eq!(target_of(&old).unwrap(), Target::all(Source::M365Activity));
    }

    #[test]
    fn sources_auditlake_does_not_collect_are_refused_by_name() {
        let e = target_of(&ls("windows", None, Some("process_creation"))).unwrap_err();
        assert!(e.contains("product: windows"), "{e}");
        let e = target_of(&ls("azure", Some("activitylogs"), None)).unwrap_err();
        assert!(e.contains("activitylogs"), "{e}");
        assert!(target_of(&ls("auditlake", Some("nope"), None)).is_err());
        assert!(target_of(&ls("auditlake", Some("entra-sign-ins"), Some("nope"))).is_err());
    }
}
