//! One conformance suite for every storage implementation: the same scenarios against SQLite
//! and PostgreSQL, through the ports only.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use veriframe::app::open_store;
use veriframe::config::Config;
use veriframe_core::clock::truncate_to_millis;
use veriframe_core::flow::{Flow, FlowConfig};
use veriframe_core::ids::{AdminId, ApiKeyId, ClientId, FlowId, InterviewCode, InterviewId, TenantId};
use veriframe_core::ports::{SecretRecord, Store, StoreError};
use veriframe_core::secret::{Secret, SecretKind};
use veriframe_core::session::Session;
use veriframe_core::status::OnboardingStatus;
use veriframe_core::tenant::{Admin, ApiKey, Tenant};
use veriframe_core::text::{CountryCode, CustomFields, Email, ExternalCustomerId, HttpUrl, Language};
use veriframe_testkit::{Backend, TestDatabase, on_both_backends};

on_both_backends!(
    tenants_keys_and_flows,
    sessions_round_trip_and_stay_in_their_tenant,
    status_transitions_are_guarded,
    secrets_and_admins,
);

struct Fixture {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    _db: Option<TestDatabase>,
}

async fn fixture(backend: Backend) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(TestDatabase::create().await),
    };
    let config = Config {
        data_dir: dir.path().to_owned(),
        database_url: db.as_ref().map(|d| d.url.clone()),
        ..Config::default()
    };
    let store = open_store(&config).await.unwrap();
    Fixture { store, _dir: dir, _db: db }
}

fn now() -> OffsetDateTime {
    // Millisecond precision is what both stores keep.
    truncate_to_millis(OffsetDateTime::now_utc())
}

fn tenant(client_id: &str) -> Tenant {
    Tenant {
        id: TenantId::generate(now()),
        client_id: ClientId::parse(client_id).unwrap(),
        name: format!("Tenant {client_id} — ünïcode"),
        created_at: now(),
    }
}

fn flow(tenant: &Tenant) -> Flow {
    let config =
        FlowConfig::from_json(r#"{"modules":{"liveness":false},"allowedOrigins":["https://shop.example.com"]}"#)
            .unwrap();
    Flow { id: FlowId::generate(now()), tenant_id: tenant.id, name: "KYC".into(), config, created_at: now() }
}

fn session(tenant: &Tenant, flow: &Flow) -> Session {
    let mut fields = BTreeMap::new();
    fields.insert("firstName".to_owned(), "Zoë".to_owned());
    Session {
        id: InterviewId::generate(now()),
        tenant_id: tenant.id,
        flow_id: flow.id,
        interview_code: InterviewCode::generate(),
        status: OnboardingStatus::Unknown,
        external_customer_id: Some(ExternalCustomerId::parse("user-1").unwrap()),
        redirection_url: Some(HttpUrl::parse("redirectionUrl", "https://example.com/?a=1&b=2").unwrap()),
        country_code: CountryCode::parse("MX").unwrap(),
        language: Language::parse("es-ES").unwrap(),
        custom_fields: CustomFields::from_stored(fields),
        created_at: now(),
        updated_at: now(),
        expires_at: now() + Duration::hours(24),
        finished_at: None,
    }
}

async fn tenants_keys_and_flows(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let a = tenant("alpha");
    s.create_tenant(&a).await.unwrap();
    assert!(matches!(
        s.create_tenant(&Tenant { id: TenantId::generate(now()), ..a.clone() }).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.tenant(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.tenant_by_client_id(&a.client_id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.tenant_by_client_id(&ClientId::parse("nobody").unwrap()).await.unwrap(), None);
    let b = tenant("beta");
    s.create_tenant(&b).await.unwrap();
    assert_eq!(s.list_tenants().await.unwrap().len(), 2);

    let secret = Secret::generate(SecretKind::ApiKey);
    let key = ApiKey {
        id: ApiKeyId::generate(now()),
        tenant_id: a.id,
        label: "backend".into(),
        display_prefix: secret.display_prefix(),
        created_at: now(),
        revoked_at: None,
    };
    s.create_api_key(&key, &secret.hash()).await.unwrap();
    assert_eq!(s.api_key_by_hash(&secret.hash()).await.unwrap(), Some((key.clone(), a.clone())));
    assert_eq!(s.api_key_by_hash(&Secret::generate(SecretKind::ApiKey).hash()).await.unwrap(), None);
    assert_eq!(s.list_api_keys(a.id).await.unwrap(), vec![key.clone()]);
    assert!(s.list_api_keys(b.id).await.unwrap().is_empty());
    // Another tenant cannot revoke it; revoking twice reports false.
    assert!(!s.revoke_api_key(b.id, key.id, now()).await.unwrap());
    let at = now();
    assert!(s.revoke_api_key(a.id, key.id, at).await.unwrap());
    assert!(!s.revoke_api_key(a.id, key.id, now()).await.unwrap());
    assert_eq!(s.api_key_by_hash(&secret.hash()).await.unwrap().unwrap().0.revoked_at, Some(at));

    let fl = flow(&a);
    s.create_flow(&fl).await.unwrap();
    assert_eq!(s.flow(a.id, fl.id).await.unwrap(), Some(fl.clone()));
    assert_eq!(s.flow(b.id, fl.id).await.unwrap(), None, "flows are per tenant");
    assert_eq!(s.list_flows(a.id).await.unwrap(), vec![fl]);
    assert!(s.list_flows(b.id).await.unwrap().is_empty());
    s.ping().await.unwrap();
}

async fn sessions_round_trip_and_stay_in_their_tenant(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let (a, b) = (tenant("alpha"), tenant("beta"));
    s.create_tenant(&a).await.unwrap();
    s.create_tenant(&b).await.unwrap();
    let fl = flow(&a);
    s.create_flow(&fl).await.unwrap();
    let one = session(&a, &fl);
    s.create_session(&one).await.unwrap();
    assert!(matches!(s.create_session(&one).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.session(a.id, one.id).await.unwrap(), Some(one.clone()));
    assert_eq!(s.session(b.id, one.id).await.unwrap(), None);
    let status = s.session_status(a.id, one.id).await.unwrap().unwrap();
    assert_eq!(status.status, OnboardingStatus::Unknown);
    assert_eq!(status.expires_at, one.expires_at);
    assert_eq!(s.session_status(b.id, one.id).await.unwrap(), None);
    let minimal = Session {
        external_customer_id: None,
        redirection_url: None,
        custom_fields: CustomFields::default(),
        id: InterviewId::generate(now()),
        ..one.clone()
    };
    s.create_session(&minimal).await.unwrap();
    assert_eq!(s.session(a.id, minimal.id).await.unwrap(), Some(minimal));
}

async fn status_transitions_are_guarded(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let a = tenant("alpha");
    s.create_tenant(&a).await.unwrap();
    let fl = flow(&a);
    s.create_flow(&fl).await.unwrap();
    let one = session(&a, &fl);
    s.create_session(&one).await.unwrap();
    use OnboardingStatus::*;
    let t1 = now() + Duration::seconds(1);
    assert_eq!(
        s.transition_status(a.id, one.id, &[Unknown], IdValidationFinished, t1).await.unwrap(),
        Some(IdValidationFinished)
    );
    // The guard does not match: nothing changes, the current status is reported.
    assert_eq!(
        s.transition_status(a.id, one.id, &[Unknown], FaceValidationFinished, t1).await.unwrap(),
        Some(IdValidationFinished)
    );
    let t2 = now() + Duration::seconds(2);
    assert_eq!(
        s.transition_status(a.id, one.id, &[IdValidationFinished, Unknown], OnboardingFinished, t2).await.unwrap(),
        Some(OnboardingFinished)
    );
    let stored = s.session(a.id, one.id).await.unwrap().unwrap();
    assert_eq!(stored.finished_at, Some(t2));
    assert_eq!(stored.updated_at, t2);
    // Another tenant's id, or an unknown id: None.
    let b = tenant("beta");
    s.create_tenant(&b).await.unwrap();
    assert_eq!(s.transition_status(b.id, one.id, &[OnboardingFinished], Expired, t2).await.unwrap(), None);
    assert_eq!(s.transition_status(a.id, InterviewId::generate(now()), &[Unknown], Expired, t2).await.unwrap(), None);
    assert_eq!(s.session(a.id, one.id).await.unwrap().unwrap().status, OnboardingFinished);
}

async fn secrets_and_admins(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let a = tenant("alpha");
    s.create_tenant(&a).await.unwrap();
    let fl = flow(&a);
    s.create_flow(&fl).await.unwrap();
    let one = session(&a, &fl);
    s.create_session(&one).await.unwrap();
    let admin = Admin {
        id: AdminId::generate(now()),
        tenant_id: a.id,
        email: Email::parse("ops@example.com").unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: now(),
    };
    s.create_admin(&admin).await.unwrap();
    assert!(matches!(
        s.create_admin(&Admin { id: AdminId::generate(now()), ..admin.clone() }).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.admin_by_email(a.id, &admin.email).await.unwrap(), Some(admin.clone()));
    assert_eq!(s.list_admins(a.id).await.unwrap(), vec![admin.clone()]);

    let session_secret = Secret::generate(SecretKind::Session);
    let record = SecretRecord {
        hash: session_secret.hash(),
        kind: SecretKind::Session,
        tenant_id: a.id,
        session_id: Some(one.id),
        admin_id: None,
        created_at: now(),
        expires_at: now() + Duration::days(90),
    };
    s.insert_secret(&record).await.unwrap();
    assert!(matches!(s.insert_secret(&record).await, Err(StoreError::Conflict(_))));
    let exec_secret = Secret::generate(SecretKind::Executive);
    let exec = SecretRecord {
        hash: exec_secret.hash(),
        kind: SecretKind::Executive,
        tenant_id: a.id,
        session_id: None,
        admin_id: Some(admin.id),
        created_at: now(),
        expires_at: now() + Duration::hours(1),
    };
    s.insert_secret(&exec).await.unwrap();
    assert_eq!(s.secret(&record.hash).await.unwrap(), Some(record.clone()));
    assert_eq!(s.secret(&exec.hash).await.unwrap(), Some(exec.clone()));
    assert_eq!(s.secret(&Secret::generate(SecretKind::Session).hash()).await.unwrap(), None);
    // The polling read: a session token comes with its session's status, others without.
    let (found, status) = s.secret_with_status(&record.hash).await.unwrap().unwrap();
    assert_eq!(found, record);
    assert_eq!(status.map(|st| st.status), Some(OnboardingStatus::Unknown));
    assert_eq!(status.map(|st| st.expires_at), Some(one.expires_at));
    let (found, status) = s.secret_with_status(&exec.hash).await.unwrap().unwrap();
    assert_eq!((found, status), (exec.clone(), None));
    assert_eq!(s.secret_with_status(&Secret::generate(SecretKind::Session).hash()).await.unwrap(), None);
    assert_eq!(s.delete_expired_secrets(now() + Duration::hours(2)).await.unwrap(), 1);
    assert_eq!(s.secret(&exec.hash).await.unwrap(), None);
    assert_eq!(s.secret(&record.hash).await.unwrap(), Some(record));
}
