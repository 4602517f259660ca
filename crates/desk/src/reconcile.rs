//! The reconciler: what webhooks missed, polling finds. It asks MP for the payments of every
//! charge still waiting (and of recently paid ones, for refunds and chargebacks) through the
//! same code path as a webhook, so with no public URL at all the app is still correct, only
//! slower. GHL is reconciled the same way: each configured calendar's events in a window
//! around today go through the webhook code path, and a booking GHL no longer lists is
//! looked up once — gone there means deleted here. The unpaid hold is enforced on each pass.

use crate::booking::is_the_booked;
use crate::desk::Desk;
use crate::error::DeskError;
use crate::model::{AppointmentChange, Booking, Charge, ChargeStatus, SyncState};
use crate::ports::RemoteAppointment;
use crate::time::now;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// A booking still pending with GHL this long after it was made is no longer being created:
/// its create went unanswered, and GHL's calendar settles it.
const UNCERTAIN_AFTER: chrono::Duration = chrono::Duration::minutes(2);

/// How far back GHL calendars are read: yesterday's late changes (a no-show, a cancel).
const GHL_BEHIND: chrono::Duration = chrono::Duration::days(1);
/// How far ahead: what staff book and patients see (GHL's events have no paging).
const GHL_AHEAD: chrono::Duration = chrono::Duration::days(31);

/// Charges looked at per pass, newest first.
const PER_PASS: i64 = 200;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub checked: usize,
    pub failed: usize,
}

impl Desk {
    /// One pass over the charges that may still change.
    pub async fn reconcile_payments(&self) -> Result<Reconciled, DeskError> {
        let charges = self
            .store
            .charges_with_status(
                &[
                    ChargeStatus::Open,
                    ChargeStatus::Paid,
                    ChargeStatus::PartiallyRefunded,
                    ChargeStatus::NeedsReview,
                    // An MP payment on top of the desk's money must be seen without webhooks.
                    ChargeStatus::PaidAtDesk,
                ],
                PER_PASS,
            )
            .await?;
        let mut done = Reconciled::default();
        for charge in charges {
            match self.refresh_charge(&charge.id).await {
                Ok(_) => done.checked += 1,
                Err(DeskError::DbUnavailable) => return Err(DeskError::DbUnavailable),
                Err(e) => {
                    done.failed += 1;
                    tracing::warn!(charge = %charge.id, code = ?e.code(), "reconcile: charge not refreshed");
                }
            }
        }
        Ok(done)
    }

    /// One pass over the clinic's GHL calendars, through the webhook code path.
    pub async fn reconcile_appointments(&self) -> Result<Reconciled, DeskError> {
        let (from, to) = (now() - GHL_BEHIND, now() + GHL_AHEAD);
        let ours = self.store.agenda(from, to).await?;
        let mut done = Reconciled::default();
        let mut listed_calendars = HashSet::new();
        let mut seen = HashSet::new();
        for calendar in self.calendars().await? {
            let events = match self
                .scheduler
                .appointments_between(&self.clinic.location_id, &calendar.id, from, to)
                .await
            {
                Ok(events) => events,
                Err(e) => {
                    done.failed += 1;
                    tracing::warn!(calendar = %calendar.id, code = ?e.code(), "reconcile: calendar not read");
                    continue;
                }
            };
            listed_calendars.insert(calendar.id.clone());
            // Bookings whose create GHL never answered: settled before the events are
            // applied, so an adopted appointment is found by its id, not imported again.
            for (booking, charge) in &ours {
                if booking.calendar_id == calendar.id
                    && booking.sync == SyncState::Pending
                    && booking.created_at <= now() - UNCERTAIN_AFTER
                {
                    let outcome = self
                        .settle_uncertain(booking.clone(), charge.clone(), &events)
                        .await;
                    tally(&mut done, outcome)?;
                }
            }
            for event in events {
                seen.insert(event.ghl_id.clone());
                let outcome = self
                    .apply_appointment(&AppointmentChange::from(&event))
                    .await;
                tally(&mut done, outcome)?;
            }
        }
        // A booking its calendar no longer lists was moved away or deleted: ask GHL.
        for (booking, _) in ours {
            let Some(ghl_id) = &booking.ghl_id else {
                continue;
            };
            if seen.contains(ghl_id)
                || !listed_calendars.contains(&booking.calendar_id)
                || booking.status == crate::ghl_events::DELETED
            {
                continue;
            }
            let outcome = match self.scheduler.appointment(ghl_id).await {
                Ok(event) => {
                    self.apply_appointment(&AppointmentChange::from(&event))
                        .await
                }
                Err(DeskError::NotFound(_)) => {
                    self.apply_appointment(&AppointmentChange::deleted(ghl_id))
                        .await
                }
                Err(e) => Err(e),
            };
            tally(&mut done, outcome)?;
        }
        Ok(done)
    }

    /// A booking whose GHL create went unanswered: GHL's calendar says whether it was made.
    /// Made: adopted (GHL id, status) and its payment link opened. Not made: failed, and its
    /// draft charge cancelled.
    async fn settle_uncertain(
        &self,
        mut booking: Booking,
        charge: Option<Charge>,
        events: &[RemoteAppointment],
    ) -> Result<(), DeskError> {
        let contact = booking.contact_id.clone().unwrap_or_default();
        let found = events
            .iter()
            .find(|a| is_the_booked(a, &contact, booking.starts_at, booking.ends_at));
        match found {
            Some(a) => {
                booking.ghl_id = Some(a.ghl_id.clone());
                booking.status = a.status.clone();
                booking.sync = SyncState::Synced;
                booking.last_error = None;
                booking.ghl_date_added = a.date_added.clone();
                booking.ghl_date_updated = a.date_updated.clone();
                booking.version = self.store.update_booking(&booking).await?;
                self.audit(
                    "reconciler",
                    "booking.adopted",
                    "booking",
                    &booking.id,
                    &a.ghl_id,
                )
                .await;
                if let Some(mut charge) = charge.filter(|c| c.status == ChargeStatus::Draft) {
                    self.open_link(&booking, &mut charge).await?;
                    self.emit_charge(&charge);
                }
            }
            None => {
                let mut draft = charge.filter(|c| c.status == ChargeStatus::Draft);
                self.fail_booking(
                    &mut booking,
                    draft.as_mut(),
                    "GoHighLevel did not make the appointment".into(),
                )
                .await?;
                self.audit(
                    "reconciler",
                    "booking.failed",
                    "booking",
                    &booking.id,
                    "not in GHL",
                )
                .await;
                if let Some(charge) = &draft {
                    self.emit_charge(charge);
                }
            }
        }
        Ok(())
    }

    /// Everything the reconciler does, once: MP payments, GHL appointments, unpaid holds.
    /// Hosts call it on start, on a timer, and when staff ask ("check now").
    pub async fn reconcile(&self) -> Result<(), DeskError> {
        let payments = self.reconcile_payments().await?;
        let appointments = self.reconcile_appointments().await?;
        let released = self.expire_unpaid_holds().await?;
        let (purged, forgotten) = self.apply_retention(now()).await?;
        if payments.checked + payments.failed + appointments.failed + released > 0
            || purged + forgotten > 0
        {
            tracing::info!(
                payments_checked = payments.checked,
                payments_failed = payments.failed,
                appointments_checked = appointments.checked,
                appointments_failed = appointments.failed,
                holds_released = released,
                deliveries_purged = purged,
                payment_payloads_emptied = forgotten,
                "reconciled"
            );
        }
        Ok(())
    }

    /// Retention: deletes webhook deliveries processed longer ago than the clinic's retention
    /// period and empties the raw provider JSON (payer data) of payments untouched as long;
    /// the typed columns the audit trail needs stay. Unprocessed deliveries are never
    /// deleted. Returns (deliveries deleted, payments emptied); nothing without a period.
    pub async fn apply_retention(&self, now: DateTime<Utc>) -> Result<(u64, u64), DeskError> {
        let Some(period) = self.clinic.retention else {
            return Ok((0, 0));
        };
        let Ok(period) = chrono::Duration::from_std(period) else {
            return Ok((0, 0));
        };
        let before = now - period;
        let purged = self.store.purge_processed_inbox(before).await?;
        let forgotten = self.store.forget_payment_payloads(before).await?;
        Ok((purged, forgotten))
    }

    /// Reconciles on start and then every `every`, until the task is dropped.
    pub async fn run_reconciler(self: Arc<Self>, every: Duration) {
        loop {
            if let Err(e) = self.reconcile().await {
                tracing::warn!(code = ?e.code(), "reconcile pass failed");
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// Counts one appointment's outcome; only a database outage stops the pass.
fn tally(done: &mut Reconciled, outcome: Result<(), DeskError>) -> Result<(), DeskError> {
    match outcome {
        Ok(()) => done.checked += 1,
        Err(DeskError::DbUnavailable) => return Err(DeskError::DbUnavailable),
        Err(e) => {
            done.failed += 1;
            tracing::warn!(code = ?e.code(), "reconcile: appointment not applied");
        }
    }
    Ok(())
}
