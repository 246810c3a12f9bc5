//! Bearer secrets: API keys and the tokens that stand for a session, a hosted-flow page, an
//! executive login or an onboarding link.
//!
//! Every secret is 256 random bits. Only its SHA-256 is stored: a fast hash is right here
//! because the input has full entropy (passwords, which do not, use argon2 instead). The kind
//! prefix lets people and secret scanners recognise a leaked value; it is not trusted for
//! authorisation, the stored record's kind is.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};

/// What a bearer secret grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// Tenant API key (`x-api-key`).
    ApiKey,
    /// One session's token (`X-Incode-Hardware-Id`), returned by `/omni/start`.
    Session,
    /// A tenant administrator's executive token, returned by `/executive/log-in`.
    Executive,
    /// The secret part of an onboarding URL; exchanged by the hosted page for a flow token.
    Link,
    /// What the hosted page holds in memory while the person captures.
    Flow,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "vfk_",
            SecretKind::Session => "vfs_",
            SecretKind::Executive => "vfe_",
            SecretKind::Link => "vfl_",
            SecretKind::Flow => "vff_",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "api_key",
            SecretKind::Session => "session",
            SecretKind::Executive => "executive",
            SecretKind::Link => "link",
            SecretKind::Flow => "flow",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "api_key" => SecretKind::ApiKey,
            "session" => SecretKind::Session,
            "executive" => SecretKind::Executive,
            "link" => SecretKind::Link,
            "flow" => SecretKind::Flow,
            _ => return None,
        })
    }
}

/// A secret as presented by a caller or freshly generated. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Longest secret we bother to hash; anything longer cannot be ours.
const MAX_PRESENTED_LEN: usize = 256;

impl Secret {
    /// 256 fresh random bits, URL-safe base64, with the kind's prefix.
    pub fn generate(kind: SecretKind) -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes);
        Self(format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts a presented value if it could possibly be one of ours (printable ASCII, bounded
    /// length). The value is not checked against the store here.
    pub fn parse_presented(s: &str) -> Option<Self> {
        let s = s.trim();
        let plausible = !s.is_empty() && s.len() <= MAX_PRESENTED_LEN && s.bytes().all(|b| b.is_ascii_graphic());
        plausible.then(|| Self(s.to_owned()))
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The value itself, for the one response or console line that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A short, non-secret prefix (kind + 4 characters) for listings such as `keys list`.
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(8).collect()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// SHA-256 of a secret: what the store keeps and looks up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", hex::encode(&self.0[..4]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_unique_prefixed_and_carry_256_bits() {
        let a = Secret::generate(SecretKind::Session);
        let b = Secret::generate(SecretKind::Session);
        assert_ne!(a, b);
        assert!(a.expose().starts_with("vfs_"));
        // 32 bytes in unpadded base64 are 43 characters.
        assert_eq!(a.expose().len(), 4 + 43);
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::generate(SecretKind::ApiKey);
        assert!(!format!("{s:?}").contains(&s.expose()[4..]));
    }

    #[test]
    fn presented_values_are_bounded_and_printable() {
        assert!(Secret::parse_presented("").is_none());
        assert!(Secret::parse_presented("   ").is_none());
        assert!(Secret::parse_presented("a b").is_none());
        assert!(Secret::parse_presented(&"x".repeat(257)).is_none());
        assert!(Secret::parse_presented("caf\u{e9}").is_none());
        let s = Secret::generate(SecretKind::Flow);
        assert_eq!(Secret::parse_presented(&format!(" {} ", s.expose())), Some(s));
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [SecretKind::ApiKey, SecretKind::Session, SecretKind::Executive, SecretKind::Link, SecretKind::Flow]
        {
            assert_eq!(SecretKind::parse(kind.as_str()), Some(kind));
        }
    }
}
