//! Validated text values that arrive from integrators. Each is parsed once at the boundary;
//! code further in can rely on the invariant.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a presented value was rejected; the message names the field the way the API does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from our own store, where it was stored after parsing.
            pub fn from_stored(s: String) -> Self {
                Self(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// `countryCode`: `ALL`, or an ISO 3166 alpha-2 or alpha-3 code, stored upper-case.
    CountryCode
);

impl CountryCode {
    pub fn all() -> Self {
        Self("ALL".into())
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let up = s.trim().to_ascii_uppercase();
        if (2..=3).contains(&up.len()) && up.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(up))
        } else {
            Err(InvalidValue::new("countryCode", "expected \"ALL\" or an ISO 3166 alpha-2/alpha-3 code"))
        }
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.0)
    }
}

text_newtype!(
    /// `language`: a BCP 47 tag such as `en-US` or `es`, normalised to `ll` or `ll-RR`.
    Language
);

impl Language {
    pub fn default_tag() -> Self {
        Self("en-US".into())
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim().replace('_', "-");
        let mut parts = s.split('-');
        let lang = parts.next().unwrap_or_default();
        let region = parts.next();
        let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_alphabetic());
        let region_ok = region.is_none_or(|r| {
            (r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
                || (r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()))
        });
        if !lang_ok || !region_ok || parts.next().is_some() {
            return Err(InvalidValue::new("language", "expected a language tag such as \"en-US\" or \"es-ES\""));
        }
        let mut tag = lang.to_ascii_lowercase();
        if let Some(region) = region {
            tag.push('-');
            tag.push_str(&region.to_ascii_uppercase());
        }
        Ok(Self(tag))
    }
}

impl fmt::Debug for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Language({})", self.0)
    }
}

text_newtype!(
    /// `externalCustomerId`: the integrator's own user id. Personal data: never logged.
    ExternalCustomerId
);

impl ExternalCustomerId {
    pub const MAX_LEN: usize = 256;

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.is_empty() || s.chars().count() > Self::MAX_LEN || s.chars().any(char::is_control) {
            return Err(InvalidValue::new("externalCustomerId", "expected 1 to 256 printable characters"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for ExternalCustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExternalCustomerId(***)")
    }
}

text_newtype!(
    /// An absolute `http`/`https` URL (`redirectionUrl`). May carry its own query string.
    HttpUrl
);

impl HttpUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(field: &'static str, s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| {
            let authority = r.split(['/', '?', '#']).next().unwrap_or_default();
            !authority.is_empty() && !authority.contains('@')
        });
        if !host_ok || s.len() > Self::MAX_LEN || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidValue::new(field, "expected an absolute http:// or https:// URL"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpUrl({})", self.0)
    }
}

text_newtype!(
    /// A web origin (`scheme://host[:port]`, no path), as browsers report `event.origin` and
    /// as `Content-Security-Policy: frame-ancestors` lists them. `*` is not an origin.
    Origin
);

impl Origin {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim().trim_end_matches('/');
        let url = HttpUrl::parse("allowedOrigins", s)?;
        let after_scheme = url.as_str().split_once("://").map(|(_, r)| r).unwrap_or_default();
        if after_scheme.contains(['/', '?', '#']) {
            return Err(InvalidValue::new("allowedOrigins", "an origin is scheme://host[:port], without a path"));
        }
        Ok(Self(url.as_str().to_ascii_lowercase()))
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({})", self.0)
    }
}

text_newtype!(
    /// An administrator's e-mail address, lower-cased. Personal data: never logged.
    Email
);

impl Email {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim().to_lowercase();
        let ok = s.len() <= 254
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            })
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok { Ok(Self(s)) } else { Err(InvalidValue::new("email", "expected an e-mail address")) }
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(***)")
    }
}

macro_rules! parse_on_deserialize {
    ($name:ident, $parse:expr) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

parse_on_deserialize!(CountryCode, CountryCode::parse);
parse_on_deserialize!(Language, Language::parse);
parse_on_deserialize!(ExternalCustomerId, ExternalCustomerId::parse);
parse_on_deserialize!(HttpUrl, |s| HttpUrl::parse("url", s));
parse_on_deserialize!(Origin, Origin::parse);
parse_on_deserialize!(Email, Email::parse);

/// `customFields`: a flat map of short keys to scalar values, kept as text.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomFields(BTreeMap<String, String>);

impl CustomFields {
    pub const MAX_FIELDS: usize = 50;
    pub const MAX_KEY_LEN: usize = 64;
    pub const MAX_VALUE_LEN: usize = 1024;
    /// The field's name in requests and in its errors.
    pub const FIELD: &'static str = "customFields";

    /// Accepts the entries of a flat object: scalars are kept as text, nulls are dropped, and a
    /// nested object or list is refused. The wire format's own parsing happens at the edge.
    pub fn parse<I>(entries: I) -> Result<Self, InvalidValue>
    where
        I: ExactSizeIterator<Item = (String, FieldValue)>,
    {
        let err = |reason: &str| InvalidValue::new(Self::FIELD, reason);
        if entries.len() > Self::MAX_FIELDS {
            return Err(err("at most 50 fields"));
        }
        let mut fields = BTreeMap::new();
        for (key, value) in entries {
            let key_ok = !key.is_empty()
                && key.len() <= Self::MAX_KEY_LEN
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if !key_ok {
                return Err(err("keys are 1 to 64 characters of letters, digits, '_', '-' or '.'"));
            }
            let text = match value {
                FieldValue::Null => continue,
                FieldValue::Scalar(text) => text,
                FieldValue::Structured => return Err(err("values must be strings, numbers or booleans")),
            };
            if text.chars().count() > Self::MAX_VALUE_LEN {
                return Err(err("values are at most 1024 characters"));
            }
            if text.contains('\0') {
                return Err(err("values may not contain NUL characters"));
            }
            fields.insert(key, text);
        }
        Ok(Self(fields))
    }

    pub fn from_stored(fields: BTreeMap<String, String>) -> Self {
        Self(fields)
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One `customFields` value as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// Dropped, as if the key were absent.
    Null,
    /// A string, number or boolean, written as text.
    Scalar(String),
    /// An object or a list: not accepted.
    Structured,
}

impl fmt::Debug for CustomFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomFields({} fields)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes() {
        assert_eq!(CountryCode::parse("ALL").unwrap().as_str(), "ALL");
        assert_eq!(CountryCode::parse("mx").unwrap().as_str(), "MX");
        assert_eq!(CountryCode::parse("USA").unwrap().as_str(), "USA");
        for bad in ["", "A", "ALLL", "U1", "É"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn languages_are_normalised() {
        assert_eq!(Language::parse("en-US").unwrap().as_str(), "en-US");
        assert_eq!(Language::parse("es_es").unwrap().as_str(), "es-ES");
        assert_eq!(Language::parse("pt").unwrap().as_str(), "pt");
        assert_eq!(Language::parse("es-419").unwrap().as_str(), "es-419");
        for bad in ["", "e", "english", "en-USA-x", "en-U1", "12"] {
            assert!(Language::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_and_origins() {
        assert!(HttpUrl::parse("redirectionUrl", "http://example.com/").is_ok());
        assert!(HttpUrl::parse("redirectionUrl", "https://example.com?custom_parameter=some+value").is_ok());
        for bad in [
            "",
            "example.com",
            "javascript:alert(1)",
            "ftp://x.y",
            "https://",
            "https://user@evil.com",
            "https://a b.com",
        ] {
            assert!(HttpUrl::parse("redirectionUrl", bad).is_err(), "{bad}");
        }
        assert_eq!(Origin::parse("https://Shop.Example.com/").unwrap().as_str(), "https://shop.example.com");
        assert_eq!(Origin::parse("http://127.0.0.1:8081").unwrap().as_str(), "http://127.0.0.1:8081");
        assert!(Origin::parse("https://shop.example.com/path").is_err());
        assert!(Origin::parse("*").is_err());
    }

    #[test]
    fn external_ids_and_emails() {
        assert!(ExternalCustomerId::parse("someuser0001").is_ok());
        assert!(ExternalCustomerId::parse("").is_err());
        assert!(ExternalCustomerId::parse("a\nb").is_err());
        assert!(ExternalCustomerId::parse(&"x".repeat(257)).is_err());
        assert!(!format!("{:?}", ExternalCustomerId::parse("secret-user").unwrap()).contains("secret"));
        assert_eq!(Email::parse(" Ana@Example.COM ").unwrap().as_str(), "ana@example.com");
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse("a@b").is_err());
    }

    #[test]
    fn custom_fields() {
        let text = |s: &str| FieldValue::Scalar(s.to_owned());
        let entries = vec![
            ("firstName".to_owned(), text("Ana")),
            ("age".to_owned(), text("31")),
            ("vip".to_owned(), text("true")),
            ("skip".to_owned(), FieldValue::Null),
        ];
        let fields = CustomFields::parse(entries.into_iter()).unwrap();
        assert_eq!(fields.as_map().len(), 3);
        assert_eq!(fields.as_map()["age"], "31");
        assert!(CustomFields::parse([("nested".to_owned(), FieldValue::Structured)].into_iter()).is_err());
        assert!(CustomFields::parse([("bad key".to_owned(), text("1"))].into_iter()).is_err());
        assert!(CustomFields::parse([("k".to_owned(), text("a\0b"))].into_iter()).is_err());
        assert!(CustomFields::parse((0..51).map(|i| (format!("k{i}"), text("1")))).is_err());
    }
}
