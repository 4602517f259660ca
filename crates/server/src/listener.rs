//! The public webhook listener: only the seed's two webhook paths and `/healthz`.
//! A delivery is verified before anything else, stored, and only then answered 200; if it
//! cannot be stored the answer is 503 (MP retries). Bodies over 256 KiB get 413 — a
//! declared `Content-Length` over the limit before a byte of the body is read.
//!
//! What is stored is rebuilt from verified fields only: extra query parameters appended to a
//! captured request neither make a new delivery nor reach the inbox. Unsigned legacy IPN is
//! off unless `MP_ACCEPT_IPN` turns it on. A GHL event for another location (GHL signs every
//! app's webhooks with one key) is answered 200 and ignored.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use desk::Desk;
use desk::config::{GHL_WEBHOOK_PATH, MP_WEBHOOK_PATH};
use desk::inbox::IncomingWebhook;
use mercadopago::webhook::{QueryParams, verify_signature};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::rate_limit::{self, IpRange, Limiter, RateLimit};

/// Largest webhook body accepted.
pub const BODY_LIMIT: usize = 256 * 1024;
/// Longest MP query string accepted: MP's own are well under 100 bytes.
pub const QUERY_LIMIT: usize = 512;
/// Longest `data.id` or `type` value kept from an MP query.
const FIELD_LIMIT: usize = 64;

/// What the listener needs.
#[derive(Clone)]
pub struct ListenerState {
    pub desk: Arc<Desk>,
    /// `MP_WEBHOOK_SECRET`; without it no signed MP delivery can be accepted.
    pub mp_webhook_secret: Option<SecretString>,
    pub rate_limit: RateLimit,
    /// GHL's published keys plus any configured ones (and the sandbox's in demo mode).
    pub ghl_keys: Arc<ghl::webhook::WebhookKeys>,
    /// `MP_ACCEPT_IPN`: store unsigned legacy IPN (`?topic=payment&id=N`); off by default.
    pub accept_ipn: bool,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<IpRange>,
    /// What the listener ignored, for health and tests.
    pub counters: Arc<ListenerCounters>,
}

/// Deliveries answered 200 but not stored, by reason.
#[derive(Debug, Default)]
pub struct ListenerCounters {
    /// GHL events whose `locationId` is missing or another clinic's.
    pub foreign_location: AtomicU64,
    /// Legacy IPN requests while `MP_ACCEPT_IPN` is off, or unusable ones.
    pub ipn_ignored: AtomicU64,
}

impl ListenerCounters {
    pub fn foreign_location(&self) -> u64 {
        self.foreign_location.load(Ordering::Relaxed)
    }
    pub fn ipn_ignored(&self) -> u64 {
        self.ipn_ignored.load(Ordering::Relaxed)
    }
}

/// The listener's routes; anything else is 404. Serve it with [`crate::serve::serve`] (or
/// anything that gives each request `ConnectInfo<SocketAddr>`): refusals are charged per client.
pub fn router(state: ListenerState) -> Router {
    let limiter = Limiter::new(state.rate_limit, state.trusted_proxies.clone());
    // A request that cannot finish in time (a database that hangs rather than refuses) is
    // answered with the status each provider retries: 503 for MP, 429 for GHL, which
    // retries nothing else.
    let timeout = |status| TimeoutLayer::with_status_code(status, Duration::from_secs(15));
    Router::new()
        .route(
            MP_WEBHOOK_PATH,
            post(mp_webhook).layer(timeout(StatusCode::SERVICE_UNAVAILABLE)),
        )
        .route(
            GHL_WEBHOOK_PATH,
            post(ghl_webhook).layer(timeout(StatusCode::TOO_MANY_REQUESTS)),
        )
        .route(
            "/healthz",
            get(healthz).layer(timeout(StatusCode::SERVICE_UNAVAILABLE)),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Refuses a declared length over the limit before the body is read (and caps a
        // chunked one while it is).
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            rate_limit::limit,
        ))
        .with_state(state)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn mp_webhook(
    State(state): State<ListenerState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > QUERY_LIMIT {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({ "error": "query too long" }),
        );
    }
    let params = QueryParams::parse(&query);
    let signature = header(&headers, "x-signature");

    if signature.is_none() {
        if let (Some(topic), Some(id)) = (params.get("topic"), params.get("id")) {
            return legacy_ipn(&state, topic, id).await;
        }
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "missing signature" }),
        );
    }

    let Some(secret) = state.mp_webhook_secret.as_ref() else {
        // Said once at start-up (the hub warns); per request it would be a log flood.
        tracing::debug!("MP delivery refused: MP_WEBHOOK_SECRET is not configured");
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid signature" }),
        );
    };
    let request_id = header(&headers, "x-request-id");
    let data_id = params.get("data.id");
    let verified = match verify_signature(
        secret.expose_secret().as_bytes(),
        signature,
        request_id,
        data_id,
    ) {
        Ok(v) => v,
        Err(reason) => {
            tracing::debug!(%reason, "MP delivery with a bad signature refused");
            return answer(
                StatusCode::UNAUTHORIZED,
                json!({ "error": "invalid signature" }),
            );
        }
    };
    // serde_json does not check UTF-8 inside strings when it skips them: check it first.
    if !body.is_empty()
        && (std::str::from_utf8(&body).is_err()
            || serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err())
    {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({ "error": "malformed JSON body" }),
        );
    }
    // What is stored, and what makes it one delivery, come from what the signature covers
    // (`data.id`, `x-request-id`, `ts`) plus MP's `type`; anything appended is dropped. MP
    // may omit `x-request-id`; then two notifications signed in the same second must not
    // share a key, so the body's hash joins it.
    let data_id = data_id.filter(|v| v.len() <= FIELD_LIMIT);
    let topic = params.get("type").filter(|v| v.len() <= FIELD_LIMIT);
    let stored_query = {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(id) = data_id {
            q.append_pair("data.id", id);
        }
        if let Some(topic) = topic {
            q.append_pair("type", topic);
        }
        q.finish()
    };
    let delivery = match request_id {
        Some(rid) => format!("{}|{rid}|{}", data_id.unwrap_or_default(), verified.ts),
        None => {
            use sha2::Digest;
            format!(
                "{}||{}|{}",
                data_id.unwrap_or_default(),
                verified.ts,
                hex::encode(sha2::Sha256::digest(&body))
            )
        }
    };
    store(&state, "mp", stored_query, body.to_vec(), delivery).await
}

/// Legacy IPN (`topic` + `id`) is unsigned, so anyone can send one. With `MP_ACCEPT_IPN` on,
/// a payment's IPN may only trigger a re-read of that payment from MP's API, once a minute
/// at most however it is dressed: only the rebuilt `topic=payment&id=N` is stored, keyed by
/// (id, minute). Otherwise it is answered 200 (so MP does not retry) and dropped.
async fn legacy_ipn(state: &ListenerState, topic: &str, id: &str) -> Response {
    let usable = topic == "payment"
        && !id.is_empty()
        && id.len() <= 20
        && id.bytes().all(|b| b.is_ascii_digit());
    if !state.accept_ipn || !usable {
        state.counters.ipn_ignored.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::OK, json!({ "status": "ignored" }));
    }
    let minute = chrono::Utc::now().timestamp().div_euclid(60);
    store(
        state,
        "mp_ipn",
        format!("topic=payment&id={id}"),
        Vec::new(),
        format!("{id}|{minute}"),
    )
    .await
}

async fn store(
    state: &ListenerState,
    provider: &'static str,
    query: String,
    body: Vec<u8>,
    delivery_id: String,
) -> Response {
    let hook = IncomingWebhook {
        provider,
        query,
        body,
        delivery_id,
    };
    match state.desk.accept_webhook(hook).await {
        Ok(_) => answer(StatusCode::OK, json!({ "status": "ok" })),
        Err(e) => {
            tracing::error!(code = ?e.code(), provider, "delivery not stored; asking for a retry");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "temporarily unavailable" }),
            )
        }
    }
}

/// GHL appointment webhooks: the signature over the raw bytes first (Ed25519, else RSA);
/// stored by `webhookId`, then 200. Storage trouble answers 429, the only status GHL retries.
async fn ghl_webhook(
    State(state): State<ListenerState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scheme = match state.ghl_keys.verify_signatures(
        header(&headers, ghl::webhook::ED25519_SIGNATURE_HEADER),
        header(&headers, ghl::webhook::RSA_SIGNATURE_HEADER),
        &body,
    ) {
        Ok(s) => s,
        Err(reason) => {
            tracing::debug!(%reason, "GHL delivery with a bad signature refused");
            return answer(
                StatusCode::UNAUTHORIZED,
                json!({ "error": "invalid signature" }),
            );
        }
    };
    let event = match ghl::webhook::WebhookEvent::parse(&body) {
        Ok(e) => e,
        Err(_) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({ "error": "malformed JSON body" }),
            );
        }
    };
    // GHL signs every app's webhooks with one key: the signature does not say the event is
    // this clinic's. Another location's (or one naming none) is acknowledged, so GHL does
    // not retry it, and dropped.
    if event.location_id.as_deref() != Some(state.desk.clinic().location_id.as_str()) {
        state
            .counters
            .foreign_location
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(?scheme, "GHL delivery for another location ignored");
        return answer(StatusCode::OK, json!({ "status": "ignored" }));
    }
    if event.is_stale(chrono::Utc::now(), ghl::webhook::REPLAY_WINDOW) {
        tracing::info!(?scheme, "stale GHL delivery ignored");
        return answer(StatusCode::OK, json!({ "status": "ignored" }));
    }
    // Without a webhookId the exact bytes identify the delivery.
    let delivery_id = event.webhook_id.clone().unwrap_or_else(|| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&body))
    });
    let hook = IncomingWebhook {
        provider: "ghl",
        query: String::new(),
        body: body.to_vec(),
        delivery_id,
    };
    match state.desk.accept_webhook(hook).await {
        Ok(_) => answer(StatusCode::OK, json!({ "status": "ok" })),
        Err(e) => {
            tracing::error!(code = ?e.code(), "GHL delivery not stored; asking GHL to retry");
            answer(
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "error": "temporarily unavailable" }),
            )
        }
    }
}

async fn healthz(State(state): State<ListenerState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(3), state.desk.health());
    match ping.await {
        Ok(Ok(())) => answer(StatusCode::OK, json!({ "status": "ok" })),
        _ => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "database unavailable" }),
        ),
    }
}
