//! [`Desk`]: the domain service hosts call, one per clinic, shared by every surface (Tauri
//! commands, the compat REST API, the webhook listener, the workers). It holds the store,
//! the two provider ports, the event sink and the clinic's settings; each module below adds
//! one capability to it in its own `impl Desk` block.
//!
//! | module | what it adds to `Desk` | entry points |
//! |---|---|---|
//! | `desk` (here) | construction, the clinic, its calendars | [`Desk::new`], [`Desk::clinic`], [`Desk::calendars`] |
//! | [`crate::lookup`] | reading what is stored, as screens and APIs show it | [`Desk::agenda`], [`Desk::view_of`], [`Desk::booking_view`], [`Desk::booking_with_charge`], [`Desk::charge`], [`Desk::recent_bookings`], [`Desk::recent_charges`], [`Desk::health`] |
//! | [`crate::booking`] | booking with payment: GHL appointment, then the MP link | [`Desk::create_booking`], [`Desk::local_slot`] |
//! | [`crate::charging`] | a link for an appointment that already exists in GHL | [`Desk::charge_appointment`], [`Desk::booking_for_appointment`] |
//! | [`crate::edit`] | editing an appointment in GHL | [`Desk::edit_appointment`] |
//! | [`crate::patients`] | finding a patient among GHL's contacts; adding one after GHL's duplicate lookup | [`Desk::search_patients`], [`Desk::create_patient`] |
//! | [`crate::slots`] | a calendar's free slots on a local day, from GHL's free-slots | [`Desk::free_slots`] |
//! | [`crate::attendance`] | "llegó" / "no asistió" written to GHL's appointment status | [`Desk::mark_attendance`] |
//! | [`crate::reschedule`] | moving a standing appointment to another slot, keeping its charge | [`Desk::reschedule`] |
//! | [`crate::send_link`] | the open payment link sent to the patient by WhatsApp, SMS or email through GHL, or as a `wa.me` link | [`Desk::send_payment_link`], [`Desk::whatsapp_link`] |
//! | [`crate::desk_payment`] | "pago en caja": an unpaid charge paid cash, by card or transfer, after the link is expired and MP asked once more | [`Desk::record_desk_payment`], [`Desk::desk_payment`] |
//! | [`crate::cancel`] | cancel, refunds, the unpaid hold | [`Desk::cancel_booking`], [`Desk::cancel_by_ghl_id`], [`Desk::refund_charge`], [`Desk::expire_unpaid_holds`] |
//! | [`crate::inbox`] | storing verified webhooks and applying MP payments | [`Desk::accept_webhook`], [`Desk::drain_inbox`], [`Desk::run_inbox_worker`], [`Desk::sync_payment`], [`Desk::refresh_charge`] |
//! | [`crate::ghl_events`] | GHL appointment changes applied to bookings | [`Desk::apply_ghl_event`] |
//! | [`crate::outbox`] | side effects owed to the providers, retried until done | [`Desk::drain_outbox`], [`Desk::run_outbox_worker`], [`Desk::create_link_now`], [`Desk::expire_link_now`], [`Desk::pending_effects`] |
//! | [`crate::reconcile`] | polling what webhooks missed; retention | [`Desk::reconcile`], [`Desk::run_reconciler`], [`Desk::reconcile_payments`], [`Desk::reconcile_appointments`], [`Desk::apply_retention`] |
//!
//! Only `desk` touches SQL: hosts go through these methods, never through the [`Store`].

use crate::config::ClinicConfig;
use crate::error::DeskError;
use crate::events::{DeskEvent, EventSink};
use crate::model::{AuditEntry, Charge};
use crate::ports::{CalendarInfo, Payments, Scheduler};
use crate::store::Store;
use std::sync::Arc;
use tokio::sync::{Notify, RwLock};

/// The domain service: one per clinic, shared by every host surface.
pub struct Desk {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) scheduler: Arc<dyn Scheduler>,
    pub(crate) payments: Arc<dyn Payments>,
    pub(crate) events: Arc<dyn EventSink>,
    pub(crate) clinic: ClinicConfig,
    pub(crate) inbox_wake: Notify,
    /// Wakes the outbox worker when side effects are queued.
    pub(crate) outbox_wake: Notify,
    /// Inbox deliveries this worker leased but could not release when storage failed.
    pub(crate) held_leases: std::sync::Mutex<Vec<String>>,
    calendars: RwLock<Vec<CalendarInfo>>,
}

impl Desk {
    /// A desk over this storage, these providers and this clinic.
    pub fn new(
        store: Arc<dyn Store>,
        scheduler: Arc<dyn Scheduler>,
        payments: Arc<dyn Payments>,
        events: Arc<dyn EventSink>,
        clinic: ClinicConfig,
    ) -> Self {
        Self {
            store,
            scheduler,
            payments,
            events,
            clinic,
            inbox_wake: Notify::new(),
            outbox_wake: Notify::new(),
            held_leases: std::sync::Mutex::new(Vec::new()),
            calendars: RwLock::new(Vec::new()),
        }
    }

    /// The clinic's settings.
    pub fn clinic(&self) -> &ClinicConfig {
        &self.clinic
    }

    /// The storage underneath, for test suites that inspect rows directly. Hosts use the
    /// `Desk` methods instead, so the domain alone owns SQL and its invariants.
    #[cfg(any(test, feature = "testing"))]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clinic's calendars, fetched once and then served from memory.
    pub async fn calendars(&self) -> Result<Vec<CalendarInfo>, DeskError> {
        {
            let cached = self.calendars.read().await;
            if !cached.is_empty() {
                return Ok(cached.clone());
            }
        }
        let fresh = self.scheduler.calendars(&self.clinic.location_id).await?;
        *self.calendars.write().await = fresh.clone();
        Ok(fresh)
    }

    /// Writes one audit line; a failure is logged, never fails the change it records.
    pub(crate) async fn audit(
        &self,
        actor: &str,
        action: &str,
        entity: &str,
        id: &str,
        summary: &str,
    ) {
        let entry = AuditEntry {
            actor: actor.into(),
            action: action.into(),
            entity: entity.into(),
            entity_id: id.into(),
            summary: summary.into(),
        };
        if let Err(e) = self.store.audit(&entry).await {
            tracing::warn!(error = %e, action, "audit line not written");
        }
    }

    /// Tells the screens a charge changed.
    pub(crate) fn emit_charge(&self, charge: &Charge) {
        self.events.emit(DeskEvent::ChargeUpdated {
            charge_id: charge.id.clone(),
            booking_id: charge.booking_id.clone(),
            status: charge.status.as_str().to_string(),
        });
    }
}
