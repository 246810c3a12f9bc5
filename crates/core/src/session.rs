//! Onboarding sessions.

use time::OffsetDateTime;

use crate::ids::{FlowId, InterviewCode, InterviewId, TenantId};
use crate::status::OnboardingStatus;
use crate::text::{CountryCode, CustomFields, ExternalCustomerId, HttpUrl, Language};

/// One attempt by one person to get verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: InterviewId,
    pub tenant_id: TenantId,
    pub flow_id: FlowId,
    pub interview_code: InterviewCode,
    /// The stored milestone; see [`Session::effective_status`] for what callers are shown.
    pub status: OnboardingStatus,
    pub external_customer_id: Option<ExternalCustomerId>,
    pub redirection_url: Option<HttpUrl>,
    pub country_code: CountryCode,
    pub language: Language,
    pub custom_fields: CustomFields,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    /// When the person accepted the consent notice in the hosted flow.
    pub consented_at: Option<OffsetDateTime>,
    /// When the hosted flow submitted the captures for verification.
    pub submitted_at: Option<OffsetDateTime>,
}

impl Session {
    /// The status as of `now`: an unfinished session past its deadline is `EXPIRED` even before
    /// the sweeper has written that down, so pollers never see a stale milestone.
    pub fn effective_status(&self, now: OffsetDateTime) -> OnboardingStatus {
        if !self.status.is_closed() && now >= self.expires_at { OnboardingStatus::Expired } else { self.status }
    }
}
