//! The domain's errors and the stable codes hosts show to people (DESIGN §5).

use crate::store::StoreError;
use serde::Serialize;

/// Stable error codes; the UI translates these, never messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    Validation,
    SlotTaken,
    NotFound,
    Conflict,
    GhlUnauthorized,
    MpUnauthorized,
    ProviderUnavailable,
    RateLimited,
    DbUnavailable,
    KeychainUnavailable,
    NotConfigured,
    Internal,
}

/// Everything the domain can refuse or fail with. Messages are safe to show: no tokens,
/// no patient phones, no internal SQL.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("the slot is no longer available")]
    SlotTaken,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("GoHighLevel rejected the credentials")]
    GhlUnauthorized,
    #[error("Mercado Pago rejected the credentials")]
    MpUnauthorized,
    #[error("{provider} is unavailable: {detail}")]
    ProviderUnavailable {
        provider: &'static str,
        detail: String,
    },
    #[error("{0} rate limit reached, try again shortly")]
    RateLimited(&'static str),
    #[error("the database is unavailable")]
    DbUnavailable,
    #[error("the keychain is unavailable: {0}")]
    KeychainUnavailable(String),
    #[error("{0}")]
    NotConfigured(String),
    #[error("internal error")]
    Internal(String),
}

impl DeskError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        DeskError::Validation {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            DeskError::Validation { .. } => ErrorCode::Validation,
            DeskError::SlotTaken => ErrorCode::SlotTaken,
            DeskError::NotFound(_) => ErrorCode::NotFound,
            DeskError::Conflict(_) => ErrorCode::Conflict,
            DeskError::GhlUnauthorized => ErrorCode::GhlUnauthorized,
            DeskError::MpUnauthorized => ErrorCode::MpUnauthorized,
            DeskError::ProviderUnavailable { .. } => ErrorCode::ProviderUnavailable,
            DeskError::RateLimited(_) => ErrorCode::RateLimited,
            DeskError::DbUnavailable => ErrorCode::DbUnavailable,
            DeskError::KeychainUnavailable(_) => ErrorCode::KeychainUnavailable,
            DeskError::NotConfigured(_) => ErrorCode::NotConfigured,
            DeskError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The field a validation error is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            DeskError::Validation { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The text for people; internal details stay in logs.
    pub fn public_message(&self) -> String {
        match self {
            DeskError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for DeskError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => DeskError::DbUnavailable,
            StoreError::Conflict(m) => DeskError::Conflict(m),
            StoreError::Corrupt(m) | StoreError::Other(m) => DeskError::Internal(m),
        }
    }
}

impl From<ghl::Error> for DeskError {
    fn from(e: ghl::Error) -> Self {
        use ghl::Error as G;
        match e {
            G::SlotTaken { .. } => DeskError::SlotTaken,
            G::Unauthorized { .. } | G::Forbidden { .. } | G::ReauthorizationRequired { .. } => {
                DeskError::GhlUnauthorized
            }
            G::DuplicateContact { .. } => {
                DeskError::Conflict("the patient already exists in GoHighLevel".into())
            }
            G::TokenStore(m) => DeskError::KeychainUnavailable(m),
            G::NotFound { .. } => DeskError::NotFound("GoHighLevel record".into()),
            G::RateLimited { .. } => DeskError::RateLimited("GoHighLevel"),
            G::InvalidRequest(m) => DeskError::validation("request", m),
            G::Rejected { messages, .. } => DeskError::validation("request", messages.join("; ")),
            other => DeskError::ProviderUnavailable {
                provider: "GoHighLevel",
                detail: other.to_string(),
            },
        }
    }
}

impl From<mercadopago::Error> for DeskError {
    fn from(e: mercadopago::Error) -> Self {
        use mercadopago::Error as M;
        match e {
            M::Unauthorized => DeskError::MpUnauthorized,
            M::NotFound(_) => DeskError::NotFound("Mercado Pago record".into()),
            M::RateLimited { .. } => DeskError::RateLimited("Mercado Pago"),
            M::InvalidRequest(m) => DeskError::validation("amount", m),
            M::Rejected { message, .. } => DeskError::validation("request", message),
            M::RefundRefused { message, .. } => DeskError::Conflict(message),
            other => DeskError::ProviderUnavailable {
                provider: "Mercado Pago",
                detail: other.to_string(),
            },
        }
    }
}
