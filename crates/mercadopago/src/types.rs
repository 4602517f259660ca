//! MP wire types, named as MP names them (`shared/providers/mercadopago.md` §4–§5).
//! Every response field MP may omit is optional; unknown fields are ignored.

use crate::money::{json_number, json_number_opt};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One line of a preference (§4.2 `items[]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub quantity: u32,
    #[serde(with = "json_number")]
    pub unit_price: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_id: Option<String>,
}

/// `back_urls` of a preference.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BackUrls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Body of `POST /checkout/preferences`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PreferenceRequest {
    pub items: Vec<Item>,
    pub external_reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// Always a JSON boolean (a string fails with `invalid_expires`).
    pub expires: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_urls: Option<BackUrls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_return: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_descriptor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_mode: Option<bool>,
    /// Copied by MP to `payment.metadata`; keys are snake_case (§4.2).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A preference as MP returns it (§4.4).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Preference {
    pub id: String,
    pub init_point: String,
    #[serde(default)]
    pub sandbox_init_point: Option<String>,
    #[serde(default)]
    pub external_reference: Option<String>,
    #[serde(default)]
    pub collector_id: Option<i64>,
    #[serde(default)]
    pub expires: Option<bool>,
    #[serde(default)]
    pub expiration_date_to: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub notification_url: Option<String>,
}

/// `order` of a payment: the merchant order of a Checkout Pro payment.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct OrderRef {
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// A payment as read from `GET /v1/payments/{id}` (§5.1).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Payment {
    pub id: i64,
    /// Open set: `approved`, `pending`, `rejected`, `refunded`, … (§5.2).
    pub status: String,
    #[serde(default)]
    pub status_detail: Option<String>,
    #[serde(default)]
    pub external_reference: Option<String>,
    #[serde(with = "json_number")]
    pub transaction_amount: Decimal,
    #[serde(default, with = "json_number_opt")]
    pub transaction_amount_refunded: Option<Decimal>,
    pub currency_id: String,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_approved: Option<String>,
    #[serde(default)]
    pub date_last_updated: Option<String>,
    #[serde(default)]
    pub payment_method_id: Option<String>,
    #[serde(default)]
    pub payment_type_id: Option<String>,
    #[serde(default)]
    pub collector_id: Option<i64>,
    #[serde(default)]
    pub live_mode: Option<bool>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub order: Option<OrderRef>,
    /// The JSON as MP sent it (set by the client after parsing).
    #[serde(skip)]
    pub raw: String,
}

/// `paging` of a payment search.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Paging {
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub limit: i64,
    #[serde(default)]
    pub offset: i64,
}

/// Answer of `GET /v1/payments/search`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PaymentSearch {
    #[serde(default)]
    pub paging: Paging,
    #[serde(default)]
    pub results: Vec<Payment>,
}

/// MP's error body (§8). `cause` codes may be numbers or strings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub status: Option<serde_json::Value>,
    #[serde(default)]
    pub cause: Option<serde_json::Value>,
}

/// Parses MP's date format (`2024-01-10T09:30:00.000-05:00`) into UTC.
pub fn parse_date(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// Formats a time the way MP wants it: millis and an offset.
pub fn format_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}
