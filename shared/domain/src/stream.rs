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

/// A stream inside a source: its own checkpoint, lease and health. Sources without streams have
/// none (`Option<Stream>` is `None`). The name is the sign-in kind's or the content type's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    SignIn(SignInKind),
    Content(ContentType),
}

impl Stream {
    /// The stream's name (`interactiveUser`, `Audit.Exchange`), as in keys and summaries.
    pub const fn name(self) -> &'static str {
        match self {
            Stream::SignIn(k) => k.name(),
            Stream::Content(c) => c.name(),
        }
    }

    /// The sign-in kind, when this is a sign-in stream.
    pub const fn sign_in_kind(self) -> Option<SignInKind> {
        match self {
            Stream::SignIn(k) => Some(k),
            Stream::Content(_) => None,
        }
    }

    /// The content type, when this is a Management Activity API stream.
    pub const fn content_type(self) -> Option<ContentType> {
        match self {
            Stream::Content(c) => Some(c),
            Stream::SignIn(_) => None,
        }
    }
}

impl From<SignInKind> for Stream {
    fn from(k: SignInKind) -> Self {
        Stream::SignIn(k)
    }
}

impl From<ContentType> for Stream {
    fn from(c: ContentType) -> Self {
        Stream::Content(c)
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stream {
    type Err = String;
    /// A sign-in kind or a content type, spelled as [`SignInKind`] and [`ContentType`] accept
    /// (the two sets of names are disjoint).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<SignInKind>()
            .map(Stream::SignIn)
            .or_else(|_| s.parse::<ContentType>().map(Stream::Content))
            .map_err(|_| {
                format!("`{s}` is not a stream (a sign-in kind such as interactiveUser, or a content type such as Audit.Exchange)")
            })
    }
}

impl serde::Serialize for Stream {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Stream {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_round_trips_through_its_name_and_json() {
        let all = SignInKind::ALL
            .into_iter()
            .map(Stream::from)
            .chain(ContentType::ALL.into_iter().map(Stream::from));
        for s in all {
            assert_eq!(s.name().parse::<Stream>(), Ok(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
            assert_eq!(serde_json::from_str::<Stream>(&json).unwrap(), s);
        }
        assert!("interactiveUsr".parse::<Stream>().is_err());
        assert!(serde_json::from_str::<Stream>("\"Audit.Exchang\"").is_err());
    }
}
