//! HTTP calls to Mercado Pago: preferences and payments (§4–§5), with MP's error body
//! mapped to [`Error`]. The access token is held as a secret and never printed.

use crate::error::Error;
use crate::money::CurrencyRules;
use crate::types::{ApiErrorBody, Payment, PaymentSearch, Preference, PreferenceRequest};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// MP's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.mercadopago.com";

/// Where and how to call MP.
#[derive(Clone)]
pub struct ClientConfig {
    /// `MP_BASE_URL`; the sandbox's `/mp` base in demo mode and tests.
    pub base_url: String,
    /// `MP_ACCESS_TOKEN`.
    pub access_token: SecretString,
    /// Per-request timeout (MP's SDKs use 60 s; a desk wants an answer sooner).
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, access_token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            access_token,
            timeout: Duration::from_secs(20),
        }
    }
}

/// A Mercado Pago API client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("mercadopago::Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mostrador/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok(Self {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            token: config.access_token,
        })
    }

    /// `POST /checkout/preferences`. The idempotency key is our charge id, the same on every
    /// attempt of one logical create.
    pub async fn create_preference(
        &self,
        request: &PreferenceRequest,
        idempotency_key: &str,
    ) -> Result<Preference, Error> {
        validate_preference(request)?;
        let body = serde_json::to_vec(request).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.send(
            Method::POST,
            "/checkout/preferences",
            Some(body),
            Some(idempotency_key),
        )
        .await
    }

    /// `GET /checkout/preferences/{id}`.
    pub async fn get_preference(&self, id: &str) -> Result<Preference, Error> {
        check_path_segment(id)?;
        self.send(
            Method::GET,
            &format!("/checkout/preferences/{id}"),
            None,
            None,
        )
        .await
    }

    /// `GET /v1/payments/{id}`: the only trusted source of a payment's state.
    pub async fn get_payment(&self, id: i64) -> Result<Payment, Error> {
        let bytes = self
            .send_raw(Method::GET, &format!("/v1/payments/{id}"), None, None)
            .await?;
        let mut payment: Payment =
            serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))?;
        payment.raw = String::from_utf8_lossy(&bytes).into_owned();
        Ok(payment)
    }

    /// `GET /v1/payments/search?external_reference=…`, newest first, one page.
    pub async fn search_payments(&self, external_reference: &str) -> Result<PaymentSearch, Error> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("external_reference", external_reference)
            .append_pair("sort", "date_created")
            .append_pair("criteria", "desc")
            .finish();
        let page: SearchPage = self
            .send(
                Method::GET,
                &format!("/v1/payments/search?{query}"),
                None,
                None,
            )
            .await?;
        let results = page
            .results
            .iter()
            .map(|raw| {
                let mut p: Payment =
                    serde_json::from_str(raw.get()).map_err(|e| Error::Decode(e.to_string()))?;
                p.raw = raw.get().to_string();
                Ok(p)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(PaymentSearch {
            paging: page.paging,
            results,
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<T, Error> {
        let bytes = self.send_raw(method, path, body, idempotency_key).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Sends one request and returns the body of a 2xx answer.
    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .bearer_auth(self.token.expose_secret())
            .header("Accept", "application/json");
        if let Some(key) = idempotency_key {
            req = req.header("X-Idempotency-Key", key);
        }
        if let Some(body) = body {
            req = req.header("Content-Type", "application/json").body(body);
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
        tracing::debug!(%method, path = path_for_log(path), status = status.as_u16(), "mp call");
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(map_error(status, &bytes, retry_after, path))
    }
}

/// A search page with each result kept as MP wrote it.
#[derive(serde::Deserialize)]
struct SearchPage {
    #[serde(default)]
    paging: crate::types::Paging,
    #[serde(default)]
    results: Vec<Box<serde_json::value::RawValue>>,
}

fn path_for_log(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

fn map_error(status: StatusCode, body: &[u8], retry_after: Option<Duration>, path: &str) -> Error {
    let parsed: ApiErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed
        .message
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let error = parsed.error.unwrap_or_default();
    match status.as_u16() {
        401 | 403 => Error::Unauthorized,
        404 => Error::NotFound(path_for_log(path).to_string()),
        409 | 423 => Error::Conflict {
            status: status.as_u16(),
            message,
        },
        429 => Error::RateLimited { retry_after },
        400 | 402 | 422 => Error::Rejected {
            status: status.as_u16(),
            error,
            message,
        },
        s => Error::Unavailable { status: s },
    }
}

fn check_path_segment(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::InvalidRequest("malformed id".into()));
    }
    Ok(())
}

/// MP's documented preference rules, checked before anything is sent (§4.2, §4.3).
pub fn validate_preference(p: &PreferenceRequest) -> Result<(), Error> {
    let bad = |m: String| Err(Error::InvalidRequest(m));
    if p.items.is_empty() {
        return bad("a preference needs at least one item".into());
    }
    for item in &p.items {
        if item.quantity < 1 {
            return bad("item quantity must be at least 1".into());
        }
        let currency = item.currency_id.as_deref().unwrap_or("");
        if let Err(m) = CurrencyRules::check(item.unit_price, currency) {
            return bad(m);
        }
    }
    let r = &p.external_reference;
    if r.is_empty()
        || r.len() > 64
        || !r
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return bad("external_reference must be 1-64 characters of [A-Za-z0-9_-]".into());
    }
    if let Some(url) = &p.notification_url
        && (!url.starts_with("https://") || url.len() > 248)
    {
        return bad("notification_url must be https and at most 248 characters".into());
    }
    if let Some(sd) = &p.statement_descriptor
        && sd.chars().count() > 16
    {
        return bad("statement_descriptor takes at most 16 characters".into());
    }
    if p.auto_return.is_some()
        && p.back_urls
            .as_ref()
            .and_then(|b| b.success.as_ref())
            .is_none()
    {
        return bad("auto_return needs back_urls.success".into());
    }
    Ok(())
}
