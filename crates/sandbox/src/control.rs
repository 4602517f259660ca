//! Control routes under `/__control`: what a test, the demo's "Simular pago del paciente"
//! button or a benchmark uses to drive the sandbox from outside (pay a preference, read the
//! webhook deliveries, register tunnels, reset). Not part of either provider's API.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::SandboxError;
use crate::mp::payments::{PayRequest, pay};
use crate::mp::webhooks::Tunnel;
use crate::mp::{RawMap, decimal_from_raw, value_of};
use crate::state::App;

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/mp/preferences/{id}/pay", post(pay_preference))
        .route("/deliveries", get(deliveries))
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

/// `POST /__control/reset` → 204: back to the seed data (tunnels are kept).
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
