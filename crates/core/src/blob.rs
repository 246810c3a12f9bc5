//! Blob storage as a port: images and extracted personal data live here, encrypted at rest by
//! every implementation, never in the database.

use std::fmt;

use async_trait::async_trait;
use rand::Rng;

use crate::ids::{InterviewId, TenantId};
use crate::verification::DocumentData;

/// Where a blob lives: `tenants/<tenant>/sessions/<interview>/<name>-<random>`. Built only from
/// ids and fixed names, never from user input, so it is always a safe object path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    /// A new, unique key for a blob of one session. `name` is a fixed label such as `front`.
    pub fn for_session(tenant: TenantId, session: InterviewId, name: &str) -> Self {
        debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let random: [u8; 8] = rand::rng().random();
        Self(format!("tenants/{tenant}/sessions/{session}/{name}-{}", hex::encode(random)))
    }

    /// The prefix under which all of one session's blobs live.
    pub fn session_prefix(tenant: TenantId, session: InterviewId) -> String {
        format!("tenants/{tenant}/sessions/{session}/")
    }

    /// Accepts a key read back from our own records.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.starts_with("tenants/")
            && !s.contains("..")
            && !s.contains("//")
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_".contains(&b));
        ok.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant and session a key belongs to (every key is made under one).
    pub fn owner(&self) -> Option<(TenantId, InterviewId)> {
        let mut parts = self.0.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("tenants"), Some(tenant), Some("sessions"), Some(session)) => {
                Some((tenant.parse().ok()?, session.parse().ok()?))
            }
            _ => None,
        }
    }
}

/// One stored blob, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobListing {
    pub key: BlobKey,
    pub modified: time::OffsetDateTime,
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobKey({})", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The backend could not be reached; worth retrying.
    #[error("blob storage unavailable: {0}")]
    Unavailable(String),
    /// The stored object failed authentication: tampered, truncated, moved to another key, or
    /// encrypted with a master key this server does not have.
    #[error("blob {0} failed integrity check")]
    Integrity(String),
    #[error("blob storage error: {0}")]
    Other(String),
}

/// Encrypted object storage.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under `key`, replacing what was there.
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>) -> Result<(), BlobError>;
    /// The plaintext, or `None` when there is no such blob.
    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError>;
    /// Removes the blob; removing a missing blob is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
    /// Removes every blob under a prefix (from [`BlobKey::session_prefix`]); returns how many.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError>;
    /// Every blob under a prefix, for the sweeper of orphaned blobs. Objects whose names are
    /// not keys of ours are skipped.
    async fn list(&self, prefix: &str) -> Result<Vec<BlobListing>, BlobError>;
    /// Cheap round trip for readiness probes.
    async fn ping(&self) -> Result<(), BlobError>;
    /// Which backend this is, for logs.
    fn backend(&self) -> &'static str;
}

/// The names and numbers read from a document: personal data, so kept encrypted next to the
/// images rather than in the database. How they are encoded is the adapter's business.
#[async_trait]
pub trait DocumentVault: Send + Sync {
    async fn put(&self, key: &BlobKey, data: &DocumentData) -> Result<(), BlobError>;
    /// `None` when there is no such blob; a blob that does not decode is an error.
    async fn get(&self, key: &BlobKey) -> Result<Option<DocumentData>, BlobError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[test]
    fn keys_are_unique_safe_paths_under_their_session() {
        let (t, s) = (TenantId::generate(OffsetDateTime::now_utc()), InterviewId::generate(OffsetDateTime::now_utc()));
        let a = BlobKey::for_session(t, s, "front");
        let b = BlobKey::for_session(t, s, "front");
        assert_ne!(a, b);
        assert!(a.as_str().starts_with(&BlobKey::session_prefix(t, s)));
        assert_eq!(BlobKey::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.owner(), Some((t, s)));
        assert_eq!(BlobKey::parse("tenants/x/other").and_then(|k| k.owner()), None);
        for bad in ["", "/etc/passwd", "tenants/../x", "tenants/a//b", "tenants/a b", "other/x"] {
            assert!(BlobKey::parse(bad).is_none(), "{bad}");
        }
    }
}
