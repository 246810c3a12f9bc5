//! What every handler can reach.

use veriframe_core::service::Onboarding;

/// Shared application state: cheap to clone (everything inside is reference-counted).
#[derive(Debug, Clone)]
pub struct AppState {
    pub onboarding: Onboarding,
}
