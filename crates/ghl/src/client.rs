//! The HTTP core of the GHL client: configuration, the request pipeline every endpoint goes
//! through, and GHL's errors mapped to [`Error`].
//!
//! Each request: waits for the shared rate budget ([`crate::rate_limit`]), gets a bearer token
//! ([`crate::auth`], refreshing OAuth tokens when due), sends the per-family `Version` header
//! (ghl.md §1.1), learns from the `X-RateLimit-*` headers, refreshes once and retries on a 401
//! with OAuth, and backs off and retries a 429 only when the call is safe to repeat. The
//! endpoints themselves live in `calendars.rs`, `contacts.rs` and `conversations.rs`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::auth::{Auth, Authorizer, OAuthConfig, OAuthTokens};
use crate::error::Error;
use crate::rate_limit::{RateLimit, RateLimiter, RetryPolicy};
use crate::types::ErrorBody;

/// GHL's production API.
pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";

/// `Version` for calendars and conversations.
pub(crate) const V_CALENDARS: &str = "2021-04-15";
/// `Version` for contacts and locations.
pub(crate) const V_CONTACTS: &str = "2021-07-28";

/// The message GHL sends when slot validation fails (§3.4).
const SLOT_TAKEN_MESSAGE: &str = "no longer available";

/// Where and how to call GHL.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// GHL's API base ([`DEFAULT_BASE_URL`]); the sandbox's `/ghl` base in demo mode and tests.
    pub base_url: String,
    /// A Private Integration Token or a Marketplace app's OAuth tokens.
    pub auth: Auth,
    /// Whole-request timeout, default 20 s.
    pub timeout: Duration,
    /// Client-side budget per location, shared by clones. Default 100 per 10 s.
    pub rate_limit: RateLimit,
    /// 429 retries of idempotent calls. Default 3 attempts.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// A client authorised by a Private Integration Token (or any fixed bearer token).
    pub fn new(base_url: impl Into<String>, access_token: SecretString) -> Self {
        Self::with_auth(base_url, Auth::PrivateIntegration(access_token))
    }

    /// A client authorised by a Marketplace app's OAuth tokens, read from and rotated into
    /// `oauth.store`.
    pub fn oauth(base_url: impl Into<String>, oauth: OAuthConfig) -> Self {
        Self::with_auth(base_url, Auth::OAuth(oauth))
    }

    /// Applies the tuning settings found in the environment (see [`Self::with_overrides_from`]).
    pub fn with_env_overrides(self) -> Self {
        self.with_overrides_from(|name| std::env::var(name).ok())
    }

    /// Applies tuning settings read through `get`; unset or unparsable values keep the
    /// default (an unparsable one is logged by name, never by value):
    /// `GHL_TIMEOUT_SECS` (20), `GHL_RATE_LIMIT_MAX` (100), `GHL_RATE_LIMIT_WINDOW_MS`
    /// (10 000), `GHL_RETRY_MAX_ATTEMPTS` (3), `GHL_TOKEN_REFRESH_MARGIN_SECS` (300, OAuth).
    pub fn with_overrides_from(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        let number = |name: &str| -> Option<u64> {
            let raw = get(name)?;
            let parsed = raw.trim().parse::<u64>().ok().filter(|n| *n > 0);
            if parsed.is_none() {
                tracing::warn!(setting = name, "ignoring an unusable ghl setting");
            }
            parsed
        };
        if let Some(secs) = number("GHL_TIMEOUT_SECS") {
            self.timeout = Duration::from_secs(secs);
        }
        if let Some(max) = number("GHL_RATE_LIMIT_MAX") {
            self.rate_limit.max_requests = u32::try_from(max).unwrap_or(u32::MAX);
        }
        if let Some(ms) = number("GHL_RATE_LIMIT_WINDOW_MS") {
            self.rate_limit.window = Duration::from_millis(ms);
        }
        if let Some(n) = number("GHL_RETRY_MAX_ATTEMPTS") {
            self.retry.max_attempts = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Auth::OAuth(oauth) = &mut self.auth
            && let Some(secs) = number("GHL_TOKEN_REFRESH_MARGIN_SECS")
        {
            oauth.refresh_margin = Duration::from_secs(secs);
        }
        self
    }

    fn with_auth(base_url: impl Into<String>, auth: Auth) -> Self {
        Self {
            base_url: base_url.into(),
            auth,
            timeout: Duration::from_secs(20),
            rate_limit: RateLimit::default(),
            retry: RetryPolicy::default(),
        }
    }
}

/// A GHL API client for one location. Cheap to clone; clones share the rate budget and the
/// OAuth session.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Authorizer,
    limiter: Arc<RateLimiter>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ghl::Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Whether a call may be sent again after a 429 without risk of doing it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// GET, PUT, DELETE, and read-only or additive POSTs (search, add tags).
    Safe,
    /// Creates: GHL has no idempotency keys (§7).
    Unsafe,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mostrador/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network(e.to_string()))?;
        let base = config.base_url.trim_end_matches('/').to_string();
        Ok(Self {
            auth: Authorizer::new(config.auth, format!("{base}/oauth/token")),
            http,
            base,
            limiter: Arc::new(RateLimiter::new(config.rate_limit)),
            retry: config.retry,
        })
    }

    /// Exchanges the `?code=` of the Marketplace install redirect for the first token pair
    /// and saves it to the token store (OAuth clients only).
    pub async fn exchange_authorization_code(
        &self,
        code: &str,
        redirect_uri: Option<&str>,
    ) -> Result<OAuthTokens, Error> {
        let Some(session) = self.auth.oauth() else {
            return Err(Error::InvalidRequest(
                "this client uses a Private Integration Token, not OAuth".into(),
            ));
        };
        session.exchange_code(&self.http, code, redirect_uri).await
    }

    /// Sends a call and decodes a 2xx JSON answer.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        version: &str,
        body: Option<Vec<u8>>,
        replay: Replay,
    ) -> Result<T, Error> {
        let bytes = self.execute(method, path, version, body, replay).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Sends a call through the pipeline; returns the body of a 2xx answer.
    pub(crate) async fn execute(
        &self,
        method: Method,
        path: &str,
        version: &str,
        body: Option<Vec<u8>>,
        replay: Replay,
    ) -> Result<Vec<u8>, Error> {
        // Never log the query: it may hold a phone number or an email (duplicate lookup).
        let log_path = path.split('?').next().unwrap_or(path);
        let url = format!("{}{}", self.base, path);
        let mut attempt: u32 = 1;
        let mut reauthorised = false;
        loop {
            self.limiter.acquire().await;
            let token = self.auth.bearer(&self.http).await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret())
                .header("Version", version)
                .header("Accept", "application/json");
            if let Some(body) = &body {
                req = req
                    .header("Content-Type", "application/json")
                    .body(body.clone());
            }
            let resp = req.send().await.map_err(Error::from_reqwest)?;
            let status = resp.status();
            self.limiter.observe(resp.headers());
            let hint = retry_after(resp.headers());
            let bytes = resp.bytes().await.map_err(Error::from_reqwest)?;
            tracing::debug!(%method, path = log_path, status = status.as_u16(), attempt, "ghl call");
            if status.is_success() {
                return Ok(bytes.to_vec());
            }
            // A 401 means nothing was done, so even a create may be sent again once.
            if status == StatusCode::UNAUTHORIZED
                && !reauthorised
                && self.auth.recover_from_401(&self.http, &token).await?
            {
                reauthorised = true;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = self.retry.backoff(attempt, hint);
                self.limiter.pause(wait);
                if replay == Replay::Safe && attempt < self.retry.max_attempts {
                    tracing::warn!(
                        %method,
                        path = log_path,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "ghl rate limited, retrying"
                    );
                    attempt += 1;
                    continue;
                }
            }
            let err = map_error(status, &bytes, hint);
            if let Some(trace_id) = err.trace_id() {
                tracing::info!(%method, path = log_path, status = status.as_u16(), trace_id, "ghl error");
            }
            return Err(err);
        }
    }
}

/// How long GHL asks us to wait: `Retry-After` seconds, else one rate-limit interval.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    secs.or_else(|| {
        headers
            .get("x-ratelimit-interval-milliseconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    })
}

pub(crate) fn map_error(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let trace_id = parsed.trace_id.clone();
    let messages = parsed.messages();
    let duplicate_of = parsed
        .meta
        .as_ref()
        .and_then(|m| m.get("contactId"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    match status.as_u16() {
        400 | 422
            if messages
                .iter()
                .any(|m| m.to_ascii_lowercase().contains(SLOT_TAKEN_MESSAGE)) =>
        {
            Error::SlotTaken { trace_id }
        }
        400 | 409 | 422 if duplicate_of.is_some() => Error::DuplicateContact {
            contact_id: duplicate_of.unwrap_or_default(),
            matching_field: parsed
                .meta
                .as_ref()
                .and_then(|m| m.get("matchingField"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            trace_id,
        },
        401 => Error::Unauthorized { trace_id },
        403 => Error::Forbidden {
            message: messages.join("; "),
            trace_id,
        },
        404 => Error::NotFound { trace_id },
        429 => Error::RateLimited { retry_after },
        s @ (400..=499) => Error::Rejected {
            status: s,
            messages,
            trace_id,
        },
        s => Error::Unavailable {
            status: s,
            trace_id,
        },
    }
}

/// Ids are opaque but never contain path or query characters.
pub(crate) fn segment(id: &str) -> Result<&str, Error> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::InvalidRequest("malformed id".into()));
    }
    Ok(id)
}

/// A form-urlencoded query string (`+` → `%2B`, `@` → `%40`).
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A request body as JSON bytes.
pub(crate) fn json_body<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::InvalidRequest(e.to_string()))
}

/// Formats a UTC instant as GHL renders slots: ISO-8601 with the location's offset and no
/// fractional seconds (`2026-11-28T10:00:00-05:00`), so it matches a free slot byte for byte.
pub fn format_slot_time<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_override_the_defaults_and_bad_values_are_ignored() {
        let settings = [
            ("GHL_TIMEOUT_SECS", "5"),
            ("GHL_RATE_LIMIT_MAX", "25"),
            ("GHL_RATE_LIMIT_WINDOW_MS", "not a number"),
            ("GHL_RETRY_MAX_ATTEMPTS", "1"),
        ];
        let config = ClientConfig::new("http://x", SecretString::from("t".to_owned()))
            .with_overrides_from(|name| {
                settings
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            });
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.rate_limit.max_requests, 25);
        assert_eq!(config.rate_limit.window, Duration::from_secs(10));
        assert_eq!(config.retry.max_attempts, 1);
    }
}
