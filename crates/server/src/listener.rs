//! The public webhook listener: only the seed's two webhook paths and `/healthz`.
//! A delivery is verified before anything else, stored, and only then answered 200; if it
//! cannot be stored the answer is 503 (MP retries). Bodies over 256 KiB get 413.

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
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;

use crate::rate_limit::{self, Limiter, RateLimit};

/// Largest webhook body accepted.
pub const BODY_LIMIT: usize = 256 * 1024;

/// What the listener needs.
#[derive(Clone)]
pub struct ListenerState {
    pub desk: Arc<Desk>,
    /// `MP_WEBHOOK_SECRET`; without it no signed MP delivery can be accepted.
    pub mp_webhook_secret: Option<SecretString>,
    pub rate_limit: RateLimit,
    /// GHL's published keys plus any configured ones (and the sandbox's in demo mode).
    pub ghl_keys: Arc<ghl::webhook::WebhookKeys>,
}

/// The listener's routes; anything else is 404. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the rate limit is per client address.
pub fn router(state: ListenerState) -> Router {
    let limiter = Limiter::new(state.rate_limit);
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
    let params = QueryParams::parse(&query);
    let signature = header(&headers, "x-signature");

    if signature.is_none() {
        // Legacy IPN (`topic` + `id`) is unsigned: it may only trigger a re-read of the
        // payment from MP's API, which is what processing does with every delivery.
        if let (Some(topic), Some(id)) = (params.get("topic"), params.get("id")) {
            if topic == "payment" && id.bytes().all(|b| b.is_ascii_digit()) && id.len() <= 20 {
                // One re-read per payment per minute, however often it is sent.
                let minute = chrono_minute();
                return store(&state, "mp_ipn", query.clone(), Vec::new(), minute).await;
            }
            return answer(StatusCode::OK, json!({ "status": "ignored" }));
        }
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "missing signature" }),
        );
    }

    let Some(secret) = state.mp_webhook_secret.as_ref() else {
        tracing::warn!("MP delivery refused: MP_WEBHOOK_SECRET is not configured");
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid signature" }),
        );
    };
    let request_id = header(&headers, "x-request-id");
    let verified = match verify_signature(
        secret.expose_secret().as_bytes(),
        signature,
        request_id,
        params.get("data.id"),
    ) {
        Ok(v) => v,
        Err(reason) => {
            tracing::info!(%reason, "MP delivery with a bad signature refused");
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
    // One delivery (and its byte-identical retries) per key. MP may omit `x-request-id`; then
    // two different notifications signed in the same second must not share a key, so the
    // body's hash joins it.
    let delivery = match request_id {
        Some(rid) => format!("{rid}|{}", verified.ts),
        None => {
            use sha2::Digest;
            format!(
                "|{}|{}",
                verified.ts,
                hex::encode(sha2::Sha256::digest(&body))
            )
        }
    };
    store(&state, "mp", query, body.to_vec(), delivery).await
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

fn chrono_minute() -> String {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0))
    .to_string()
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
            tracing::info!(%reason, "GHL delivery with a bad signature refused");
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
