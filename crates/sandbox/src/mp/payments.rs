//! Payments: `GET /v1/payments/{id}`, `GET /v1/payments/search`, cancel with
//! `PUT /v1/payments/{id}` (mercadopago.md §5), paying a preference, which is how payments come
//! into being in the sandbox (a patient paying the link, simulated through the control route or
//! `Sandbox::pay_preference`; a preference may be paid again and again), and the status
//! machine the control API drives (approve a pending payment, charge back, mediation).
//!
//! Creation notifies `payment.created`; every later change notifies `payment.updated`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::preferences::paging_param;
use super::refunds::Refund;
use super::{MpError, RawMap, money, raw};
use crate::SandboxError;
use crate::clock::{mp_date, parse_offset_time};
use crate::state::App;

/// Statuses a payment can be created with (later ones come from transitions).
const INITIAL_STATUSES: [&str; 6] = [
    "approved",
    "rejected",
    "pending",
    "in_process",
    "authorized",
    "cancelled",
];

/// What the simulated patient does at the checkout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayRequest {
    /// Resulting payment status: `approved` (the default), `rejected`, `pending`, `in_process`,
    /// `authorized` or `cancelled`.
    pub status: String,
    /// Amount paid; defaults to the preference total. Set it to simulate a mismatch.
    pub amount: Option<Decimal>,
    /// Currency paid; defaults to the preference's currency.
    pub currency_id: Option<String>,
}

impl Default for PayRequest {
    fn default() -> Self {
        Self {
            status: "approved".to_owned(),
            amount: None,
            currency_id: None,
        }
    }
}

/// What paying produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PayOutcome {
    /// The new payment's id.
    pub payment_id: i64,
    /// HTTP status the `notification_url` answered; `None` without a `notification_url` or
    /// when the delivery failed to connect.
    pub delivery_status: Option<u16>,
}

/// A stored payment.
#[derive(Clone, Debug)]
pub(crate) struct Payment {
    pub id: i64,
    pub order_id: i64,
    pub preference_id: String,
    pub status: String,
    pub status_detail: String,
    pub external_reference: Option<String>,
    pub amount: Decimal,
    pub refunded: Decimal,
    pub currency_id: String,
    pub description: String,
    pub payment_method_id: String,
    pub payment_type_id: String,
    pub date_created: DateTime<Utc>,
    pub date_approved: Option<DateTime<Utc>>,
    pub date_last_updated: DateTime<Utc>,
    pub metadata: Box<RawValue>,
    pub payer: Value,
    pub collector_id: i64,
    pub notification_url: Option<String>,
    pub statement_descriptor: Option<String>,
    pub binary_mode: bool,
    pub refunds: Vec<Refund>,
}

impl Payment {
    fn money_release_date(&self) -> Option<DateTime<Utc>> {
        self.date_approved.map(|d| d + Duration::days(14))
    }

    /// The payment as MP returns it (§5.1).
    pub(crate) fn render(&self, app: &App) -> RawMap {
        let date = |d: Option<DateTime<Utc>>| d.map(|d| mp_date(d, app.tz));
        let net = self.amount - self.refunded;
        let pairs: Vec<(&str, Box<RawValue>)> = vec![
            ("id", raw(&self.id)),
            ("date_created", raw(&date(Some(self.date_created)))),
            ("date_approved", raw(&date(self.date_approved))),
            (
                "date_last_updated",
                raw(&date(Some(self.date_last_updated))),
            ),
            ("date_of_expiration", raw(&Value::Null)),
            ("money_release_date", raw(&date(self.money_release_date()))),
            ("money_release_status", raw(&Value::Null)),
            ("operation_type", raw("regular_payment")),
            ("issuer_id", raw("")),
            ("payment_method_id", raw(&self.payment_method_id)),
            ("payment_type_id", raw(&self.payment_type_id)),
            ("status", raw(&self.status)),
            ("status_detail", raw(&self.status_detail)),
            ("currency_id", raw(&self.currency_id)),
            ("description", raw(&self.description)),
            ("live_mode", raw(&false)),
            ("sponsor_id", raw(&Value::Null)),
            ("authorization_code", raw(&Value::Null)),
            ("collector_id", raw(&self.collector_id)),
            ("payer", raw(&self.payer)),
            ("metadata", self.metadata.clone()),
            ("additional_info", raw(&json!({}))),
            (
                "order",
                raw(&json!({ "id": self.order_id, "type": "mercadopago" })),
            ),
            ("external_reference", raw(&self.external_reference)),
            ("transaction_amount", money(self.amount)),
            ("transaction_amount_refunded", money(self.refunded)),
            ("coupon_amount", money(Decimal::ZERO)),
            ("installments", raw(&1)),
            (
                "transaction_details",
                raw(&TransactionDetails {
                    net_received_amount: money(net),
                    total_paid_amount: money(self.amount),
                    installment_amount: money(self.amount),
                    overpaid_amount: money(Decimal::ZERO),
                }),
            ),
            ("fee_details", raw(&json!([]))),
            ("captured", raw(&true)),
            ("binary_mode", raw(&self.binary_mode)),
            (
                "refunds",
                raw(&self
                    .refunds
                    .iter()
                    .map(|r| r.render(app, self.collector_id))
                    .collect::<Vec<_>>()),
            ),
            ("notification_url", raw(&self.notification_url)),
            ("statement_descriptor", raw(&self.statement_descriptor)),
            (
                "point_of_interaction",
                raw(&json!({ "type": "UNSPECIFIED" })),
            ),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// A field's value as a string, for search filters (`order.id` style paths included).
    fn filter_value(&self, key: &str) -> Option<String> {
        Some(match key {
            "id" => self.id.to_string(),
            "status" => self.status.clone(),
            "status_detail" => self.status_detail.clone(),
            "external_reference" => self.external_reference.clone()?,
            "currency_id" => self.currency_id.clone(),
            "payment_method_id" => self.payment_method_id.clone(),
            "payment_type_id" => self.payment_type_id.clone(),
            "order.id" => self.order_id.to_string(),
            "collector.id" | "collector_id" => self.collector_id.to_string(),
            "live_mode" => "false".to_owned(),
            "operation_type" => "regular_payment".to_owned(),
            _ => return None,
        })
    }

    fn date_field(&self, key: &str) -> Option<DateTime<Utc>> {
        match key {
            "date_approved" => self.date_approved,
            "date_last_updated" => Some(self.date_last_updated),
            "money_release_date" => self.money_release_date(),
            _ => Some(self.date_created),
        }
    }
}

#[derive(Serialize)]
struct TransactionDetails {
    net_received_amount: Box<RawValue>,
    total_paid_amount: Box<RawValue>,
    installment_amount: Box<RawValue>,
    overpaid_amount: Box<RawValue>,
}

pub(crate) fn status_detail(status: &str) -> &'static str {
    match status {
        "approved" => "accredited",
        "refunded" => "refunded",
        "charged_back" => "settled",
        "in_mediation" => "in_mediation",
        "rejected" => "cc_rejected_other_reason",
        "pending" => "pending_waiting_payment",
        "in_process" => "pending_contingency",
        "authorized" => "pending_capture",
        "cancelled" => "expired",
        _ => "",
    }
}

/// Pays a preference: creates the payment (new id, new merchant order) and, when the
/// preference has a `notification_url`, delivers the signed `payment.created` webhook.
pub(crate) async fn pay(
    app: &App,
    preference_id: &str,
    req: PayRequest,
) -> Result<PayOutcome, SandboxError> {
    let now = app.now();
    let (payment_id, notification_url) = {
        let mut world = app.world();
        let mp = &mut world.mp;
        let pref = mp
            .preference(preference_id)
            .ok_or_else(|| SandboxError::PreferenceNotFound(preference_id.to_owned()))?
            .clone();
        if pref.is_expired(now) {
            return Err(SandboxError::PreferenceExpired(pref.id));
        }
        if pref.is_not_yet_valid(now) {
            return Err(SandboxError::PreferenceNotYetValid(pref.id));
        }
        let status = req.status.trim().to_owned();
        if !INITIAL_STATUSES.contains(&status.as_str()) {
            return Err(SandboxError::InvalidPayRequest(format!(
                "status must be one of {}",
                INITIAL_STATUSES.join(", ")
            )));
        }
        if pref.binary_mode && !matches!(status.as_str(), "approved" | "rejected") {
            return Err(SandboxError::InvalidPayRequest(
                "binary_mode preferences end only approved or rejected".to_owned(),
            ));
        }
        let amount = req.amount.unwrap_or_else(|| pref.total());
        if amount <= Decimal::ZERO {
            return Err(SandboxError::InvalidPayRequest(
                "amount must be positive".to_owned(),
            ));
        }
        let currency_id = req
            .currency_id
            .clone()
            .unwrap_or_else(|| pref.currency_id().to_owned());
        let cash = status == "pending";
        let payer = payer(pref.payer());
        let payment = Payment {
            id: mp.new_payment_id(),
            order_id: mp.new_order_id(),
            preference_id: pref.id.clone(),
            status_detail: status_detail(&status).to_owned(),
            date_approved: (status == "approved").then_some(now),
            status,
            external_reference: pref.external_reference.clone(),
            amount,
            refunded: Decimal::ZERO,
            currency_id,
            description: pref
                .items
                .first()
                .map(|i| i.title.clone())
                .unwrap_or_default(),
            payment_method_id: if cash { "pagoefectivo_atm" } else { "visa" }.to_owned(),
            payment_type_id: if cash { "atm" } else { "credit_card" }.to_owned(),
            date_created: now,
            date_last_updated: now,
            metadata: pref.metadata(),
            payer,
            collector_id: mp.collector_id,
            notification_url: pref.notification_url.clone(),
            statement_descriptor: pref
                .fields
                .get("statement_descriptor")
                .and_then(|d| super::value_of(d).as_str().map(str::to_owned)),
            binary_mode: pref.binary_mode,
            refunds: Vec::new(),
        };
        let id = payment.id;
        tracing::debug!(payment_id = id, preference_id = %pref.id, status = %payment.status, "mp payment created");
        mp.payments.push(payment);
        (id, pref.notification_url)
    };
    let delivery_status = match notification_url {
        Some(url) => {
            super::webhooks::notify_payment(app, &url, payment_id, "payment.created").await
        }
        None => None,
    };
    Ok(PayOutcome {
        payment_id,
        delivery_status,
    })
}

/// Whether the status machine allows `from` → `to` (mercadopago.md §11). Refunds go through
/// the refunds API, not here.
fn transition_allowed(from: &str, to: &str, binary_mode: bool) -> bool {
    if binary_mode && matches!(to, "pending" | "in_process" | "authorized") {
        return false;
    }
    matches!(
        (from, to),
        (
            "pending" | "in_process" | "authorized",
            "approved" | "rejected" | "cancelled"
        ) | ("pending", "in_process")
            | ("approved", "charged_back" | "in_mediation")
            | ("in_mediation", "approved" | "charged_back")
    )
}

/// Moves a payment to `status` (control API): bumps `date_last_updated`, sets `date_approved`
/// on the first approval, and notifies `payment.updated`.
pub(crate) async fn change_status(
    app: &App,
    payment_id: i64,
    status: &str,
    detail: Option<String>,
) -> Result<PayOutcome, SandboxError> {
    let now = app.now();
    let notification_url = {
        let mut world = app.world();
        let payment = world
            .mp
            .payments
            .iter_mut()
            .find(|p| p.id == payment_id)
            .ok_or(SandboxError::PaymentNotFound(payment_id))?;
        if !transition_allowed(&payment.status, status, payment.binary_mode) {
            return Err(SandboxError::InvalidTransition {
                from: payment.status.clone(),
                to: status.to_owned(),
            });
        }
        payment.status = status.to_owned();
        payment.status_detail = detail.unwrap_or_else(|| status_detail(status).to_owned());
        if status == "approved" && payment.date_approved.is_none() {
            payment.date_approved = Some(now);
        }
        payment.date_last_updated = now.max(payment.date_last_updated + Duration::milliseconds(1));
        payment.notification_url.clone()
    };
    let delivery_status = match notification_url {
        Some(url) => {
            super::webhooks::notify_payment(app, &url, payment_id, "payment.updated").await
        }
        None => None,
    };
    Ok(PayOutcome {
        payment_id,
        delivery_status,
    })
}

/// `PUT /v1/payments/{id}` `{"status": "cancelled"}`: only from `pending` / `in_process`
/// (§5.3); anything else is 400 with cause 2063. Answers 200 with the payment.
pub(crate) async fn update_payment(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RawMap>, MpError> {
    let id: i64 = id.trim().parse().map_err(|_| payment_not_found())?;
    let fields: Value = serde_json::from_slice(&body)
        .map_err(|_| MpError::bad_request("bad_request", "body must be a JSON object"))?;
    let Some(status) = fields.get("status").and_then(Value::as_str) else {
        return Err(MpError::bad_request(
            "bad_request",
            "status is the only field the sandbox updates",
        ));
    };
    if status != "cancelled" {
        return Err(MpError::bad_request(
            "bad_request",
            format!("status {status} cannot be set: only cancelled"),
        ));
    }
    let now = app.now();
    let (rendered, url) = {
        let mut world = app.world();
        let payment = world
            .mp
            .payments
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(payment_not_found)?;
        if !matches!(payment.status.as_str(), "pending" | "in_process") {
            let message = format!("Payment in status {} can not be cancelled", payment.status);
            let mut err = MpError::bad_request("bad_request", message.clone());
            err.cause = vec![json!({ "code": 2063, "description": message, "data": Value::Null })];
            return Err(err);
        }
        payment.status = "cancelled".to_owned();
        payment.status_detail = "by_collector".to_owned();
        payment.date_last_updated = now.max(payment.date_last_updated + Duration::milliseconds(1));
        (payment.render(&app), payment.notification_url.clone())
    };
    if let Some(url) = url {
        // In the background, like MP: the API answer does not wait for the receiver.
        let app = app.clone();
        // Counted before the answer goes out, so "nothing pending" cannot miss it.
        let work = app.webhook_work();
        tokio::spawn(async move {
            super::webhooks::notify_payment(&app, &url, id, "payment.updated").await;
            drop(work);
        });
    }
    Ok(Json(rendered))
}

/// The payer MP reports: the preference's payer where given, test-user defaults otherwise.
fn payer(from_preference: Option<Value>) -> Value {
    let given = from_preference.unwrap_or(Value::Null);
    let text = |key: &str, default: &str| {
        given
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(default)
            .to_owned()
    };
    let identification = given
        .get("identification")
        .filter(|i| {
            i.get("number")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
        })
        .cloned()
        .unwrap_or_else(|| json!({ "type": "DNI", "number": "12345678" }));
    json!({
        "id": "1323456789",
        "type": Value::Null,
        "email": text("email", "test_user_80507629@testuser.com"),
        "first_name": text("name", "APRO"),
        "last_name": text("surname", "Test"),
        "identification": identification,
        "entity_type": Value::Null,
    })
}

pub(crate) fn payment_not_found() -> MpError {
    let mut err = MpError::new(StatusCode::NOT_FOUND, "not_found", "Payment not found");
    err.cause =
        vec![json!({ "code": 2000, "description": "Payment not found", "data": Value::Null })];
    err
}

/// `GET /v1/payments/{id}`.
pub(crate) async fn get_payment(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<RawMap>, MpError> {
    let id: i64 = id.trim().parse().map_err(|_| payment_not_found())?;
    let world = app.world();
    let payment = world
        .mp
        .payments
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(payment_not_found)?;
    Ok(Json(payment.render(&app)))
}

/// Query keys that steer the search rather than filter on a field.
const SEARCH_CONTROLS: [&str; 8] = [
    "sort",
    "criteria",
    "limit",
    "offset",
    "range",
    "begin_date",
    "end_date",
    "access_token",
];

/// `GET /v1/payments/search?external_reference=&status=&sort=&criteria=&range=&begin_date=
/// &end_date=&limit=&offset=` → `{"paging": {total, limit, offset}, "results": [...]}`.
pub(crate) async fn search_payments(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<RawMap>, MpError> {
    let limit = paging_param(&query, "limit", 30)?.min(1000);
    let offset = paging_param(&query, "offset", 0)?;
    let sort = query
        .get("sort")
        .map(String::as_str)
        .unwrap_or("date_created")
        .to_owned();
    let descending = match query.get("criteria").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(MpError::bad_request(
                "bad_request",
                format!("criteria must be asc or desc, not {other}"),
            ));
        }
    };
    let now = app.now();
    let window = match query.get("range") {
        None => None,
        Some(field) => {
            let begin = date_param(&query, "begin_date", now)?;
            let end = date_param(&query, "end_date", now)?;
            Some((field.clone(), begin, end))
        }
    };
    let filters: Vec<(&String, &String)> = query
        .iter()
        .filter(|(k, _)| !SEARCH_CONTROLS.contains(&k.as_str()))
        .collect();

    let world = app.world();
    let mut found: Vec<&Payment> = world
        .mp
        .payments
        .iter()
        .filter(|p| {
            // An unknown filter key matches nothing rather than everything.
            filters
                .iter()
                .all(|(k, v)| p.filter_value(k).as_deref() == Some(v.as_str()))
        })
        .filter(|p| {
            window.as_ref().is_none_or(|(field, begin, end)| {
                p.date_field(field)
                    .is_some_and(|d| begin.is_none_or(|b| d >= b) && end.is_none_or(|e| d <= e))
            })
        })
        .collect();
    found.sort_by(|a, b| {
        let order = a
            .date_field(&sort)
            .cmp(&b.date_field(&sort))
            .then(a.id.cmp(&b.id));
        if descending { order.reverse() } else { order }
    });
    let total = found.len();
    let results: Vec<RawMap> = found
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|p| p.render(&app))
        .collect();
    let mut out = RawMap::new();
    out.insert(
        "paging".into(),
        raw(&json!({ "total": total, "limit": limit, "offset": offset })),
    );
    out.insert("results".into(), raw(&results));
    Ok(Json(out))
}

/// `NOW`, `NOW-30DAYS`, `NOW-2HOURS`, `NOW-15MINUTES`, or an ISO-8601 time with offset.
fn date_param(
    query: &HashMap<String, String>,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, MpError> {
    let Some(text) = query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || MpError::bad_request("bad_request", format!("{key} invalid"));
    if let Some(rest) = text.strip_prefix("NOW") {
        if rest.is_empty() {
            return Ok(Some(now));
        }
        let (sign, rest) = match rest.split_at(1) {
            ("-", r) => (-1, r),
            ("+", r) => (1, r),
            _ => return Err(bad()),
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let n: i64 = digits.parse().map_err(|_| bad())?;
        let unit = &rest[digits.len()..];
        let span = match unit {
            "DAYS" | "DAY" => Duration::days(n),
            "HOURS" | "HOUR" => Duration::hours(n),
            "MINUTES" | "MINUTE" => Duration::minutes(n),
            _ => return Err(bad()),
        };
        return Ok(Some(now + span * sign));
    }
    parse_offset_time(text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(bad)
}
