//! Flows: per-tenant onboarding configurations (Incode's `configurationId`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{FlowId, TenantId};
use crate::text::{HttpUrl, InvalidValue, Origin};

/// A named flow configuration owned by one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: FlowId,
    pub tenant_id: TenantId,
    pub name: String,
    pub config: FlowConfig,
    pub created_at: OffsetDateTime,
}

/// Everything a flow decides: which steps run, how strict the checks are, where the person goes
/// at the end, who may embed the page, and how long things may take. Unknown keys are rejected
/// so a typo in a hand-written flow fails loudly instead of silently using a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FlowConfig {
    pub modules: Modules,
    pub thresholds: Thresholds,
    /// Where the hosted flow sends the person at the end when it runs top-level. A
    /// `redirectionUrl` given to `/omni/start` takes precedence.
    pub redirection_url: Option<HttpUrl>,
    /// Origins allowed to embed the hosted flow in an iframe and to receive its `postMessage`
    /// events. Empty means any origin may embed it (the demo default).
    pub allowed_origins: Vec<Origin>,
    pub capture: CaptureSettings,
    /// How long an onboarding URL may wait before it is first opened.
    pub onboarding_link_expiration_minutes: u32,
    /// How long a session may stay unfinished before it becomes `EXPIRED`.
    pub session_expiration_minutes: u32,
    pub end_screen_title: String,
    pub end_screen_text: String,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            modules: Modules::default(),
            thresholds: Thresholds::default(),
            redirection_url: None,
            allowed_origins: Vec::new(),
            capture: CaptureSettings::default(),
            onboarding_link_expiration_minutes: 15,
            session_expiration_minutes: 24 * 60,
            end_screen_title: "All done".into(),
            end_screen_text: "Your details were sent for verification. You can close this window.".into(),
        }
    }
}

/// Steps of the hosted flow. Face match needs both a document and a selfie; liveness needs a
/// selfie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Modules {
    pub consent: bool,
    pub id_capture: bool,
    pub selfie: bool,
    pub liveness: bool,
    pub face_match: bool,
}

impl Default for Modules {
    fn default() -> Self {
        Self { consent: true, id_capture: true, selfie: true, liveness: true, face_match: true }
    }
}

/// Score thresholds on the calibrated 0–100 scales. `None` uses the engine's calibrated
/// default, which is documented in BENCHMARKS.md with the data it came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Thresholds {
    pub face_match_ok: Option<f32>,
    pub face_match_warn: Option<f32>,
    pub liveness_ok: Option<f32>,
    pub liveness_warn: Option<f32>,
    /// Persons younger than this fail the age check; `None` disables it.
    pub minimum_age: Option<u8>,
}

/// Capture limits, returned to clients by `/omni/start` exactly as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CaptureSettings {
    /// Seconds the person has to capture the document once the camera is ready.
    pub id_capture_timeout: u32,
    /// Seconds to wait for a document to appear before offering manual capture.
    pub id_detection_timeout: u32,
    pub selfie_capture_timeout: u32,
    /// Retakes allowed after a rejected capture.
    pub id_capture_retries: u32,
    pub selfie_capture_retries: u32,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        Self {
            id_capture_timeout: 16,
            id_detection_timeout: 60,
            selfie_capture_timeout: 16,
            id_capture_retries: 3,
            selfie_capture_retries: 3,
        }
    }
}

impl FlowConfig {
    /// Checks the rules that serde cannot express. Returns every problem, not just the first.
    pub fn check(&self) -> Result<(), Vec<InvalidValue>> {
        let mut problems = Vec::new();
        let m = &self.modules;
        if m.face_match && !(m.id_capture && m.selfie) {
            problems.push(InvalidValue::new("modules.faceMatch", "needs both idCapture and selfie"));
        }
        if m.liveness && !m.selfie {
            problems.push(InvalidValue::new("modules.liveness", "needs selfie"));
        }
        if !m.id_capture && !m.selfie {
            problems.push(InvalidValue::new("modules", "a flow must capture a document, a selfie, or both"));
        }
        let t = &self.thresholds;
        for (field, value) in [
            ("thresholds.faceMatchOk", t.face_match_ok),
            ("thresholds.faceMatchWarn", t.face_match_warn),
            ("thresholds.livenessOk", t.liveness_ok),
            ("thresholds.livenessWarn", t.liveness_warn),
        ] {
            if value.is_some_and(|v| !(0.0..=100.0).contains(&v)) {
                problems.push(InvalidValue::new(field, "must be between 0 and 100"));
            }
        }
        for (field, ok, warn) in [
            ("thresholds.faceMatchWarn", t.face_match_ok, t.face_match_warn),
            ("thresholds.livenessWarn", t.liveness_ok, t.liveness_warn),
        ] {
            if let (Some(ok), Some(warn)) = (ok, warn)
                && warn > ok
            {
                problems.push(InvalidValue::new(field, "must not be above the OK threshold"));
            }
        }
        let c = &self.capture;
        for (field, secs) in [
            ("capture.idCaptureTimeout", c.id_capture_timeout),
            ("capture.idDetectionTimeout", c.id_detection_timeout),
            ("capture.selfieCaptureTimeout", c.selfie_capture_timeout),
        ] {
            if !(5..=600).contains(&secs) {
                problems.push(InvalidValue::new(field, "must be between 5 and 600 seconds"));
            }
        }
        for (field, retries) in [
            ("capture.idCaptureRetries", c.id_capture_retries),
            ("capture.selfieCaptureRetries", c.selfie_capture_retries),
        ] {
            if retries > 20 {
                problems.push(InvalidValue::new(field, "must be at most 20"));
            }
        }
        if !(1..=7 * 24 * 60).contains(&self.onboarding_link_expiration_minutes) {
            problems.push(InvalidValue::new("onboardingLinkExpirationMinutes", "must be between 1 minute and 7 days"));
        }
        if !(5..=90 * 24 * 60).contains(&self.session_expiration_minutes) {
            problems.push(InvalidValue::new("sessionExpirationMinutes", "must be between 5 minutes and 90 days"));
        }
        for (field, text) in [("endScreenTitle", &self.end_screen_title), ("endScreenText", &self.end_screen_text)] {
            if text.chars().count() > 500 {
                problems.push(InvalidValue::new(field, "at most 500 characters"));
            }
        }
        if self.allowed_origins.len() > 50 {
            problems.push(InvalidValue::new("allowedOrigins", "at most 50 origins"));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `veriframe flows create` does with a file.
    fn from_json(json: &str) -> Result<FlowConfig, Vec<InvalidValue>> {
        let config: FlowConfig =
            serde_json::from_str(json).map_err(|e| vec![InvalidValue::new("flow", e.to_string())])?;
        config.check()?;
        Ok(config)
    }

    #[test]
    fn default_config_is_valid_and_round_trips() {
        let config = FlowConfig::default();
        config.check().unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(from_json(&json).unwrap(), config);
    }

    #[test]
    fn partial_json_takes_defaults() {
        let config =
            from_json(r#"{"modules":{"liveness":false},"allowedOrigins":["https://shop.example.com/"]}"#).unwrap();
        assert!(!config.modules.liveness);
        assert!(config.modules.face_match);
        assert_eq!(config.allowed_origins[0].as_str(), "https://shop.example.com");
        assert_eq!(config.capture.id_capture_retries, 3);
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(from_json(r#"{"modulez":{}}"#).is_err());
        assert!(from_json(r#"{"redirectionUrl":"javascript:alert(1)"}"#).is_err());
        assert!(from_json(r#"{"allowedOrigins":["https://a.com/path"]}"#).is_err());
        let problems = from_json(
            r#"{"modules":{"selfie":false},"thresholds":{"faceMatchOk":50,"faceMatchWarn":60},"capture":{"idCaptureTimeout":1}}"#,
        )
        .unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert!(fields.contains(&"modules.faceMatch"), "{fields:?}");
        assert!(fields.contains(&"modules.liveness"), "{fields:?}");
        assert!(fields.contains(&"thresholds.faceMatchWarn"), "{fields:?}");
        assert!(fields.contains(&"capture.idCaptureTimeout"), "{fields:?}");
    }
}
