//! Who is calling the query API and what they may do. This is the agreed interface of the
//! bearer-token check: an [`Authenticator`] turns the `Authorization` header into a [`Principal`]
//! (or an [`AuthError`]: 401 for a missing or invalid token, 503 when the issuer's keys cannot be
//! fetched), and [`effective_role`] maps its app roles, or its groups through the configured
//! `group -> role` pairs, to a [`Role`]. This file is the placeholder the JWT verifier replaces; it
//! implements the role mapping and [`Disabled`] (auth explicitly switched off) for real.

/// The caller, as its token describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub name: Option<String>,
    pub upn: Option<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
}

/// What a caller may do; each role implies the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `auditlake.read`: search and read events, sources and summaries.
    Read,
    /// `auditlake.annotate`: tag and comment events.
    Annotate,
    /// `auditlake.admin`: everything.
    Admin,
}

impl Role {
    /// The app-role value in the token.
    pub const fn claim(self) -> &'static str {
        match self {
            Role::Read => "auditlake.read",
            Role::Annotate => "auditlake.annotate",
            Role::Admin => "auditlake.admin",
        }
    }

    fn from_claim(s: &str) -> Option<Role> {
        [Role::Read, Role::Annotate, Role::Admin]
            .into_iter()
            .find(|r| r.claim() == s)
    }
}

/// Why a request carries no usable identity.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the bearer token is not valid: {0}")]
    Invalid(String),
    #[error("tokens cannot be checked right now: {0}")]
    Unavailable(String),
}

/// Checks the `Authorization` header of a request.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    async fn authenticate(
        &self,
        authorization_header: Option<&str>,
    ) -> Result<Principal, AuthError>;
}

/// Role granted by the token's roles, or by its groups through `group_roles` (group object id ->
/// role); the highest one wins.
pub fn effective_role(p: &Principal, group_roles: &[(String, Role)]) -> Option<Role> {
    let by_role = p.roles.iter().filter_map(|r| Role::from_claim(r));
    let by_group = group_roles
        .iter()
        .filter(|(g, _)| p.groups.iter().any(|pg| pg.eq_ignore_ascii_case(g)))
        .map(|(_, r)| *r);
    by_role.chain(by_group).max()
}

/// Auth switched off explicitly: everyone is an anonymous admin.
pub struct Disabled;

#[async_trait::async_trait]
impl Authenticator for Disabled {
    async fn authenticate(&self, _: Option<&str>) -> Result<Principal, AuthError> {
        Ok(Principal {
            subject: "anonymous".into(),
            name: Some("anonymous (auth disabled)".into()),
            upn: None,
            roles: vec![Role::Admin.claim().into()],
            groups: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(roles: &[&str], groups: &[&str]) -> Principal {
        Principal {
            subject: "s".into(),
            name: None,
            upn: None,
            roles: roles.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn roles_and_groups_map_to_the_highest_role() {
        let groups = vec![
            ("g-read".to_string(), Role::Read),
            ("g-admin".into(), Role::Admin),
        ];
        assert_eq!(effective_role(&who(&[], &[]), &groups), None);
        assert_eq!(effective_role(&who(&["other"], &[]), &groups), None);
        assert_eq!(
            effective_role(&who(&["auditlake.read"], &[]), &groups),
            Some(Role::Read)
        );
        assert_eq!(
            effective_role(
                &who(&["auditlake.read", "auditlake.annotate"], &[]),
                &groups
            ),
            Some(Role::Annotate)
        );
        assert_eq!(
            effective_role(&who(&[], &["g-read"]), &groups),
            Some(Role::Read)
        );
        assert_eq!(
            effective_role(&who(&["auditlake.read"], &["g-admin"]), &groups),
            Some(Role::Admin)
        );
        assert!(Role::Admin > Role::Annotate && Role::Annotate > Role::Read);
    }
}
