//! One conformance suite for every storage implementation: the same scenarios against SQLite
//! and PostgreSQL, through the ports only.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use veriframe::app::open_store;
use veriframe::config::Config;
use veriframe_core::blob::BlobKey;
use veriframe_core::challenge::TurnDirection;
use veriframe_core::clock::truncate_to_millis;
use veriframe_core::flow::{Flow, FlowConfig, Modules, Thresholds};
use veriframe_core::ids::{
    AdminId, ApiKeyId, CaptureId, ChallengeId, ClientId, FlowId, InterviewCode, InterviewId, TenantId,
};
use veriframe_core::ports::{
    CaptureCommit, CaptureRecord, ChallengeRecord, JobKind, JobState, SecretRecord, Store, StoreError,
};
use veriframe_core::scores::Effective;
use veriframe_core::secret::{Secret, SecretKind};
use veriframe_core::session::Session;
use veriframe_core::status::OnboardingStatus;
use veriframe_core::tenant::{Admin, ApiKey, Tenant};
use veriframe_core::text::{CountryCode, CustomFields, Email, ExternalCustomerId, HttpUrl, Language};
use veriframe_core::verification::{
    CaptureKind, CaptureProblem, CaptureSummary, CheckDigitFindings, DocumentClass, DocumentFindings, FaceFindings,
    LivenessCheck, LivenessFindings, MatchFindings, SessionResults,
};
use veriframe_testkit::{Backend, TestDatabase, on_both_backends};

mod commit;

on_both_backends!(
    tenants_keys_and_flows,
    sessions_round_trip_and_stay_in_their_tenant,
    status_transitions_are_guarded,
    secrets_and_admins,
    captures_and_challenges,
    jobs_are_durable_and_leased,
    results_and_images,
);

pub(crate) struct Fixture {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) db: Option<TestDatabase>,
}

pub(crate) async fn fixture(backend: Backend) -> Fixture {
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
    Fixture { store, dir, db }
}

pub(crate) fn now() -> OffsetDateTime {
    // Millisecond precision is what both stores keep.
    truncate_to_millis(OffsetDateTime::now_utc())
}

pub(crate) fn tenant(client_id: &str) -> Tenant {
    Tenant {
        id: TenantId::generate(now()),
        client_id: ClientId::parse(client_id).unwrap(),
        name: format!("Tenant {client_id} — ünïcode"),
        created_at: now(),
    }
}

pub(crate) fn flow(tenant: &Tenant) -> Flow {
    let config: FlowConfig =
        serde_json::from_str(r#"{"modules":{"liveness":false},"allowedOrigins":["https://shop.example.com"]}"#)
            .unwrap();
    config.check().unwrap();
    Flow { id: FlowId::generate(now()), tenant_id: tenant.id, name: "KYC".into(), config, created_at: now() }
}

pub(crate) fn session(tenant: &Tenant, flow: &Flow) -> Session {
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
        consented_at: None,
        submitted_at: None,
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
    assert_eq!(s.list_flows(a.id).await.unwrap(), vec![fl.clone()]);
    assert!(s.list_flows(b.id).await.unwrap().is_empty());
    // A flow's configuration can be replaced, by its own tenant only.
    let opened = FlowConfig { allowed_origins: vec![], ..fl.config.clone() };
    assert!(!s.update_flow_config(b.id, fl.id, &opened).await.unwrap());
    assert!(s.update_flow_config(a.id, fl.id, &opened).await.unwrap());
    assert_eq!(s.flow(a.id, fl.id).await.unwrap().unwrap().config, opened);
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
    let Seeded { tenant: a, session: one } = seeded(s).await;
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
    let Seeded { tenant: a, session: one } = seeded(s).await;
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

pub(crate) struct Seeded {
    pub(crate) tenant: Tenant,
    pub(crate) session: Session,
}

pub(crate) async fn seeded(s: &Arc<dyn Store>) -> Seeded {
    let t = tenant("alpha");
    s.create_tenant(&t).await.unwrap();
    let fl = flow(&t);
    s.create_flow(&fl).await.unwrap();
    let one = session(&t, &fl);
    s.create_session(&one).await.unwrap();
    Seeded { tenant: t, session: one }
}

pub(crate) fn key(t: &Tenant, s: &Session, name: &str) -> BlobKey {
    BlobKey::for_session(t.id, s.id, name)
}

async fn captures_and_challenges(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let Seeded { tenant: t, session: one } = seeded(s).await;
    let challenge = ChallengeRecord {
        id: ChallengeId::generate(now()),
        tenant_id: t.id,
        session_id: one.id,
        direction: TurnDirection::Left,
        prompt_at_ms: 1234,
        created_at: now(),
        expires_at: now() + Duration::minutes(2),
        answered_at: None,
    };
    s.insert_challenge(&challenge).await.unwrap();
    assert_eq!(s.challenge(t.id, one.id, challenge.id).await.unwrap(), Some(challenge.clone()));
    let other = tenant("beta");
    s.create_tenant(&other).await.unwrap();
    assert_eq!(s.challenge(other.id, one.id, challenge.id).await.unwrap(), None);
    // Renewed only later, and only by its own tenant.
    let later = challenge.expires_at + Duration::minutes(1);
    s.extend_challenge(other.id, one.id, challenge.id, later + Duration::minutes(1)).await.unwrap();
    s.extend_challenge(t.id, one.id, challenge.id, later).await.unwrap();
    s.extend_challenge(t.id, one.id, challenge.id, challenge.expires_at).await.unwrap();
    let renewed = s.challenge(t.id, one.id, challenge.id).await.unwrap().unwrap();
    assert_eq!(renewed, ChallengeRecord { expires_at: later, ..challenge.clone() });
    let challenge = renewed;

    let rejected = CaptureRecord {
        id: CaptureId::generate(now()),
        tenant_id: t.id,
        session_id: one.id,
        kind: CaptureKind::Front,
        accepted: false,
        problems: vec![CaptureProblem::Blurry, CaptureProblem::Glare],
        summary: CaptureSummary::default(),
        blobs: vec![],
        source: "camera".into(),
        challenge_id: None,
        liveness: None,
        idempotency_key: Some("k-1".into()),
        created_at: now(),
    };
    s.commit_capture(&bare(&rejected)).await.unwrap();
    let duplicate = CaptureRecord { id: CaptureId::generate(now()), ..rejected.clone() };
    assert!(matches!(s.commit_capture(&bare(&duplicate)).await, Err(StoreError::Conflict(_))));
    let accepted = CaptureRecord {
        id: CaptureId::generate(now()),
        accepted: true,
        problems: vec![],
        summary: CaptureSummary {
            document_class: Some(DocumentClass::IdentityCard),
            faces: Some(1),
            ..CaptureSummary::default()
        },
        blobs: vec![key(&t, &one, "front")],
        idempotency_key: None,
        created_at: now() + Duration::seconds(1),
        ..rejected.clone()
    };
    s.commit_capture(&bare(&accepted)).await.unwrap();
    let frames = CaptureRecord {
        id: CaptureId::generate(now()),
        kind: CaptureKind::Liveness,
        accepted: true,
        problems: vec![],
        blobs: vec![key(&t, &one, "liveness-film"), key(&t, &one, "liveness-key")],
        challenge_id: Some(challenge.id),
        liveness: Some(liveness_findings()),
        idempotency_key: Some("film-1".into()),
        created_at: now() + Duration::seconds(2),
        ..rejected.clone()
    };
    s.commit_capture(&bare(&frames)).await.unwrap();
    assert_eq!(s.captures(t.id, one.id).await.unwrap(), vec![rejected.clone(), accepted, frames]);
    assert!(s.captures(other.id, one.id).await.unwrap().is_empty());
    assert_eq!(s.capture_by_idempotency_key(t.id, one.id, CaptureKind::Front, "k-1").await.unwrap(), Some(rejected));
    assert_eq!(s.capture_by_idempotency_key(t.id, one.id, CaptureKind::Back, "k-1").await.unwrap(), None);
    assert_eq!(s.capture_by_idempotency_key(t.id, one.id, CaptureKind::Front, "k-2").await.unwrap(), None);

    let at = now();
    s.record_consent(t.id, one.id, at).await.unwrap();
    s.record_consent(t.id, one.id, at + Duration::seconds(5)).await.unwrap();
    s.submit_session(t.id, one.id, at).await.unwrap();
    s.submit_session(t.id, one.id, at + Duration::seconds(5)).await.unwrap();
    let stored = s.session(t.id, one.id).await.unwrap().unwrap();
    assert_eq!((stored.consented_at, stored.submitted_at), (Some(at), Some(at)), "first time only");
    let jobs = s.jobs(t.id, one.id).await.unwrap();
    assert!(jobs.iter().any(|j| j.kind == JobKind::Finalize && j.state == JobState::Queued), "{jobs:?}");
}

/// A liveness verdict as the pipeline stores it with a film.
pub(crate) fn liveness_findings() -> LivenessFindings {
    LivenessFindings {
        direction: TurnDirection::Right,
        frames: 48,
        checks: vec![LivenessCheck::HeadTurn, LivenessCheck::PassivePadFilm],
        turned: true,
        returned: true,
        same_person: true,
        challenge_passed: true,
        live: true,
        peak_turn: 0.21,
        required_turn: 0.07,
        max_identity_distance: Some(0.31),
        identity_threshold: 0.6,
        passive_live: Some(0.93),
        failures: vec![],
    }
}

/// A capture committed with nothing else.
fn bare(capture: &CaptureRecord) -> CaptureCommit {
    CaptureCommit { capture: capture.clone(), images: Vec::new(), jobs: Vec::new(), answers_challenge: None }
}

async fn jobs_are_durable_and_leased(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let Seeded { tenant: t, session: one } = seeded(s).await;
    let t0 = now();
    assert_eq!(s.claim_job("w1", t0, t0 + Duration::seconds(30)).await.unwrap(), None);
    s.enqueue_job(t.id, one.id, JobKind::Document, t0, t0).await.unwrap();
    s.enqueue_job(t.id, one.id, JobKind::Document, t0 + Duration::seconds(9), t0).await.unwrap();
    s.enqueue_job(t.id, one.id, JobKind::Face, t0 + Duration::seconds(60), t0).await.unwrap();
    assert_eq!(s.jobs(t.id, one.id).await.unwrap().len(), 2, "one job per session and kind");
    assert_eq!(s.next_job_due().await.unwrap(), Some(t0));

    // Claim, then a crash: the lease runs out and another worker takes it over.
    let job = s.claim_job("w1", t0, t0 + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!((job.kind, job.state, job.attempts), (JobKind::Document, JobState::Running, 1));
    assert_eq!(s.claim_job("w2", t0, t0 + Duration::seconds(30)).await.unwrap(), None, "face job is not due yet");
    assert!(s.extend_lease(job.id, "w1", t0 + Duration::seconds(40)).await.unwrap());
    assert!(!s.extend_lease(job.id, "w2", t0 + Duration::seconds(40)).await.unwrap());
    let t1 = t0 + Duration::seconds(41);
    let again = s.claim_job("w2", t1, t1 + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts, again.worker.as_deref()), (job.id, 2, Some("w2")));
    // The first worker comes back: it no longer holds the job, so its completion is ignored.
    s.complete_job(job.id, "w1", t1).await.unwrap();
    let doc = s.jobs(t.id, one.id).await.unwrap().into_iter().find(|j| j.kind == JobKind::Document).unwrap();
    assert_eq!(doc.state, JobState::Running);
    // Re-enqueued while running: runs again after completing.
    s.enqueue_job(t.id, one.id, JobKind::Document, t1, t1).await.unwrap();
    s.complete_job(job.id, "w2", t1).await.unwrap();
    let doc = s.jobs(t.id, one.id).await.unwrap().into_iter().find(|j| j.kind == JobKind::Document).unwrap();
    assert_eq!((doc.state, doc.attempts), (JobState::Queued, 0));
    let doc = s.claim_job("w3", t1, t1 + Duration::seconds(30)).await.unwrap().unwrap();
    s.complete_job(doc.id, "w3", t1).await.unwrap();
    let doc = s.jobs(t.id, one.id).await.unwrap().into_iter().find(|j| j.kind == JobKind::Document).unwrap();
    assert_eq!(doc.state, JobState::Done);

    // Retry with a delay, then give up.
    let t2 = t0 + Duration::seconds(61);
    let face = s.claim_job("w1", t2, t2 + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(face.kind, JobKind::Face);
    s.retry_job(face.id, "w1", "blob store unreachable", t2 + Duration::seconds(5), t2).await.unwrap();
    assert_eq!(s.claim_job("w1", t2, t2 + Duration::seconds(30)).await.unwrap(), None);
    assert_eq!(s.next_job_due().await.unwrap(), Some(t2 + Duration::seconds(5)));
    let t3 = t2 + Duration::seconds(5);
    let face = s.claim_job("w1", t3, t3 + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(face.attempts, 2);
    assert_eq!(face.last_error.as_deref(), Some("blob store unreachable"));
    s.fail_job(face.id, "w1", "gave up", t3).await.unwrap();
    let face = s.jobs(t.id, one.id).await.unwrap().into_iter().find(|j| j.kind == JobKind::Face).unwrap();
    assert_eq!((face.state, face.last_error.as_deref(), face.worker), (JobState::Failed, Some("gave up"), None));
    // New input revives a failed job with fresh attempts.
    s.enqueue_job(t.id, one.id, JobKind::Face, t3, t3).await.unwrap();
    let face = s.claim_job("w1", t3, t3 + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(face.attempts, 1);
    // Input that arrives while a job runs wins over its failure: it runs again, from the start.
    s.enqueue_job(t.id, one.id, JobKind::Face, t3, t3).await.unwrap();
    s.fail_job(face.id, "w1", "gave up again", t3).await.unwrap();
    let face = s.jobs(t.id, one.id).await.unwrap().into_iter().find(|j| j.kind == JobKind::Face).unwrap();
    assert_eq!((face.state, face.attempts), (JobState::Queued, 0));
    let face = s.claim_job("w1", t3, t3 + Duration::seconds(30)).await.unwrap().unwrap();
    s.complete_job(face.id, "w1", t3).await.unwrap();
    let face = s.jobs(t.id, one.id).await.unwrap().into_iter().find(|j| j.kind == JobKind::Face).unwrap();
    assert_eq!((face.state, face.last_error), (JobState::Done, None), "completion clears the last error");

    // Concurrent claimers never get the same job.
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let fl = s.list_flows(t.id).await.unwrap().remove(0);
        let extra = session(&t, &fl);
        s.create_session(&extra).await.unwrap();
        s.enqueue_job(t.id, extra.id, JobKind::Finalize, t0, t0).await.unwrap();
        sessions.push(extra.id);
    }
    let claims = futures_join_all((0..8).map(|i| {
        let s = s.clone();
        async move { s.claim_job(&format!("c{i}"), t3, t3 + Duration::seconds(30)).await.unwrap() }
    }))
    .await;
    let mut ids: Vec<_> = claims.into_iter().flatten().map(|j| j.id).collect();
    let claimed = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "a job was claimed twice");
    assert_eq!(claimed, 8);
}

pub(crate) async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn results_and_images(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let Seeded { tenant: t, session: one } = seeded(s).await;
    assert_eq!(s.results(t.id, one.id).await.unwrap(), SessionResults::default());
    let document = DocumentFindings {
        document_class: Some(DocumentClass::Passport),
        mrz_found: true,
        mrz_format: Some("TD3".into()),
        check_digits: CheckDigitFindings { document_number: Some(true), ..CheckDigitFindings::default() },
        ocr_confidence: Some(0.93),
        ..DocumentFindings::default()
    };
    let data_key = key(&t, &one, "document-data");
    s.save_document_findings(t.id, one.id, &document, Some(&data_key), now()).await.unwrap();
    let face = FaceFindings {
        selfie_faces: 1,
        selfie_brightness: Some(131.5),
        face_match: Some(MatchFindings { distance: 0.41, similarity: 83.2, threshold: 0.6, is_match: true }),
        match_unavailable: None,
    };
    let liveness = liveness_findings();
    s.save_face_findings(t.id, one.id, &face, Some(&liveness), now()).await.unwrap();
    let modules = Modules::default();
    let scores = veriframe_core::scores::score(&veriframe_core::scores::Inputs {
        modules: &modules,
        thresholds: Effective::from(&Thresholds::default()),
        document: Some(&document),
        document_data: None,
        custom_fields: &CustomFields::default(),
        face: Some(&face),
        liveness: Some(&liveness),
    });
    s.save_scores(t.id, one.id, &scores, now()).await.unwrap();
    let stored = s.results(t.id, one.id).await.unwrap();
    assert_eq!(stored.document, Some(document));
    assert_eq!(stored.face, Some(face));
    assert_eq!(stored.liveness, Some(liveness));
    assert_eq!(stored.document_data, Some(data_key));
    assert_eq!(stored.scores, Some(scores));
    let other = tenant("beta");
    s.create_tenant(&other).await.unwrap();
    assert_eq!(s.results(other.id, one.id).await.unwrap(), SessionResults::default());

    let first = key(&t, &one, "selfie");
    assert_eq!(s.put_image(t.id, one.id, "selfie", &first, now()).await.unwrap(), None);
    let second = key(&t, &one, "selfie");
    assert_eq!(s.put_image(t.id, one.id, "selfie", &second, now()).await.unwrap(), Some(first));
    let crop = key(&t, &one, "croppedFace");
    s.put_image(t.id, one.id, "croppedFace", &crop, now()).await.unwrap();
    assert_eq!(
        s.images(t.id, one.id).await.unwrap(),
        vec![("croppedFace".to_owned(), crop), ("selfie".to_owned(), second)]
    );
    assert!(s.images(other.id, one.id).await.unwrap().is_empty());
}
