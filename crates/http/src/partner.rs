//! The partner API: Incode Omni's endpoints for the embedded-iframe integration.
//!
//! Each endpoint that reads a session exists twice: `/omni/X` (API key + token, `?id=`) and
//! `/0/omni/X` (token only). Both forms call the same function once access is established.

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use veriframe_api_types as wire;
use veriframe_core::auth::SessionAccess;
use veriframe_core::ids::{FlowId, InterviewId};
use veriframe_core::image_name::ImageName;
use veriframe_core::results::TooLarge;
use veriframe_core::scores;
use veriframe_core::service::{StartSession, Started};
use veriframe_core::text::{CountryCode, CustomFields, ExternalCustomerId, FieldValue, HttpUrl, Language};
use veriframe_core::verification::{Date, DocumentData, DocumentFindings};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiKey, ApiQuery, IdQuery, KeyedAccess, PresentedToken, ZeroAccess};
use crate::middleware::ClientIp;
use crate::state::AppState;

type ApiResult<T> = Result<ApiJson<T>, ApiError>;

/// Parses the wire request into the domain's, naming the first bad field.
fn parse_start(body: wire::StartRequest) -> Result<StartSession, ApiError> {
    fn non_empty(v: Option<String>) -> Option<String> {
        v.filter(|s| !s.trim().is_empty())
    }
    let bad = |e: &dyn std::fmt::Display| ApiError::bad_request(e.to_string());
    let configuration_id = non_empty(body.configuration_id)
        .map(|id| FlowId::parse(id.trim()))
        .transpose()
        .map_err(|e| bad(&format!("configurationId: {e}")))?;
    let resume = non_empty(body.interview_id)
        .map(|id| InterviewId::parse(id.trim()))
        .transpose()
        .map_err(|e| bad(&format!("interviewId: {e}")))?;
    let country_code = non_empty(body.country_code).map(|c| CountryCode::parse(&c)).transpose().map_err(|e| bad(&e))?;
    let language = non_empty(body.language).map(|l| Language::parse(&l)).transpose().map_err(|e| bad(&e))?;
    let external_customer_id = non_empty(body.external_customer_id.or(body.external_id))
        .map(|e| ExternalCustomerId::parse(&e))
        .transpose()
        .map_err(|e| bad(&e))?;
    let redirection_url = non_empty(body.redirection_url.or(body.redirect_url))
        .map(|u| HttpUrl::parse("redirectionUrl", &u))
        .transpose()
        .map_err(|e| bad(&e))?;
    let custom_fields = match body.custom_fields {
        None | Some(serde_json::Value::Null) => CustomFields::default(),
        Some(value) => custom_fields(value).map_err(|e| bad(&e))?,
    };
    Ok(StartSession {
        configuration_id,
        country_code,
        language,
        external_customer_id,
        redirection_url,
        custom_fields,
        resume,
    })
}

/// `customFields` off the wire: a flat JSON object whose values are strings, numbers, booleans
/// or null; the rules on keys and values are the domain's.
fn custom_fields(value: serde_json::Value) -> Result<CustomFields, veriframe_core::text::InvalidValue> {
    use serde_json::Value;
    let Value::Object(object) = value else {
        return Err(veriframe_core::text::InvalidValue::new(CustomFields::FIELD, "expected a flat JSON object"));
    };
    CustomFields::parse(object.into_iter().map(|(key, value)| {
        let value = match value {
            Value::Null => FieldValue::Null,
            Value::String(s) => FieldValue::Scalar(s),
            Value::Bool(b) => FieldValue::Scalar(b.to_string()),
            Value::Number(n) => FieldValue::Scalar(n.to_string()),
            Value::Array(_) | Value::Object(_) => FieldValue::Structured,
        };
        (key, value)
    }))
}

fn start_response(started: Started, env: &str) -> wire::StartResponse {
    let config = &started.flow.config;
    wire::StartResponse {
        token: started.token.expose().to_owned(),
        interview_id: started.session.id.to_string(),
        interview_code: started.session.interview_code.to_string(),
        flow_type: "flow".into(),
        id_capture_timeout: config.capture.id_capture_timeout,
        id_detection_timeout: config.capture.id_detection_timeout,
        selfie_capture_timeout: config.capture.selfie_capture_timeout,
        id_capture_retries: config.capture.id_capture_retries,
        selfie_capture_retries: config.capture.selfie_capture_retries,
        client_id: started.client_id.to_string(),
        env: env.to_owned(),
        existing_session: started.existing_session,
        end_screen_title: config.end_screen_title.clone(),
        end_screen_text: config.end_screen_text.clone(),
        optin_enabled: false,
        optin_company_name: String::new(),
        onboarding_link_expiration_minutes: config.onboarding_link_expiration_minutes,
    }
}

/// Create a session (or a new token for an existing one).
#[utoipa::path(
    post, path = "/omni/start", tag = "partner",
    request_body = wire::StartRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = wire::StartResponse),
        (status = 400, description = "Invalid field, or unknown configurationId", body = wire::ErrorBody),
        (status = 403, description = "Missing, invalid or revoked API key", body = wire::ErrorBody),
        (status = 404, description = "interviewId to resume is not a session of this tenant", body = wire::ErrorBody),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    ApiKey(key): ApiKey,
    ApiJson(body): ApiJson<wire::StartRequest>,
) -> ApiResult<wire::StartResponse> {
    let request = parse_start(body)?;
    let started = state.onboarding.start(&key, request).await?;
    Ok(ApiJson(start_response(started, &state.onboarding.settings().env)))
}

async fn onboarding_url(state: &AppState, access: SessionAccess) -> ApiResult<wire::OnboardingUrlResponse> {
    let link = state.onboarding.onboarding_url(&access).await?;
    Ok(ApiJson(wire::OnboardingUrlResponse { url: link.url }))
}

/// A link to the hosted flow for the token's session. `clientId` is accepted and ignored.
#[utoipa::path(
    get, path = "/0/omni/onboarding-url", tag = "partner",
    security(("sessionToken" = [])),
    params(("clientId" = Option<String>, Query, description = "Accepted for compatibility; the token identifies the tenant")),
    responses((status = 200, body = wire::OnboardingUrlResponse), (status = 401, body = wire::ErrorBody))
)]
pub async fn onboarding_url_zero(
    State(state): State<AppState>,
    ZeroAccess(access): ZeroAccess,
) -> ApiResult<wire::OnboardingUrlResponse> {
    onboarding_url(&state, access).await
}

/// Same as `/0/omni/onboarding-url`, with the API key.
#[utoipa::path(
    get, path = "/omni/onboarding-url", tag = "partner",
    security(("apiKey" = [], "sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId (defaults to the token's session)"),
           ("clientId" = Option<String>, Query, description = "Accepted and ignored")),
    responses((status = 200, body = wire::OnboardingUrlResponse), (status = 401, body = wire::ErrorBody), (status = 403, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn onboarding_url_keyed(
    State(state): State<AppState>,
    KeyedAccess(access): KeyedAccess,
) -> ApiResult<wire::OnboardingUrlResponse> {
    onboarding_url(&state, access).await
}

async fn status(state: &AppState, access: SessionAccess) -> ApiResult<wire::OnboardingStatusResponse> {
    let status = state.onboarding.status(&access).await?;
    Ok(ApiJson(wire::OnboardingStatusResponse { onboarding_status: status.as_str().to_owned() }))
}

/// The session's latest milestone. This is what integrators poll.
#[utoipa::path(
    get, path = "/0/omni/get/onboarding/status", tag = "partner",
    security(("sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId; required with an executive token")),
    responses((status = 200, body = wire::OnboardingStatusResponse), (status = 401, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn status_zero(
    State(state): State<AppState>,
    token: PresentedToken,
    ApiQuery(query): ApiQuery<IdQuery>,
) -> ApiResult<wire::OnboardingStatusResponse> {
    // The hot path: one round trip to the database checks the token and reads the status.
    let status = state.onboarding.poll_status(token.0.as_deref(), query.interview_id()?).await?;
    Ok(ApiJson(wire::OnboardingStatusResponse { onboarding_status: status.as_str().to_owned() }))
}

/// Same as `/0/omni/get/onboarding/status`, with the API key (and usually an executive token).
#[utoipa::path(
    get, path = "/omni/get/onboarding/status", tag = "partner",
    security(("apiKey" = [], "sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId")),
    responses((status = 200, body = wire::OnboardingStatusResponse), (status = 401, body = wire::ErrorBody), (status = 403, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn status_keyed(
    State(state): State<AppState>,
    KeyedAccess(access): KeyedAccess,
) -> ApiResult<wire::OnboardingStatusResponse> {
    status(&state, access).await
}

fn block(b: &scores::Block) -> wire::ScoreValue {
    wire::ScoreValue { value: b.value.clone(), status: b.verdict.as_str().to_owned() }
}

fn items(checks: &[scores::Check]) -> Vec<wire::ScoreItem> {
    checks
        .iter()
        .map(|c| wire::ScoreItem {
            key: c.key.clone(),
            value: c.block.value.clone(),
            status: c.block.verdict.as_str().to_owned(),
        })
        .collect()
}

/// Core scores in Incode's shape.
pub fn score_response(s: &scores::Scores) -> wire::ScoreResponse {
    wire::ScoreResponse {
        id_validation: s.id_validation.as_ref().map(|v| wire::IdValidationScore {
            photo_security_and_quality: items(&v.photo_quality),
            id_specific: items(&v.id_specific),
            custom_fields: items(&v.custom_fields),
            applied_rule: None,
            overall: block(&v.overall),
        }),
        liveness: s.liveness.as_ref().map(|l| wire::LivenessScore {
            liveness_score: block(&l.score),
            photo_quality: block(&l.photo_quality),
            overall: block(&l.overall),
            checks: l.checks.iter().map(|c| c.as_str().to_owned()).collect(),
        }),
        face_recognition: s.face_recognition.as_ref().map(|f| wire::FaceRecognitionScore {
            existing_user: false,
            face_brightness: f.face_brightness.as_ref().map(block),
            overall: block(&f.overall),
        }),
        government_validation: None,
        external_verification: None,
        id_ocr_confidence: s.ocr_confidence.as_ref().map(|c| wire::IdOcrConfidence { overall_confidence: block(c) }),
        retry_info: Vec::new(),
        applied_rule: None,
        needs_review_reason: String::new(),
        reason_msg: s.reason.clone(),
        overall: block(&s.overall),
    }
}

async fn score(state: &AppState, access: SessionAccess) -> ApiResult<wire::ScoreResponse> {
    let scores = state.results.scores(&access).await?;
    Ok(ApiJson(score_response(&scores)))
}

/// Scores of the session. Decide on `overall.status`.
#[utoipa::path(
    get, path = "/0/omni/get/score", tag = "results",
    security(("sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId; required with an executive token")),
    responses((status = 200, body = wire::ScoreResponse), (status = 401, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn score_zero(
    State(state): State<AppState>,
    ZeroAccess(access): ZeroAccess,
) -> ApiResult<wire::ScoreResponse> {
    score(&state, access).await
}

/// Same as `/0/omni/get/score`, with the API key.
#[utoipa::path(
    get, path = "/omni/get/score", tag = "results",
    security(("apiKey" = [], "sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId")),
    responses((status = 200, body = wire::ScoreResponse), (status = 401, body = wire::ErrorBody), (status = 403, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn score_keyed(
    State(state): State<AppState>,
    KeyedAccess(access): KeyedAccess,
) -> ApiResult<wire::ScoreResponse> {
    score(&state, access).await
}

fn epoch_ms(d: &Date) -> Option<i64> {
    let month = time::Month::try_from(d.month).ok()?;
    let date = time::Date::from_calendar_date(d.year, month, d.day).ok()?;
    Some(veriframe_core::clock::unix_millis(date.midnight().assume_utc()))
}

/// What was read from the document, in Incode's OCR shape.
pub fn ocr_response(findings: &DocumentFindings, data: Option<&DocumentData>) -> wire::OcrDataResponse {
    let mut out = wire::OcrDataResponse {
        type_of_id: findings.document_class.map(|c| c.type_of_id().to_owned()),
        ..wire::OcrDataResponse::default()
    };
    let Some(d) = data else { return out };
    let full_name = [d.given_names.as_str(), d.surname.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let mrz_full_name = format!("{}<<{}", d.surname.replace(' ', "<"), d.given_names.replace(' ', "<"));
    out.name = Some(wire::OcrName {
        full_name: Some(full_name.clone()),
        first_name: d.given_names.split_whitespace().next().map(str::to_owned),
        given_name: Some(d.given_names.clone()),
        middle_name: {
            let rest: Vec<&str> = d.given_names.split_whitespace().skip(1).collect();
            (!rest.is_empty()).then(|| rest.join(" "))
        },
        paternal_last_name: Some(d.surname.clone()),
        maternal_last_name: None,
        machine_readable_full_name: Some(full_name),
        given_name_mrz: Some(d.given_names.clone()),
        last_name_mrz: Some(d.surname.clone()),
    });
    out.birth_date = d.birth_date.as_ref().and_then(epoch_ms);
    out.expire_at = d.expiry_date.as_ref().and_then(epoch_ms).map(|ms| ms.to_string());
    out.expiration_date = d.expiry_date.map(|e| e.year);
    out.gender = Some(d.sex.clone()).filter(|s| !s.is_empty());
    out.document_number = Some(d.document_number.clone()).filter(|s| !s.is_empty());
    out.personal_number = d.personal_number.clone().filter(|s| !s.is_empty());
    out.issuing_country = Some(d.issuing_country.clone()).filter(|s| !s.is_empty());
    out.nationality = Some(d.nationality.clone()).filter(|s| !s.is_empty());
    out.nationality_mrz = out.nationality.clone();
    out.mrz1 = d.mrz_lines.first().cloned();
    out.mrz2 = d.mrz_lines.get(1).cloned();
    out.mrz3 = d.mrz_lines.get(2).cloned();
    out.full_name_mrz = Some(mrz_full_name);
    out.document_number_check_digit = d.document_number_check_digit.clone();
    out.date_of_birth_check_digit = d.birth_date_check_digit.clone();
    out.expiration_date_check_digit = d.expiry_date_check_digit.clone();
    let confidence = d.confidence.clamp(0.0, 1.0);
    out.ocr_data_confidence = Some(
        [
            "mrzFullConfidence",
            "nameConfidence",
            "birthDateConfidence",
            "expireAtConfidence",
            "documentNumberConfidence",
            "genderConfidence",
            "nationalityConfidence",
        ]
        .into_iter()
        .map(|k| (k.to_owned(), confidence))
        .collect(),
    );
    out
}

async fn ocr_data(state: &AppState, access: SessionAccess) -> ApiResult<wire::OcrDataResponse> {
    let document = state.results.document(&access).await?;
    Ok(ApiJson(match document {
        Some((findings, data)) => ocr_response(&findings, data.as_ref()),
        None => wire::OcrDataResponse::default(),
    }))
}

/// Data read from the document; every field is null until the document is read.
#[utoipa::path(
    get, path = "/0/omni/get/ocr-data", tag = "results",
    security(("sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId; required with an executive token")),
    responses((status = 200, body = wire::OcrDataResponse), (status = 401, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn ocr_data_zero(
    State(state): State<AppState>,
    ZeroAccess(access): ZeroAccess,
) -> ApiResult<wire::OcrDataResponse> {
    ocr_data(&state, access).await
}

/// Same as `/0/omni/get/ocr-data`, with the API key.
#[utoipa::path(
    get, path = "/omni/get/ocr-data", tag = "results",
    security(("apiKey" = [], "sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId")),
    responses((status = 200, body = wire::OcrDataResponse), (status = 401, body = wire::ErrorBody), (status = 403, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn ocr_data_keyed(
    State(state): State<AppState>,
    KeyedAccess(access): KeyedAccess,
) -> ApiResult<wire::OcrDataResponse> {
    ocr_data(&state, access).await
}

/// Memory one `/get/images` answer may take: the 10 MB limit, in base64, with the decrypted copy.
const IMAGES_ANSWER_BYTES: usize = 24 * 1024 * 1024;

async fn images(state: &AppState, access: SessionAccess, body: wire::ImagesRequest) -> ApiResult<wire::ImagesResponse> {
    let _reserved = state
        .guards
        .image_reads
        .reserve(IMAGES_ANSWER_BYTES)
        .ok_or_else(|| ApiError::busy(state.guards.image_reads.retry_after))?;
    // Every name Incode defines is accepted; the ones veriframe never captures are never
    // returned, so integrations that ask for them keep working.
    let names = body
        .images
        .iter()
        .map(|name| {
            ImageName::parse(name).ok_or_else(|| {
                let known: Vec<_> = ImageName::ALL.iter().map(|n| n.as_str()).collect();
                ApiError::bad_request(format!("unknown image name {name:?}; known names: {}", known.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    match state.results.images(&access, &names).await? {
        Ok(images) => Ok(ApiJson(images.into_iter().map(|(name, bytes)| (name, BASE64.encode(bytes))).collect())),
        // Incode answers 502 when the images asked for would exceed its 10 MB response limit.
        Err(TooLarge) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "the requested images exceed the 10 MB response limit; ask for fewer images per call",
        )),
    }
}

/// Images of the session as base64, by name. Names never captured are absent.
#[utoipa::path(
    post, path = "/0/omni/get/images", tag = "results",
    security(("sessionToken" = [])),
    request_body = wire::ImagesRequest,
    params(("id" = Option<String>, Query, description = "interviewId; required with an executive token")),
    responses((status = 200, body = Object, description = "Map of image name to base64"), (status = 400, body = wire::ErrorBody), (status = 401, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn images_zero(
    State(state): State<AppState>,
    ZeroAccess(access): ZeroAccess,
    ApiJson(body): ApiJson<wire::ImagesRequest>,
) -> ApiResult<wire::ImagesResponse> {
    images(&state, access, body).await
}

/// Same as `/0/omni/get/images`, with the API key.
#[utoipa::path(
    post, path = "/omni/get/images", tag = "results",
    security(("apiKey" = [], "sessionToken" = [])),
    request_body = wire::ImagesRequest,
    params(("id" = Option<String>, Query, description = "interviewId")),
    responses((status = 200, body = Object, description = "Map of image name to base64"), (status = 400, body = wire::ErrorBody), (status = 401, body = wire::ErrorBody), (status = 403, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn images_keyed(
    State(state): State<AppState>,
    KeyedAccess(access): KeyedAccess,
    ApiJson(body): ApiJson<wire::ImagesRequest>,
) -> ApiResult<wire::ImagesResponse> {
    images(&state, access, body).await
}

async fn finish(state: &AppState, access: SessionAccess) -> ApiResult<wire::FinishStatusResponse> {
    let finished = state.onboarding.finish(&access).await?;
    Ok(ApiJson(wire::FinishStatusResponse {
        redirection_url: finished.redirection_url.map(|u| u.as_str().to_owned()).unwrap_or_default(),
        action: finished.action.as_str().to_owned(),
    }))
}

/// Mark the session complete (`ONBOARDING_FINISHED`). A GET with a side effect, as in Incode.
#[utoipa::path(
    get, path = "/0/omni/finish-status", tag = "partner",
    security(("sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId; required with an executive token")),
    responses((status = 200, body = wire::FinishStatusResponse), (status = 400, description = "The session expired", body = wire::ErrorBody), (status = 401, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn finish_zero(
    State(state): State<AppState>,
    ZeroAccess(access): ZeroAccess,
) -> ApiResult<wire::FinishStatusResponse> {
    finish(&state, access).await
}

/// Same as `/0/omni/finish-status`, with the API key.
#[utoipa::path(
    get, path = "/omni/finish-status", tag = "partner",
    security(("apiKey" = [], "sessionToken" = [])),
    params(("id" = Option<String>, Query, description = "interviewId"), ("flowId" = Option<String>, Query, description = "Accepted and ignored")),
    responses((status = 200, body = wire::FinishStatusResponse), (status = 400, body = wire::ErrorBody), (status = 401, body = wire::ErrorBody), (status = 403, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody))
)]
pub async fn finish_keyed(
    State(state): State<AppState>,
    KeyedAccess(access): KeyedAccess,
) -> ApiResult<wire::FinishStatusResponse> {
    finish(&state, access).await
}

/// Log a tenant administrator in; returns an executive token valid for 24 hours.
#[utoipa::path(
    post, path = "/executive/log-in", tag = "partner",
    security(("apiKey" = [])),
    request_body = wire::ExecutiveLoginRequest,
    responses((status = 200, body = wire::ExecutiveLoginResponse), (status = 401, description = "Wrong email or password", body = wire::ErrorBody), (status = 403, body = wire::ErrorBody),
              (status = 429, description = "Too many log-ins from this address, or the account is locked after repeated failures", body = wire::ErrorBody),
              (status = 503, description = "Password checks at capacity: retry after Retry-After", body = wire::ErrorBody))
)]
pub async fn executive_login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiKey(key): ApiKey,
    ApiJson(body): ApiJson<wire::ExecutiveLoginRequest>,
) -> ApiResult<wire::ExecutiveLoginResponse> {
    state.guards.throttle.login_ip(ip)?;
    let token = state.onboarding.executive_login(&key, &body.email, &body.password).await?;
    Ok(ApiJson(wire::ExecutiveLoginResponse { token: token.expose().to_owned() }))
}

/// Liveness probe: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = wire::HealthResponse)))]
pub async fn healthz() -> ApiJson<wire::HealthResponse> {
    ApiJson(wire::HealthResponse { status: "ok".into() })
}

/// Readiness probe: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = wire::HealthResponse), (status = 503, body = wire::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<ApiJson<wire::HealthResponse>, ApiError> {
    match state.onboarding.ping().await {
        Ok(()) => Ok(ApiJson(wire::HealthResponse { status: "ok".into() })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the database is not reachable"))
        }
    }
}
