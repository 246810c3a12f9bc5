//! The integration guide, replayed step by step with exactly its requests.

use serde_json::{Value, json};
use veriframe_api_types::OnboardingLinkSecret;
use veriframe_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(
    guide_steps_work_unchanged,
    resume_returns_a_new_token_for_the_same_session,
    start_accepts_every_documented_field
);

async fn guide_steps_work_unchanged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = app.http();

    // Step 1.1: create the session with the guide's headers and body.
    let response = http
        .post(app.url("omni/start"))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .header("api-version", "1.0")
        .header("x-api-key", &app.api_key)
        .body(
            json!({
                "countryCode": "ALL",
                "configurationId": app.flow_id,
                "externalCustomerId": "someuser0001",
                "redirectionUrl": "http://example.com/"
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started: Value = response.json().await.unwrap();
    let token = started["token"].as_str().unwrap().to_owned();
    let interview_id = started["interviewId"].as_str().unwrap().to_owned();
    assert_eq!(interview_id.len(), 24);
    assert!(interview_id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(started["clientId"], app.client_id);
    assert_eq!(started["existingSession"], false);
    assert_eq!(started["flowType"], "flow");
    for key in [
        "interviewCode",
        "env",
        "idCaptureTimeout",
        "idDetectionTimeout",
        "selfieCaptureTimeout",
        "idCaptureRetries",
        "selfieCaptureRetries",
        "onboardingLinkExpirationMinutes",
    ] {
        assert!(!started[key].is_null(), "{key} missing in {started}");
    }

    // Step 1.3: the onboarding URL, with the session token alone.
    let response = http
        .get(app.url("0/omni/onboarding-url"))
        .header("Content-Type", "application/json")
        .header("api-version", "1.0")
        .header("X-Incode-Hardware-Id", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let url = response.json::<Value>().await.unwrap()["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/flow/", app.base_url)), "{url}");
    // Unique and unguessable: a second call gives another 256-bit link.
    let again = app.client.session(&token).onboarding_url().await.unwrap().url;
    assert_ne!(url, again);
    assert!(OnboardingLinkSecret::from_url(&url).unwrap().expose().len() >= 43);

    // Step 3: the status the integrator's backend polls.
    let response = http
        .get(app.url("0/omni/get/onboarding/status"))
        .header("accept", "application/json")
        .header("Content-Type", "application/json")
        .header("api-version", "1.0")
        .header("X-Incode-Hardware-Id", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"onboardingStatus": "UNKNOWN"}));

    // Before anything is captured, results say so without inventing values.
    let session = app.client.session(&token);
    let score = session.score().await.unwrap();
    assert_eq!(score.overall.status, "UNKNOWN");
    assert!(score.id_validation.is_none() && score.liveness.is_none() && score.face_recognition.is_none());
    let ocr = session.ocr_data().await.unwrap();
    assert!(ocr.name.is_none() && ocr.birth_date.is_none() && ocr.document_number.is_none());
    assert!(session.images(&["selfie", "fullFrameFrontID"]).await.unwrap().is_empty());

    // Completion: the poller sees ONBOARDING_FINISHED; the redirect is the one given at start.
    let finished = session.finish().await.unwrap();
    assert_eq!(finished.redirection_url, "http://example.com/");
    assert_eq!(finished.action, "none");
    assert_eq!(session.status().await.unwrap().onboarding_status, "ONBOARDING_FINISHED");
    // Finishing twice is harmless.
    session.finish().await.unwrap();

    // The API-key form of every call reaches the same session.
    let keyed = app.client.keyed_session(&token);
    assert_eq!(keyed.status().await.unwrap().onboarding_status, "ONBOARDING_FINISHED");
    assert_eq!(keyed.score().await.unwrap().overall.status, "UNKNOWN");
    app.stop().await;
}

async fn resume_returns_a_new_token_for_the_same_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, interview_id) = app.start_session().await;
    let resumed = app
        .client
        .start(&veriframe_api_types::StartRequest { interview_id: Some(interview_id.clone()), ..Default::default() })
        .await
        .unwrap();
    assert!(resumed.existing_session);
    assert_eq!(resumed.interview_id, interview_id);
    assert_ne!(resumed.token, token);
    // Both tokens reach the session.
    assert_eq!(app.client.session(&token).status().await.unwrap().onboarding_status, "UNKNOWN");
    app.client.session(&resumed.token).finish().await.unwrap();
    assert_eq!(app.client.session(&token).status().await.unwrap().onboarding_status, "ONBOARDING_FINISHED");
}

async fn start_accepts_every_documented_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http()
        .post(app.url("omni/start"))
        .header("x-api-key", &app.api_key)
        .header("api-version", "1.0")
        .json(&json!({
            "configurationId": app.flow_id,
            "countryCode": "mx",
            "language": "es-ES",
            "externalId": "legacy-user-7",
            "redirectUrl": "https://shop.example.com/done?order=42",
            "customFields": {"firstName": "Ana", "vip": true},
            "sdkVersion": "1.51.0",
            "someFutureField": {"nested": [1, 2]}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let started: Value = response.json().await.unwrap();
    let id = veriframe_core::InterviewId::parse(started["interviewId"].as_str().unwrap()).unwrap();
    let tenant = app.provisioning().tenant(&veriframe_core::ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let session = app.store.session(tenant.id, id).await.unwrap().unwrap();
    assert_eq!(session.country_code.as_str(), "MX");
    assert_eq!(session.language.as_str(), "es-ES");
    assert_eq!(session.external_customer_id.unwrap().as_str(), "legacy-user-7");
    assert_eq!(session.redirection_url.unwrap().as_str(), "https://shop.example.com/done?order=42");
    assert_eq!(session.custom_fields.as_map()["firstName"], "Ana");
    assert_eq!(session.custom_fields.as_map()["vip"], "true");
    let finished = app.client.session(started["token"].as_str().unwrap()).finish().await.unwrap();
    assert_eq!(finished.redirection_url, "https://shop.example.com/done?order=42");
}
