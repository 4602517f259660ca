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

/// `payer` of a preference (§4.2). Every part is optional; MP pre-fills checkout with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Payer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identification: Option<Identification>,
}

/// `payer.phone`: both parts are strings on MP's wire.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Phone {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// `payer.identification`: a document type (`DNI`, `RUC`, `CPF`, …) and its number.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Identification {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// `{ "id": … }`, the shape of each excluded payment method or type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdRef {
    pub id: String,
}

impl IdRef {
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// `payment_methods` of a preference (§4.2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PaymentMethods {
    /// `account_money` can't be excluded (checked before sending).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_payment_methods: Vec<IdRef>,
    /// E.g. `ticket`, `atm`, `credit_card`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_payment_types: Vec<IdRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_payment_method_id: Option<String>,
    /// Most installments offered, 1–36.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installments: Option<u32>,
    /// 1–36 and not above `installments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_installments: Option<u32>,
}

/// A [`PreferenceRequest`] plus the optional parts `desk` does not send yet (`payer`,
/// `payment_methods`). Serialises as one flat create body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FullPreferenceRequest {
    #[serde(flatten)]
    pub base: PreferenceRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_methods: Option<PaymentMethods>,
}

impl From<PreferenceRequest> for FullPreferenceRequest {
    fn from(base: PreferenceRequest) -> Self {
        Self {
            base,
            payer: None,
            payment_methods: None,
        }
    }
}

impl FullPreferenceRequest {
    /// Adds the payer.
    pub fn with_payer(mut self, payer: Payer) -> Self {
        self.payer = Some(payer);
        self
    }

    /// Adds payment-method rules.
    pub fn with_payment_methods(mut self, methods: PaymentMethods) -> Self {
        self.payment_methods = Some(methods);
        self
    }
}

/// Body of `PUT /checkout/preferences/{id}`: only the fields set are sent (§4.1, §4.5).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PreferenceUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Item>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// A JSON boolean when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<bool>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_methods: Option<PaymentMethods>,
}

impl PreferenceUpdate {
    /// `{"expires": true, "expiration_date_to": <now>}`: the link stops taking payments (§4.5).
    pub fn expire_at(now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            expires: Some(true),
            expiration_date_to: Some(format_date(now)),
            ..Self::default()
        }
    }
}

/// An item as MP echoes it in a preference; read leniently (every field optional).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PreferenceItem {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, with = "json_number_opt")]
    pub quantity: Option<Decimal>,
    #[serde(default, with = "json_number_opt")]
    pub unit_price: Option<Decimal>,
    #[serde(default)]
    pub currency_id: Option<String>,
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
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub site_id: Option<String>,
    #[serde(default)]
    pub expires: Option<bool>,
    #[serde(default)]
    pub expiration_date_from: Option<String>,
    #[serde(default)]
    pub expiration_date_to: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub last_updated: Option<String>,
    #[serde(default)]
    pub notification_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub items: Vec<PreferenceItem>,
    #[serde(default)]
    pub binary_mode: Option<bool>,
    #[serde(default)]
    pub auto_return: Option<String>,
    #[serde(default)]
    pub statement_descriptor: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// One element of a preference search. MP's search elements are summaries (no
/// `init_point`), so only the id is required; read the full preference by id.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PreferenceSummary {
    pub id: String,
    #[serde(default)]
    pub external_reference: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub expires: Option<bool>,
    #[serde(default)]
    pub expiration_date_to: Option<String>,
}

/// Answer of `GET /checkout/preferences/search` (§4.1).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PreferenceSearch {
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub elements: Vec<PreferenceSummary>,
    #[serde(default)]
    pub next_offset: Option<i64>,
    #[serde(default)]
    pub total: i64,
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

/// Answer of `GET /v1/payments/search`. After [`crate::Client::search_all_payments`],
/// `paging.total` is what MP reported and `results` may be shorter when the page bound was hit.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PaymentSearch {
    #[serde(default)]
    pub paging: Paging,
    #[serde(default)]
    pub results: Vec<Payment>,
}

/// MP's error body (§8). `cause` codes may be numbers or strings; some answers carry
/// `errors[]` or `details[]` instead (see [`ApiErrorBody::causes`]).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub error: Option<String>,
    #[serde(default)]
    pub status: Option<serde_json::Value>,
    #[serde(default)]
    pub cause: Option<serde_json::Value>,
    #[serde(default)]
    pub errors: Option<serde_json::Value>,
    #[serde(default)]
    pub details: Option<serde_json::Value>,
}

/// One entry of an error's `cause[]` (or `errors[]` / `details[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    /// The code as text (`4292`, `2063`, `empty_required_header`, …).
    pub code: Option<String>,
    /// `description`, `message` or `detail`, whichever MP sent.
    pub description: Option<String>,
}

impl ApiErrorBody {
    /// Every cause found in `cause`, `errors` and `details`, in that order. Entries may be
    /// objects (`code` number or string; `description`, `message` or `detail`), bare strings
    /// (a description) or bare numbers (a code); a single object is read as a one-entry list.
    pub fn causes(&self) -> Vec<Cause> {
        let mut out = Vec::new();
        for v in [&self.cause, &self.errors, &self.details]
            .into_iter()
            .flatten()
        {
            match v {
                serde_json::Value::Array(entries) => {
                    out.extend(entries.iter().filter_map(cause_of))
                }
                other => out.extend(cause_of(other)),
            }
        }
        out
    }
}

fn cause_of(v: &serde_json::Value) -> Option<Cause> {
    use serde_json::Value;
    let text = |v: Option<&Value>| match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Object(m) => {
            let cause = Cause {
                code: text(m.get("code")),
                description: text(m.get("description"))
                    .or_else(|| text(m.get("message")))
                    .or_else(|| text(m.get("detail"))),
            };
            (cause.code.is_some() || cause.description.is_some()).then_some(cause)
        }
        Value::String(s) if !s.is_empty() => Some(Cause {
            code: None,
            description: Some(s.clone()),
        }),
        Value::Number(n) => Some(Cause {
            code: Some(n.to_string()),
            description: None,
        }),
        _ => None,
    }
}

/// A refund's `source` (who paid for it, usually the `collector`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct RefundSource {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// A refund as MP returns it (§6).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Refund {
    pub id: i64,
    #[serde(default)]
    pub payment_id: Option<i64>,
    #[serde(with = "json_number")]
    pub amount: Decimal,
    #[serde(default, with = "json_number_opt")]
    pub amount_refunded_to_payer: Option<Decimal>,
    #[serde(default, with = "json_number_opt")]
    pub adjustment_amount: Option<Decimal>,
    /// Open set: `approved`, `in_process`, `rejected`, `cancelled`, `authorized`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub refund_mode: Option<String>,
    #[serde(default)]
    pub source: Option<RefundSource>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub unique_sequence_number: Option<String>,
    #[serde(default)]
    pub reason: Option<serde_json::Value>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub labels: Option<serde_json::Value>,
    #[serde(default)]
    pub partition_details: Option<serde_json::Value>,
    /// The JSON as MP sent it (set by the client after parsing).
    #[serde(skip)]
    pub raw: String,
}

/// A payment as listed in a merchant order.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MerchantOrderPayment {
    pub id: i64,
    #[serde(default, with = "json_number_opt")]
    pub transaction_amount: Option<Decimal>,
    #[serde(default, with = "json_number_opt")]
    pub total_paid_amount: Option<Decimal>,
    #[serde(default)]
    pub currency_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_detail: Option<String>,
    #[serde(default)]
    pub date_approved: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
}

/// A merchant order (§7): one per checkout session of a preference.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MerchantOrder {
    pub id: i64,
    #[serde(default)]
    pub preference_id: Option<String>,
    #[serde(default)]
    pub external_reference: Option<String>,
    /// `opened` | `closed` | `expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// `payment_required`, `paid`, `partially_reverted`, …; an open set.
    #[serde(default)]
    pub order_status: Option<String>,
    #[serde(default, with = "json_number_opt")]
    pub total_amount: Option<Decimal>,
    #[serde(default, with = "json_number_opt")]
    pub paid_amount: Option<Decimal>,
    #[serde(default, with = "json_number_opt")]
    pub refunded_amount: Option<Decimal>,
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub payments: Vec<MerchantOrderPayment>,
    #[serde(default)]
    pub site_id: Option<String>,
    #[serde(default)]
    pub is_test: Option<bool>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub last_updated: Option<String>,
    /// The JSON as MP sent it (set by the client after parsing).
    #[serde(skip)]
    pub raw: String,
}

/// Answer of `GET /merchant_orders/search` (§7).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MerchantOrderSearch {
    pub elements: Vec<MerchantOrder>,
    pub next_offset: Option<i64>,
    pub total: i64,
}

/// Filters of `GET /merchant_orders/search`; unset ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerchantOrderQuery {
    pub preference_id: Option<String>,
    pub external_reference: Option<String>,
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// Readers that accept what MP sends in more than one shape.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    /// A string, a number written as text, or `null`.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    }

    /// A list, or `null` read as empty.
    pub fn vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
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
