//! What every handler can reach.

use std::sync::Arc;

use veriframe_core::capture::Capturing;
use veriframe_core::results::Results;
use veriframe_core::service::Onboarding;

use crate::middleware::Guards;

/// Shared application state: cheap to clone (everything inside is reference-counted).
#[derive(Debug, Clone)]
pub struct AppState {
    /// Partner API use cases.
    pub onboarding: Onboarding,
    /// Hosted-flow use cases.
    pub capturing: Capturing,
    /// Result reads.
    pub results: Results,
    /// Throttles, trusted proxies and the upload budget.
    pub guards: Arc<Guards>,
}
