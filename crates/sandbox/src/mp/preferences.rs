//! Checkout Pro preferences: create, get, partial update (including "expire now") and search
//! (mercadopago.md §4), with the documented validation keys (§4.3, §11).
//!
//! A preference keeps every top-level field exactly as sent (`RawMap`), so responses echo the
//! caller's JSON and a PUT merges into it and re-validates the whole result.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{MpError, MpWorld, RawMap, decimal_from_raw, money, raw, value_of};
use crate::clock::{mp_date, parse_offset_time};
use crate::state::App;

/// Currencies MP sites accept on items (§4.2).
const CURRENCIES: [&str; 8] = ["ARS", "BRL", "CLP", "MXN", "COP", "PEN", "UYU", "USD"];
/// Currencies without decimals.
const WHOLE_CURRENCIES: [&str; 2] = ["CLP", "COP"];
/// The sandbox plays the Peruvian site.
pub(crate) const SITE_ID: &str = "MPE";
pub(crate) const SITE_CURRENCY: &str = "PEN";
/// Fields MP computes; a caller's values for them are ignored.
const COMPUTED: [&str; 9] = [
    "id",
    "init_point",
    "sandbox_init_point",
    "collector_id",
    "client_id",
    "date_created",
    "last_updated",
    "site_id",
    "total_amount",
];

/// One validated item.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    /// The item as sent, for the echo.
    pub fields: RawMap,
    pub title: String,
    pub quantity: i64,
    pub unit_price: Decimal,
    pub currency_id: String,
}

/// A stored preference.
#[derive(Clone, Debug)]
pub(crate) struct Preference {
    pub id: String,
    /// Top-level fields as sent (merged by PUT), minus the computed ones.
    pub fields: RawMap,
    pub items: Vec<Item>,
    pub expires: bool,
    pub expiration_date_from: Option<DateTime<FixedOffset>>,
    pub expiration_date_to: Option<DateTime<FixedOffset>>,
    pub external_reference: Option<String>,
    pub notification_url: Option<String>,
    pub binary_mode: bool,
    pub date_created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
}

impl Preference {
    /// Σ quantity × unit_price.
    pub fn total(&self) -> Decimal {
        self.items
            .iter()
            .map(|i| Decimal::from(i.quantity) * i.unit_price)
            .sum()
    }

    /// The currency of the first item (MP preferences carry one currency).
    pub fn currency_id(&self) -> &str {
        self.items
            .first()
            .map_or(SITE_CURRENCY, |i| i.currency_id.as_str())
    }

    /// True when `expires` is on and `expiration_date_to` has passed.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires && self.expiration_date_to.is_some_and(|to| to <= now)
    }

    /// True when `expires` is on and `expiration_date_from` is still ahead.
    pub fn is_not_yet_valid(&self, now: DateTime<Utc>) -> bool {
        self.expires && self.expiration_date_from.is_some_and(|from| from > now)
    }

    /// The raw `metadata` object (copied onto payments), `{}` when absent.
    pub fn metadata(&self) -> Box<RawValue> {
        match self.fields.get("metadata") {
            Some(m) if m.get().trim() != "null" => m.clone(),
            _ => raw(&serde_json::json!({})),
        }
    }

    /// The raw `payer` object, if the caller sent one.
    pub fn payer(&self) -> Option<Value> {
        self.fields
            .get("payer")
            .map(|p| value_of(p))
            .filter(Value::is_object)
    }

    /// The full preference as MP returns it (§4.4).
    pub fn render(&self, app: &App, mp: &MpWorld) -> RawMap {
        let link = format!(
            "{}/mp/checkout/v1/redirect?pref_id={}",
            app.base_url, self.id
        );
        let mut out = defaults();
        for (k, v) in &self.fields {
            out.insert(k.clone(), v.clone());
        }
        let items: Vec<RawMap> = self.items.iter().map(render_item).collect();
        out.insert("id".into(), raw(&self.id));
        out.insert("items".into(), raw(&items));
        out.insert("collector_id".into(), raw(&mp.collector_id));
        out.insert("client_id".into(), raw(&mp.client_id));
        out.insert(
            "date_created".into(),
            raw(&mp_date(self.date_created, app.tz)),
        );
        out.insert(
            "last_updated".into(),
            raw(&mp_date(self.last_updated, app.tz)),
        );
        out.insert("site_id".into(), raw(SITE_ID));
        out.insert("init_point".into(), raw(&link));
        out.insert("sandbox_init_point".into(), raw(&link));
        out.insert("total_amount".into(), money(self.total()));
        out
    }

    /// The abbreviated element `GET /checkout/preferences/search` lists.
    fn render_summary(&self, app: &App, mp: &MpWorld) -> RawMap {
        let full = self.render(app, mp);
        let mut out: RawMap = [
            "id",
            "client_id",
            "collector_id",
            "date_created",
            "last_updated",
            "expires",
            "expiration_date_from",
            "expiration_date_to",
            "external_reference",
            "marketplace",
            "operation_type",
            "site_id",
            "processing_modes",
        ]
        .iter()
        .filter_map(|k| full.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
        let titles: Vec<&str> = self.items.iter().map(|i| i.title.as_str()).collect();
        out.insert("items".into(), raw(&titles));
        out.insert("live_mode".into(), raw(&false));
        out.insert("sponsor_id".into(), raw(&0));
        out.insert("purpose".into(), raw(""));
        out
    }
}

/// Defaults for the fields a caller did not send, as MP fills them.
fn defaults() -> RawMap {
    let empty_urls = serde_json::json!({ "success": "", "pending": "", "failure": "" });
    let pairs: Vec<(&str, Value)> = vec![
        ("additional_info", Value::String(String::new())),
        ("auto_return", Value::String(String::new())),
        ("back_urls", empty_urls.clone()),
        ("binary_mode", Value::Bool(false)),
        ("date_of_expiration", Value::Null),
        ("expiration_date_from", Value::Null),
        ("expiration_date_to", Value::Null),
        ("expires", Value::Bool(false)),
        ("external_reference", Value::String(String::new())),
        ("internal_metadata", Value::Null),
        ("marketplace", Value::String("NONE".into())),
        ("metadata", serde_json::json!({})),
        ("notification_url", Value::Null),
        ("operation_type", Value::String("regular_payment".into())),
        (
            "payer",
            serde_json::json!({
                "name": "", "surname": "", "email": "", "date_created": null,
                "phone": { "area_code": "", "number": null },
                "identification": { "type": "", "number": "" },
                "address": { "zip_code": "", "street_name": "", "street_number": null },
            }),
        ),
        (
            "payment_methods",
            serde_json::json!({
                "default_card_id": null, "default_payment_method_id": null,
                "excluded_payment_methods": [], "excluded_payment_types": [],
                "installments": null, "default_installments": null,
            }),
        ),
        ("processing_modes", Value::Null),
        ("redirect_urls", empty_urls),
        (
            "shipments",
            serde_json::json!({ "default_shipping_method": null }),
        ),
        ("statement_descriptor", Value::Null),
    ];
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), raw(&v)))
        .collect()
}

fn render_item(item: &Item) -> RawMap {
    let mut out = item.fields.clone();
    out.insert("currency_id".into(), raw(&item.currency_id));
    out.insert("quantity".into(), raw(&item.quantity));
    out.insert("unit_price".into(), money(item.unit_price));
    out
}

/// The validated, typed view of a preference's fields.
struct Checked {
    items: Vec<Item>,
    expires: bool,
    expiration_date_from: Option<DateTime<FixedOffset>>,
    expiration_date_to: Option<DateTime<FixedOffset>>,
    external_reference: Option<String>,
    notification_url: Option<String>,
    binary_mode: bool,
}

/// A present, non-null field.
fn field<'a>(fields: &'a RawMap, key: &str) -> Option<&'a RawValue> {
    fields
        .get(key)
        .map(AsRef::as_ref)
        .filter(|v: &&RawValue| v.get().trim() != "null")
}

fn items_error(message: &str) -> MpError {
    MpError::bad_request("invalid_items", message)
}

fn check_items(fields: &RawMap) -> Result<Vec<Item>, MpError> {
    let raw_items = field(fields, "items").ok_or_else(|| items_error("items needed"))?;
    let list: Vec<Box<RawValue>> =
        serde_json::from_str(raw_items.get()).map_err(|_| items_error("items must be an array"))?;
    if list.is_empty() {
        return Err(items_error("items needed"));
    }
    let mut items = Vec::with_capacity(list.len());
    for raw_item in list {
        let item: RawMap =
            serde_json::from_str(raw_item.get()).map_err(|_| items_error("item invalid"))?;
        let title = field(&item, "title")
            .and_then(|t| value_of(t).as_str().map(str::to_owned))
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| items_error("title invalid"))?;
        let quantity = field(&item, "quantity")
            .and_then(decimal_from_raw)
            .filter(|q| q.fract().is_zero() && *q >= Decimal::ONE)
            .and_then(|q| i64::try_from(q).ok())
            .ok_or_else(|| items_error("quantity invalid"))?;
        let currency_id = match field(&item, "currency_id") {
            None => SITE_CURRENCY.to_owned(),
            Some(c) => value_of(c)
                .as_str()
                .filter(|c| CURRENCIES.contains(c))
                .map(str::to_owned)
                .ok_or_else(|| items_error("currency_id invalid"))?,
        };
        let unit_price = field(&item, "unit_price")
            .and_then(decimal_from_raw)
            .filter(|p| *p > Decimal::ZERO)
            .ok_or_else(|| items_error("unit_price invalid"))?;
        let max_scale = if WHOLE_CURRENCIES.contains(&currency_id.as_str()) {
            0
        } else {
            2
        };
        if unit_price.normalize().scale() > max_scale {
            return Err(items_error("unit_price invalid"));
        }
        items.push(Item {
            fields: item,
            title,
            quantity,
            unit_price,
            currency_id,
        });
    }
    Ok(items)
}

fn check_bool(fields: &RawMap, key: &str, error: &str, message: &str) -> Result<bool, MpError> {
    match field(fields, key) {
        None => Ok(false),
        Some(v) => value_of(v)
            .as_bool()
            .ok_or_else(|| MpError::bad_request(error, message)),
    }
}

fn check_string(fields: &RawMap, key: &str, error: &str) -> Result<Option<String>, MpError> {
    match field(fields, key) {
        None => Ok(None),
        Some(v) => value_of(v)
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| MpError::bad_request(error, format!("{key} must be a string"))),
    }
}

fn check_date(
    fields: &RawMap,
    key: &str,
    error: &str,
) -> Result<Option<DateTime<FixedOffset>>, MpError> {
    match check_string(fields, key, error)? {
        None => Ok(None),
        Some(text) => parse_offset_time(&text).map(Some).ok_or_else(|| {
            MpError::bad_request(
                error,
                format!("{key} invalid. Expected ISO-8601 with offset"),
            )
        }),
    }
}

fn check_installments(pm: &Value, key: &str) -> Result<(), MpError> {
    match pm.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_i64() {
            Some(n) if (1..=36).contains(&n) => Ok(()),
            _ => Err(MpError::bad_request(
                "invalid_payment_methods",
                format!("{key} invalid. Should be a number between 1 and 36"),
            )),
        },
    }
}

fn check_payment_methods(fields: &RawMap) -> Result<(), MpError> {
    let Some(pm) = field(fields, "payment_methods").map(value_of) else {
        return Ok(());
    };
    if !pm.is_object() {
        return Err(MpError::bad_request(
            "invalid_payment_methods",
            "payment_methods must be an object",
        ));
    }
    check_installments(&pm, "installments")?;
    check_installments(&pm, "default_installments")?;
    let excludes_account_money = pm
        .get("excluded_payment_methods")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .any(|m| m.get("id") == Some(&Value::from("account_money")))
        });
    if excludes_account_money {
        return Err(MpError::bad_request(
            "invalid_payment_methods",
            "account_money can't be excluded",
        ));
    }
    Ok(())
}

fn check(fields: &RawMap) -> Result<Checked, MpError> {
    let items = check_items(fields)?;
    let expires = check_bool(
        fields,
        "expires",
        "invalid_expires",
        "expires value is not boolean",
    )?;
    let binary_mode = check_bool(
        fields,
        "binary_mode",
        "invalid_binary_mode",
        "binary_mode value is not boolean",
    )?;

    let back_urls = field(fields, "back_urls").map(value_of);
    if let Some(urls) = &back_urls {
        let all_strings = urls
            .as_object()
            .is_some_and(|m| m.values().all(|v| v.is_string() || v.is_null()));
        if !all_strings {
            return Err(MpError::bad_request(
                "invalid_back_urls",
                "back_urls invalid",
            ));
        }
    }
    if let Some(auto_return) = check_string(fields, "auto_return", "invalid_auto_return")?
        && !auto_return.is_empty()
    {
        if !matches!(auto_return.as_str(), "approved" | "all") {
            return Err(MpError::bad_request(
                "invalid_auto_return",
                "auto_return invalid. Allowed values: approved, all",
            ));
        }
        let has_success = back_urls
            .as_ref()
            .and_then(|u| u.get("success"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !has_success {
            return Err(MpError::bad_request(
                "invalid_auto_return",
                "auto_return invalid. back_url.success must be defined",
            ));
        }
    }

    check_payment_methods(fields)?;

    let notification_url = check_string(fields, "notification_url", "invalid_notification_url")?;
    if let Some(url) = &notification_url {
        let valid = url.chars().count() <= 248
            && url::Url::parse(url).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
        if !valid {
            return Err(MpError::bad_request(
                "invalid_notification_url",
                "notification_url attribute must be url valid",
            ));
        }
    }

    let external_reference =
        check_string(fields, "external_reference", "invalid_external_reference")?;
    if let Some(r) = &external_reference {
        let valid = r.len() <= 64
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(MpError::bad_request(
                "invalid_external_reference",
                "external_reference invalid. Up to 64 characters of A-Z, a-z, 0-9, _ and -",
            ));
        }
    }

    if let Some(d) = check_string(
        fields,
        "statement_descriptor",
        "invalid_statement_descriptor",
    )? && d.chars().count() > 16
    {
        return Err(MpError::bad_request(
            "invalid_statement_descriptor",
            "statement_descriptor invalid. Up to 16 characters",
        ));
    }

    if let Some(op) = check_string(fields, "operation_type", "invalid_operation_type")?
        && !matches!(op.as_str(), "regular_payment" | "money_transfer")
    {
        return Err(MpError::bad_request(
            "invalid_operation_type",
            "operation_type invalid",
        ));
    }

    let from = check_date(
        fields,
        "expiration_date_from",
        "invalid_expiration_date_from",
    )?;
    let to = check_date(fields, "expiration_date_to", "invalid_expiration_date_to")?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(MpError::bad_request(
            "invalid_expiration_date_to",
            "expiration_date_to must be after expiration_date_from",
        ));
    }
    check_date(fields, "date_of_expiration", "invalid_date")?;

    Ok(Checked {
        items,
        expires,
        expiration_date_from: from,
        expiration_date_to: to,
        external_reference: external_reference.filter(|r| !r.is_empty()),
        notification_url,
        binary_mode,
    })
}

fn parse_body(body: &Bytes) -> Result<RawMap, MpError> {
    let mut fields: RawMap = serde_json::from_slice(body).map_err(|_| {
        MpError::bad_request(
            "bad_request",
            "Invalid JSON body: a JSON object was expected",
        )
    })?;
    for key in COMPUTED {
        fields.remove(key);
    }
    Ok(fields)
}

fn apply(pref: &mut Preference, fields: RawMap, checked: Checked) {
    pref.fields = fields;
    pref.items = checked.items;
    pref.expires = checked.expires;
    pref.expiration_date_from = checked.expiration_date_from;
    pref.expiration_date_to = checked.expiration_date_to;
    pref.external_reference = checked.external_reference;
    pref.notification_url = checked.notification_url;
    pref.binary_mode = checked.binary_mode;
}

fn not_found(id: &str) -> MpError {
    MpError::new(
        StatusCode::NOT_FOUND,
        "invalid_id",
        format!("The preference with identifier {id} was not found"),
    )
}

/// `POST /checkout/preferences` → 201 with the full preference.
pub(crate) async fn create_preference(
    State(app): State<App>,
    body: Bytes,
) -> Result<(StatusCode, Json<RawMap>), MpError> {
    let fields = parse_body(&body)?;
    let checked = check(&fields)?;
    let now = app.now();
    let mut world = app.world();
    let mp = &mut world.mp;
    let mut pref = Preference {
        id: format!("{}-{}", mp.collector_id, uuid::Uuid::new_v4()),
        fields: RawMap::new(),
        items: Vec::new(),
        expires: false,
        expiration_date_from: None,
        expiration_date_to: None,
        external_reference: None,
        notification_url: None,
        binary_mode: false,
        date_created: now,
        last_updated: now,
    };
    apply(&mut pref, fields, checked);
    let rendered = pref.render(&app, mp);
    tracing::debug!(preference_id = %pref.id, "mp preference created");
    mp.preferences.push(pref);
    Ok((StatusCode::CREATED, Json(rendered)))
}

/// `GET /checkout/preferences/{id}`.
pub(crate) async fn get_preference(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<RawMap>, MpError> {
    let world = app.world();
    let pref = world.mp.preference(&id).ok_or_else(|| not_found(&id))?;
    Ok(Json(pref.render(&app, &world.mp)))
}

/// `PUT /checkout/preferences/{id}`: merges the given top-level fields and re-validates.
pub(crate) async fn update_preference(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RawMap>, MpError> {
    let changes = parse_body(&body)?;
    let now = app.now();
    let mut world = app.world();
    let mp = &mut world.mp;
    let index = mp
        .preferences
        .iter()
        .position(|p| p.id == id)
        .ok_or_else(|| not_found(&id))?;
    let mut fields = mp.preferences[index].fields.clone();
    for (k, v) in changes {
        fields.insert(k, v);
    }
    let checked = check(&fields)?;
    let pref = &mut mp.preferences[index];
    apply(pref, fields, checked);
    pref.last_updated = now;
    let pref = pref.clone();
    Ok(Json(pref.render(&app, mp)))
}

/// `GET /checkout/preferences/search?external_reference=&limit=&offset=` →
/// `{"elements": [...], "next_offset": n, "total": n}`, newest first.
pub(crate) async fn search_preferences(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<RawMap>, MpError> {
    let limit = paging_param(&query, "limit", 30)?.min(1000);
    let offset = paging_param(&query, "offset", 0)?;
    let world = app.world();
    let mut found: Vec<&Preference> = world
        .mp
        .preferences
        .iter()
        .filter(|p| {
            query
                .get("external_reference")
                .is_none_or(|r| p.external_reference.as_deref() == Some(r.as_str()))
        })
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.date_created));
    let total = found.len();
    let elements: Vec<RawMap> = found
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|p| p.render_summary(&app, &world.mp))
        .collect();
    let next_offset = (offset + elements.len()).min(total.max(offset));
    let mut out = RawMap::new();
    out.insert("elements".into(), raw(&elements));
    out.insert("next_offset".into(), raw(&next_offset));
    out.insert("total".into(), raw(&total));
    Ok(Json(out))
}

/// A non-negative integer query parameter with a default.
pub(crate) fn paging_param(
    query: &HashMap<String, String>,
    key: &str,
    default: usize,
) -> Result<usize, MpError> {
    match query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            MpError::bad_request(
                "bad_request",
                format!("{key} must be a non-negative integer"),
            )
        }),
    }
}
