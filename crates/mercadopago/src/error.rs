//! Errors from MP calls, mapped from MP's `{message, error, status, cause[]}` body.

use std::time::Duration;

/// What went wrong talking to Mercado Pago. Messages never contain the access token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was refused before sending: it breaks a rule MP documents.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 401: the access token is missing, wrong or revoked.
    #[error("Mercado Pago rejected the access token")]
    Unauthorized,
    /// 404 for the id asked for.
    #[error("not found in Mercado Pago: {0}")]
    NotFound(String),
    /// 400/422: MP's validation key (e.g. `invalid_items`) and message.
    #[error("Mercado Pago rejected the request: {error}: {message}")]
    Rejected {
        status: u16,
        error: String,
        message: String,
    },
    /// 409/423: idempotency-key or state conflict.
    #[error("Mercado Pago reported a conflict ({status}): {message}")]
    Conflict { status: u16, message: String },
    /// 429, with `Retry-After` when MP sent it.
    #[error("Mercado Pago rate limit reached")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx or another unexpected status.
    #[error("Mercado Pago is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// No answer in time.
    #[error("Mercado Pago did not answer in time")]
    Timeout,
    /// Connection-level failure.
    #[error("could not reach Mercado Pago: {0}")]
    Network(String),
    /// A 2xx whose body is not what MP documents.
    #[error("unexpected response from Mercado Pago: {0}")]
    Decode(String),
}

impl Error {
    /// Whether the same call may succeed later (429, 5xx, 423, timeouts, network).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::Unavailable { .. }
            | Error::Timeout
            | Error::Network(_) => true,
            Error::Conflict { status, .. } => *status == 423,
            _ => false,
        }
    }

    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Error::Timeout
        } else if e.is_decode() {
            Error::Decode(e.without_url().to_string())
        } else {
            Error::Network(e.without_url().to_string())
        }
    }
}
