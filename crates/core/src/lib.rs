//! The veriframe domain: tenants, API keys, flows, onboarding sessions and their status, tokens,
//! the use cases that tie them together, and the ports (traits) through which the outside world
//! is reached.
//!
//! Architecture invariant: this crate does no I/O except through a port. It knows nothing about
//! HTTP, JSON wire shapes, SQL, files or models, so every rule here can be tested with an
//! in-memory store.
#![forbid(unsafe_code)]

pub mod auth;
pub mod blob;
pub mod capture;
pub mod challenge;
pub mod clock;
pub mod flow;
pub mod ids;
pub mod image_name;
pub mod lockout;
pub mod password;
pub mod ports;
pub mod provisioning;
pub mod reconcile;
pub mod results;
pub mod scores;
pub mod secret;
pub mod service;
pub mod session;
pub mod status;
pub mod tenant;
pub mod text;
pub mod verification;

pub use clock::{Clock, SystemClock};
pub use ids::{
    AdminId, ApiKeyId, CaptureId, ChallengeId, ClientId, FlowId, IdError, InterviewCode, InterviewId, JobId, TenantId,
};
pub use status::OnboardingStatus;
