//! Who is calling, as types. A handler cannot reach a session without a [`SessionAccess`], and
//! only [`crate::service::Onboarding`] creates one, after checking the caller's credentials
//! against the session's tenant.

use crate::ids::{AdminId, ApiKeyId, InterviewId, TenantId};
use crate::tenant::Tenant;

/// A valid, unrevoked API key was presented.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub tenant: Tenant,
    pub key_id: ApiKeyId,
}

/// A valid, unexpired token was presented in `X-Incode-Hardware-Id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    /// Reaches exactly one session.
    Session { tenant_id: TenantId, session_id: InterviewId },
    /// Reaches every session of one tenant, named with `?id=`.
    Executive { tenant_id: TenantId, admin_id: AdminId },
}

impl TokenAuth {
    pub fn tenant_id(&self) -> TenantId {
        match *self {
            TokenAuth::Session { tenant_id, .. } | TokenAuth::Executive { tenant_id, .. } => tenant_id,
        }
    }
}

/// A hosted-flow page's token: reaches one session, for capture only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowAuth {
    pub tenant_id: TenantId,
    pub session_id: InterviewId,
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

impl From<FlowAuth> for SessionAccess {
    fn from(flow: FlowAuth) -> Self {
        Self::new(flow.tenant_id, flow.session_id)
    }
}
