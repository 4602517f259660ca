//! Errors of the sandbox's in-process API (`Sandbox::pay_preference`,
//! `Sandbox::set_payment_status`) and control routes.

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
    /// No payment has this id.
    #[error("payment {0} not found")]
    PaymentNotFound(i64),
    /// The status machine does not allow this change.
    #[error("a payment cannot go from {from} to {to}")]
    InvalidTransition { from: String, to: String },
}

impl SandboxError {
    /// A stable machine-readable code for JSON answers.
    pub fn code(&self) -> &'static str {
        match self {
            SandboxError::PreferenceNotFound(_) => "preference_not_found",
            SandboxError::PreferenceExpired(_) => "preference_expired",
            SandboxError::PreferenceNotYetValid(_) => "preference_not_yet_valid",
            SandboxError::InvalidPayRequest(_) => "invalid_pay_request",
            SandboxError::PaymentNotFound(_) => "payment_not_found",
            SandboxError::InvalidTransition { .. } => "invalid_transition",
        }
    }
}
