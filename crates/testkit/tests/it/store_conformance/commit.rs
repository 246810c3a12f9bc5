//! The conformance scenarios of durable acceptance: a capture, its images, its jobs and its
//! challenge are stored in one transaction or not at all; idempotency keys are scoped to the
//! session and the capture kind; submission and its finalize job go together; the reconciler's
//! candidates and the sweeper's references are the same on both stores; and concurrent writers
//! never see "database is locked".

use sqlx::Connection as _;
use time::Duration;
use veriframe_core::challenge::TurnDirection;
use veriframe_core::ids::{CaptureId, ChallengeId};
use veriframe_core::ports::{CaptureCommit, CaptureRecord, ChallengeRecord, Committed, JobKind, JobState, StoreError};
use veriframe_core::verification::{CaptureKind, CaptureSummary};
use veriframe_testkit::{Backend, on_both_backends};

use super::{Fixture, Seeded, fixture, futures_join_all, key, now, seeded};

on_both_backends!(
    a_commit_stores_everything_together,
    a_failed_commit_stores_nothing,
    idempotency_keys_are_scoped_to_the_kind,
    a_challenge_is_answered_once,
    reconcile_candidates_are_sessions_missing_work,
    concurrent_writers_never_see_a_locked_database,
);

fn capture(seed: &Seeded, kind: CaptureKind, name: &str, idempotency_key: Option<&str>) -> CaptureRecord {
    CaptureRecord {
        id: CaptureId::generate(now()),
        tenant_id: seed.tenant.id,
        session_id: seed.session.id,
        kind,
        accepted: true,
        problems: Vec::new(),
        summary: CaptureSummary::default(),
        blobs: vec![key(&seed.tenant, &seed.session, name)],
        source: "camera".into(),
        challenge_id: None,
        liveness: None,
        idempotency_key: idempotency_key.map(str::to_owned),
        created_at: now(),
    }
}

fn commit(capture: &CaptureRecord, image: &str, jobs: Vec<JobKind>) -> CaptureCommit {
    CaptureCommit {
        capture: capture.clone(),
        images: vec![(image.to_owned(), capture.blobs[0].clone())],
        jobs,
        answers_challenge: None,
    }
}

/// Runs SQL on the fixture's database behind the store's back (fault injection).
async fn sql(f: &Fixture, statements: &str) {
    let statements = sqlx::AssertSqlSafe(statements.to_owned());
    match &f.db {
        None => {
            let url = format!("sqlite://{}", f.dir.path().join("veriframe.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(statements).execute(&mut conn).await.unwrap();
        }
        Some(db) => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(statements).execute(&mut conn).await.unwrap();
        }
    }
}

/// A trigger that fails every insert into `table` (the statement between two steps).
async fn fail_inserts_into(f: &Fixture, table: &str) {
    match f.db {
        None => {
            sql(
                f,
                &format!(
                    "CREATE TRIGGER fault BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
                ),
            )
            .await;
        }
        Some(_) => {
            sql(f, &format!(
                "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
                 CREATE TRIGGER fault BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION fault();"
            ))
            .await;
        }
    }
}

async fn drop_fault(f: &Fixture, table: &str) {
    match f.db {
        None => sql(f, "DROP TRIGGER fault;").await,
        Some(_) => sql(f, &format!("DROP TRIGGER fault ON {table}; DROP FUNCTION fault();")).await,
    }
}

async fn a_commit_stores_everything_together(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let seed = seeded(s).await;
    let (t, one) = (seed.tenant.id, seed.session.id);
    let selfie = capture(&seed, CaptureKind::Selfie, "selfie", None);
    assert_eq!(
        s.commit_capture(&commit(&selfie, "selfie", vec![JobKind::Face])).await.unwrap(),
        Committed::Stored { replaced: vec![] }
    );
    assert_eq!(s.captures(t, one).await.unwrap(), vec![selfie.clone()]);
    assert_eq!(s.images(t, one).await.unwrap(), vec![("selfie".to_owned(), selfie.blobs[0].clone())]);
    let jobs = s.jobs(t, one).await.unwrap();
    assert_eq!(jobs.iter().map(|j| (j.kind, j.state)).collect::<Vec<_>>(), vec![(JobKind::Face, JobState::Queued)]);
    // A retake replaces the image and reports the key it replaced, for deletion.
    let retake = capture(&seed, CaptureKind::Selfie, "selfie", None);
    assert_eq!(
        s.commit_capture(&commit(&retake, "selfie", vec![JobKind::Face])).await.unwrap(),
        Committed::Stored { replaced: vec![selfie.blobs[0].clone()] }
    );
    let mut referenced = s.referenced_blobs(t, one).await.unwrap();
    referenced.sort();
    let mut expected = vec![selfie.blobs[0].clone(), retake.blobs[0].clone()];
    expected.sort();
    assert_eq!(referenced, expected, "both captures refer to their blob; the image to the retake's");
}

async fn a_failed_commit_stores_nothing(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let seed = seeded(s).await;
    let (t, one) = (seed.tenant.id, seed.session.id);
    // The job is the last statement of the transaction: when it fails, the capture and the
    // image before it must not stay behind.
    fail_inserts_into(&f, "jobs").await;
    let front = capture(&seed, CaptureKind::Front, "front", Some("k"));
    assert!(s.commit_capture(&commit(&front, "fullFrameFrontID", vec![JobKind::Document])).await.is_err());
    assert!(s.captures(t, one).await.unwrap().is_empty(), "no capture without its job");
    assert!(s.images(t, one).await.unwrap().is_empty(), "no image without its capture");
    // The same goes for a submission and its finalize job.
    assert!(s.submit_session(t, one, now()).await.is_err());
    assert_eq!(s.session(t, one).await.unwrap().unwrap().submitted_at, None, "not submitted without finalize");
    drop_fault(&f, "jobs").await;
    // The retry with the same idempotency key is a first attempt, not a replay of nothing.
    assert_eq!(s.capture_by_idempotency_key(t, one, CaptureKind::Front, "k").await.unwrap(), None);
    s.commit_capture(&commit(&front, "fullFrameFrontID", vec![JobKind::Document])).await.unwrap();
    s.submit_session(t, one, now()).await.unwrap();
    assert_eq!(s.jobs(t, one).await.unwrap().len(), 2);
}

async fn idempotency_keys_are_scoped_to_the_kind(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let seed = seeded(s).await;
    let (t, one) = (seed.tenant.id, seed.session.id);
    let selfie = capture(&seed, CaptureKind::Selfie, "selfie", Some("same-key"));
    s.commit_capture(&commit(&selfie, "selfie", vec![])).await.unwrap();
    let front = capture(&seed, CaptureKind::Front, "front", Some("same-key"));
    s.commit_capture(&commit(&front, "fullFrameFrontID", vec![])).await.unwrap();
    assert_eq!(s.capture_by_idempotency_key(t, one, CaptureKind::Selfie, "same-key").await.unwrap(), Some(selfie));
    assert_eq!(s.capture_by_idempotency_key(t, one, CaptureKind::Front, "same-key").await.unwrap(), Some(front));
    // The same kind and key again is a conflict, and changes nothing.
    let again = capture(&seed, CaptureKind::Front, "front", Some("same-key"));
    assert!(matches!(
        s.commit_capture(&commit(&again, "fullFrameFrontID", vec![JobKind::Document])).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.jobs(t, one).await.unwrap().is_empty());
    assert_eq!(s.images(t, one).await.unwrap().len(), 2);
}

async fn a_challenge_is_answered_once(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let seed = seeded(s).await;
    let (t, one) = (seed.tenant.id, seed.session.id);
    let challenge = ChallengeRecord {
        id: ChallengeId::generate(now()),
        tenant_id: t,
        session_id: one,
        direction: TurnDirection::Right,
        prompt_at_ms: 900,
        created_at: now(),
        expires_at: now() + Duration::minutes(2),
        answered_at: None,
    };
    s.insert_challenge(&challenge).await.unwrap();
    let answer = |name: &str| {
        let mut c = capture(&seed, CaptureKind::Liveness, name, Some(name));
        c.challenge_id = Some(challenge.id);
        c.liveness = Some(super::liveness_findings());
        CaptureCommit { capture: c, images: vec![], jobs: vec![JobKind::Face], answers_challenge: Some(challenge.id) }
    };
    // Another tenant's commit answers nothing; a commit that fails (its idempotency key is
    // taken) leaves the challenge open: it is used up only together with a stored answer.
    let mut foreign = answer("frame-x");
    foreign.capture.tenant_id = super::tenant("gamma").id;
    assert_eq!(s.commit_capture(&foreign).await.unwrap(), Committed::ChallengeAlreadyAnswered);
    s.commit_capture(&CaptureCommit { answers_challenge: None, ..answer("taken") }).await.unwrap();
    assert!(matches!(s.commit_capture(&answer("taken")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.challenge(t, one, challenge.id).await.unwrap().unwrap().answered_at, None);
    let stored = answer("frame-a");
    assert!(matches!(s.commit_capture(&stored).await.unwrap(), Committed::Stored { .. }));
    let found = s.capture_by_idempotency_key(t, one, CaptureKind::Liveness, "frame-a").await.unwrap();
    assert_eq!(found.and_then(|c| c.liveness), stored.capture.liveness, "the verdict is stored with the film");
    assert_eq!(s.commit_capture(&answer("frame-b")).await.unwrap(), Committed::ChallengeAlreadyAnswered);
    assert_eq!(s.captures(t, one).await.unwrap().len(), 2, "the second answer stored nothing");
    let answered = s.challenge(t, one, challenge.id).await.unwrap().unwrap();
    assert!(answered.answered_at.is_some());
    // An answered challenge is never renewed.
    s.extend_challenge(t, one, challenge.id, answered.expires_at + Duration::minutes(5)).await.unwrap();
    assert_eq!(s.challenge(t, one, challenge.id).await.unwrap().unwrap(), answered);
}

async fn reconcile_candidates_are_sessions_missing_work(backend: Backend) {
    let f = fixture(backend).await;
    let s = &f.store;
    let seed = seeded(s).await;
    let (t, one) = (seed.tenant.id, seed.session.id);
    let epoch = time::OffsetDateTime::UNIX_EPOCH;
    let later = now() + Duration::minutes(1);
    assert!(s.reconcile_candidates(now(), epoch, later, None, 10).await.unwrap().is_empty());
    // An accepted capture without its job is a candidate; with the job queued it is not.
    let selfie = capture(&seed, CaptureKind::Selfie, "selfie", None);
    s.commit_capture(&commit(&selfie, "selfie", vec![])).await.unwrap();
    assert_eq!(s.reconcile_candidates(now(), epoch, later, None, 10).await.unwrap(), vec![(t, one)]);
    let window_closed = s.reconcile_candidates(now(), later, later, None, 10).await.unwrap();
    assert!(window_closed.is_empty(), "captures before the window are not looked at");
    assert!(s.reconcile_candidates(now(), epoch, later, Some(one), 10).await.unwrap().is_empty(), "cursor");
    s.enqueue_job(t, one, JobKind::Face, now(), now()).await.unwrap();
    assert!(s.reconcile_candidates(now(), epoch, later, None, 10).await.unwrap().is_empty());
    // Expired sessions are left alone.
    let expired_at = seed.session.expires_at + Duration::seconds(1);
    let retake = capture(&seed, CaptureKind::Front, "front", None);
    s.commit_capture(&commit(&retake, "fullFrameFrontID", vec![])).await.unwrap();
    assert_eq!(s.reconcile_candidates(now(), epoch, later, None, 10).await.unwrap(), vec![(t, one)]);
    assert!(s.reconcile_candidates(expired_at, epoch, later, None, 10).await.unwrap().is_empty());
}

async fn concurrent_writers_never_see_a_locked_database(backend: Backend) {
    let f = fixture(backend).await;
    let seed = seeded(&f.store).await;
    let (t, one) = (seed.tenant.id, seed.session.id);
    // Read-then-write transactions from many tasks at once: on SQLite, a deferred transaction
    // that must upgrade its read lock fails at once with "database is locked".
    let writes = (0..96).map(|i| {
        let s = f.store.clone();
        let c = capture(&seed, CaptureKind::Selfie, "selfie", Some(&format!("k{i}")));
        async move {
            match i % 3 {
                0 => s.put_image(t, one, &format!("image{}", i % 5), &c.blobs[0], now()).await.map(drop),
                1 => s.commit_capture(&commit(&c, "selfie", vec![JobKind::Face])).await.map(drop),
                _ => s.enqueue_job(t, one, JobKind::Document, now(), now()).await,
            }
        }
    });
    for result in futures_join_all(writes).await {
        result.unwrap();
    }
    assert_eq!(f.store.captures(t, one).await.unwrap().len(), 32);
}
