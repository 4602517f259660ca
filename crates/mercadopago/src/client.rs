//! The HTTP side of the MP client: configuration, one request/answer exchange, and the retry
//! loop (§8: 429 honouring `Retry-After`, 5xx, 423, timeouts; the same `X-Idempotency-Key` on
//! every attempt). The calls themselves live in `preferences`, `payments` and `refunds`.
//! The access token is held as a secret and never printed.

use crate::error::{Error, map_error};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::time::Duration;

pub use crate::preferences::{validate_full_preference, validate_preference, webhooks_only_url};

/// MP's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.mercadopago.com";

/// How failed calls are retried. GETs are always retried; POST/PUT only when they carry an
/// idempotency key (every POST/PUT this client makes does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per logical call, the first included (`MP_RETRY_MAX_ATTEMPTS`, default 3).
    pub max_attempts: u32,
    /// Backoff before the 2nd attempt, doubled each time (`MP_RETRY_BASE_MS`, default 1 s).
    pub base_delay: Duration,
    /// Ceiling of one backoff, and the longest `Retry-After` waited for; a longer one ends the
    /// call with [`Error::RateLimited`] (`MP_RETRY_MAX_MS`, default 30 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `failed_attempt + 1`, or `None` when `err` must end the call.
    /// Backoff is `base × 2^(n-1)` capped at `max_delay`, with "equal jitter" (half fixed,
    /// half random) so that desks behind one IP do not retry in step.
    pub fn delay_after(&self, failed_attempt: u32, err: &Error) -> Option<Duration> {
        if failed_attempt >= self.max_attempts || !err.is_retryable() {
            return None;
        }
        if let Error::RateLimited {
            retry_after: Some(wait),
        } = err
        {
            return (*wait <= self.max_delay).then_some(*wait);
        }
        let exp = failed_attempt.saturating_sub(1).min(20);
        let backoff = self
            .base_delay
            .saturating_mul(1_u32 << exp)
            .min(self.max_delay);
        let half = backoff / 2;
        let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            random_u64() % spread
        };
        Some(half + Duration::from_nanos(jitter))
    }
}

/// Where and how to call MP.
#[derive(Clone)]
pub struct ClientConfig {
    /// `MP_BASE_URL`; the sandbox's `/mp` base in demo mode and tests.
    pub base_url: String,
    /// `MP_ACCESS_TOKEN`.
    pub access_token: SecretString,
    /// Per-attempt timeout (`MP_TIMEOUT_MS`, default 20 s; MP's SDKs use 60 s, a desk wants
    /// an answer sooner).
    pub timeout: Duration,
    /// Retries of failed calls.
    pub retry: RetryPolicy,
    /// `limit` of each page when following searches (`MP_SEARCH_PAGE_LIMIT`, default 30, the
    /// SDK default; MP's maximum is unconfirmed).
    pub search_page_limit: u32,
    /// Most pages one `search_all_*` call reads (`MP_SEARCH_MAX_PAGES`, default 20).
    pub search_max_pages: u32,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, access_token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            access_token,
            timeout: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            search_page_limit: 30,
            search_max_pages: 20,
        }
    }

    /// Overrides the tunables from settings read by `lookup` (e.g. `std::env::var(..).ok()`):
    /// `MP_TIMEOUT_MS`, `MP_RETRY_MAX_ATTEMPTS`, `MP_RETRY_BASE_MS`, `MP_RETRY_MAX_MS`,
    /// `MP_SEARCH_PAGE_LIMIT`, `MP_SEARCH_MAX_PAGES`. Unset names keep their defaults.
    pub fn with_settings(mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let number = |name: &str, min: u64, max: u64| -> Result<Option<u64>, Error> {
            let Some(text) = lookup(name) else {
                return Ok(None);
            };
            match text.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(Error::InvalidRequest(format!(
                    "{name} must be a whole number from {min} to {max}"
                ))),
            }
        };
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        if let Some(ms) = number("MP_TIMEOUT_MS", 100, 600_000)? {
            self.timeout = Duration::from_millis(ms);
        }
        if let Some(n) = number("MP_RETRY_MAX_ATTEMPTS", 1, 10)? {
            self.retry.max_attempts = small(n);
        }
        if let Some(ms) = number("MP_RETRY_BASE_MS", 0, 600_000)? {
            self.retry.base_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = number("MP_RETRY_MAX_MS", 0, 600_000)? {
            self.retry.max_delay = Duration::from_millis(ms);
        }
        if let Some(n) = number("MP_SEARCH_PAGE_LIMIT", 1, 1000)? {
            self.search_page_limit = small(n);
        }
        if let Some(n) = number("MP_SEARCH_MAX_PAGES", 1, 1000)? {
            self.search_max_pages = small(n);
        }
        Ok(self)
    }
}

/// A Mercado Pago API client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: SecretString,
    pub(crate) retry: RetryPolicy,
    pub(crate) page_limit: u32,
    pub(crate) max_pages: u32,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("mercadopago::Client")
            .field("base", &self.base)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// One logical call: the same method, path, body and idempotency key on every attempt.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub path: String,
    pub body: Option<Vec<u8>>,
    pub idempotency_key: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            body: None,
            idempotency_key: None,
        }
    }

    pub fn with_body(method: Method, path: String, body: Vec<u8>, key: &'a str) -> Self {
        Self {
            method,
            path,
            body: Some(body),
            idempotency_key: Some(key),
        }
    }

    /// GETs are safe to repeat; a POST/PUT only when MP can de-duplicate it by key.
    fn may_retry(&self) -> bool {
        self.method == Method::GET || self.idempotency_key.is_some()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10).min(config.timeout))
            .user_agent(concat!("mostrador/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok(Self {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            token: config.access_token,
            retry: config.retry,
            page_limit: config.search_page_limit.max(1),
            max_pages: config.search_max_pages.max(1),
        })
    }

    /// Runs `call` with retries and decodes the 2xx body.
    pub(crate) async fn call_json<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, Error> {
        let bytes = self.call(call).await?;
        decode(&bytes)
    }

    /// Runs `call`, retrying per the policy when allowed; returns the 2xx body.
    pub(crate) async fn call(&self, call: &Call<'_>) -> Result<Vec<u8>, Error> {
        let mut attempt = 1;
        loop {
            let err = match self.attempt(call).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) => e,
            };
            let delay = if call.may_retry() {
                self.retry.delay_after(attempt, &err)
            } else {
                None
            };
            let Some(delay) = delay else {
                return Err(err);
            };
            self.log_retry(call, attempt, &err, delay);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    pub(crate) fn log_retry(&self, call: &Call<'_>, attempt: u32, err: &Error, delay: Duration) {
        tracing::warn!(
            method = %call.method,
            path = path_for_log(&call.path),
            attempt,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            error = %err,
            "mp call failed; retrying with the same idempotency key"
        );
    }

    /// Sends one request and returns the body of a 2xx answer.
    pub(crate) async fn attempt(&self, call: &Call<'_>) -> Result<Vec<u8>, Error> {
        let mut req = self
            .http
            .request(call.method.clone(), format!("{}{}", self.base, call.path))
            .bearer_auth(self.token.expose_secret())
            .header("Accept", "application/json");
        if let Some(key) = call.idempotency_key {
            req = req.header("X-Idempotency-Key", key);
        }
        if let Some(body) = &call.body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.clone());
        }
        let resp = req.send().await.map_err(Error::from_reqwest)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.map_err(Error::from_reqwest)?;
        tracing::debug!(
            method = %call.method,
            path = path_for_log(&call.path),
            status = status.as_u16(),
            "mp call"
        );
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(map_error(
            status,
            &bytes,
            retry_after,
            path_for_log(&call.path),
        ))
    }
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Decode(e.to_string()))
}

pub(crate) fn path_for_log(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// `?a=1&b=2` from pairs, values percent-encoded; unset values skipped.
pub(crate) fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let q = q.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

/// Refuses ids that would change the request path.
pub(crate) fn check_path_segment(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::InvalidRequest("malformed id".into()));
    }
    Ok(())
}

/// An `X-Idempotency-Key` must be 1–64 visible ASCII characters (the Python SDK's limit, §3).
pub fn check_idempotency_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidRequest(
            "idempotency key must be 1-64 visible ASCII characters".into(),
        ));
    }
    Ok(())
}

/// A fresh key in UUID v4 form, for calls whose caller has no stable id of its own (an update).
pub(crate) fn random_key() -> String {
    let (a, b) = (random_u64(), random_u64());
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        8 | (b >> 60 & 0x3),
        &hex[17..20],
        &hex[20..32]
    )
}

/// Random enough for jitter and keys without another dependency: std's per-instance
/// randomly seeded SipHash over a counter and the clock.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_keys_look_like_uuid_v4_and_differ() {
        let a = random_key();
        let b = random_key();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{a}");
        assert!(check_idempotency_key(&a).is_ok());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        let e = Error::Timeout;
        for _ in 0..50 {
            let d1 = p.delay_after(1, &e).unwrap();
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d2 = p.delay_after(2, &e).unwrap();
            assert!(d2 >= Duration::from_millis(100) && d2 <= Duration::from_millis(200));
            let d5 = p.delay_after(5, &e).unwrap();
            assert!(d5 >= Duration::from_millis(150) && d5 <= Duration::from_millis(300));
        }
        assert_eq!(p.delay_after(10, &e), None, "attempts exhausted");
        assert_eq!(p.delay_after(1, &Error::Unauthorized), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = RetryPolicy::default();
        let wait = |s| Error::RateLimited {
            retry_after: Some(Duration::from_secs(s)),
        };
        assert_eq!(p.delay_after(1, &wait(7)), Some(Duration::from_secs(7)));
        assert_eq!(p.delay_after(1, &wait(31)), None, "longer than max_delay");
        assert_eq!(RetryPolicy::none().delay_after(1, &wait(1)), None);
    }

    #[test]
    fn settings_override_defaults_and_refuse_nonsense() {
        let base = ClientConfig::new("http://x", SecretString::from("t".to_owned()));
        let c = base
            .clone()
            .with_settings(|k| match k {
                "MP_RETRY_MAX_ATTEMPTS" => Some("5".into()),
                "MP_RETRY_BASE_MS" => Some("20".into()),
                "MP_TIMEOUT_MS" => Some("1500".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(c.retry.max_attempts, 5);
        assert_eq!(c.retry.base_delay, Duration::from_millis(20));
        assert_eq!(c.retry.max_delay, Duration::from_secs(30));
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.search_page_limit, 30);
        assert!(
            base.with_settings(|k| (k == "MP_RETRY_MAX_ATTEMPTS").then(|| "0".into()))
                .is_err()
        );
    }

    #[test]
    fn idempotency_keys_are_checked() {
        assert!(check_idempotency_key("refund-01J8ZK").is_ok());
        assert!(check_idempotency_key(&"k".repeat(64)).is_ok());
        assert!(check_idempotency_key(&"k".repeat(65)).is_err());
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key("a b").is_err());
        assert!(check_idempotency_key("ñ").is_err());
    }
}
