//! Durable verification jobs: claim with a lease, run, complete — or retry with backoff, or
//! give up. Steps are idempotent (they recompute from the stored captures and overwrite their
//! results), so a job that runs twice after a crash does no harm.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};
use tokio::sync::Notify;
use veriframe_core::blob::{BlobError, BlobKey, BlobStore, DocumentVault as _};
use veriframe_core::clock::Clock;
use veriframe_core::flow::Flow;
use veriframe_core::image_name::ImageName;
use veriframe_core::ports::{CaptureRecord, Job, JobKind, JobSignal, JobState, Store, StoreError};
use veriframe_core::reconcile::Reconciler;
use veriframe_core::scores::score_session;
use veriframe_core::session::Session;
use veriframe_core::status::OnboardingStatus;
use veriframe_core::verification::{CaptureKind, DocumentData, FaceFindings};
use veriframe_vision::decode::{DecodeError, decode};
use veriframe_vision::document::assess_document;
use veriframe_vision::face::{FaceError, MatchKind, crop_face};
use veriframe_vision::mrz::OcrError;
use veriframe_vision::mrz::fields::CalendarDate;

use crate::analyzer::STORED_JPEG_QUALITY;
use crate::convert;
use crate::cpu::{CpuError, CpuPool};
use crate::engines::Engines;
use crate::vault::JsonDocumentVault;

/// Tunables.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// How long a claimed job is leased before another worker may take it over.
    pub lease: Duration,
    /// Runs after which a failing job is given up.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub backoff: Duration,
    /// How often idle workers look for due jobs queued by other servers.
    pub idle_poll: StdDuration,
    /// How often the reconciler looks for missing work (see `veriframe_core::reconcile`).
    pub reconcile_every: StdDuration,
    /// How far back each periodic pass looks; the pass at start-up looks at everything.
    pub reconcile_lookback: Duration,
    /// How often orphaned blobs are swept, and how old an unreferenced blob must be.
    pub sweep_every: StdDuration,
    pub sweep_grace: Duration,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            lease: Duration::seconds(60),
            max_attempts: 5,
            backoff: Duration::seconds(2),
            idle_poll: StdDuration::from_millis(500),
            reconcile_every: StdDuration::from_secs(60),
            reconcile_lookback: Duration::hours(1),
            sweep_every: StdDuration::from_secs(3600),
            sweep_grace: Duration::hours(1),
        }
    }
}

/// What one `run_once` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A job ran (successfully or not).
    Ran(JobKind),
    /// Nothing was due.
    Idle,
}

/// Why a step did not complete. Each cause keeps its type; [`StepError::is_transient`] decides
/// whether the job is retried.
#[derive(Debug, thiserror::Error)]
enum StepError {
    /// Waiting for another job of the session; not an error.
    #[error("waiting for the {0} job")]
    Waiting(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The CPU pool could not run the work (shutting down, or the work panicked).
    #[error(transparent)]
    Cpu(#[from] CpuError),
    /// Something the job needs is gone: the session, its flow, an accepted capture.
    #[error("{0} no longer exists")]
    Gone(&'static str),
    #[error("blob {0} is missing")]
    MissingBlob(BlobKey),
    #[error("a stored image cannot be decoded: {0}")]
    Decode(#[from] DecodeError),
    #[error("face analysis: {0}")]
    Face(#[from] FaceError),
    #[error("MRZ reading: {0}")]
    Mrz(#[from] OcrError),
}

impl StepError {
    /// Unreachable storage and a pool that could not run the work are worth another try; the
    /// inputs themselves will not change.
    fn is_transient(&self) -> bool {
        matches!(
            self,
            StepError::Store(StoreError::Unavailable(_))
                | StepError::Blob(BlobError::Unavailable(_))
                | StepError::Cpu(_)
        )
    }
}

/// Wakes idle workers in this process when a job is queued.
#[derive(Debug, Default)]
pub struct Wakeup(Notify);

impl JobSignal for Wakeup {
    fn job_queued(&self) {
        self.0.notify_waiters();
        self.0.notify_one();
    }
}

/// The verification pipeline.
pub struct Pipeline {
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    documents: JsonDocumentVault,
    engines: Arc<Engines>,
    cpu: CpuPool,
    clock: Arc<dyn Clock>,
    settings: PipelineSettings,
    wakeup: Arc<Wakeup>,
    worker: String,
    reconciler: Reconciler,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("worker", &self.worker)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Arc<dyn BlobStore>,
        engines: Arc<Engines>,
        cpu: CpuPool,
        clock: Arc<dyn Clock>,
        settings: PipelineSettings,
        wakeup: Arc<Wakeup>,
    ) -> Self {
        let worker = format!("{}-{}", std::process::id(), OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000);
        let reconciler = Reconciler::new(store.clone(), blobs.clone(), clock.clone(), wakeup.clone());
        let documents = JsonDocumentVault::new(blobs.clone());
        Self { store, blobs, documents, engines, cpu, clock, settings, wakeup, worker, reconciler }
    }

    /// Claims and runs at most one due job. Tests call this to drain the queue without sleeping.
    pub async fn run_once(&self) -> Result<Outcome, StoreError> {
        self.run_as(&self.worker, None).await
    }

    /// Runs due jobs until none is left (jobs waiting on other jobs included), up to `limit` runs.
    /// A job due shortly (a finalize retried a moment after the face job) is claimed as of its
    /// due time rather than waited for, so draining never sleeps.
    pub async fn run_until_idle(&self, limit: usize) -> Result<usize, StoreError> {
        let mut ran = 0;
        while ran < limit {
            let outcome = match self.run_once().await? {
                Outcome::Idle => {
                    let soon = self.clock.now() + Duration::seconds(2);
                    match self.store.next_job_due().await? {
                        Some(due) if due <= soon => self.run_as(&self.worker, Some(due)).await?,
                        _ => Outcome::Idle,
                    }
                }
                ran_one => ran_one,
            };
            match outcome {
                Outcome::Ran(_) => ran += 1,
                Outcome::Idle => break,
            }
        }
        Ok(ran)
    }

    /// Claims one job due by `as_of` (now when `None`) and runs it.
    async fn run_as(&self, worker: &str, as_of: Option<OffsetDateTime>) -> Result<Outcome, StoreError> {
        let now = as_of.unwrap_or_else(|| self.clock.now());
        let Some(job) = self.store.claim_job(worker, now, now + self.settings.lease).await? else {
            return Ok(Outcome::Idle);
        };
        let kind = job.kind;
        let started = std::time::Instant::now();
        // Heartbeat: a step that runs longer than the lease (a loaded machine, a slow store)
        // keeps its job instead of having it claimed and run again by another worker, which
        // would count attempts until the job failed.
        let step = self.step(&job);
        tokio::pin!(step);
        let beat = StdDuration::try_from(self.settings.lease / 3).unwrap_or(StdDuration::from_secs(1));
        let result = loop {
            tokio::select! {
                result = &mut step => break result,
                () = tokio::time::sleep(beat) => {
                    let until = self.clock.now() + self.settings.lease;
                    match self.store.extend_lease(job.id, worker, until).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(interview_id = %job.session_id, job = kind.as_str(), "lease lost to another worker"),
                        Err(e) => tracing::warn!(interview_id = %job.session_id, error = %e, "could not extend the job's lease"),
                    }
                }
            }
        };
        let now = self.clock.now();
        match result {
            Ok(()) => {
                self.store.complete_job(job.id, worker, now).await?;
                tracing::info!(interview_id = %job.session_id, job = kind.as_str(), ms = started.elapsed().as_millis() as u64, "job done");
                if kind != JobKind::Finalize {
                    // A finalize waiting on this job can go now.
                    self.wakeup.job_queued();
                }
            }
            Err(StepError::Waiting(on)) => {
                let retry = now + Duration::milliseconds(250);
                self.store.retry_job(job.id, worker, &format!("waiting for the {on} job"), retry, now).await?;
            }
            Err(e) if e.is_transient() && job.attempts < self.settings.max_attempts => {
                let delay = self.settings.backoff * 2i32.pow(job.attempts.saturating_sub(1).min(10));
                tracing::warn!(interview_id = %job.session_id, job = kind.as_str(), attempt = job.attempts, error = %e, "job will be retried");
                self.store.retry_job(job.id, worker, &e.to_string(), now + delay, now).await?;
            }
            Err(e) => {
                tracing::error!(interview_id = %job.session_id, job = kind.as_str(), attempt = job.attempts, error = %e, "job failed");
                self.store.fail_job(job.id, worker, &e.to_string(), now).await?;
                self.wakeup.job_queued();
            }
        }
        Ok(Outcome::Ran(kind))
    }

    /// The CPU pool the pipeline shares with capture checks, for tests that fill it.
    pub fn cpu_pool(&self) -> &CpuPool {
        &self.cpu
    }

    /// Missing-work and orphaned-blob repair, for tests and the maintenance task.
    pub fn reconciler(&self) -> &Reconciler {
        &self.reconciler
    }

    /// Reconciles at start (everything), then every `reconcile_every` (looking back
    /// `reconcile_lookback`), and sweeps orphaned blobs every `sweep_every`, until `shutdown`.
    async fn maintain(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut since = OffsetDateTime::UNIX_EPOCH;
        let mut next_sweep = tokio::time::Instant::now() + self.settings.reconcile_every;
        loop {
            let started = self.clock.now();
            match self.reconciler.reconcile(since).await {
                Ok(_) => since = started - self.settings.reconcile_lookback,
                Err(e) => tracing::warn!(error = %e, "reconciliation failed; retrying"),
            }
            if tokio::time::Instant::now() >= next_sweep {
                if let Err(e) = self.reconciler.sweep_blobs(self.settings.sweep_grace).await {
                    tracing::warn!(error = %e, "sweeping orphaned blobs failed");
                }
                next_sweep = tokio::time::Instant::now() + self.settings.sweep_every;
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.reconcile_every) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
    }

    /// Runs `n` workers until `shutdown` resolves; each finishes its current job first. `n = 0`
    /// runs none: another process (or a test calling `run_once`) does the work.
    pub fn spawn_workers(
        self: &Arc<Self>,
        n: usize,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let maintenance = (n > 0).then(|| tokio::spawn(self.clone().maintain(shutdown.clone())));
        let mut handles: Vec<tokio::task::JoinHandle<()>> = (0..n)
            .map(|i| {
                let pipeline = self.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let worker = format!("{}/{i}", pipeline.worker);
                    loop {
                        if *shutdown.borrow() {
                            break;
                        }
                        match pipeline.run_as(&worker, None).await {
                            Ok(Outcome::Ran(_)) => continue,
                            Ok(Outcome::Idle) => {}
                            Err(e) => tracing::warn!(error = %e, "job queue unavailable"),
                        }
                        let wait = pipeline.idle_wait().await;
                        tokio::select! {
                            () = pipeline.wakeup.0.notified() => {}
                            () = tokio::time::sleep(wait) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                })
            })
            .collect();
        handles.extend(maintenance);
        handles
    }

    /// How long an idle worker may sleep: until the next due job, at most `idle_poll`.
    async fn idle_wait(&self) -> StdDuration {
        let due = self.store.next_job_due().await.ok().flatten();
        let now = self.clock.now();
        match due {
            Some(due) if due > now => StdDuration::try_from(due - now).unwrap_or_default().min(self.settings.idle_poll),
            Some(_) => StdDuration::from_millis(10),
            None => self.settings.idle_poll,
        }
    }

    async fn step(&self, job: &Job) -> Result<(), StepError> {
        let session = self.store.session(job.tenant_id, job.session_id).await?.ok_or(StepError::Gone("the session"))?;
        let flow =
            self.store.flow(job.tenant_id, session.flow_id).await?.ok_or(StepError::Gone("the session's flow"))?;
        match job.kind {
            JobKind::Document => self.document(&session).await,
            JobKind::Face => self.face(&session, &flow).await,
            JobKind::Finalize => self.finalize(&session, &flow).await,
        }
    }

    async fn latest(&self, session: &Session, kind: CaptureKind) -> Result<Option<CaptureRecord>, StepError> {
        let captures = self.store.captures(session.tenant_id, session.id).await?;
        Ok(captures.into_iter().rev().find(|c| c.kind == kind && c.accepted && !c.blobs.is_empty()))
    }

    async fn blob(&self, key: &BlobKey) -> Result<Vec<u8>, StepError> {
        self.blobs.get(key).await?.ok_or_else(|| StepError::MissingBlob(key.clone()))
    }

    /// The image of an accepted capture (its first blob).
    async fn image_of(&self, capture: &CaptureRecord) -> Result<Vec<u8>, StepError> {
        self.blob(capture.blobs.first().ok_or(StepError::Gone("the capture's image"))?).await
    }

    async fn store_image(&self, session: &Session, name: ImageName, jpeg: Vec<u8>) -> Result<(), StepError> {
        let key = BlobKey::for_session(session.tenant_id, session.id, name.as_str());
        self.blobs.put(&key, jpeg).await?;
        if let Some(old) =
            self.store.put_image(session.tenant_id, session.id, name.as_str(), &key, self.clock.now()).await?
        {
            let _ = self.blobs.delete(&old).await;
        }
        Ok(())
    }

    async fn cpu<T: Send + 'static>(&self, work: impl FnOnce(&Engines) -> T + Send + 'static) -> Result<T, StepError> {
        let engines = self.engines.clone();
        Ok(self.cpu.run_job(move || work(&engines)).await?)
    }

    /// Reads and checks the document: MRZ, check digits, dates, portrait, quality.
    async fn document(&self, session: &Session) -> Result<(), StepError> {
        let Some(front) = self.latest(session, CaptureKind::Front).await? else {
            return Err(StepError::Gone("an accepted front capture"));
        };
        let back = self.latest(session, CaptureKind::Back).await?;
        let front_bytes = self.image_of(&front).await?;
        let back_bytes = match &back {
            Some(b) => Some(self.image_of(b).await?),
            None => None,
        };
        let today = today(self.clock.now());
        let fallback_class = front.summary.document_class;
        let outcome = self
            .cpu(move |e| -> Result<_, StepError> {
                let front = decode(&front_bytes, &e.limits)?.image;
                let back = back_bytes.map(|b| decode(&b, &e.limits).map(|d| d.image)).transpose()?;
                let front_quality = assess_document(&front, &e.document_quality);
                let back_quality = back.as_ref().map(|b| assess_document(b, &e.document_quality));
                let portrait = e.face.analyze_document(&front)?;
                let portrait_crop = portrait
                    .primary
                    .as_ref()
                    .and_then(|p| crop_face(&front, &p.detection, 1.6, 480))
                    .and_then(|c| veriframe_vision::decode::encode_jpeg(&c, STORED_JPEG_QUALITY).ok());
                // The MRZ is on the front of passports and visas and on the back of cards: read
                // where it should be, then the other side if that gave nothing valid.
                let mut reading = e.mrz.read(&front)?;
                if let Some(back) = &back
                    && !reading.is_valid()
                {
                    let other = e.mrz.read(back)?;
                    if other.is_valid() || (other.zone.is_some() && reading.zone.is_none()) {
                        reading = other;
                    }
                }
                let (findings, data) = convert::document_findings(
                    Some(&reading),
                    portrait.primary.is_some(),
                    Some(&front_quality),
                    back_quality.as_ref(),
                    fallback_class,
                    today,
                );
                Ok((findings, data, portrait_crop))
            })
            .await??;
        let (findings, data, portrait_crop) = outcome;
        let data_key = match &data {
            Some(data) => {
                let key = BlobKey::for_session(session.tenant_id, session.id, "document-data");
                self.documents.put(&key, data).await?;
                Some(key)
            }
            None => None,
        };
        if let Some(jpeg) = portrait_crop {
            self.store_image(session, ImageName::CroppedIdFace, jpeg).await?;
        }
        let previous = self.store.results(session.tenant_id, session.id).await?.document_data;
        let now = self.clock.now();
        self.store.save_document_findings(session.tenant_id, session.id, &findings, data_key.as_ref(), now).await?;
        if let Some(old) = previous.filter(|old| Some(old) != data_key.as_ref()) {
            let _ = self.blobs.delete(&old).await;
        }
        self.store
            .transition_status(
                session.tenant_id,
                session.id,
                &[OnboardingStatus::Unknown],
                OnboardingStatus::IdValidationFinished,
                now,
            )
            .await?;
        self.store
            .transition_status(
                session.tenant_id,
                session.id,
                &[OnboardingStatus::IdValidationFinished],
                OnboardingStatus::PostProcessingFinished,
                now,
            )
            .await?;
        Ok(())
    }

    /// Selfie, face match against the document portrait, and the head-turn challenge.
    async fn face(&self, session: &Session, flow: &Flow) -> Result<(), StepError> {
        let m = &flow.config.modules;
        if m.id_capture && self.job_pending(session, JobKind::Document).await? {
            // Milestones stay in order: the document's before the face's.
            return Err(StepError::Waiting("document"));
        }
        let selfie = self.latest(session, CaptureKind::Selfie).await?;
        let front = if m.face_match { self.latest(session, CaptureKind::Front).await? } else { None };
        let liveness = if m.liveness { self.latest(session, CaptureKind::Liveness).await? } else { None };
        let selfie_bytes = match &selfie {
            Some(s) => Some(self.image_of(s).await?),
            None => None,
        };
        let front_bytes = match &front {
            Some(f) => Some(self.image_of(f).await?),
            None => None,
        };
        // The verdict was computed when the film arrived; the score reads that record.
        let liveness = liveness.and_then(|l| l.liveness);
        let outcome = self
            .cpu(move |e| -> Result<_, StepError> {
                let selfie = selfie_bytes.map(|b| decode(&b, &e.limits).map(|d| d.image)).transpose()?;
                let selfie_analysis = selfie.as_ref().map(|s| e.face.analyze_selfie(s)).transpose()?;
                let selfie_face = selfie_analysis.as_ref().and_then(|a| a.primary.clone());
                let selfie_crop = match (&selfie, &selfie_face) {
                    (Some(img), Some(face)) => crop_face(img, &face.detection, 1.6, 480)
                        .and_then(|c| veriframe_vision::decode::encode_jpeg(&c, STORED_JPEG_QUALITY).ok()),
                    _ => None,
                };
                let mut face = FaceFindings {
                    selfie_faces: selfie_analysis
                        .as_ref()
                        .map_or(0, |a| u32::try_from(a.face_count()).unwrap_or(u32::MAX)),
                    selfie_brightness: selfie_face.as_ref().map(|f| f.quality.brightness),
                    ..FaceFindings::default()
                };
                if let Some(front) = front_bytes {
                    let front = decode(&front, &e.limits)?.image;
                    let portrait = e.face.analyze_document(&front)?.primary;
                    match (&portrait, &selfie_face) {
                        (Some(p), Some(s)) => {
                            face.face_match = Some(convert::match_findings(&e.face.compare(
                                &p.embedding,
                                &s.embedding,
                                MatchKind::Document,
                            )));
                        }
                        (None, _) => face.match_unavailable = Some("no portrait found on the document".into()),
                        (_, None) => face.match_unavailable = Some("no face found in the selfie".into()),
                    }
                }
                Ok((face, selfie_crop))
            })
            .await??;
        let (face, selfie_crop) = outcome;
        if let Some(jpeg) = selfie_crop {
            self.store_image(session, ImageName::CroppedFace, jpeg).await?;
        }
        let now = self.clock.now();
        self.store.save_face_findings(session.tenant_id, session.id, &face, liveness.as_ref(), now).await?;
        self.store
            .transition_status(
                session.tenant_id,
                session.id,
                &[
                    OnboardingStatus::Unknown,
                    OnboardingStatus::IdValidationFinished,
                    OnboardingStatus::PostProcessingFinished,
                ],
                OnboardingStatus::FaceValidationFinished,
                now,
            )
            .await?;
        Ok(())
    }

    /// Whether the session's job of `kind` is still to run (queued or running).
    async fn job_pending(&self, session: &Session, kind: JobKind) -> Result<bool, StepError> {
        let jobs = self.store.jobs(session.tenant_id, session.id).await?;
        Ok(jobs.iter().any(|j| j.kind == kind && matches!(j.state, JobState::Queued | JobState::Running)))
    }

    /// Scores, then completion.
    async fn finalize(&self, session: &Session, flow: &Flow) -> Result<(), StepError> {
        for kind in [JobKind::Document, JobKind::Face] {
            if self.job_pending(session, kind).await? {
                return Err(StepError::Waiting(kind.as_str()));
            }
        }
        let results = self.store.results(session.tenant_id, session.id).await?;
        let document_data: Option<DocumentData> = match &results.document_data {
            Some(key) => Some(self.documents.get(key).await?.ok_or_else(|| StepError::MissingBlob(key.clone()))?),
            None => None,
        };
        let scores = score_session(&session.custom_fields, flow, &results, document_data.as_ref());
        let now = self.clock.now();
        self.store.save_scores(session.tenant_id, session.id, &scores, now).await?;
        self.store.finish_onboarding(session.tenant_id, session.id, now).await?;
        tracing::info!(interview_id = %session.id, overall = scores.overall.verdict.as_str(), "session verified");
        Ok(())
    }
}

fn today(now: OffsetDateTime) -> CalendarDate {
    CalendarDate::new(now.year(), u32::from(u8::from(now.month())), u32::from(now.day()))
        .unwrap_or(CalendarDate::today_utc())
}
