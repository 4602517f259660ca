//! Refunds (mercadopago.md §6): `POST /v1/payments/{id}/refunds` (201), `GET …/refunds`
//! (array) and `GET …/refunds/{refund_id}`.
//!
//! - `X-Idempotency-Key` is required (else 400, cause 4292). The same key on the same payment
//!   returns the same refund; the same key with a different amount is 409 (Orders semantics,
//!   unconfirmed for refunds).
//! - `{}` refunds what remains; `{"amount": n}` refunds part, and several parts may follow up
//!   to the remaining amount. Over-refunding is 400 (cause `refund_amount_exceeds_available`:
//!   the real code is undocumented).
//! - Errors: unknown payment 404 (2000); not approved 400 (4293, or 2063 for
//!   `charged_back` / `in_mediation`); already fully refunded 400 (4296); over 180 days since
//!   approval 400 (2024); amount not positive 400 (4040) or not a number 400 (4041).
//! - A refund raises `transaction_amount_refunded`; a full one sets `status` and
//!   `status_detail` to `refunded`, a partial one keeps `approved`. Each notifies
//!   `payment.updated` in the background.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::payments::payment_not_found;
use super::{MpError, RawMap, decimal_from_raw, money, raw};
use crate::clock::mp_date;
use crate::state::App;

/// Refunds are allowed this long after approval.
const REFUND_WINDOW_DAYS: i64 = 180;

/// A stored refund.
#[derive(Clone, Debug)]
pub(crate) struct Refund {
    pub id: i64,
    pub payment_id: i64,
    pub amount: Decimal,
    pub date_created: DateTime<Utc>,
    /// The `X-Idempotency-Key` that created it.
    pub idempotency_key: String,
    /// The amount the request asked for (`None` = full), to spot a reused key.
    pub requested: Option<Decimal>,
}

impl Refund {
    /// The refund object (§6).
    pub fn render(&self, app: &App, collector_id: i64) -> RawMap {
        let pairs: Vec<(&str, Box<RawValue>)> = vec![
            ("id", raw(&self.id)),
            ("payment_id", raw(&self.payment_id)),
            ("amount", money(self.amount)),
            ("amount_refunded_to_payer", money(self.amount)),
            ("adjustment_amount", money(Decimal::ZERO)),
            ("status", raw("approved")),
            ("refund_mode", raw("standard")),
            (
                "source",
                raw(&json!({
                    "id": collector_id.to_string(),
                    "name": "Clínica Demo",
                    "type": "collector",
                })),
            ),
            ("date_created", raw(&mp_date(self.date_created, app.tz))),
            ("unique_sequence_number", raw(&Value::Null)),
            ("reason", raw(&Value::Null)),
            ("metadata", raw(&json!({}))),
            ("labels", raw(&json!([]))),
            ("partition_details", raw(&json!([]))),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

fn refund_error(status: StatusCode, code: Value, message: &str) -> MpError {
    let error = if status == StatusCode::NOT_FOUND {
        "not_found"
    } else if status == StatusCode::CONFLICT {
        "conflict"
    } else {
        "bad_request"
    };
    let mut err = MpError::new(status, error, message);
    err.cause = vec![json!({ "code": code, "description": message, "data": Value::Null })];
    err
}

fn bad(code: i64, message: &str) -> MpError {
    refund_error(StatusCode::BAD_REQUEST, json!(code), message)
}

/// Reads `{}` or `{"amount": n}` (the amount as exact number text).
fn requested_amount(body: &Bytes) -> Result<Option<Decimal>, MpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let fields: RawMap = serde_json::from_slice(body)
        .map_err(|_| MpError::bad_request("bad_request", "body must be a JSON object"))?;
    match fields.get("amount") {
        None => Ok(None),
        Some(r) if r.get().trim() == "null" => Ok(None),
        Some(r) => {
            let amount = decimal_from_raw(r).ok_or_else(|| bad(4041, "amount must be numeric"))?;
            if amount <= Decimal::ZERO {
                return Err(bad(4040, "amount must be positive"));
            }
            Ok(Some(amount))
        }
    }
}

/// `POST /v1/payments/{id}/refunds` → 201 with the refund.
pub(crate) async fn create_refund(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<RawMap>), MpError> {
    let key = headers
        .get("x-idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| bad(4292, "Header-X-Idempotency-Key-can't-be-null"))?;
    if key.chars().count() > 64 {
        return Err(MpError::bad_request(
            "bad_request",
            "X-Idempotency-Key must be 1 to 64 characters",
        ));
    }
    let payment_id: i64 = id.trim().parse().map_err(|_| payment_not_found())?;
    let requested = requested_amount(&body)?;
    let now = app.now();
    let (rendered, url) = {
        let mut world = app.world();
        let mp = &mut world.mp;
        let refund_id = mp.new_refund_id();
        let payment = mp
            .payments
            .iter_mut()
            .find(|p| p.id == payment_id)
            .ok_or_else(payment_not_found)?;
        if let Some(previous) = payment.refunds.iter().find(|r| r.idempotency_key == key) {
            if previous.requested != requested {
                return Err(refund_error(
                    StatusCode::CONFLICT,
                    json!("idempotency_key_conflict"),
                    "X-Idempotency-Key was already used with a different request",
                ));
            }
            return Ok((
                StatusCode::CREATED,
                Json(previous.render(&app, payment.collector_id)),
            ));
        }
        match payment.status.as_str() {
            "approved" => {}
            "refunded" => return Err(bad(4296, "Payment already refunded")),
            "charged_back" | "in_mediation" => {
                return Err(bad(
                    2063,
                    "The action requested is not valid for the current payment state",
                ));
            }
            _ => return Err(bad(4293, "Invalid payment status")),
        }
        if payment
            .date_approved
            .is_some_and(|d| now - d > Duration::days(REFUND_WINDOW_DAYS))
        {
            return Err(bad(2024, "Payment too old to be refunded"));
        }
        let remaining = payment.amount - payment.refunded;
        let amount = requested.unwrap_or(remaining);
        if amount > remaining {
            return Err(refund_error(
                StatusCode::BAD_REQUEST,
                json!("refund_amount_exceeds_available"),
                "The refund amount exceeds the amount available to refund",
            ));
        }
        let refund = Refund {
            id: refund_id,
            payment_id,
            amount,
            date_created: now,
            idempotency_key: key,
            requested,
        };
        payment.refunded += amount;
        if payment.refunded >= payment.amount {
            payment.status = "refunded".to_owned();
            payment.status_detail = "refunded".to_owned();
        }
        payment.date_last_updated = now.max(payment.date_last_updated + Duration::milliseconds(1));
        let rendered = refund.render(&app, payment.collector_id);
        payment.refunds.push(refund);
        tracing::debug!(payment_id, refund_id, %amount, "mp refund created");
        (rendered, payment.notification_url.clone())
    };
    if let Some(url) = url {
        let app = app.clone();
        // Counted before the answer goes out, so "nothing pending" cannot miss it.
        let work = app.webhook_work();
        tokio::spawn(async move {
            super::webhooks::notify_payment(&app, &url, payment_id, "payment.updated").await;
            drop(work);
        });
    }
    Ok((StatusCode::CREATED, Json(rendered)))
}

/// `GET /v1/payments/{id}/refunds` → array of refunds, oldest first.
pub(crate) async fn list_refunds(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Vec<RawMap>>, MpError> {
    let payment_id: i64 = id.trim().parse().map_err(|_| payment_not_found())?;
    let world = app.world();
    let payment = world
        .mp
        .payments
        .iter()
        .find(|p| p.id == payment_id)
        .ok_or_else(payment_not_found)?;
    Ok(Json(
        payment
            .refunds
            .iter()
            .map(|r| r.render(&app, payment.collector_id))
            .collect(),
    ))
}

/// `GET /v1/payments/{id}/refunds/{refund_id}` → the refund; 404 (cause 2032) if unknown.
pub(crate) async fn get_refund(
    State(app): State<App>,
    Path((id, refund_id)): Path<(String, String)>,
) -> Result<Json<RawMap>, MpError> {
    let payment_id: i64 = id.trim().parse().map_err(|_| payment_not_found())?;
    let world = app.world();
    let payment = world
        .mp
        .payments
        .iter()
        .find(|p| p.id == payment_id)
        .ok_or_else(payment_not_found)?;
    let refund = refund_id
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|rid| payment.refunds.iter().find(|r| r.id == rid))
        .ok_or_else(|| refund_error(StatusCode::NOT_FOUND, json!(2032), "Refund not found"))?;
    Ok(Json(refund.render(&app, payment.collector_id)))
}
