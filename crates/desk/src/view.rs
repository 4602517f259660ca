//! What screens and APIs show: bookings and charges in the clinic's words and time zone.

use crate::model::{Booking, Charge, DeskPayment};
use chrono_tz::Tz;
use serde::Serialize;

/// A charge as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeView {
    pub id: String,
    /// Exact decimal text at the currency's scale ("80.00").
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub payment_link: Option<String>,
    pub paid_at: Option<String>,
    /// How it was paid at the desk (`cash`, `card`, `transfer`), when it was: the UI shows
    /// "Pago en caja · Efectivo".
    pub desk_method: Option<String>,
    /// The voucher or operation number staff typed for the desk payment.
    pub desk_reference: Option<String>,
}

/// A side effect still owed to a provider for a charge (an outbox row), as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingEffect {
    /// The outbox kind: `mp.create_link`, `mp.expire_link`, `mp.close_link`, `mp.refund`,
    /// `ghl.confirm`, `ghl.tag`, `ghl.note`.
    pub kind: String,
    /// Tries so far.
    pub attempts: i64,
    /// Why the last try failed, in words safe to show (no secrets, no patient data).
    pub last_error: Option<String>,
    /// When the next try falls due (UTC, fixed-width text).
    pub next_attempt_at: String,
}

/// A booking as staff see it, with local times in the clinic's zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingView {
    pub id: String,
    pub ghl_id: Option<String>,
    pub calendar_id: String,
    pub calendar_name: Option<String>,
    pub title: String,
    pub patient_name: String,
    pub starts_at: String,
    pub ends_at: String,
    pub local_date: String,
    pub local_start: String,
    pub local_end: String,
    pub status: String,
    pub sync: String,
    pub charge: Option<ChargeView>,
}

impl ChargeView {
    pub fn of(c: &Charge) -> Self {
        ChargeView {
            id: c.id.clone(),
            amount: c.money.amount().to_string(),
            currency: c.money.currency().code().to_string(),
            status: c.status.as_str().to_string(),
            payment_link: c.init_point.clone(),
            paid_at: c.paid_at.map(crate::time::to_db),
            desk_method: None,
            desk_reference: None,
        }
    }

    /// The charge with its desk payment, when it was paid at the desk.
    pub fn with_desk(mut self, desk: Option<&DeskPayment>) -> Self {
        self.desk_method = desk.map(|d| d.method.as_str().to_string());
        self.desk_reference = desk.and_then(|d| d.reference.clone());
        self
    }
}

impl BookingView {
    pub fn of(b: &Booking, charge: Option<&Charge>, calendar_name: Option<String>, tz: Tz) -> Self {
        let start = b.starts_at.with_timezone(&tz);
        let end = b.ends_at.with_timezone(&tz);
        BookingView {
            id: b.id.clone(),
            ghl_id: b.ghl_id.clone(),
            calendar_id: b.calendar_id.clone(),
            calendar_name,
            title: b.title.clone(),
            patient_name: b.patient_name.clone(),
            starts_at: crate::time::to_db(b.starts_at),
            ends_at: crate::time::to_db(b.ends_at),
            local_date: start.format("%Y-%m-%d").to_string(),
            local_start: start.format("%H:%M").to_string(),
            local_end: end.format("%H:%M").to_string(),
            status: b.status.clone(),
            sync: b.sync.as_str().to_string(),
            charge: charge.map(ChargeView::of),
        }
    }
}
