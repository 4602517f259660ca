//! Errors of the sandbox's in-process API (`Sandbox::pay_preference`) and control routes.

/// Why the sandbox refused a control action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// No preference has this id.
    #[error("preference {0} not found")]
    PreferenceNotFound(String),
    /// The preference has `expires: true` and its `expiration_date_to` has passed.
    #[error("preference {0} is expired: its payment link can no longer be paid")]
    PreferenceExpired(String),
    /// The preference has `expires: true` and its `expiration_date_from` is still ahead.
    #[error("preference {0} is not valid yet: expiration_date_from is in the future")]
    PreferenceNotYetValid(String),
    /// The pay request itself is wrong (unknown status, non-positive amount, …).
    #[error("invalid pay request: {0}")]
    InvalidPayRequest(String),
}

impl SandboxError {
    /// A stable machine-readable code for JSON answers.
    pub fn code(&self) -> &'static str {
        match self {
            SandboxError::PreferenceNotFound(_) => "preference_not_found",
            SandboxError::PreferenceExpired(_) => "preference_expired",
            SandboxError::PreferenceNotYetValid(_) => "preference_not_yet_valid",
            SandboxError::InvalidPayRequest(_) => "invalid_pay_request",
        }
    }
}
