//! Readers from result rows into domain types. A row that does not convert means the database
//! holds something this code never wrote: reported as `StoreError::Other`, never papered over.

use std::collections::BTreeMap;

use veriframe_core::flow::Flow;
use veriframe_core::ids::{AdminId, ApiKeyId, ClientId, FlowId, InterviewCode, InterviewId};
use veriframe_core::ports::{SecretRecord, StatusRow, StoreResult};
use veriframe_core::secret::{SecretHash, SecretKind};
use veriframe_core::session::Session;
use veriframe_core::status::OnboardingStatus;
use veriframe_core::tenant::{Admin, ApiKey, Tenant};
use veriframe_core::text::{CountryCode, CustomFields, Email, ExternalCustomerId, HttpUrl, Language};

use crate::db::{Row, corrupt, id};

pub(crate) fn parse_status(s: &str) -> StoreResult<OnboardingStatus> {
    OnboardingStatus::parse(s).ok_or_else(|| corrupt("status"))
}

pub(crate) fn tenant(r: &Row) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: id(&r.text("id")?, "tenant id")?,
        client_id: ClientId::parse(&r.text("client_id")?).map_err(|_| corrupt("client id"))?,
        name: r.text("name")?,
        created_at: r.time("created_at")?,
    })
}

pub(crate) fn api_key(r: &Row) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: id::<ApiKeyId>(&r.text("id")?, "API key id")?,
        tenant_id: id(&r.text("tenant_id")?, "tenant id")?,
        label: r.text("label")?,
        display_prefix: r.text("display_prefix")?,
        created_at: r.time("created_at")?,
        revoked_at: r.opt_time("revoked_at")?,
    })
}

/// A key joined with its tenant (`tenant_client_id`, `tenant_name`, `tenant_created_at`).
pub(crate) fn api_key_with_tenant(r: &Row) -> StoreResult<(ApiKey, Tenant)> {
    let key = api_key(r)?;
    let tenant = Tenant {
        id: key.tenant_id,
        client_id: ClientId::parse(&r.text("tenant_client_id")?).map_err(|_| corrupt("client id"))?,
        name: r.text("tenant_name")?,
        created_at: r.time("tenant_created_at")?,
    };
    Ok((key, tenant))
}

pub(crate) fn flow(r: &Row) -> StoreResult<Flow> {
    Ok(Flow {
        id: id::<FlowId>(&r.text("id")?, "flow id")?,
        tenant_id: id(&r.text("tenant_id")?, "tenant id")?,
        name: r.text("name")?,
        config: r.json("config", "flow configuration")?,
        created_at: r.time("created_at")?,
    })
}

pub(crate) fn secret(r: &Row) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        hash: SecretHash::from_slice(&r.bytes("hash")?).ok_or_else(|| corrupt("secret hash"))?,
        kind: SecretKind::parse(&r.text("kind")?).ok_or_else(|| corrupt("secret kind"))?,
        tenant_id: id(&r.text("tenant_id")?, "tenant id")?,
        session_id: r.opt_text("session_id")?.map(|s| id::<InterviewId>(&s, "interview id")).transpose()?,
        admin_id: r.opt_text("admin_id")?.map(|s| id::<AdminId>(&s, "admin id")).transpose()?,
        created_at: r.time("created_at")?,
        expires_at: r.time("expires_at")?,
    })
}

/// A secret joined with its session's status (`session_status`, `session_expires_at`), when
/// it names a session that exists.
pub(crate) fn secret_with_status(r: &Row) -> StoreResult<(SecretRecord, Option<StatusRow>)> {
    let status = match (r.opt_text("session_status")?, r.opt_time("session_expires_at")?) {
        (Some(status), Some(expires_at)) => Some(StatusRow { status: parse_status(&status)?, expires_at }),
        _ => None,
    };
    Ok((secret(r)?, status))
}

/// The columns [`session`] reads, as a literal so queries stay `&'static str`.
macro_rules! session_columns {
    () => {
        "id, tenant_id, flow_id, interview_code, status, external_customer_id, redirection_url, \
         country_code, language, custom_fields, created_at, updated_at, expires_at, finished_at, consented_at, \
         submitted_at"
    };
}
pub(crate) use session_columns;

pub(crate) fn session(r: &Row) -> StoreResult<Session> {
    let custom_fields: BTreeMap<String, String> = r.json("custom_fields", "custom fields")?;
    Ok(Session {
        id: id(&r.text("id")?, "interview id")?,
        tenant_id: id(&r.text("tenant_id")?, "tenant id")?,
        flow_id: id(&r.text("flow_id")?, "flow id")?,
        interview_code: InterviewCode::from_stored(r.text("interview_code")?),
        status: parse_status(&r.text("status")?)?,
        external_customer_id: r.opt_text("external_customer_id")?.map(ExternalCustomerId::from_stored),
        redirection_url: r.opt_text("redirection_url")?.map(HttpUrl::from_stored),
        country_code: CountryCode::from_stored(r.text("country_code")?),
        language: Language::from_stored(r.text("language")?),
        custom_fields: CustomFields::from_stored(custom_fields),
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        expires_at: r.time("expires_at")?,
        finished_at: r.opt_time("finished_at")?,
        consented_at: r.opt_time("consented_at")?,
        submitted_at: r.opt_time("submitted_at")?,
    })
}

pub(crate) fn status(r: &Row) -> StoreResult<StatusRow> {
    Ok(StatusRow { status: parse_status(&r.text("status")?)?, expires_at: r.time("expires_at")? })
}

pub(crate) fn admin(r: &Row) -> StoreResult<Admin> {
    Ok(Admin {
        id: id(&r.text("id")?, "admin id")?,
        tenant_id: id(&r.text("tenant_id")?, "tenant id")?,
        email: Email::from_stored(r.text("email")?),
        password_hash: r.text("password_hash")?,
        created_at: r.time("created_at")?,
    })
}
