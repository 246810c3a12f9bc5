//! Operator-side provisioning, for the CLI and the first start: tenants, API keys, flows and
//! administrators.

use std::sync::Arc;

use crate::clock::Clock;
use crate::flow::{Flow, FlowConfig};
use crate::ids::{AdminId, ApiKeyId, ClientId, FlowId, TenantId};
use crate::password;
use crate::ports::{PasswordHasher, Store, StoreError};
use crate::secret::{Secret, SecretKind};
use crate::service::{ServiceError, ServiceResult, password_error};
use crate::tenant::{Admin, ApiKey, Tenant};
use crate::text::{Email, Origin};

/// Operator-side provisioning (CLI and first start).
#[derive(Clone)]
pub struct Provisioning {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    passwords: Arc<dyn PasswordHasher>,
}

/// The origins of the demo integrator, which the first-start flow may be framed by.
pub const DEMO_INTEGRATOR_ORIGINS: [&str; 2] = ["http://127.0.0.1:3000", "http://localhost:3000"];

/// What the very first start creates and prints once.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    pub tenant: Tenant,
    pub api_key: Secret,
    pub flow: Flow,
}

impl Provisioning {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, passwords: Arc<dyn PasswordHasher>) -> Self {
        Self { store, clock, passwords }
    }

    pub async fn create_tenant(&self, client_id: ClientId, name: &str) -> ServiceResult<Tenant> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ServiceError::Invalid("name must be 1 to 200 characters".into()));
        }
        let tenant = Tenant {
            id: TenantId::generate(self.clock.now()),
            client_id,
            name: name.to_owned(),
            created_at: self.clock.now(),
        };
        self.store.create_tenant(&tenant).await.map_err(conflict_as("a tenant with this clientId already exists"))?;
        Ok(tenant)
    }

    pub async fn tenant(&self, client_id: &ClientId) -> ServiceResult<Tenant> {
        self.store.tenant_by_client_id(client_id).await?.ok_or(ServiceError::NotFound("tenant"))
    }

    pub async fn list_tenants(&self) -> ServiceResult<Vec<Tenant>> {
        Ok(self.store.list_tenants().await?)
    }

    pub async fn create_api_key(&self, tenant: &Tenant, label: &str) -> ServiceResult<(ApiKey, Secret)> {
        let secret = Secret::generate(SecretKind::ApiKey);
        let now = self.clock.now();
        let key = ApiKey {
            id: ApiKeyId::generate(now),
            tenant_id: tenant.id,
            label: label.trim().chars().take(200).collect(),
            display_prefix: secret.display_prefix(),
            created_at: now,
            revoked_at: None,
        };
        self.store.create_api_key(&key, &secret.hash()).await?;
        Ok((key, secret))
    }

    pub async fn list_api_keys(&self, tenant: &Tenant) -> ServiceResult<Vec<ApiKey>> {
        Ok(self.store.list_api_keys(tenant.id).await?)
    }

    pub async fn revoke_api_key(&self, tenant: &Tenant, id: ApiKeyId) -> ServiceResult<()> {
        if self.store.revoke_api_key(tenant.id, id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound("active API key"))
        }
    }

    pub async fn create_flow(&self, tenant: &Tenant, name: &str, config: FlowConfig) -> ServiceResult<Flow> {
        config.check().map_err(|problems| {
            ServiceError::Invalid(problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        })?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ServiceError::Invalid("name must be 1 to 200 characters".into()));
        }
        let now = self.clock.now();
        let flow =
            Flow { id: FlowId::generate(now), tenant_id: tenant.id, name: name.to_owned(), config, created_at: now };
        self.store.create_flow(&flow).await?;
        Ok(flow)
    }

    pub async fn list_flows(&self, tenant: &Tenant) -> ServiceResult<Vec<Flow>> {
        Ok(self.store.list_flows(tenant.id).await?)
    }

    pub async fn flow(&self, tenant: &Tenant, id: FlowId) -> ServiceResult<Flow> {
        self.store.flow(tenant.id, id).await?.ok_or(ServiceError::NotFound("flow"))
    }

    /// Replaces the origins allowed to embed a flow; an empty list frames it nowhere else.
    pub async fn set_allowed_origins(&self, tenant: &Tenant, id: FlowId, origins: Vec<Origin>) -> ServiceResult<Flow> {
        let mut flow = self.flow(tenant, id).await?;
        flow.config.allowed_origins = origins;
        flow.config.check().map_err(|problems| {
            ServiceError::Invalid(problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        })?;
        if !self.store.update_flow_config(tenant.id, id, &flow.config).await? {
            return Err(ServiceError::NotFound("flow"));
        }
        Ok(flow)
    }

    pub async fn create_admin(&self, tenant: &Tenant, email: &str, password: &str) -> ServiceResult<Admin> {
        let email = Email::parse(email)?;
        password::check_new_password(password)?;
        let password_hash = self.passwords.hash(password.to_owned()).await.map_err(password_error)?;
        let now = self.clock.now();
        let admin = Admin { id: AdminId::generate(now), tenant_id: tenant.id, email, password_hash, created_at: now };
        self.store
            .create_admin(&admin)
            .await
            .map_err(conflict_as("an administrator with this email already exists"))?;
        Ok(admin)
    }

    pub async fn list_admins(&self, tenant: &Tenant) -> ServiceResult<Vec<Admin>> {
        Ok(self.store.list_admins(tenant.id).await?)
    }

    /// On an empty store, creates the demo tenant, an API key and a default flow. Returns `None`
    /// when any tenant exists already, including one created a moment ago by a second server
    /// starting against the same database.
    pub async fn bootstrap_if_empty(&self) -> ServiceResult<Option<Bootstrapped>> {
        if !self.store.list_tenants().await?.is_empty() {
            return Ok(None);
        }
        let client_id = ClientId::parse("demo").map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let tenant = match self.create_tenant(client_id, "Demo").await {
            Ok(tenant) => tenant,
            Err(ServiceError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (_, api_key) = self.create_api_key(&tenant, "created on first start").await?;
        // The demo integrator (examples/integrator) serves its page on port 3000 by either name.
        let allowed_origins = DEMO_INTEGRATOR_ORIGINS.iter().map(|o| Origin::parse(o)).collect::<Result<_, _>>()?;
        let config = FlowConfig { allowed_origins, ..FlowConfig::default() };
        let flow = self.create_flow(&tenant, "Default onboarding", config).await?;
        Ok(Some(Bootstrapped { tenant, api_key, flow }))
    }
}

fn conflict_as(message: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |e| match e {
        StoreError::Conflict(_) => ServiceError::Conflict(message.into()),
        other => ServiceError::Store(other),
    }
}
