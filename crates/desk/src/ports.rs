//! The two providers as the domain sees them: a scheduler (GHL) and a payment service (MP).
//! Adapters for the real clients live in [`crate::providers`]; tests may plug in doubles.

use crate::error::DeskError;
use crate::money::Money;
use crate::patients::{ContactKey, CreatedPatient, NewPatient, Patient};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// The clinic as the scheduler knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicLocation {
    pub name: String,
    /// IANA time zone name.
    pub timezone: String,
}

/// A calendar staff can book into.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarInfo {
    pub id: String,
    pub name: String,
    pub slot_minutes: u32,
    /// The team member appointments are assigned to (GHL wants one).
    pub default_user_id: Option<String>,
}

/// An appointment to create.
#[derive(Debug, Clone, PartialEq)]
pub struct AppointmentRequest {
    pub location_id: String,
    pub calendar_id: String,
    pub contact_id: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The clinic's zone: GHL matches slot strings rendered in it, byte for byte.
    pub timezone: chrono_tz::Tz,
    pub assigned_user_id: Option<String>,
}

/// What the scheduler answered for a created appointment.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedAppointment {
    pub ghl_id: String,
    pub status: String,
}

/// An appointment as the scheduler holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteAppointment {
    pub ghl_id: String,
    pub calendar_id: String,
    pub contact_id: Option<String>,
    pub title: String,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub assigned_user_id: Option<String>,
    pub notes: Option<String>,
    pub date_added: Option<String>,
    pub date_updated: Option<String>,
}

/// The calendar side (GoHighLevel).
#[async_trait]
pub trait Scheduler: Send + Sync {
    /// One appointment, read from the scheduler.
    async fn appointment(&self, ghl_id: &str) -> Result<RemoteAppointment, DeskError>;
    async fn location(&self, location_id: &str) -> Result<ClinicLocation, DeskError>;
    async fn calendars(&self, location_id: &str) -> Result<Vec<CalendarInfo>, DeskError>;
    /// `NotFound` when the scheduler has no contact `contact_id`.
    async fn contact_exists(&self, contact_id: &str) -> Result<(), DeskError>;
    /// Finds the patient by phone, or creates them; returns the contact id.
    async fn find_or_create_contact(
        &self,
        location_id: &str,
        name: &str,
        phone: Option<&str>,
    ) -> Result<String, DeskError>;
    async fn create_appointment(
        &self,
        request: &AppointmentRequest,
    ) -> Result<CreatedAppointment, DeskError>;
    /// Sets the appointment's status to confirmed.
    async fn confirm_appointment(&self, ghl_id: &str) -> Result<(), DeskError>;
    /// Adds one tag to the contact, keeping the others (never the replacing PUT).
    async fn add_contact_tag(&self, contact_id: &str, tag: &str) -> Result<(), DeskError>;
    async fn add_contact_note(&self, contact_id: &str, body: &str) -> Result<(), DeskError>;
    /// Whether the contact already has a note with exactly this body (GHL has no
    /// idempotency keys; a note whose answer was lost must not be added twice).
    async fn contact_has_note(&self, contact_id: &str, body: &str) -> Result<bool, DeskError>;
    /// Sets the appointment's status to cancelled; GHL keeps the record.
    async fn cancel_appointment(&self, ghl_id: &str) -> Result<RemoteAppointment, DeskError>;
    /// Edits an appointment; a new time is slot-validated by GHL (`SlotTaken`).
    async fn update_appointment(
        &self,
        ghl_id: &str,
        changes: &AppointmentChanges,
    ) -> Result<RemoteAppointment, DeskError>;
    /// The appointments of one calendar that start in `[from, to]`.
    async fn appointments_between(
        &self,
        location_id: &str,
        calendar_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RemoteAppointment>, DeskError>;
    /// Contacts whose name, phone or email match `query`, at most `limit`.
    async fn search_patients(
        &self,
        location_id: &str,
        query: &str,
        limit: u32,
    ) -> Result<Vec<Patient>, DeskError>;
    /// The contact the scheduler's duplicate rule matches to this phone or email, if any.
    async fn find_patient(
        &self,
        location_id: &str,
        key: &ContactKey,
    ) -> Result<Option<Patient>, DeskError>;
    /// Creates a contact; one the scheduler reports as a duplicate is answered `existing`.
    async fn create_patient(
        &self,
        location_id: &str,
        patient: &NewPatient,
    ) -> Result<CreatedPatient, DeskError>;
    /// The free slot starts of a calendar in `[from, to]`, asked for in `timezone` (IANA)
    /// so they are the slots booking will send back.
    async fn free_slot_starts(
        &self,
        calendar_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        timezone: &str,
    ) -> Result<Vec<DateTime<Utc>>, DeskError>;
    /// One contact as a patient (name, phone, email); `NotFound` when there is none.
    async fn patient(&self, contact_id: &str) -> Result<Patient, DeskError>;
    /// Sends the contact a message through the scheduler's conversations. Never retried:
    /// a retry could reach the patient twice.
    async fn send_message(
        &self,
        contact_id: &str,
        message: &OutgoingMessage,
    ) -> Result<(), DeskError>;
}

/// How a message reaches a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    WhatsApp,
    Sms,
    Email,
}

/// A message to a patient: `text` for every channel, `subject` and `html` for email.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    pub channel: Channel,
    pub text: String,
    pub subject: String,
    pub html: String,
}

/// Changes to an appointment; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppointmentChanges {
    pub title: Option<String>,
    /// GHL's word: new, confirmed, cancelled, showed, noshow, invalid.
    pub status: Option<String>,
    /// Both or neither: a new time is sent to GHL as a pair.
    pub times: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub assigned_user_id: Option<String>,
    /// The clinic's zone, for rendering new times the way GHL matches slots.
    pub timezone: Option<chrono_tz::Tz>,
}

/// A payment link to create for a charge.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRequest {
    /// Our charge id: MP's `external_reference` and the idempotency key.
    pub charge_id: String,
    pub booking_id: String,
    pub ghl_id: Option<String>,
    pub money: Money,
    pub description: String,
    /// Full `notification_url`, or `None` when the clinic has no public URL (polling only).
    pub notification_url: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// A payment link as created.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentLink {
    pub preference_id: String,
    pub init_point: String,
}

/// A payment exactly as MP's API reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedPayment {
    pub id: i64,
    pub status: String,
    pub status_detail: Option<String>,
    pub external_reference: Option<String>,
    pub amount: Decimal,
    pub currency: String,
    pub amount_refunded: Decimal,
    pub method: Option<String>,
    pub date_created: Option<DateTime<Utc>>,
    pub date_approved: Option<DateTime<Utc>>,
    pub date_last_updated: Option<DateTime<Utc>>,
    pub raw: String,
}

/// The money side (Mercado Pago).
#[async_trait]
pub trait Payments: Send + Sync {
    async fn create_link(&self, request: &LinkRequest) -> Result<PaymentLink, DeskError>;
    /// Reads one payment: the only source of truth about it.
    async fn payment(&self, id: i64) -> Result<ReportedPayment, DeskError>;
    /// Every payment MP holds for a charge (its `external_reference`).
    async fn payments_for(&self, charge_id: &str) -> Result<Vec<ReportedPayment>, DeskError>;
    /// Ends a link now, so it can no longer be paid.
    async fn expire_link(&self, preference_id: &str) -> Result<(), DeskError>;
    /// A live link MP already holds for this charge (its `external_reference`), if any: an
    /// earlier create whose answer was lost.
    async fn live_link(&self, charge_id: &str) -> Result<Option<PaymentLink>, DeskError>;
    /// Refunds a payment, all that remains (`None`) or `amount`. `key` is the refund's own
    /// stable id: every try of one refund sends the same key, so MP refunds at most once.
    async fn refund(
        &self,
        payment_id: i64,
        amount: Option<Decimal>,
        key: &str,
    ) -> Result<(), DeskError>;
}
