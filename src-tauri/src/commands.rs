//! The UI's commands: a few lines each that call `desk` and map the error. Names are
//! `snake_case`; arguments arrive camelCase (`chargeId`), as the UI sends them.

use crate::error::CommandError;
use crate::state::AppState;
use desk::view::{BookingView, PendingEffect};
use desk::{Channel, CreatedPatient, ErrorCode, FreeSlot, Patient};
use serde::{Deserialize, Serialize};
use tauri::State;

/// What the top bar shows.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub demo: bool,
    pub clinic_name: String,
    pub timezone: String,
    pub currency: String,
    pub listener_url: Option<String>,
}

/// A calendar in the booking form.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarOption {
    pub id: String,
    pub name: String,
    pub slot_minutes: u32,
}

/// The booking form, with times local to the clinic.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBookingRequest {
    pub idempotency_key: String,
    pub calendar_id: String,
    pub patient_name: String,
    pub patient_phone: Option<String>,
    /// The GHL contact picked in the patient search; without it the engine finds or makes
    /// one from the name and phone.
    #[serde(default)]
    pub contact_id: Option<String>,
    pub date: String,
    pub start_time: String,
    pub end_time: String,
    pub amount: String,
    pub description: String,
}

/// A charge's QR code and what to show next to it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeQr {
    pub charge_id: String,
    pub svg: String,
    pub payment_link: String,
    pub amount: String,
    pub currency: String,
    pub status: String,
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Result<AppStatus, CommandError> {
    let host = state.host().await?;
    let clinic = host.desk.clinic();
    Ok(AppStatus {
        demo: host.demo(),
        clinic_name: clinic.clinic_name.clone(),
        timezone: clinic.timezone.name().to_string(),
        currency: clinic.currency.code().to_string(),
        listener_url: Some(host.listener_url.clone()),
    })
}

#[tauri::command]
pub async fn list_calendars(
    state: State<'_, AppState>,
) -> Result<Vec<CalendarOption>, CommandError> {
    let host = state.host().await?;
    let calendars = host.desk.calendars().await?;
    Ok(calendars
        .into_iter()
        .map(|c| CalendarOption {
            id: c.id,
            name: c.name,
            slot_minutes: c.slot_minutes,
        })
        .collect())
}

#[tauri::command]
pub async fn list_bookings(
    state: State<'_, AppState>,
    day: String,
) -> Result<Vec<BookingView>, CommandError> {
    let host = state.host().await?;
    Ok(host.desk.agenda(&day).await?)
}

#[tauri::command]
pub async fn create_booking(
    state: State<'_, AppState>,
    request: CreateBookingRequest,
) -> Result<BookingView, CommandError> {
    let host = state.host().await?;
    let (starts_at, ends_at) =
        host.desk
            .local_slot(&request.date, &request.start_time, &request.end_time)?;
    let booking = desk::CreateBooking {
        idempotency_key: request.idempotency_key,
        calendar_id: request.calendar_id,
        patient_name: request.patient_name,
        patient_phone: request.patient_phone,
        contact_id: request.contact_id,
        starts_at,
        ends_at,
        title: None,
        amount: request.amount,
        description: request.description,
        source: "desk".into(),
    };
    Ok(host.desk.create_booking(booking).await?)
}

#[tauri::command]
pub async fn charge_qr(
    state: State<'_, AppState>,
    charge_id: String,
) -> Result<ChargeQr, CommandError> {
    let host = state.host().await?;
    let charge = host.desk.charge(&charge_id).await?;
    let link = charge.init_point.clone().ok_or_else(|| {
        CommandError::new(ErrorCode::NotFound, "this charge has no payment link yet")
    })?;
    let svg = crate::qr::svg_for(&link).map_err(|e| CommandError::new(ErrorCode::Internal, e))?;
    Ok(ChargeQr {
        charge_id: charge.id.clone(),
        svg,
        payment_link: link,
        amount: charge.money.amount().to_string(),
        currency: charge.money.currency().code().to_string(),
        status: charge.status.as_str().to_string(),
    })
}

/// Demo only: the sandbox pays the charge's link and delivers a signed webhook, which then
/// travels the real path (listener → inbox → MP re-read → `charge-updated`).
#[tauri::command]
pub async fn simulate_payment(
    state: State<'_, AppState>,
    charge_id: String,
) -> Result<(), CommandError> {
    let host = state.host().await?;
    let Some(sandbox) = host.sandbox.as_ref() else {
        return Err(CommandError::new(
            ErrorCode::NotConfigured,
            "payments can only be simulated in demo mode",
        ));
    };
    let charge = host.desk.charge(&charge_id).await?;
    let preference = charge.preference_id.ok_or_else(|| {
        CommandError::new(ErrorCode::NotFound, "this charge has no payment link yet")
    })?;
    sandbox
        .pay_preference(&preference, sandbox::PayRequest::default())
        .await
        .map_err(|e| CommandError::new(ErrorCode::ProviderUnavailable, e.to_string()))?;
    Ok(())
}

/// Asks for a draft charge's payment link now instead of waiting for the outbox's retry.
/// The UI learns of the new link from the `charge-updated` event.
#[tauri::command]
pub async fn retry_link(state: State<'_, AppState>, charge_id: String) -> Result<(), CommandError> {
    let host = state.host().await?;
    Ok(host.desk.create_link_now(&charge_id).await?)
}

/// Cancels a booking at the desk. A paid one needs staff's refund decision: `refund` is
/// `"none"`, `"full"` or an amount such as `"25.00"`; without it nothing changes and the error
/// names the field `refund`. The refund's outcome also arrives as `charge-updated`.
#[tauri::command]
pub async fn cancel_booking(
    state: State<'_, AppState>,
    booking_id: String,
    refund: Option<String>,
) -> Result<BookingView, CommandError> {
    let decision = refund
        .as_deref()
        .map(desk::RefundDecision::parse)
        .transpose()?;
    let host = state.host().await?;
    Ok(host
        .desk
        .cancel_booking(&booking_id, decision, "desk")
        .await?)
}

/// Refunds a charge that still holds the patient's money without cancelling anything (a
/// booking cancelled in GHL after payment, money kept at cancel and returned later, a second
/// approval): `refund` is `"full"` or an amount. Answers the booking as it now stands.
#[tauri::command]
pub async fn refund_charge(
    state: State<'_, AppState>,
    charge_id: String,
    refund: String,
) -> Result<BookingView, CommandError> {
    let decision = desk::RefundDecision::parse(&refund)?;
    let host = state.host().await?;
    let charge = host
        .desk
        .refund_charge(&charge_id, decision, "desk")
        .await?;
    Ok(host.desk.booking_view(&charge.booking_id).await?)
}

/// "Verificar pago": reads the charge's payments from MP now instead of waiting for a webhook
/// or the reconciler. A changed status reaches the UI as `charge-updated`.
#[tauri::command]
pub async fn check_payment(
    state: State<'_, AppState>,
    charge_id: String,
) -> Result<(), CommandError> {
    let host = state.host().await?;
    host.desk.refresh_charge(&charge_id).await?;
    Ok(())
}

/// What is still owed to GHL and MP for a charge (outbox items, soonest first), with each
/// item's tries and last error, so staff see why a provider does not show it yet.
#[tauri::command]
pub async fn pending_effects(
    state: State<'_, AppState>,
    charge_id: String,
) -> Result<Vec<PendingEffect>, CommandError> {
    let host = state.host().await?;
    Ok(host.desk.pending_effects(&charge_id).await?)
}

/// Patient search as staff type: GHL contacts by name, phone or email, at most 20.
/// `query` needs 2-100 characters, else `VALIDATION` on `query`.
#[tauri::command]
pub async fn search_patients(
    state: State<'_, AppState>,
    query: String,
) -> Result<Vec<Patient>, CommandError> {
    let host = state.host().await?;
    Ok(host.desk.search_patients(&query).await?)
}

/// Adds a patient after GHL's duplicate lookup (phone, then email): one GHL already has is
/// answered with `existing: true` and nothing is created.
#[tauri::command]
pub async fn create_patient(
    state: State<'_, AppState>,
    name: String,
    phone: Option<String>,
    email: Option<String>,
) -> Result<CreatedPatient, CommandError> {
    let host = state.host().await?;
    Ok(host
        .desk
        .create_patient(&name, phone.as_deref(), email.as_deref())
        .await?)
}

/// The free-slot picker: a calendar's free slots on a local day (`YYYY-MM-DD`).
#[tauri::command]
pub async fn free_slots(
    state: State<'_, AppState>,
    calendar_id: String,
    day: String,
) -> Result<Vec<FreeSlot>, CommandError> {
    let host = state.host().await?;
    Ok(host.desk.free_slots(&calendar_id, &day).await?)
}

/// "Llegó" (`showed`) or "no asistió" (`noshow`), written to GHL; answers the booking. A
/// cancelled, deleted, failed or still pending booking is `CONFLICT`.
#[tauri::command]
pub async fn mark_attendance(
    state: State<'_, AppState>,
    booking_id: String,
    attendance: String,
) -> Result<BookingView, CommandError> {
    let attendance = desk::Attendance::parse(&attendance)?;
    let host = state.host().await?;
    Ok(host.desk.mark_attendance(&booking_id, attendance).await?)
}

/// "Pago en caja": the patient paid at the desk. `method` is `cash`, `card` (the POS) or
/// `transfer`, `reference` an optional voucher or operation number (≤ 100 characters). The
/// MP link is expired first; a charge MP already has a payment for, or one that is not
/// unpaid, is `CONFLICT`. Answers the booking, its charge `paid_at_desk` with the method.
#[tauri::command]
pub async fn record_desk_payment(
    state: State<'_, AppState>,
    charge_id: String,
    method: String,
    reference: Option<String>,
) -> Result<BookingView, CommandError> {
    let host = state.host().await?;
    Ok(host
        .desk
        .record_desk_payment(&charge_id, &method, reference.as_deref(), "desk")
        .await?)
}

/// Moves a booking to another time, keeping its charge (same id, link and status).
/// `startsAt`/`endsAt` are UTC RFC 3339 text as `free_slots` gives them; a taken or off-grid
/// time is `SLOT_TAKEN`, a booking that does not stand `CONFLICT`.
#[tauri::command]
pub async fn reschedule_booking(
    state: State<'_, AppState>,
    booking_id: String,
    starts_at: String,
    ends_at: String,
) -> Result<BookingView, CommandError> {
    let starts_at = desk::time::parse_instant("startsAt", &starts_at)?;
    let ends_at = desk::time::parse_instant("endsAt", &ends_at)?;
    let host = state.host().await?;
    Ok(host
        .desk
        .reschedule(&booking_id, starts_at, ends_at)
        .await?)
}

/// What `send_payment_link` answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkSent {
    pub sent: bool,
    pub channel: String,
}

/// Sends the booking's open payment link to its patient through GHL: `channel` is
/// `whatsapp`, `sms` or `email`. A charge that is not open with a link is `CONFLICT`.
#[tauri::command]
pub async fn send_payment_link(
    state: State<'_, AppState>,
    booking_id: String,
    channel: String,
) -> Result<LinkSent, CommandError> {
    let channel = Channel::parse(&channel)?;
    let host = state.host().await?;
    host.desk.send_payment_link(&booking_id, channel).await?;
    Ok(LinkSent {
        sent: true,
        channel: channel.as_str().to_string(),
    })
}

/// What `whatsapp_link` answers: a `wa.me` URL for the opener plugin.
#[derive(Debug, Serialize)]
pub struct WhatsAppLink {
    pub url: String,
}

/// "Abrir WhatsApp": the `wa.me` link with the prefilled message; sends nothing.
#[tauri::command]
pub async fn whatsapp_link(
    state: State<'_, AppState>,
    booking_id: String,
) -> Result<WhatsAppLink, CommandError> {
    let host = state.host().await?;
    Ok(WhatsAppLink {
        url: host.desk.whatsapp_link(&booking_id).await?,
    })
}
