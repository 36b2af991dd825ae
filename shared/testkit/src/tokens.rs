//! Test helpers for the query API: [`StaticTokens`], an authenticator that knows a fixed set of
//! bearer strings, so every role, 401 and 403 path can be exercised without an issuer.

use std::collections::HashMap;

use domain::access::{AuthError, Authenticator, Principal};

/// Bearer string -> principal; anything else is invalid, no header is missing.
#[derive(Default)]
pub struct StaticTokens {
    tokens: HashMap<String, Principal>,
}

impl StaticTokens {
    /// Adds a token for a principal with these app roles and groups.
    pub fn with(mut self, token: &str, subject: &str, roles: &[&str], groups: &[&str]) -> Self {
        self.tokens.insert(
            token.to_string(),
            Principal {
                subject: subject.to_string(),
                name: Some(format!("{subject} (test)")),
                upn: Some(format!("{subject}@example.test")),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
            },
        );
        self
    }
}

#[async_trait::async_trait]
impl Authenticator for StaticTokens {
    async fn authenticate(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header.strip_prefix("Bearer ").ok_or_else(|| {
            AuthError::Invalid("the Authorization header is not `Bearer <token>`".into())
        })?;
        self.tokens
            .get(token.trim())
            .cloned()
            .ok_or_else(|| AuthError::Invalid("unknown token".into()))
    }
}
