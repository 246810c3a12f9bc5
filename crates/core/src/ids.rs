//! Identifiers. Each kind is its own type so a flow id can never be passed where an interview id
//! is expected, and every one of them is parsed (never merely checked) at the boundary.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// Why a presented identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must be 24 hexadecimal characters")]
    ObjectId { what: &'static str },
    #[error(
        "clientId must be 2 to 63 characters of lowercase letters, digits, '-' or '_', starting with a letter or digit"
    )]
    ClientId,
}

macro_rules! object_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Twelve bytes shown as 24 lowercase hex characters, the shape Incode clients expect
        /// (MongoDB ObjectId style): a 4-byte big-endian creation second, so ids sort roughly by
        /// age, followed by 8 random bytes.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 12]);

        impl $name {
            /// What the id is called in error messages.
            pub const WHAT: &'static str = $what;

            /// A fresh id created at `now`.
            pub fn generate(now: OffsetDateTime) -> Self {
                let mut bytes = [0u8; 12];
                let secs = u32::try_from(now.unix_timestamp().max(0)).unwrap_or(u32::MAX);
                bytes[..4].copy_from_slice(&secs.to_be_bytes());
                rand::rng().fill(&mut bytes[4..]);
                Self(bytes)
            }

            /// Parses 24 hex characters (either case; stored and shown in lowercase).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let mut bytes = [0u8; 12];
                if s.len() != 24 || hex::decode_to_slice(s, &mut bytes).is_err() {
                    return Err(IdError::ObjectId { what: $what });
                }
                Ok(Self(bytes))
            }

            pub fn as_bytes(&self) -> &[u8; 12] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

object_id!(
    /// An onboarding session ("interview" in Incode's vocabulary).
    InterviewId,
    "interviewId"
);
object_id!(
    /// A flow configuration (Incode's `configurationId`).
    FlowId,
    "configurationId"
);
object_id!(
    /// A tenant's internal id; integrators see the [`ClientId`] instead.
    TenantId,
    "tenant id"
);
object_id!(
    /// An API key's id (not the key itself).
    ApiKeyId,
    "API key id"
);
object_id!(
    /// A tenant administrator (dashboard / executive user).
    AdminId,
    "admin id"
);

object_id!(
    /// A capture attempt (document side, selfie or liveness frames).
    CaptureId,
    "capture id"
);
object_id!(
    /// A head-turn challenge.
    ChallengeId,
    "challengeId"
);
object_id!(
    /// A durable verification job.
    JobId,
    "job id"
);

/// A tenant's public name (Incode's `clientId`), chosen by the operator.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok_len = (2..=63).contains(&s.len());
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok_len && first_ok && rest_ok { Ok(Self(s.to_owned())) } else { Err(IdError::ClientId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

impl Serialize for ClientId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Short human-readable code for a session (Incode's `interviewCode`), for support calls.
/// Not a secret and not unique: it never grants access to anything.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InterviewCode(String);

impl InterviewCode {
    /// Letters and digits that cannot be confused when read aloud or handwritten.
    const ALPHABET: &'static [u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let code = (0..6).map(|_| char::from(Self::ALPHABET[rng.random_range(0..Self::ALPHABET.len())])).collect();
        Self(code)
    }

    /// Accepts a stored code as it is.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InterviewCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for InterviewCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InterviewCode({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_are_24_lowercase_hex_and_round_trip() {
        let id = InterviewId::generate(OffsetDateTime::now_utc());
        let s = id.to_string();
        assert_eq!(s.len(), 24);
        assert!(s.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_eq!(InterviewId::parse(&s), Ok(id));
        assert_eq!(InterviewId::parse(&s.to_uppercase()), Ok(id));
    }

    #[test]
    fn ids_sort_by_creation_second() {
        let early = InterviewId::generate(OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(10));
        let late = InterviewId::generate(OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(11));
        assert!(early < late);
    }

    #[test]
    fn bad_object_ids_are_rejected() {
        for bad in [
            "",
            "abc",
            "64f9da8fba17800c83d6d96",
            "64f9da8fba17800c83d6d962a",
            "zzf9da8fba17800c83d6d962",
            "64f9da8fba17800c83d6d96\u{e9}",
        ] {
            assert!(FlowId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_ids() {
        for good in ["demo", "acme-bank", "a1", "0x_corp"] {
            assert!(ClientId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "-lead", "Upper", "has space", "ümlaut", &"x".repeat(64)] {
            assert!(ClientId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interview_codes_use_the_unambiguous_alphabet() {
        for _ in 0..100 {
            let code = InterviewCode::generate();
            assert_eq!(code.as_str().len(), 6);
            assert!(code.as_str().bytes().all(|b| InterviewCode::ALPHABET.contains(&b)));
        }
    }

    proptest! {
        #[test]
        fn object_id_parse_never_panics(s in "\\PC{0,40}") {
            let _ = InterviewId::parse(&s);
        }

        #[test]
        fn object_id_display_parse_round_trip(bytes in proptest::array::uniform12(any::<u8>())) {
            let id = InterviewId(bytes);
            prop_assert_eq!(InterviewId::parse(&id.to_string()), Ok(id));
        }
    }
}
