//! Entra ID sign-ins, one stream per kind: interactive user sign-ins from
//! `GET /v1.0/auditLogs/signIns`; non-interactive user, service principal and managed identity
//! sign-ins from `GET /beta/auditLogs/signIns` with `signInEventTypes/any(t: t eq '<kind>')`, one
//! query per kind (v1.0 returns interactive sign-ins only). Windowed on `createdDateTime`, one-hour
//! chunks, 30 days of history. Needs `AuditLog.Read.All` and Entra ID P1 or P2: without the licence
//! Microsoft answers 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`, reported as such.

use chrono::TimeDelta;

use super::graph::{GraphSpec, Query};
use domain::model::Source;
use domain::stream::Stream;

pub use domain::stream::SignInKind;

pub struct EntraSignIns {
    kinds: Vec<SignInKind>,
}

impl EntraSignIns {
    pub fn new(kinds: Vec<SignInKind>) -> Self {
        EntraSignIns { kinds }
    }
}

impl GraphSpec for EntraSignIns {
    fn source(&self) -> Source {
        Source::EntraSignIns
    }

    fn streams(&self) -> Vec<Option<Stream>> {
        self.kinds
            .iter()
            .map(|&k| Some(Stream::SignIn(k)))
            .collect()
    }

    fn query(&self, stream: Option<Stream>) -> Query {
        // Every stream of this source is a sign-in kind (the type says so); `None` is only
        // asked by a caller that names no stream, and reads the v1.0 collection.
        match stream
            .and_then(Stream::sign_in_kind)
            .unwrap_or(SignInKind::InteractiveUser)
        {
            SignInKind::InteractiveUser => Query {
                path: "v1.0/auditLogs/signIns".into(),
                extra_filter: None,
            },
            kind => Query {
                path: "beta/auditLogs/signIns".into(),
                extra_filter: Some(format!("signInEventTypes/any(t: t eq '{kind}')")),
            },
        }
    }

    fn time_field(&self) -> &'static str {
        "createdDateTime"
    }

    fn chunk(&self) -> TimeDelta {
        TimeDelta::hours(1)
    }

    fn history(&self) -> TimeDelta {
        TimeDelta::days(30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactive_reads_v1_and_other_kinds_read_beta_with_a_kind_filter() {
        let spec = EntraSignIns::new(SignInKind::ALL.to_vec());
        assert_eq!(spec.streams().len(), 4);
        let q = spec.query(Some(Stream::SignIn(SignInKind::InteractiveUser)));
        assert_eq!(q.path, "v1.0/auditLogs/signIns");
        assert_eq!(q.extra_filter, None);
        let q = spec.query(Some(Stream::SignIn(SignInKind::ManagedIdentity)));
        assert_eq!(q.path, "beta/auditLogs/signIns");
        assert_eq!(
            q.extra_filter.as_deref(),
            Some("signInEventTypes/any(t: t eq 'managedIdentity')")
        );
        assert_eq!(
            "NONINTERACTIVEUSER".parse::<SignInKind>(),
            Ok(SignInKind::NonInteractiveUser)
        );
        assert!("robot".parse::<SignInKind>().is_err());
    }
}
