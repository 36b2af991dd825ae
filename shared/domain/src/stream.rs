//! The streams inside a source, as closed enums: the kinds of Entra ID sign-in (Graph's
//! `signInEventTypes`) and the Management Activity API's five content types. Their names appear
//! in configuration, S3 keys, checkpoints and health; parsing a name that is not one of them is an
//! error, never a fallback.

use std::fmt;
use std::str::FromStr;

/// A kind of sign-in (Graph's `signInEventTypes` values); each is a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignInKind {
    InteractiveUser,
    NonInteractiveUser,
    ServicePrincipal,
    ManagedIdentity,
}

impl SignInKind {
    pub const ALL: [SignInKind; 4] = [
        SignInKind::InteractiveUser,
        SignInKind::NonInteractiveUser,
        SignInKind::ServicePrincipal,
        SignInKind::ManagedIdentity,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            SignInKind::InteractiveUser => "interactiveUser",
            SignInKind::NonInteractiveUser => "nonInteractiveUser",
            SignInKind::ServicePrincipal => "servicePrincipal",
            SignInKind::ManagedIdentity => "managedIdentity",
        }
    }
}

impl fmt::Display for SignInKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignInKind {
    type Err = String;
    /// Case-insensitive, ignoring `-` and `_` (`interactiveUser`, `managed-identity`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fold = |x: &str| -> String {
            x.chars()
                .filter(|c| !matches!(c, '-' | '_') && !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase()
        };
        SignInKind::ALL
            .into_iter()
            .find(|k| fold(k.name()) == fold(s))
            .ok_or_else(|| {
                format!("`{s}` is not a sign-in kind (interactiveUser, nonInteractiveUser, servicePrincipal, managedIdentity)")
            })
    }
}

/// The five content types, each a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    AzureActiveDirectory,
    Exchange,
    SharePoint,
    General,
    Dlp,
}

impl ContentType {
    pub const ALL: [ContentType; 5] = [
        ContentType::AzureActiveDirectory,
        ContentType::Exchange,
        ContentType::SharePoint,
        ContentType::General,
        ContentType::Dlp,
    ];

    /// Microsoft's name, also the stream name and the `content_type=` of S3 keys.
    pub const fn name(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            ContentType::Exchange => "Audit.Exchange",
            ContentType::SharePoint => "Audit.SharePoint",
            ContentType::General => "Audit.General",
            ContentType::Dlp => "DLP.All",
        }
    }

    /// The application permission reading this content type needs.
    pub const fn permission(self) -> &'static str {
        match self {
            ContentType::Dlp => "ActivityFeed.Read and ActivityFeed.ReadDlp",
            _ => "ActivityFeed.Read",
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ContentType {
    type Err = String;
    /// Case-insensitive; the `Audit.` prefix may be left out (`exchange`, `dlp.all`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let want = s.trim().to_ascii_lowercase();
        ContentType::ALL
            .into_iter()
            .find(|c| {
                let name = c.name().to_ascii_lowercase();
                name == want
                    || name.strip_prefix("audit.") == Some(want.as_str())
                    || (want == "dlp" && *c == ContentType::Dlp)
            })
            .ok_or_else(|| {
                format!("`{s}` is not a content type (Audit.AzureActiveDirectory, Audit.Exchange, Audit.SharePoint, Audit.General, DLP.All)")
            })
    }
}
