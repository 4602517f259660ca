//! Merchant orders (mercadopago.md §7): `GET /merchant_orders/{id}` and
//! `GET /merchant_orders/search?preference_id=&external_reference=&status=&limit=&offset=`
//! → `{elements, next_offset, total}`.
//!
//! Every checkout attempt gets its own merchant order (§4.5), so an order is a view over the
//! one payment that carries its id (`payment.order.id`) and that payment's preference:
//! `order_status`, `paid_amount` and `refunded_amount` follow the payment.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::preferences::{SITE_ID, paging_param};
use super::{MpError, MpWorld, Payment, RawMap, money, raw};
use crate::clock::mp_date;
use crate::state::App;

fn not_found() -> MpError {
    let mut err = MpError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "Merchant order not found",
    );
    err.cause = vec![json!({ "code": "not_found", "description": "Merchant order not found" })];
    err
}

/// `order_status` and `status` of the order of `payment`, given the preference total.
fn statuses(payment: &Payment, total: Decimal, expired: bool) -> (&'static str, &'static str) {
    let paid = matches!(
        payment.status.as_str(),
        "approved" | "refunded" | "in_mediation"
    );
    let order_status = match payment.status.as_str() {
        "refunded" => "reverted",
        "charged_back" => "reverted",
        _ if paid && payment.refunded > Decimal::ZERO => "partially_reverted",
        _ if paid && payment.amount >= total => "paid",
        _ if paid => "partially_paid",
        "pending" | "in_process" | "authorized" => "payment_in_process",
        _ if expired => "expired",
        _ => "payment_required",
    };
    let status = match order_status {
        "paid" | "reverted" | "partially_reverted" => "closed",
        "expired" => "expired",
        _ => "opened",
    };
    (order_status, status)
}

/// The merchant order of `payment` (§7).
fn render(app: &App, mp: &MpWorld, payment: &Payment) -> RawMap {
    let pref = mp.preference(&payment.preference_id);
    let total = pref.map_or(payment.amount, |p| p.total());
    let expired = pref.is_some_and(|p| p.is_expired(app.now()));
    let (order_status, status) = statuses(payment, total, expired);
    let counts_as_paid = matches!(
        payment.status.as_str(),
        "approved" | "refunded" | "in_mediation" | "charged_back"
    );
    let paid_amount = if counts_as_paid {
        payment.amount
    } else {
        Decimal::ZERO
    };
    // Items as raw JSON, so `unit_price` stays exact number text (never f64).
    let items: Vec<RawMap> = pref
        .map(|p| {
            p.items
                .iter()
                .map(|i| {
                    let pairs: [(&str, Box<RawValue>); 5] = [
                        (
                            "id",
                            i.fields.get("id").cloned().unwrap_or_else(super::null),
                        ),
                        ("title", raw(&i.title)),
                        ("quantity", raw(&i.quantity)),
                        ("currency_id", raw(&i.currency_id)),
                        ("unit_price", money(i.unit_price)),
                    ];
                    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let date = |d| mp_date(d, app.tz);
    let payment_entry: RawMap = [
        ("id", raw(&payment.id)),
        ("transaction_amount", money(payment.amount)),
        ("total_paid_amount", money(payment.amount)),
        ("shipping_cost", money(Decimal::ZERO)),
        ("currency_id", raw(&payment.currency_id)),
        ("status", raw(&payment.status)),
        ("status_detail", raw(&payment.status_detail)),
        ("operation_type", raw("regular_payment")),
        ("date_approved", raw(&payment.date_approved.map(date))),
        ("date_created", raw(&date(payment.date_created))),
        ("last_modified", raw(&date(payment.date_last_updated))),
        ("amount_refunded", money(payment.refunded)),
    ]
    .into_iter()
    .map(|(k, v): (&str, Box<RawValue>)| (k.to_owned(), v))
    .collect();
    let pairs: Vec<(&str, Box<RawValue>)> = vec![
        ("id", raw(&payment.order_id)),
        ("status", raw(status)),
        ("external_reference", raw(&payment.external_reference)),
        ("preference_id", raw(&payment.preference_id)),
        ("payments", raw(&vec![payment_entry])),
        ("shipments", raw(&json!([]))),
        ("payouts", raw(&json!([]))),
        ("collector", raw(&json!({ "id": mp.collector_id }))),
        ("marketplace", raw("NONE")),
        ("notification_url", raw(&payment.notification_url)),
        ("date_created", raw(&date(payment.date_created))),
        ("last_updated", raw(&date(payment.date_last_updated))),
        ("sponsor_id", raw(&Value::Null)),
        ("shipping_cost", money(Decimal::ZERO)),
        ("total_amount", money(total)),
        ("site_id", raw(SITE_ID)),
        ("paid_amount", money(paid_amount)),
        ("refunded_amount", money(payment.refunded)),
        ("payer", raw(&payment.payer)),
        ("items", raw(&items)),
        ("cancelled", raw(&false)),
        ("additional_info", raw("")),
        ("application_id", raw(&mp.client_id)),
        ("is_test", raw(&true)),
        ("order_status", raw(order_status)),
        ("client_id", raw(&mp.client_id)),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// `GET /merchant_orders/{id}`.
pub(crate) async fn get_merchant_order(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<RawMap>, MpError> {
    let id: i64 = id.trim().parse().map_err(|_| not_found())?;
    let world = app.world();
    let payment = world
        .mp
        .payments
        .iter()
        .find(|p| p.order_id == id)
        .ok_or_else(not_found)?;
    Ok(Json(render(&app, &world.mp, payment)))
}

/// `GET /merchant_orders/search?preference_id=&external_reference=&status=&limit=&offset=`,
/// newest first.
pub(crate) async fn search_merchant_orders(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<RawMap>, MpError> {
    let limit = paging_param(&query, "limit", 30)?.min(1000);
    let offset = paging_param(&query, "offset", 0)?;
    let world = app.world();
    let mp = &world.mp;
    let mut found: Vec<RawMap> = Vec::new();
    let mut payments: Vec<&Payment> = mp.payments.iter().collect();
    payments.sort_by_key(|p| std::cmp::Reverse((p.date_created, p.id)));
    for payment in payments {
        if query
            .get("preference_id")
            .is_some_and(|v| *v != payment.preference_id)
            || query
                .get("external_reference")
                .is_some_and(|v| payment.external_reference.as_deref() != Some(v.as_str()))
        {
            continue;
        }
        let order = render(&app, mp, payment);
        if let Some(wanted) = query.get("status")
            && order.get("status").map(|s| s.get()) != Some(format!("\"{wanted}\"").as_str())
        {
            continue;
        }
        found.push(order);
    }
    let total = found.len();
    let elements: Vec<RawMap> = found.into_iter().skip(offset).take(limit).collect();
    let next_offset = (offset + elements.len()).min(total.max(offset));
    let mut out = RawMap::new();
    out.insert("elements".into(), raw(&elements));
    out.insert("next_offset".into(), raw(&next_offset));
    out.insert("total".into(), raw(&total));
    Ok(Json(out))
}
