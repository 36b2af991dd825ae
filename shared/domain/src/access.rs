//! Who a caller is and what they may do, as the query API, the console and the MCP server see it:
//! the [`Principal`] a token names, the ordered [`Role`]s (`auditlake.read` < `.annotate` <
//! `.admin`) and [`effective_role`] over app roles and groups, and the [`Authenticator`] port the
//! routes call. The Entra ID token verifier behind the port lives in the query crate
//! (`shared/query/src/auth.rs`); configuration maps groups to roles with the same [`Role`].

use std::str::FromStr;

use async_trait::async_trait;

/// The app role values the API's app registration exposes.
pub const ROLE_READ: &str = "auditlake.read";
pub const ROLE_ANNOTATE: &str = "auditlake.annotate";
pub const ROLE_ADMIN: &str = "auditlake.admin";

/// The subject of every request when authentication is switched off ([`Disabled`]).
pub const ANONYMOUS_SUBJECT: &str = "anonymous";

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller's object id (`oid`), else the token's `sub`.
    pub subject: String,
    /// Display name (`name`).
    pub name: Option<String>,
    /// Sign-in name (`preferred_username`, else `upn`).
    pub upn: Option<String>,
    /// App role values (`roles`), as the token carries them.
    pub roles: Vec<String>,
    /// Group object ids (`groups`), as the token carries them.
    pub groups: Vec<String>,
}

/// What a caller may do. Ordered: `Admin` implies `Annotate` implies `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Search and read events, sources and summaries (`auditlake.read`).
    Read,
    /// Also tag and comment on events (`auditlake.annotate`).
    Annotate,
    /// Everything (`auditlake.admin`).
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Read, Role::Annotate, Role::Admin];

    /// The app role value (`auditlake.read`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => ROLE_READ,
            Role::Annotate => ROLE_ANNOTATE,
            Role::Admin => ROLE_ADMIN,
        }
    }

    /// Whether holding `self` allows what `needed` allows.
    pub fn grants(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    /// Parses an app role value exactly as Entra sends it (`auditlake.read`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role '{s}'; use {ROLE_READ}, {ROLE_ANNOTATE} or {ROLE_ADMIN}")
            })
    }
}

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No bearer token: 401.
    #[error("no bearer token; send 'Authorization: Bearer <access token>'")]
    Missing,
    /// A token that fails a check: 401. The message names the check, never the token.
    #[error("invalid bearer token: {0}")]
    Invalid(String),
    /// The issuer or its key set cannot be reached, so no token can be checked: 503.
    #[error("tokens cannot be verified now: {0}")]
    Unavailable(String),
}

impl AuthError {
    /// The HTTP status this error answers with (401 or 503).
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Missing | AuthError::Invalid(_) => 401,
            AuthError::Unavailable(_) => 503,
        }
    }

    /// The `WWW-Authenticate` value of a 401 (RFC 6750 section 3); `None` for a 503.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            AuthError::Missing => Some("Bearer".to_string()),
            AuthError::Invalid(why) => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                why.replace(['"', '\\'], "'")
            )),
            AuthError::Unavailable(_) => None,
        }
    }
}

/// Turns an `Authorization` header into a [`Principal`].
#[async_trait]
pub trait Authenticator: Send + Sync {
    async fn authenticate(
        &self,
        authorization_header: Option<&str>,
    ) -> Result<Principal, AuthError>;
}

/// Role granted by the token's roles, or by its groups through `group_roles` (group object id ->
/// role); the highest wins. Role values are matched exactly (Entra sends them as registered);
/// group ids without regard to case (they are GUIDs).
pub fn effective_role(p: &Principal, group_roles: &[(String, Role)]) -> Option<Role> {
    let direct = p.roles.iter().filter_map(|r| r.parse::<Role>().ok());
    let via_groups = group_roles
        .iter()
        .filter(|(group, _)| p.groups.iter().any(|g| g.eq_ignore_ascii_case(group)))
        .map(|(_, role)| *role);
    direct.chain(via_groups).max()
}

/// Auth switched off explicitly: everyone is an anonymous admin. The router must say so on every
/// response and the log at start must warn.
#[derive(Debug, Default, Clone, Copy)]
pub struct Disabled;

#[async_trait]
impl Authenticator for Disabled {
    async fn authenticate(&self, _: Option<&str>) -> Result<Principal, AuthError> {
        Ok(Principal {
            subject: ANONYMOUS_SUBJECT.to_string(),
            name: Some("anonymous (authentication disabled)".to_string()),
            upn: None,
            roles: vec![ROLE_ADMIN.to_string()],
            groups: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[&str], groups: &[&str]) -> Principal {
        Principal {
            subject: "11111111-2222-3333-4444-555555555555".into(),
            name: None,
            upn: None,
            roles: roles.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn effective_role_takes_the_highest_grant_from_roles_and_groups() {
        let groups = vec![
            (
                "aaaaaaaa-0000-0000-0000-000000000001".to_string(),
                Role::Read,
            ),
            (
                "aaaaaaaa-0000-0000-0000-000000000002".to_string(),
                Role::Admin,
            ),
            (
                "aaaaaaaa-0000-0000-0000-000000000003".to_string(),
                Role::Annotate,
            ),
        ];
        let cases: Vec<(Principal, Option<Role>)> = vec![
            (principal(&[], &[]), None),
            (principal(&["auditlake.read"], &[]), Some(Role::Read)),
            (
                principal(&["auditlake.annotate"], &[]),
                Some(Role::Annotate),
            ),
            (
                principal(
                    &["auditlake.read", "auditlake.admin", "auditlake.annotate"],
                    &[],
                ),
                Some(Role::Admin),
            ),
            // Unknown or differently spelt roles grant nothing.
            (
                principal(
                    &["auditlake.superuser", "Auditlake.Admin", "auditlake.admin "],
                    &[],
                ),
                None,
            ),
            // Groups: by object id, in any letter case; unmapped groups grant nothing.
            (
                principal(&[], &["aaaaaaaa-0000-0000-0000-000000000001"]),
                Some(Role::Read),
            ),
            (
                principal(&[], &["AAAAAAAA-0000-0000-0000-000000000003", "bbbb"]),
                Some(Role::Annotate),
            ),
            (principal(&[], &["bbbb"]), None),
            // The highest of both wins, whichever side grants it.
            (
                principal(
                    &["auditlake.read"],
                    &["aaaaaaaa-0000-0000-0000-000000000002"],
                ),
                Some(Role::Admin),
            ),
            (
                principal(
                    &["auditlake.admin"],
                    &["aaaaaaaa-0000-0000-0000-000000000001"],
                ),
                Some(Role::Admin),
            ),
            (
                principal(
                    &["auditlake.annotate"],
                    &["aaaaaaaa-0000-0000-0000-000000000001"],
                ),
                Some(Role::Annotate),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(effective_role(&p, &groups), want, "{p:?}");
        }
        assert_eq!(
            effective_role(
                &principal(&[], &["aaaaaaaa-0000-0000-0000-000000000002"]),
                &[]
            ),
            None
        );
    }

    #[test]
    fn roles_are_ordered_and_named_as_registered() {
        assert!(Role::Admin > Role::Annotate && Role::Annotate > Role::Read);
        assert!(Role::Admin.grants(Role::Read) && Role::Annotate.grants(Role::Annotate));
        assert!(!Role::Read.grants(Role::Annotate) && !Role::Annotate.grants(Role::Admin));
        for (role, name) in [
            (Role::Read, "auditlake.read"),
            (Role::Annotate, "auditlake.annotate"),
            (Role::Admin, "auditlake.admin"),
        ] {
            assert_eq!(role.as_str(), name);
            assert_eq!(role.to_string(), name);
            assert_eq!(name.parse::<Role>(), Ok(role));
        }
        assert!(
            "admin"
                .parse::<Role>()
                .unwrap_err()
                .contains("unknown role 'admin'")
        );
    }
}
