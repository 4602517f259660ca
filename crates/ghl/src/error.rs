//! Errors from GHL calls, mapped from GHL's `{statusCode, message, error, traceId}` bodies.

use std::time::Duration;

/// What went wrong talking to GHL. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was refused before sending.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 400 "The slot you have selected is no longer available."
    #[error("the slot is no longer available")]
    SlotTaken { trace_id: Option<String> },
    /// 401: bad, expired or under-scoped token.
    #[error("GoHighLevel rejected the token")]
    Unauthorized { trace_id: Option<String> },
    /// 403: token and location do not match.
    #[error("GoHighLevel refused access: {message}")]
    Forbidden {
        message: String,
        trace_id: Option<String>,
    },
    /// 404.
    #[error("not found in GoHighLevel")]
    NotFound { trace_id: Option<String> },
    /// 400/422 other than a slot conflict; 422 messages arrive as an array.
    #[error("GoHighLevel rejected the request: {}", messages.join("; "))]
    Rejected {
        status: u16,
        messages: Vec<String>,
        trace_id: Option<String>,
    },
    /// 429.
    #[error("GoHighLevel rate limit reached")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx or another unexpected status.
    #[error("GoHighLevel is unavailable (HTTP {status})")]
    Unavailable {
        status: u16,
        trace_id: Option<String>,
    },
    #[error("GoHighLevel did not answer in time")]
    Timeout,
    #[error("could not reach GoHighLevel: {0}")]
    Network(String),
    /// A 2xx whose body is not what GHL documents.
    #[error("unexpected response from GoHighLevel: {0}")]
    Decode(String),
}

impl Error {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Unavailable { .. }
                | Error::Timeout
                | Error::Network(_)
        )
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
