//! Tenants (integrating companies), their API keys and their administrators.

use time::OffsetDateTime;

use crate::ids::{AdminId, ApiKeyId, ClientId, TenantId};
use crate::text::Email;

/// A company that verifies its users with veriframe. Everything else belongs to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub client_id: ClientId,
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// An API key's metadata; the key itself is shown once and only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub label: String,
    /// First characters of the key, so an operator can tell keys apart in listings.
    pub display_prefix: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A tenant administrator: logs in to get an executive token and reviews sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub id: AdminId,
    pub tenant_id: TenantId,
    pub email: Email,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    pub created_at: OffsetDateTime,
}
