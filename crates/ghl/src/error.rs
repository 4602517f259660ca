//! Errors from GHL calls, mapped from GHL's `{statusCode, message, error, traceId}` bodies
//! (ghl.md §6), plus the OAuth outcomes the caller must act on (§2.2).
//!
//! Webhook signature and payload errors live in [`crate::webhook`]: they come from a request
//! GHL made to us, not from a call we made.

use std::time::Duration;

/// What went wrong talking to GHL. Messages never contain a token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was refused before sending.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 400 "The slot you have selected is no longer available."
    #[error("the slot is no longer available")]
    SlotTaken { trace_id: Option<String> },
    /// 400 "This location does not allow duplicated contacts." with `meta.contactId`:
    /// the contact already exists and `contact_id` can be reused (§4).
    #[error("the contact already exists in GoHighLevel")]
    DuplicateContact {
        contact_id: String,
        /// `email` or `phone`, when GHL says.
        matching_field: Option<String>,
        trace_id: Option<String>,
    },
    /// 401: bad, expired or under-scoped token (a missing scope is a 401 too, §2.3).
    #[error("GoHighLevel rejected the token")]
    Unauthorized { trace_id: Option<String> },
    /// The OAuth grant is gone: no tokens are stored, or GHL refused the refresh token
    /// (already used, revoked, app uninstalled, location suspended). Someone must install /
    /// authorise the Marketplace app again; retrying will not help.
    #[error("GoHighLevel needs to be authorised again{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    ReauthorizationRequired {
        /// GHL's own words when it gave any (e.g. "Location is not active"), for the user.
        message: Option<String>,
        trace_id: Option<String>,
    },
    /// The [`crate::auth::TokenStore`] could not load or save the OAuth tokens.
    #[error("could not read or save the GoHighLevel tokens: {0}")]
    TokenStore(String),
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
    /// 429, after the client's own bounded retries (idempotent calls only).
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
    ///
    /// A timed-out create is "retryable" only after checking it did not land: GHL has no
    /// idempotency keys, so list the slot's events before sending the create again (§7).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Unavailable { .. }
                | Error::Timeout
                | Error::Network(_)
        )
    }

    /// GHL's `traceId` for support, when the answer carried one.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Error::SlotTaken { trace_id }
            | Error::DuplicateContact { trace_id, .. }
            | Error::Unauthorized { trace_id }
            | Error::ReauthorizationRequired { trace_id, .. }
            | Error::Forbidden { trace_id, .. }
            | Error::NotFound { trace_id }
            | Error::Rejected { trace_id, .. }
            | Error::Unavailable { trace_id, .. } => trace_id.as_deref(),
            _ => None,
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
