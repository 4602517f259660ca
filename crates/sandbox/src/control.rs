//! Control routes under `/__control`: what a test, the demo's "Simular pago del paciente"
//! button or a benchmark uses to drive the sandbox from outside. Not part of either
//! provider's API.
//!
//! | Route | Does |
//! |---|---|
//! | `POST /mp/preferences/{id}/pay` | pay a preference (again and again if asked) |
//! | `POST /mp/payments/{id}/status` `{"status", "status_detail"?}` | move a payment (approve, `charged_back`, `in_mediation`, …) |
//! | `GET /deliveries`, `GET /ghl/deliveries` | MP / GHL webhook attempts |
//! | `GET /ghl/messages` | messages sent through `POST /conversations/messages` |
//! | `POST /ghl/oauth/codes` | a single-use OAuth authorization code |
//! | `GET`, `POST /faults` (a fault or an array), `DELETE /faults` | fault injection |
//! | `GET`, `POST /settings` (partial) | run-time switches (see `Patch`) |
//! | `POST /clock/advance` `{"ms"}` or `{"secs"}` | move the sandbox clock forward |
//! | `GET`, `POST /tunnels`; `GET /ghl/requests`; `POST /reset`; `GET /info` | as named |

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SandboxError;
use crate::config::{GhlRateLimit, MpRetrySchedule};
use crate::faults::Fault;
use crate::ghl::webhooks::GhlSignatureMode;
use crate::mp::payments::{PayRequest, change_status, pay};
use crate::mp::{RawMap, decimal_from_raw, value_of};
use crate::state::App;
use crate::tunnel::Tunnel;

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/mp/preferences/{id}/pay", post(pay_preference))
        .route("/mp/payments/{id}/status", post(payment_status))
        .route("/deliveries", get(deliveries))
        .route("/ghl/deliveries", get(ghl_deliveries))
        .route("/ghl/messages", get(ghl_messages))
        .route("/ghl/oauth/codes", post(oauth_code))
        .route(
            "/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/settings", get(get_settings).post(patch_settings))
        .route("/clock/advance", post(advance_clock))
        .route("/tunnels", get(list_tunnels).post(add_tunnel))
        .route("/ghl/requests", get(ghl_requests))
        .route("/reset", post(reset))
        .route("/info", get(info))
        .with_state(app)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        let status = match self {
            SandboxError::PreferenceNotFound(_) => StatusCode::NOT_FOUND,
            SandboxError::PreferenceExpired(_) | SandboxError::PreferenceNotYetValid(_) => {
                StatusCode::CONFLICT
            }
            SandboxError::InvalidPayRequest(_) => StatusCode::BAD_REQUEST,
            SandboxError::PaymentNotFound(_) => StatusCode::NOT_FOUND,
            SandboxError::InvalidTransition { .. } => StatusCode::CONFLICT,
        };
        error(status, self.code(), &self.to_string())
    }
}

/// Reads `{"status"?, "amount"?, "currency_id"?}`; `amount` may be a string or a JSON number.
fn pay_request(body: &Bytes) -> Result<PayRequest, SandboxError> {
    let mut req = PayRequest::default();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(req);
    }
    let bad = |m: &str| SandboxError::InvalidPayRequest(m.to_owned());
    let fields: RawMap =
        serde_json::from_slice(body).map_err(|_| bad("body must be a JSON object"))?;
    let text = |key: &str| -> Result<Option<String>, SandboxError> {
        match fields.get(key).map(|v| value_of(v)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(&format!("{key} must be a string"))),
        }
    };
    if let Some(status) = text("status")? {
        req.status = status;
    }
    req.currency_id = text("currency_id")?;
    req.amount = match fields.get("amount") {
        None => None,
        Some(raw) if raw.get().trim() == "null" => None,
        Some(raw) => Some(match value_of(raw) {
            Value::String(s) => s
                .trim()
                .parse::<Decimal>()
                .map_err(|_| bad("amount must be a decimal number"))?,
            _ => decimal_from_raw(raw).ok_or_else(|| bad("amount must be a decimal number"))?,
        }),
    };
    Ok(req)
}

/// `POST /__control/mp/preferences/{id}/pay` → 201 `{"payment_id", "delivery_status"}`.
async fn pay_preference(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), SandboxError> {
    let req = pay_request(&body)?;
    let outcome = pay(&app, &id, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "payment_id": outcome.payment_id,
            "delivery_status": outcome.delivery_status,
        })),
    ))
}

/// `POST /__control/mp/payments/{id}/status` `{"status": "approved", "status_detail"?}` →
/// 200 `{"payment_id", "delivery_status"}`; 404 unknown payment, 409 forbidden transition.
async fn payment_status(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SandboxError> {
    let bad = |m: &str| SandboxError::InvalidPayRequest(m.to_owned());
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| bad("payment id must be a number"))?;
    let fields: Value = serde_json::from_slice(&body).map_err(|_| bad("body must be JSON"))?;
    let status = fields
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("status is required"))?;
    let detail = fields
        .get("status_detail")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let outcome = change_status(&app, id, status, detail).await?;
    Ok(Json(json!({
        "payment_id": outcome.payment_id,
        "delivery_status": outcome.delivery_status,
    })))
}

/// `GET /__control/ghl/deliveries` → `{"deliveries": [...]}` in attempt order.
async fn ghl_deliveries(State(app): State<App>) -> Json<Value> {
    let world = app.world();
    Json(json!({ "deliveries": world.ghl_deliveries }))
}

/// `GET /__control/ghl/messages` → `{"messages": [...]}`.
async fn ghl_messages(State(app): State<App>) -> Json<Value> {
    let world = app.world();
    Json(json!({ "messages": world.ghl.messages }))
}

/// `POST /__control/ghl/oauth/codes` → 201 `{"code": "…"}`.
async fn oauth_code(State(app): State<App>) -> (StatusCode, Json<Value>) {
    let code = app.world().ghl.oauth.issue_code();
    (StatusCode::CREATED, Json(json!({ "code": code })))
}

/// `GET /__control/faults` → `{"faults": [...]}` (remaining `times` included).
async fn list_faults(State(app): State<App>) -> Json<Value> {
    let faults: Vec<Fault> = app.faults().iter().map(|a| a.fault.clone()).collect();
    Json(json!({ "faults": faults }))
}

/// `POST /__control/faults` with one fault or an array → 201 `{"faults": [all]}`.
async fn add_faults(State(app): State<App>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Fault),
        Many(Vec<Fault>),
    }
    match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(parsed) => {
            let list = match parsed {
                OneOrMany::One(f) => vec![f],
                OneOrMany::Many(fs) => fs,
            };
            for fault in list {
                crate::faults::inject(&app, fault);
            }
            let all: Vec<Fault> = app.faults().iter().map(|a| a.fault.clone()).collect();
            (StatusCode::CREATED, Json(json!({ "faults": all }))).into_response()
        }
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            "invalid_fault",
            &format!("not a fault: {e}"),
        ),
    }
}

/// `DELETE /__control/faults` → 204.
async fn clear_faults(State(app): State<App>) -> StatusCode {
    app.faults().clear();
    StatusCode::NO_CONTENT
}

/// A partial settings update; every field is optional. Durations in milliseconds.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    /// A URL, or `null` to stop GHL webhooks.
    #[serde(default, with = "nullable")]
    ghl_webhook_url: Option<Option<String>>,
    ghl_signature_mode: Option<GhlSignatureMode>,
    ghl_location_suspended: Option<bool>,
    ghl_rate_limit: Option<GhlRateLimit>,
    ghl_version_strict: Option<bool>,
    ghl_access_token_lifetime_ms: Option<u64>,
    ghl_contact_search_lag_ms: Option<u64>,
    ghl_allow_duplicate_contacts: Option<bool>,
    webhook_minute_ms: Option<u64>,
    mp_retry_schedule: Option<MpRetrySchedule>,
    mp_webhook_timeout_ms: Option<u64>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

fn settings_json(app: &App) -> Value {
    let s = app.settings().clone();
    json!({
        "ghl_webhook_url": s.ghl_webhook_url,
        "ghl_signature_mode": s.ghl_signature_mode,
        "ghl_location_suspended": s.location_suspended,
        "ghl_rate_limit": s.rate_limit,
        "ghl_version_strict": s.version_strict,
        "ghl_access_token_lifetime_ms": s.access_token_lifetime.as_millis() as u64,
        "ghl_contact_search_lag_ms": s.contact_search_lag.as_millis() as u64,
        "ghl_allow_duplicate_contacts": s.allow_duplicate_contacts,
        "webhook_minute_ms": s.webhook_minute.as_millis() as u64,
        "mp_retry_schedule": s.mp_retry_schedule,
        "mp_webhook_timeout_ms": s.mp_webhook_timeout.as_millis() as u64,
        "clock": crate::clock::utc_millis(app.now()),
    })
}

/// `GET /__control/settings` → the current switches.
async fn get_settings(State(app): State<App>) -> Json<Value> {
    Json(settings_json(&app))
}

/// `POST /__control/settings` with any subset of the `GET` fields → 200 with all of them.
async fn patch_settings(State(app): State<App>, body: Bytes) -> Response {
    let patch: Patch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_settings",
                &format!("bad settings: {e}"),
            );
        }
    };
    let ms = std::time::Duration::from_millis;
    {
        let mut s = app.settings();
        if let Some(v) = patch.ghl_webhook_url {
            s.ghl_webhook_url = v;
        }
        if let Some(v) = patch.ghl_signature_mode {
            s.ghl_signature_mode = v;
        }
        if let Some(v) = patch.ghl_location_suspended {
            s.location_suspended = v;
        }
        if let Some(v) = patch.ghl_rate_limit {
            s.rate_limit = v;
        }
        if let Some(v) = patch.ghl_version_strict {
            s.version_strict = v;
        }
        if let Some(v) = patch.ghl_access_token_lifetime_ms {
            s.access_token_lifetime = ms(v);
        }
        if let Some(v) = patch.ghl_contact_search_lag_ms {
            s.contact_search_lag = ms(v);
        }
        if let Some(v) = patch.ghl_allow_duplicate_contacts {
            s.allow_duplicate_contacts = v;
        }
        if let Some(v) = patch.webhook_minute_ms {
            s.webhook_minute = ms(v);
        }
        if let Some(v) = patch.mp_retry_schedule {
            s.mp_retry_schedule = v;
        }
        if let Some(v) = patch.mp_webhook_timeout_ms {
            s.mp_webhook_timeout = ms(v);
        }
    }
    Json(settings_json(&app)).into_response()
}

/// `POST /__control/clock/advance` `{"ms": n}` or `{"secs": n}` → `{"now": …}`.
async fn advance_clock(State(app): State<App>, body: Bytes) -> Response {
    let fields: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let by = match (
        fields.get("ms").and_then(Value::as_u64),
        fields.get("secs").and_then(Value::as_u64),
    ) {
        (Some(ms), _) => std::time::Duration::from_millis(ms),
        (None, Some(secs)) => std::time::Duration::from_secs(secs),
        (None, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_clock",
                "give {\"ms\": n} or {\"secs\": n}",
            );
        }
    };
    app.advance_clock(by);
    Json(json!({ "now": crate::clock::utc_millis(app.now()) })).into_response()
}

/// `GET /__control/deliveries` → `{"deliveries": [...]}` in attempt order.
async fn deliveries(State(app): State<App>) -> Json<Value> {
    let world = app.world();
    Json(json!({ "deliveries": world.deliveries }))
}

/// `GET /__control/tunnels` → `{"tunnels": [...]}`.
async fn list_tunnels(State(app): State<App>) -> Json<Value> {
    let tunnels = app.tunnels().clone();
    Json(json!({ "tunnels": tunnels }))
}

/// `POST /__control/tunnels` `{"public_base": "https://…", "local_base": "http://127.0.0.1:…"}`.
async fn add_tunnel(State(app): State<App>, body: Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    match parsed {
        Ok(v) => match (field(&v, "public_base"), field(&v, "local_base")) {
            (Some(public), Some(local)) => {
                let tunnel = Tunnel::new(&public, &local);
                app.tunnels().push(tunnel.clone());
                (StatusCode::CREATED, Json(json!({ "tunnel": tunnel }))).into_response()
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                "invalid_tunnel",
                "public_base and local_base are required strings",
            ),
        },
        Err(_) => error(
            StatusCode::BAD_REQUEST,
            "invalid_tunnel",
            "body must be JSON",
        ),
    }
}

/// `GET /__control/ghl/requests` → `{"requests": [...]}`: method, path, `Version` header.
async fn ghl_requests(State(app): State<App>) -> Json<Value> {
    let world = app.world();
    Json(json!({ "requests": world.ghl_requests }))
}

/// `POST /__control/reset` → 204: back to the seed data, no tokens, no faults (tunnels,
/// settings and the clock offset are kept).
async fn reset(State(app): State<App>) -> StatusCode {
    app.reset();
    StatusCode::NO_CONTENT
}

/// `GET /__control/info` → where things are and the seeded ids (no secrets).
async fn info(State(app): State<App>) -> Json<Value> {
    let world = app.world();
    let calendars: Vec<Value> = world
        .ghl
        .calendars
        .iter()
        .map(|c| json!({ "id": c.id, "name": c.name, "teamMembers": c.team_members }))
        .collect();
    let contacts: Vec<Value> = world
        .ghl
        .contacts
        .iter()
        .map(|c| json!({ "id": c.id, "name": c.display_name() }))
        .collect();
    Json(json!({
        "ghl_base_url": format!("{}/ghl", app.base_url),
        "mp_base_url": format!("{}/mp", app.base_url),
        "location_id": app.config.location_id,
        "timezone": app.config.timezone,
        "collector_id": world.mp.collector_id,
        "calendars": calendars,
        "contacts": contacts,
    }))
}
