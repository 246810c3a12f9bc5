//! Use cases of the hosted flow: open a link, report where the person is, accept captures with
//! immediate feedback, run the head-turn challenge, submit for verification, hand off to a
//! phone. Everything here is reached with a flow token ([`FlowAuth`]). The head-turn challenge
//! lives in [`challenge`].

mod challenge;

pub use challenge::Challenge;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::auth::FlowAuth;
use crate::blob::{BlobKey, BlobStore};
use crate::flow::{Flow, FlowConfig};
use crate::ids::{CaptureId, ChallengeId};
use crate::image_name::ImageName;
use crate::ports::{
    AnalyzeError, CaptureAnalyzer, CaptureCommit, CaptureRecord, Committed, Job, JobKind, JobSignal, JobState, Store,
    StoreError,
};
use crate::secret::Secret;
use crate::service::{Onboarding, OnboardingLink, ServiceError, ServiceResult};
use crate::session::Session;
use crate::status::OnboardingStatus;
use crate::verification::{CaptureKind, CaptureProblem, DocumentClass};

/// A step of the hosted flow, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Consent,
    Front,
    Back,
    Selfie,
    Liveness,
    Processing,
    Done,
    Expired,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Consent => "consent",
            Step::Front => "front",
            Step::Back => "back",
            Step::Selfie => "selfie",
            Step::Liveness => "liveness",
            Step::Processing => "processing",
            Step::Done => "done",
            Step::Expired => "expired",
        }
    }

    fn capture_kind(self) -> Option<CaptureKind> {
        match self {
            Step::Front => Some(CaptureKind::Front),
            Step::Back => Some(CaptureKind::Back),
            Step::Selfie => Some(CaptureKind::Selfie),
            Step::Liveness => Some(CaptureKind::Liveness),
            _ => None,
        }
    }
}

/// Retakes left per capture kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetriesLeft {
    pub front: u32,
    pub back: u32,
    pub selfie: u32,
    pub liveness: u32,
}

impl RetriesLeft {
    pub fn of(&self, kind: CaptureKind) -> u32 {
        match kind {
            CaptureKind::Front => self.front,
            CaptureKind::Back => self.back,
            CaptureKind::Selfie => self.selfie,
            CaptureKind::Liveness => self.liveness,
        }
    }
}

/// Where the person is in the flow, and what the page needs to show it.
#[derive(Debug, Clone)]
pub struct FlowState {
    pub session: Session,
    pub status: OnboardingStatus,
    pub flow: Flow,
    pub steps: Vec<Step>,
    /// Steps the person has completed.
    pub completed: Vec<Step>,
    pub current: Step,
    pub document_class: Option<DocumentClass>,
    pub retries: RetriesLeft,
    pub submitted: bool,
    /// Verification ended with results (the session is complete).
    pub done: bool,
    /// Verification could not produce results (a job gave up).
    pub failed: bool,
}

impl FlowState {
    pub fn config(&self) -> &FlowConfig {
        &self.flow.config
    }

    /// Where the person goes at the end (top-level runs only).
    pub fn redirection_url(&self) -> Option<&str> {
        self.session
            .redirection_url
            .as_ref()
            .or(self.flow.config.redirection_url.as_ref())
            .map(crate::text::HttpUrl::as_str)
    }
}

/// The answer to a capture.
#[derive(Debug, Clone)]
pub struct CaptureOutcome {
    pub accepted: bool,
    pub problems: Vec<CaptureProblem>,
    pub retries_left: u32,
    pub next: Step,
}

/// How an upload is labelled for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureSource {
    Camera,
    Upload,
}

impl CaptureSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureSource::Camera => "camera",
            CaptureSource::Upload => "upload",
        }
    }
}

/// A document crop: the guide frame the person aligned the document to, relative to the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelativeRect {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl RelativeRect {
    /// Accepts `x,y,w,h` in 0..1 with a non-empty area inside the image.
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<f32> = s.split(',').map(|p| p.trim().parse::<f32>()).collect::<Result<_, _>>().ok()?;
        let [x, y, width, height] = parts[..] else { return None };
        let ok = [x, y, width, height].iter().all(|v| v.is_finite())
            && x >= 0.0
            && y >= 0.0
            && width > 0.05
            && height > 0.05
            && x + width <= 1.0001
            && y + height <= 1.0001;
        ok.then_some(Self { x, y, width, height })
    }
}

/// Crops a JPEG; supplied by the composition root (image work belongs to the engine side).
pub trait ImageCropper: Send + Sync {
    /// The region as a new JPEG, or `None` when it cannot be cut.
    fn crop(&self, jpeg: &[u8], rect: RelativeRect) -> Option<Vec<u8>>;
}

/// The hosted flow's use cases.
#[derive(Clone)]
pub struct Capturing {
    onboarding: Onboarding,
    blobs: Arc<dyn BlobStore>,
    analyzer: Arc<dyn CaptureAnalyzer>,
    cropper: Arc<dyn ImageCropper>,
    signal: Arc<dyn JobSignal>,
}

impl std::fmt::Debug for Capturing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capturing").field("blobs", &self.blobs.backend()).finish_non_exhaustive()
    }
}

impl Capturing {
    pub fn new(
        onboarding: Onboarding,
        blobs: Arc<dyn BlobStore>,
        analyzer: Arc<dyn CaptureAnalyzer>,
        cropper: Arc<dyn ImageCropper>,
        signal: Arc<dyn JobSignal>,
    ) -> Self {
        Self { onboarding, blobs, analyzer, cropper, signal }
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.onboarding.store()
    }

    fn now(&self) -> OffsetDateTime {
        self.onboarding.now()
    }

    pub fn analyzer(&self) -> &Arc<dyn CaptureAnalyzer> {
        &self.analyzer
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// Exchanges an onboarding link for a flow token and the state to render.
    pub async fn open(&self, link: &str) -> ServiceResult<(Secret, FlowState)> {
        let (token, flow) = self.onboarding.open_link(link).await?;
        Ok((token, self.state(flow).await?))
    }

    /// Where the person is.
    pub async fn state(&self, flow: FlowAuth) -> ServiceResult<FlowState> {
        let (session, flow_config) = self.onboarding.session_and_flow(&flow.access()).await?;
        let captures = self.store().captures(flow.tenant_id(), flow.session_id()).await?;
        let jobs = self.store().jobs(flow.tenant_id(), flow.session_id()).await?;
        Ok(FlowState::compute(session, flow_config, &captures, &jobs, self.now()))
    }

    /// Refuses work on sessions that can no longer take captures.
    fn ensure_capturing(state: &FlowState) -> ServiceResult<()> {
        if state.current == Step::Expired {
            Err(ServiceError::State("the session has expired"))
        } else if state.submitted || state.done {
            Err(ServiceError::State("the captures were already submitted"))
        } else {
            Ok(())
        }
    }

    fn ensure_step(state: &FlowState, kind: CaptureKind) -> ServiceResult<()> {
        Self::ensure_capturing(state)?;
        let step = match kind {
            CaptureKind::Front => Step::Front,
            CaptureKind::Back => Step::Back,
            CaptureKind::Selfie => Step::Selfie,
            CaptureKind::Liveness => Step::Liveness,
        };
        if state.steps.contains(&step) {
            Ok(())
        } else {
            Err(ServiceError::Invalid(format!("this flow has no {} step", step.as_str())))
        }
    }

    /// Records consent.
    pub async fn consent(&self, flow: FlowAuth) -> ServiceResult<FlowState> {
        let state = self.state(flow).await?;
        Self::ensure_capturing(&state)?;
        self.store().record_consent(flow.tenant_id(), flow.session_id(), self.now()).await?;
        self.state(flow).await
    }

    /// A document side or a selfie.
    pub async fn capture(
        &self,
        flow: FlowAuth,
        kind: CaptureKind,
        image: Vec<u8>,
        source: CaptureSource,
        crop: Option<RelativeRect>,
        idempotency_key: Option<&str>,
    ) -> ServiceResult<CaptureOutcome> {
        if kind == CaptureKind::Liveness {
            return Err(ServiceError::Invalid("liveness frames go to the challenge".into()));
        }
        if let Some(previous) = self.replay(flow, kind, idempotency_key).await? {
            return Ok(previous);
        }
        let state = self.state(flow).await?;
        Self::ensure_step(&state, kind)?;
        let checked = self.analyzer.check_image(kind, image).await.map_err(analyze_error)?;
        let accept = checked.problems.is_empty() || state.retries.of(kind) == 0;
        let now = self.now();
        // Blobs first: the commit below may only name bytes that are already stored.
        let mut blobs = Vec::new();
        let mut images = Vec::new();
        if accept {
            let key = BlobKey::for_session(flow.tenant_id(), flow.session_id(), kind.as_str());
            self.blobs.put(&key, checked.jpeg.clone()).await.map_err(blob_error)?;
            if let Some(name) = ImageName::full_frame(kind) {
                images.push((name.as_str().to_owned(), key.clone()));
            }
            blobs.push(key);
            if let (Some(rect), Some(name)) = (crop, ImageName::cropped_document(kind))
                && let Some(jpeg) = self.cropper.crop(&checked.jpeg, rect)
            {
                let crop_key = BlobKey::for_session(flow.tenant_id(), flow.session_id(), name.as_str());
                self.blobs.put(&crop_key, jpeg).await.map_err(blob_error)?;
                images.push((name.as_str().to_owned(), crop_key));
            }
        }
        let record = CaptureRecord {
            id: CaptureId::generate(now),
            tenant_id: flow.tenant_id(),
            session_id: flow.session_id(),
            kind,
            accepted: accept,
            problems: checked.problems,
            summary: checked.summary,
            blobs,
            source: source.as_str().into(),
            challenge_id: None,
            liveness: None,
            idempotency_key: idempotency_key.map(str::to_owned),
            created_at: now,
        };
        let outcome = self.commit(flow, record, images, None).await?;
        tracing::info!(
            interview_id = %flow.session_id(),
            kind = kind.as_str(),
            accepted = accept,
            problems = outcome.problems.len(),
            "capture"
        );
        Ok(outcome)
    }

    /// Stores a capture, its images and the jobs it makes ready in one transaction (see
    /// [`CaptureCommit`]), then deletes the images it superseded. The jobs are decided on the
    /// session as it is just before the commit plus this capture; a capture racing another of
    /// the same session can miss a job, which the reconciler then queues.
    async fn commit(
        &self,
        flow: FlowAuth,
        record: CaptureRecord,
        images: Vec<(String, BlobKey)>,
        answers_challenge: Option<ChallengeId>,
    ) -> ServiceResult<CaptureOutcome> {
        let (session, flow_config) = self.onboarding.session_and_flow(&flow.access()).await?;
        let mut captures = self.store().captures(flow.tenant_id(), flow.session_id()).await?;
        let jobs = self.store().jobs(flow.tenant_id(), flow.session_id()).await?;
        captures.push(record.clone());
        let after = FlowState::compute(session, flow_config, &captures, &jobs, self.now());
        let job = job_of(record.kind);
        let ready = if record.accepted && after.job_ready(job) { vec![job] } else { Vec::new() };
        let mut written: Vec<BlobKey> = record.blobs.clone();
        written.extend(images.iter().map(|(_, key)| key.clone()).filter(|k| !record.blobs.contains(k)));
        let commit = CaptureCommit { capture: record, images, jobs: ready.clone(), answers_challenge };
        let refused = match self.store().commit_capture(&commit).await {
            Ok(Committed::Stored { replaced }) => {
                for old in replaced {
                    // A superseded image is personal data nobody will read again; one left
                    // behind by a failure here is removed by the sweeper.
                    if let Err(e) = self.blobs.delete(&old).await {
                        tracing::warn!(error = %e, "could not delete a superseded image");
                    }
                }
                None
            }
            Ok(Committed::ChallengeAlreadyAnswered) => {
                Some(ServiceError::State("the challenge was already answered; start a new one"))
            }
            Err(StoreError::Conflict(_)) => {
                Some(ServiceError::Conflict("a capture with this Idempotency-Key is being processed".into()))
            }
            // Whether it was stored is unknown (the answer may have been lost after the commit):
            // the blobs stay, and the sweeper removes them if nothing refers to them.
            Err(e) => return Err(e.into()),
        };
        if let Some(refused) = refused {
            // Definitely not stored: nothing will ever refer to these.
            for key in &written {
                let _ = self.blobs.delete(key).await;
            }
            return Err(refused);
        }
        if !ready.is_empty() {
            self.signal.job_queued();
        }
        let capture = &commit.capture;
        Ok(CaptureOutcome {
            accepted: capture.accepted,
            problems: capture.problems.clone(),
            retries_left: after.retries.of(capture.kind),
            next: after.current,
        })
    }

    async fn replay(
        &self,
        flow: FlowAuth,
        kind: CaptureKind,
        key: Option<&str>,
    ) -> ServiceResult<Option<CaptureOutcome>> {
        let Some(key) = key else { return Ok(None) };
        if key.is_empty() || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ServiceError::Invalid("Idempotency-Key must be 1 to 64 printable ASCII characters".into()));
        }
        match self.store().capture_by_idempotency_key(flow.tenant_id(), flow.session_id(), kind, key).await? {
            Some(previous) => Ok(Some(self.outcome(flow, &previous).await?)),
            None => Ok(None),
        }
    }

    async fn outcome(&self, flow: FlowAuth, record: &CaptureRecord) -> ServiceResult<CaptureOutcome> {
        let state = self.state(flow).await?;
        Ok(CaptureOutcome {
            accepted: record.accepted,
            problems: record.problems.clone(),
            retries_left: state.retries.of(record.kind),
            next: state.current,
        })
    }

    /// Submits the captures for verification; the session completes when the jobs finish.
    pub async fn submit(&self, flow: FlowAuth) -> ServiceResult<FlowState> {
        let state = self.state(flow).await?;
        if state.submitted || state.done {
            return Ok(state);
        }
        Self::ensure_capturing(&state)?;
        if let Some(missing) = state.steps.iter().find(|s| s.capture_kind().is_some() && !state.is_done(**s)) {
            return Err(ServiceError::Invalid(format!("capture the {} step first", missing.as_str())));
        }
        if state.steps.contains(&Step::Consent) && state.session.consented_at.is_none() {
            return Err(ServiceError::Invalid("consent is required first".into()));
        }
        let now = self.now();
        // One transaction: a submitted session always has its finalize job.
        self.store().submit_session(flow.tenant_id(), flow.session_id(), now).await?;
        self.signal.job_queued();
        tracing::info!(interview_id = %flow.session_id(), "submitted for verification");
        self.state(flow).await
    }

    /// A fresh link to continue the same session on another device.
    pub async fn handoff(&self, flow: FlowAuth) -> ServiceResult<OnboardingLink> {
        let state = self.state(flow).await?;
        Self::ensure_capturing(&state)?;
        self.onboarding.onboarding_url(&flow.access()).await
    }
}

impl FlowState {
    /// The state of a session from its stored captures and jobs: pure, so the capture path can
    /// also ask what the state *will be* once a capture is stored.
    pub fn compute(
        session: Session,
        flow_config: Flow,
        captures: &[CaptureRecord],
        jobs: &[Job],
        now: OffsetDateTime,
    ) -> Self {
        let status = session.effective_status(now);
        let config = &flow_config.config;
        let m = &config.modules;

        let latest_accepted = |kind: CaptureKind| captures.iter().rev().find(|c| c.kind == kind && c.accepted);
        let rejected = |kind: CaptureKind| captures.iter().filter(|c| c.kind == kind && !c.accepted).count();
        let document_class = latest_accepted(CaptureKind::Front).and_then(|c| c.summary.document_class);
        // Until the front says otherwise (a passport or visa), a card's back is expected.
        let needs_back = document_class.is_none_or(DocumentClass::needs_back);

        let mut steps = Vec::new();
        if m.consent {
            steps.push(Step::Consent);
        }
        if m.id_capture {
            steps.push(Step::Front);
            if needs_back {
                steps.push(Step::Back);
            }
        }
        if m.selfie {
            steps.push(Step::Selfie);
        }
        if m.liveness {
            steps.push(Step::Liveness);
        }
        steps.push(Step::Processing);
        steps.push(Step::Done);

        let submitted = session.submitted_at.is_some();
        let failed = jobs.iter().any(|j| j.state == JobState::Failed);
        let done = status.is_complete();
        let captured = |step: Step| match step {
            Step::Consent => session.consented_at.is_some(),
            other => other.capture_kind().is_some_and(|k| latest_accepted(k).is_some()),
        };
        let completed: Vec<Step> = steps.iter().copied().filter(|s| captured(*s)).collect();
        let current = if status == OnboardingStatus::Expired {
            Step::Expired
        } else if done {
            Step::Done
        } else if submitted {
            Step::Processing
        } else {
            steps.iter().copied().find(|s| !completed.contains(s) && *s != Step::Done).unwrap_or(Step::Processing)
        };
        let retries_of =
            |kind: CaptureKind, allowed: u32| allowed.saturating_sub(u32::try_from(rejected(kind)).unwrap_or(u32::MAX));
        let c = &config.capture;
        let retries = RetriesLeft {
            front: retries_of(CaptureKind::Front, c.id_capture_retries),
            back: retries_of(CaptureKind::Back, c.id_capture_retries),
            selfie: retries_of(CaptureKind::Selfie, c.selfie_capture_retries),
            liveness: retries_of(CaptureKind::Liveness, c.selfie_capture_retries),
        };
        FlowState {
            session,
            status,
            flow: flow_config,
            steps,
            completed,
            current,
            document_class,
            retries,
            submitted,
            done,
            failed,
        }
    }

    /// Whether `step` needs nothing more: completed, or not part of this flow.
    pub fn is_done(&self, step: Step) -> bool {
        !self.steps.contains(&step) || self.completed.contains(&step)
    }

    /// Whether the inputs of `job` are complete: the document's sides, or the selfie and the
    /// head turn; for `finalize`, a submission.
    pub fn job_ready(&self, job: JobKind) -> bool {
        let has = |step: Step| self.steps.contains(&step);
        match job {
            JobKind::Document => has(Step::Front) && self.is_done(Step::Front) && self.is_done(Step::Back),
            JobKind::Face => {
                (has(Step::Selfie) || has(Step::Liveness)) && self.is_done(Step::Selfie) && self.is_done(Step::Liveness)
            }
            JobKind::Finalize => self.submitted,
        }
    }
}

/// The job a capture of `kind` feeds.
pub fn job_of(kind: CaptureKind) -> JobKind {
    match kind {
        CaptureKind::Front | CaptureKind::Back => JobKind::Document,
        CaptureKind::Selfie | CaptureKind::Liveness => JobKind::Face,
    }
}

fn analyze_error(e: AnalyzeError) -> ServiceError {
    match e {
        AnalyzeError::BadImage(message) => ServiceError::Image(message),
        AnalyzeError::Busy { retry_after } => ServiceError::Busy { retry_after },
        AnalyzeError::Internal(message) => {
            ServiceError::Store(crate::ports::StoreError::Other(format!("verification engine: {message}")))
        }
    }
}

pub(crate) fn blob_error(e: crate::blob::BlobError) -> ServiceError {
    match e {
        crate::blob::BlobError::Unavailable(m) => ServiceError::Store(crate::ports::StoreError::Unavailable(m)),
        other => ServiceError::Store(crate::ports::StoreError::Other(other.to_string())),
    }
}
