//! The clinic's records: what a booking, a charge and a payment are to Mostrador.

use crate::money::Money;
use crate::ports::RemoteAppointment;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// Our view of a GHL appointment.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    /// Our ULID.
    pub id: String,
    /// GHL's appointment id; `None` until GHL has answered.
    pub ghl_id: Option<String>,
    pub location_id: String,
    pub calendar_id: String,
    pub contact_id: Option<String>,
    pub patient_name: String,
    pub title: String,
    /// GHL's words: new, confirmed, cancelled, showed, noshow, invalid (open set).
    pub status: String,
    pub sync: SyncState,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub assigned_user_id: Option<String>,
    pub notes: Option<String>,
    /// Where the booking came from: `desk`, `api`, `ghl`.
    pub source: String,
    pub ghl_date_added: Option<String>,
    pub ghl_date_updated: Option<String>,
    pub idempotency_key: String,
    /// The last provider error, for staff; never contains secrets.
    pub last_error: Option<String>,
    /// Optimistic-concurrency version, bumped on every write.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a booking stands with GHL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Stored here, GHL not yet answered.
    Pending,
    /// GHL holds the appointment (`ghl_id` set).
    Synced,
    /// GHL refused it (e.g. the slot was taken); nothing exists there.
    Failed,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Pending => "pending",
            SyncState::Synced => "synced",
            SyncState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => SyncState::Pending,
            "synced" => SyncState::Synced,
            "failed" => SyncState::Failed,
            _ => return None,
        })
    }
}

/// A request for money for a booking; its id is MP's `external_reference`.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub id: String,
    pub booking_id: String,
    pub money: Money,
    pub description: String,
    pub preference_id: Option<String>,
    pub init_point: Option<String>,
    pub status: ChargeStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A charge's lifecycle (DESIGN §3), derived from payments read from MP's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// Stored, no payment link yet.
    Draft,
    /// The link exists and can be paid.
    Open,
    Paid,
    Expired,
    Cancelled,
    PartiallyRefunded,
    Refunded,
    ChargedBack,
    /// MP reported something that does not match (amount, currency, a second approval, or
    /// a payment for a charge already paid at the desk).
    NeedsReview,
    /// Paid at the desk ("pago en caja": cash, card on the POS or transfer), not through MP;
    /// the how and who are its [`DeskPayment`].
    PaidAtDesk,
}

impl ChargeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Draft => "draft",
            ChargeStatus::Open => "open",
            ChargeStatus::Paid => "paid",
            ChargeStatus::Expired => "expired",
            ChargeStatus::Cancelled => "cancelled",
            ChargeStatus::PartiallyRefunded => "partially_refunded",
            ChargeStatus::Refunded => "refunded",
            ChargeStatus::ChargedBack => "charged_back",
            ChargeStatus::NeedsReview => "needs_review",
            ChargeStatus::PaidAtDesk => "paid_at_desk",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => ChargeStatus::Draft,
            "open" => ChargeStatus::Open,
            "paid" => ChargeStatus::Paid,
            "expired" => ChargeStatus::Expired,
            "cancelled" => ChargeStatus::Cancelled,
            "partially_refunded" => ChargeStatus::PartiallyRefunded,
            "refunded" => ChargeStatus::Refunded,
            "charged_back" => ChargeStatus::ChargedBack,
            "needs_review" => ChargeStatus::NeedsReview,
            "paid_at_desk" => ChargeStatus::PaidAtDesk,
            _ => return None,
        })
    }
}

/// How a patient paid at the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeskMethod {
    Cash,
    /// A card on the clinic's POS terminal.
    Card,
    Transfer,
}

impl DeskMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DeskMethod::Cash => "cash",
            DeskMethod::Card => "card",
            DeskMethod::Transfer => "transfer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "cash" => DeskMethod::Cash,
            "card" => DeskMethod::Card,
            "transfer" => DeskMethod::Transfer,
            _ => return None,
        })
    }

    /// The clinic's word for it (GHL notes are written in Spanish).
    pub fn spanish(self) -> &'static str {
        match self {
            DeskMethod::Cash => "efectivo",
            DeskMethod::Card => "tarjeta",
            DeskMethod::Transfer => "transferencia",
        }
    }
}

/// A charge paid at the desk: how, with what reference, who took it and when. The amount is
/// the charge's own (a desk payment settles the charge exactly).
#[derive(Debug, Clone, PartialEq)]
pub struct DeskPayment {
    pub method: DeskMethod,
    /// The voucher, operation or transfer number, as staff typed it (trimmed, ≤ 100 chars).
    pub reference: Option<String>,
    /// The desk user who recorded it.
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// A change to a GHL appointment in the domain's words, whoever reported it: a webhook, the
/// reconciler reading GHL's calendar, or GHL's answer to our own edit. GHL's wire types
/// become this at the edges ([`crate::providers`]); the rules that apply it to a booking
/// (`Desk::apply_ghl_event`'s) know nothing of GHL's JSON. `None` means "not reported".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppointmentChange {
    /// GHL's appointment id.
    pub ghl_id: String,
    /// The appointment was deleted in GHL: terminal for its booking.
    pub deleted: bool,
    pub calendar_id: Option<String>,
    pub contact_id: Option<String>,
    pub title: Option<String>,
    /// GHL's word: new, confirmed, cancelled, showed, noshow, invalid (open set).
    pub status: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub assigned_user_id: Option<String>,
    pub notes: Option<String>,
    /// GHL's own timestamps, as sent (kept on the booking); `date_updated` orders changes.
    pub date_added: Option<String>,
    pub date_updated: Option<String>,
}

impl AppointmentChange {
    /// GHL no longer holds the appointment `ghl_id`.
    pub fn deleted(ghl_id: &str) -> Self {
        AppointmentChange {
            ghl_id: ghl_id.to_string(),
            deleted: true,
            ..AppointmentChange::default()
        }
    }
}

impl From<&RemoteAppointment> for AppointmentChange {
    /// The appointment as GHL holds it now, as a change to apply.
    fn from(a: &RemoteAppointment) -> Self {
        // Bookings keep milliseconds: a finer time would look like a change on every pass.
        let stored = |t: DateTime<Utc>| t.trunc_subsecs(3);
        AppointmentChange {
            ghl_id: a.ghl_id.clone(),
            deleted: false,
            calendar_id: Some(a.calendar_id.clone()).filter(|c| !c.is_empty()),
            contact_id: a.contact_id.clone(),
            title: Some(a.title.clone()),
            status: Some(a.status.clone()),
            starts_at: Some(stored(a.starts_at)),
            ends_at: Some(stored(a.ends_at)),
            assigned_user_id: a.assigned_user_id.clone(),
            notes: a.notes.clone(),
            date_added: a.date_added.clone(),
            date_updated: a.date_updated.clone(),
        }
    }
}

/// An MP payment seen for a charge, as last read from MP's API.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub mp_payment_id: i64,
    pub charge_id: String,
    /// MP's word (open set): approved, pending, rejected, refunded, …
    pub status: String,
    pub status_detail: Option<String>,
    /// As MP reported it, unrounded; the currency as MP reported it.
    pub amount: rust_decimal::Decimal,
    pub currency: String,
    pub amount_refunded: rust_decimal::Decimal,
    pub method: Option<String>,
    pub date_created: Option<DateTime<Utc>>,
    pub date_approved: Option<DateTime<Utc>>,
    pub date_last_updated: Option<DateTime<Utc>>,
    /// MP's JSON as read (payer data stays in the database, never in logs).
    pub raw: String,
}

/// A webhook delivery accepted by the listener, stored before it is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxDelivery {
    pub id: String,
    /// `mp`, `mp_ipn` or `ghl`.
    pub provider: String,
    pub dedupe_key: String,
    pub received_at: DateTime<Utc>,
    /// The few headers processing needs, as JSON.
    pub headers: String,
    pub query: String,
    pub body: String,
    pub attempts: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub summary: String,
}

/// A side effect still owed to a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub idempotency_key: String,
    pub next_attempt_at: DateTime<Utc>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Whether `s` has the shape of a GHL id (appointment, contact, user, calendar):
/// 1-64 ASCII letters, digits, `-` or `_`. Anything else is refused before it is stored or
/// sent anywhere.
pub fn is_ghl_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new ULID as text, strictly increasing within this process: two made in the same
/// millisecond still sort in the order they were made, so ordering by id (the audit log
/// does) is the order things happened here.
pub fn new_id() -> String {
    static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let mut generator = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    generator
        .get_or_insert_with(ulid::Generator::new)
        .generate()
        // The random part ran out within one millisecond (2^80 ids): a plain one then.
        .unwrap_or_else(|_| ulid::Ulid::new())
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..2000).map(|_| super::new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
