//! Who is calling, as types. Each value here proves that a credential was checked, so only the
//! code that checks it ([`crate::service::Onboarding`]) can construct one: the fields are
//! private and nothing converts one proof into another outside this crate. A handler cannot
//! reach a session without a [`SessionAccess`].
//!
//! ```compile_fail,E0451
//! // A handler cannot forge a flow token's proof…
//! let flow = veriframe_core::auth::FlowAuth { tenant_id: todo!(), session_id: todo!() };
//! ```
//!
//! ```compile_fail,E0451
//! // …nor an API key's…
//! let key = veriframe_core::auth::KeyAuth { tenant: todo!(), key_id: todo!() };
//! ```
//!
//! ```compile_fail,E0603
//! // …nor a session or executive token's (its scope is private)…
//! let token = veriframe_core::auth::TokenAuth(todo!());
//! ```
//!
//! ```compile_fail,E0451
//! // …nor access to a session.
//! let access = veriframe_core::auth::SessionAccess { tenant_id: todo!(), session_id: todo!() };
//! ```
//!
//! ```compile_fail,E0277
//! // A flow token's proof does not turn into session access outside this crate.
//! fn widen(flow: veriframe_core::auth::FlowAuth) -> veriframe_core::auth::SessionAccess {
//!     flow.into()
//! }
//! ```
//!
//! Reading a proof is fine:
//!
//! ```
//! fn session_of(flow: &veriframe_core::auth::FlowAuth) -> veriframe_core::ids::InterviewId {
//!     flow.session_id()
//! }
//! ```

use crate::ids::{AdminId, ApiKeyId, InterviewId, TenantId};
use crate::tenant::Tenant;

/// A valid, unrevoked API key was presented.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    tenant: Tenant,
    key_id: ApiKeyId,
}

impl KeyAuth {
    pub(crate) fn new(tenant: Tenant, key_id: ApiKeyId) -> Self {
        Self { tenant, key_id }
    }

    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    pub fn key_id(&self) -> ApiKeyId {
        self.key_id
    }
}

/// A valid, unexpired token was presented in `X-Incode-Hardware-Id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAuth(TokenScope);

/// What a checked token reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenScope {
    /// Exactly one session.
    Session { tenant_id: TenantId, session_id: InterviewId },
    /// Every session of one tenant, named with `?id=`.
    Executive { tenant_id: TenantId, admin_id: AdminId },
}

impl TokenAuth {
    pub(crate) fn new(scope: TokenScope) -> Self {
        Self(scope)
    }

    pub(crate) fn scope(&self) -> TokenScope {
        self.0
    }

    pub fn tenant_id(&self) -> TenantId {
        match self.0 {
            TokenScope::Session { tenant_id, .. } | TokenScope::Executive { tenant_id, .. } => tenant_id,
        }
    }
}

/// A hosted-flow page's token: reaches one session, for capture only. It holds the session's
/// access but hands it out only inside core, for the reads a flow page shares with the partner
/// API: a handler cannot turn a page's token into partner access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowAuth(SessionAccess);

impl FlowAuth {
    pub(crate) fn new(tenant_id: TenantId, session_id: InterviewId) -> Self {
        Self(SessionAccess::new(tenant_id, session_id))
    }

    pub fn tenant_id(&self) -> TenantId {
        self.0.tenant_id()
    }

    pub fn session_id(&self) -> InterviewId {
        self.0.session_id()
    }

    /// The same session, for the reads a flow page shares with the partner API.
    pub(crate) fn access(&self) -> SessionAccess {
        self.0
    }
}

/// Permission to act on one session of one tenant. The session may still turn out not to
/// exist (an executive naming an unknown id), which reads as 404 like any other invisible id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionAccess {
    tenant_id: TenantId,
    session_id: InterviewId,
}

impl SessionAccess {
    pub(crate) fn new(tenant_id: TenantId, session_id: InterviewId) -> Self {
        Self { tenant_id, session_id }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    pub fn session_id(&self) -> InterviewId {
        self.session_id
    }
}
