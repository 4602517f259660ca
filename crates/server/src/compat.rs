//! The seed service's REST API, kept for systems that call it (hub only, off unless
//! `HUB_API_TOKEN` is set, loopback by default). Same paths and JSON as the seed, but every
//! request needs `Authorization: Bearer <token>`, input is validated, a retry with the same
//! `Idempotency-Key` books once, and an MP failure is never reported as a created link.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use desk::model::{Booking, Charge, ChargeStatus};
use desk::{AppointmentEdit, ChargeDetail, CreateBooking, Desk, DeskError, RefundDecision};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Most rows a list answers with.
const LIST_LIMIT: i64 = 500;

/// What the compat API needs.
#[derive(Clone)]
pub struct CompatState {
    pub desk: Arc<Desk>,
    /// `HUB_API_TOKEN`.
    pub token: SecretString,
}

/// The seed's endpoints, behind the bearer token.
pub fn router(state: CompatState) -> Router {
    Router::new()
        .route("/api/appointments/create/", post(create_appointment))
        .route(
            "/api/appointments/update/{ghl_id}/",
            put(update_appointment),
        )
        .route(
            "/api/appointments/delete/{ghl_id}/",
            delete(delete_appointment),
        )
        .route("/api/appointments/appointments/", get(list_appointments))
        .route("/api/payments/create/", post(create_payment))
        .route("/api/payments/", get(list_payments))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
}

async fn require_token(State(state): State<CompatState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = state.token.expose_secret().as_bytes();
    if !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(expected)) {
        next.run(request).await
    } else {
        error(StatusCode::UNAUTHORIZED, "No autorizado.")
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn missing(field: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": format!("Falta el campo requerido: {field}"), "field": field })),
    )
        .into_response()
}

/// A domain error as the API's status and JSON; internals stay in the log.
fn desk_error(e: DeskError) -> Response {
    desk_error_named(e, &[])
}

/// The seed's create-appointment names for the domain's fields: a client of the REST API
/// sees its own field names in errors.
const CREATE_APPOINTMENT_FIELDS: &[(&str, &str)] = &[
    ("amount", "payment_amount"),
    ("description", "payment_description"),
    ("patientName", "title"),
    ("idempotencyKey", "Idempotency-Key"),
];

/// [`desk_error`], with the domain's field names replaced by the request's (`names`:
/// domain name → request name).
fn desk_error_named(e: DeskError, names: &[(&str, &'static str)]) -> Response {
    let status = match &e {
        DeskError::Validation { .. } => StatusCode::BAD_REQUEST,
        DeskError::SlotTaken | DeskError::Conflict(_) => StatusCode::CONFLICT,
        DeskError::NotFound(_) => StatusCode::NOT_FOUND,
        DeskError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        DeskError::GhlUnauthorized | DeskError::MpUnauthorized => StatusCode::BAD_GATEWAY,
        DeskError::ProviderUnavailable { .. }
        | DeskError::DbUnavailable
        | DeskError::KeychainUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        DeskError::NotConfigured(_) | DeskError::Internal(_) => {
            tracing::error!(code = ?e.code(), "compat API request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let mut body = json!({ "error": e.public_message(), "code": e.code() });
    if let Some(field) = e.field() {
        let named = names
            .iter()
            .find(|(domain, _)| *domain == field)
            .map_or(field, |(_, request)| request);
        body["field"] = json!(named);
    }
    (status, Json(body)).into_response()
}

/// A refusal before the domain is asked: status and JSON body.
struct Refusal(StatusCode, Value);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        Refusal(
            StatusCode::BAD_REQUEST,
            json!({ "error": format!("JSON inválido: {e}") }),
        )
    })
}

/// An amount as the exact text the caller wrote (number or string), never through f64.
fn amount_text(raw: &RawValue) -> String {
    raw.get().trim().trim_matches('"').to_string()
}

fn instant(field: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, Refusal> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            Refusal(
                StatusCode::BAD_REQUEST,
                json!({
                    "error": format!("{field} debe ser ISO-8601 con zona horaria"),
                    "field": field
                }),
            )
        })
}

/// The seed's appointment JSON.
fn appointment_json(b: &Booking) -> Value {
    json!({
        "id": b.id,
        "ghl_id": b.ghl_id,
        "location_id": b.location_id,
        "calendar_id": b.calendar_id,
        "contact_id": b.contact_id,
        "title": b.title,
        "appointment_status": b.status,
        "assigned_user_id": b.assigned_user_id,
        "notes": b.notes,
        "start_time": desk::time::to_db(b.starts_at),
        "end_time": desk::time::to_db(b.ends_at),
        "source": b.source,
        "date_added": b.ghl_date_added,
        "date_updated": b.ghl_date_updated,
    })
}

#[derive(Deserialize)]
struct CreateAppointmentBody {
    #[serde(rename = "calendarId")]
    calendar_id: Option<String>,
    #[serde(rename = "contactId")]
    contact_id: Option<String>,
    #[serde(rename = "startTime")]
    start_time: Option<String>,
    #[serde(rename = "endTime")]
    end_time: Option<String>,
    payment_amount: Option<Box<RawValue>>,
    #[serde(rename = "locationId")]
    location_id: Option<String>,
    title: Option<String>,
    payment_description: Option<String>,
}

async fn create_appointment(
    State(state): State<CompatState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: CreateAppointmentBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let (Some(calendar_id), Some(contact_id), Some(start), Some(end), Some(amount)) = (
        b.calendar_id.filter(|s| !s.trim().is_empty()),
        b.contact_id.filter(|s| !s.trim().is_empty()),
        b.start_time,
        b.end_time,
        b.payment_amount,
    ) else {
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        let absent = [
            "calendarId",
            "contactId",
            "startTime",
            "endTime",
            "payment_amount",
        ]
        .into_iter()
        .find(|f| body.get(*f).is_none_or(|v| v.is_null() || v == ""))
        .unwrap_or("calendarId");
        return missing(absent);
    };
    if let Some(loc) = b.location_id
        && loc != state.desk.clinic().location_id
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "locationId no corresponde a esta clínica", "field": "locationId" })),
        )
            .into_response();
    }
    let (starts_at, ends_at) = match (instant("startTime", &start), instant("endTime", &end)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let title = b
        .title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "Cita".into());
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(desk::model::new_id);
    let request = CreateBooking {
        idempotency_key: key,
        calendar_id,
        patient_name: title.clone(),
        title: Some(title.clone()),
        patient_phone: None,
        contact_id: Some(contact_id),
        starts_at,
        ends_at,
        amount: amount_text(&amount),
        description: b.payment_description.unwrap_or_else(|| title.clone()),
        source: "api".into(),
    };
    let view = match state.desk.create_booking(request).await {
        Ok(v) => v,
        Err(e) => return desk_error_named(e, CREATE_APPOINTMENT_FIELDS),
    };
    let (booking, charge) = match state.desk.booking_with_charge(&view.id).await {
        Ok(found) => found,
        Err(_) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Base de datos no disponible.",
            );
        }
    };
    let mut out = appointment_json(&booking);
    let link = charge.as_ref().and_then(|c| c.init_point.clone());
    out["payment_link"] = json!(link);
    out["payment_preference_id"] = json!(charge.as_ref().and_then(|c| c.preference_id.clone()));
    if link.is_some() {
        out["message"] = json!("Cita y link de pago creados.");
        (StatusCode::CREATED, Json(out)).into_response()
    } else {
        // The appointment exists; the link is retried by the outbox. Say so, never 201.
        out["message"] = json!("Cita creada; el link de pago está pendiente y se reintentará.");
        (StatusCode::ACCEPTED, Json(out)).into_response()
    }
}

/// A GHL id from the path: GHL's ids are short and alphanumeric.
fn ghl_id_of(raw: &str) -> Result<String, Refusal> {
    if desk::model::is_ghl_id(raw) {
        Ok(raw.to_string())
    } else {
        Err(Refusal(
            StatusCode::BAD_REQUEST,
            json!({ "error": "ghl_id no es válido", "field": "ghl_id" }),
        ))
    }
}

/// An optional text field of a JSON object; any other type is refused naming the field.
fn text_field(
    body: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<String>, Refusal> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            json!({ "error": format!("{field} debe ser texto"), "field": field }),
        )),
    }
}

/// GHL's appointment JSON, as the seed answered an update with it.
fn ghl_appointment_json(a: &desk::ports::RemoteAppointment, location_id: &str) -> Value {
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "id": a.ghl_id,
        "locationId": location_id,
        "calendarId": a.calendar_id,
        "contactId": a.contact_id,
        "title": a.title,
        "appointmentStatus": a.status,
        "assignedUserId": a.assigned_user_id,
        "notes": a.notes,
        "startTime": at(a.starts_at),
        "endTime": at(a.ends_at),
        "dateAdded": a.date_added,
        "dateUpdated": a.date_updated,
    })
}

async fn update_appointment(
    State(state): State<CompatState>,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> Response {
    let ghl_id = match ghl_id_of(&raw_id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let fields: serde_json::Map<String, Value> = match parse_body(&body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let edit = (|| -> Result<AppointmentEdit, Refusal> {
        let time = |field: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, Refusal> {
            text_field(&fields, field)?
                .map(|t| instant(field, &t))
                .transpose()
        };
        Ok(AppointmentEdit {
            title: text_field(&fields, "title")?,
            status: text_field(&fields, "appointmentStatus")?,
            starts_at: time("startTime")?,
            ends_at: time("endTime")?,
            assigned_user_id: text_field(&fields, "assignedUserId")?,
            notes: text_field(&fields, "notes")?,
        })
    })();
    let edit = match edit {
        Ok(e) if e == AppointmentEdit::default() => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "Nada que actualizar." })),
            )
                .into_response();
        }
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    match state.desk.edit_appointment(&ghl_id, edit).await {
        Ok((_, remote)) => Json(ghl_appointment_json(
            &remote,
            &state.desk.clinic().location_id,
        ))
        .into_response(),
        Err(e) => desk_error(e),
    }
}

#[derive(Deserialize)]
struct DeleteQuery {
    /// `none`, `full` or an amount: what to refund when the appointment was paid.
    refund: Option<String>,
}

async fn delete_appointment(
    State(state): State<CompatState>,
    Path(raw_id): Path<String>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let ghl_id = match ghl_id_of(&raw_id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "Parámetros inválidos.");
    };
    let decision = match query.refund.as_deref().map(RefundDecision::parse) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => return desk_error(e),
    };
    match state.desk.cancel_by_ghl_id(&ghl_id, decision).await {
        Ok(_) => Json(json!({ "message": "Cita cancelada correctamente" })).into_response(),
        Err(e) => desk_error(e),
    }
}

async fn list_appointments(State(state): State<CompatState>) -> Response {
    match state.desk.recent_bookings(LIST_LIMIT).await {
        Ok(rows) => Json(rows.iter().map(appointment_json).collect::<Vec<_>>()).into_response(),
        Err(e) => desk_error(e),
    }
}

#[derive(Deserialize)]
struct CreatePaymentBody {
    #[serde(rename = "appointmentId")]
    appointment_id: Option<String>,
    #[serde(rename = "contactId")]
    contact_id: Option<String>,
    amount: Option<Box<RawValue>>,
    description: Option<String>,
}

async fn create_payment(State(state): State<CompatState>, body: Bytes) -> Response {
    let b: CreatePaymentBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let Some(appointment_id) = b.appointment_id.filter(|s| !s.is_empty()) else {
        return missing("appointmentId");
    };
    if b.contact_id.as_deref().is_none_or(str::is_empty) {
        return missing("contactId");
    }
    let Some(amount) = b.amount else {
        return missing("amount");
    };
    let Some(description) = b.description.filter(|s| !s.trim().is_empty()) else {
        return missing("description");
    };
    match state
        .desk
        .charge_appointment(&appointment_id, &amount_text(&amount), &description)
        .await
    {
        Ok((_, charge)) => {
            let status = if charge.init_point.is_some() {
                StatusCode::CREATED
            } else {
                StatusCode::ACCEPTED
            };
            (
                status,
                Json(json!({
                    "message": if charge.init_point.is_some() { "Link de pago creado." } else { "Link de pago pendiente; se reintentará." },
                    "appointmentId": appointment_id,
                    "preferenceId": charge.preference_id,
                    "init_point": charge.init_point,
                })),
            )
                .into_response()
        }
        Err(e) => desk_error(e),
    }
}

/// MP's word for a charge where one applies, else ours.
fn payment_status(charge: &Charge, latest_payment: Option<&str>) -> String {
    match charge.status {
        ChargeStatus::Draft | ChargeStatus::Open => match latest_payment {
            Some(s @ ("in_process" | "rejected" | "pending" | "authorized")) => s.to_string(),
            _ => "pending".into(),
        },
        ChargeStatus::Paid | ChargeStatus::PartiallyRefunded => "approved".into(),
        ChargeStatus::Refunded => "refunded".into(),
        ChargeStatus::ChargedBack => "charged_back".into(),
        ChargeStatus::Cancelled => "cancelled".into(),
        ChargeStatus::Expired => "expired".into(),
        ChargeStatus::NeedsReview => "needs_review".into(),
        // The money was received (at the desk, not through MP): what the seed's clients
        // read as paid. No MP payment id is shown for it.
        ChargeStatus::PaidAtDesk => "approved".into(),
    }
}

async fn list_payments(State(state): State<CompatState>) -> Response {
    let charges = match state.desk.recent_charges(LIST_LIMIT).await {
        Ok(c) => c,
        Err(e) => return desk_error(e),
    };
    let mut out = Vec::with_capacity(charges.len());
    for ChargeDetail {
        charge: c,
        booking,
        payments,
    } in charges
    {
        let shown = payments
            .iter()
            .find(|p| p.status == "approved")
            .or_else(|| payments.iter().max_by_key(|p| p.date_last_updated));
        out.push(json!({
            "id": c.id,
            "appointment_ghl_id": booking.and_then(|b| b.ghl_id),
            "amount": c.money.amount().to_string(),
            "currency": c.money.currency().code(),
            "status": payment_status(&c, shown.map(|p| p.status.as_str())),
            "preference_id": c.preference_id,
            "payment_link": c.init_point,
            "payment_id": shown.map(|p| p.mp_payment_id),
            "updated_at": desk::time::to_db(c.updated_at),
        }));
    }
    Json(out).into_response()
}
