//! The fake Mercado Pago API (shared/providers/mercadopago.md), mounted under `/mp`.
//!
//! This module owns what every MP route shares: bearer auth, the `{message, error, status,
//! cause}` error body, and the JSON plumbing that keeps money exact. Amounts are read from the
//! raw number text a caller sent (`serde_json::value::RawValue`) into `Decimal` and written
//! back as raw number text: no `f64` anywhere on the money path.

pub(crate) mod checkout;
pub(crate) mod merchant_orders;
pub(crate) mod payments;
pub(crate) mod preferences;
pub(crate) mod refunds;
pub mod webhooks;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::ghl::bearer;
use crate::state::App;
use crate::{SandboxConfig, faults};

pub(crate) use payments::Payment;
pub(crate) use preferences::Preference;

/// A JSON object kept as raw text per key: echoes stay byte-faithful, numbers stay exact.
pub(crate) type RawMap = BTreeMap<String, Box<RawValue>>;

/// The MP part of the world.
pub(crate) struct MpWorld {
    /// The seller's user id (`collector_id`).
    pub collector_id: i64,
    /// The application id (`client_id`).
    pub client_id: String,
    pub preferences: Vec<Preference>,
    pub payments: Vec<Payment>,
    next_payment_id: i64,
    next_order_id: i64,
    next_notification_id: i64,
    next_refund_id: i64,
}

impl MpWorld {
    pub fn new(config: &SandboxConfig) -> Self {
        let (collector_id, client_id) = config.mp_account();
        Self {
            collector_id,
            client_id,
            preferences: Vec::new(),
            payments: Vec::new(),
            // Above 2^32 on purpose: a client that squeezes ids into 32 bits fails at once.
            next_payment_id: 17_014_025_134,
            next_order_id: 29_876_543_210,
            next_notification_id: 12_345_678_901,
            next_refund_id: 1_622_029_222,
        }
    }

    pub fn preference(&self, id: &str) -> Option<&Preference> {
        self.preferences.iter().find(|p| p.id == id)
    }

    pub fn new_payment_id(&mut self) -> i64 {
        let id = self.next_payment_id;
        self.next_payment_id += 1;
        id
    }

    pub fn new_order_id(&mut self) -> i64 {
        let id = self.next_order_id;
        self.next_order_id += 1;
        id
    }

    pub fn new_refund_id(&mut self) -> i64 {
        let id = self.next_refund_id;
        self.next_refund_id += 1;
        id
    }

    pub fn new_notification_id(&mut self) -> i64 {
        let id = self.next_notification_id;
        self.next_notification_id += 1;
        id
    }
}

/// The MP router (mounted under `/mp` by the caller).
pub(crate) fn router(app: App) -> Router {
    let api = Router::new()
        .route(
            "/checkout/preferences",
            post(preferences::create_preference),
        )
        .route(
            "/checkout/preferences/search",
            get(preferences::search_preferences),
        )
        .route(
            "/checkout/preferences/{id}",
            get(preferences::get_preference).put(preferences::update_preference),
        )
        .route("/v1/payments/search", get(payments::search_payments))
        .route(
            "/v1/payments/{id}",
            get(payments::get_payment).put(payments::update_payment),
        )
        .route(
            "/v1/payments/{id}/refunds",
            get(refunds::list_refunds).post(refunds::create_refund),
        )
        .route(
            "/v1/payments/{id}/refunds/{refund_id}",
            get(refunds::get_refund),
        )
        .route(
            "/merchant_orders/search",
            get(merchant_orders::search_merchant_orders),
        )
        .route(
            "/merchant_orders/{id}",
            get(merchant_orders::get_merchant_order),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            faults::mp_api_faults,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), auth));
    // The checkout pages are what a patient opens: public, like MP's own checkout.
    let checkout = Router::new()
        .route("/checkout/v1/redirect", get(checkout::pay_page))
        .route("/checkout/v1/pay", post(checkout::pay_from_page));
    checkout.merge(api).with_state(app)
}

async fn not_found() -> MpError {
    MpError::new(StatusCode::NOT_FOUND, "not_found", "resource not found")
}

async fn auth(State(app): State<App>, req: Request, next: Next) -> Response {
    let ok = bearer(req.headers()).is_some_and(|t| t == app.config.mp_access_token);
    if ok {
        next.run(req).await
    } else {
        MpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid access token",
        )
        .into_response()
    }
}

/// An MP error body: `{"message", "error", "status", "cause": []}` (mercadopago.md §8).
#[derive(Debug)]
pub(crate) struct MpError {
    pub status: StatusCode,
    pub error: String,
    pub message: String,
    pub cause: Vec<Value>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    error: &'a str,
    status: u16,
    cause: &'a [Value],
}

impl MpError {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_owned(),
            message: message.into(),
            cause: Vec::new(),
        }
    }

    /// A 400 validation error with its key in `error`.
    pub fn bad_request(error: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, message)
    }
}

impl IntoResponse for MpError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: &self.message,
            error: &self.error,
            status: self.status.as_u16(),
            cause: &self.cause,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// Serialises any value into raw JSON (`null` if it cannot be, which plain data never hits).
pub(crate) fn raw<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| null())
}

/// Raw `null`.
pub(crate) fn null() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

/// An amount as a raw JSON number in its shortest exact form (`80`, `80.5`, `12.34`).
pub(crate) fn money(amount: Decimal) -> Box<RawValue> {
    RawValue::from_string(amount.normalize().to_string()).unwrap_or_else(|_| null())
}

/// Parses raw JSON number text (`80`, `80.50`, `8.05e1`) exactly; `None` for anything that is
/// not a JSON number (a string `"80"` included).
pub(crate) fn decimal_from_raw(raw: &RawValue) -> Option<Decimal> {
    let text = raw.get().trim();
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return None;
    }
    text.parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
}

/// Parses a raw value into a `Value` for inspection of non-money fields.
pub(crate) fn value_of(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_text(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap_or_else(|_| null())
    }

    #[test]
    fn amounts_keep_their_exact_digits() {
        assert_eq!(decimal_from_raw(&raw_text("80.50")), "80.50".parse().ok());
        assert_eq!(decimal_from_raw(&raw_text("0.1")), "0.1".parse().ok());
        assert_eq!(decimal_from_raw(&raw_text("8.05e1")), "80.5".parse().ok());
        assert_eq!(decimal_from_raw(&raw_text("\"80\"")), None);
        assert_eq!(money(Decimal::new(8050, 2)).get(), "80.5");
        assert_eq!(money(Decimal::new(80, 0)).get(), "80");
    }
}
