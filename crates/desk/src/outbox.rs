//! The outbox worker: every side effect still owed to a provider is a row (an [`Effect`],
//! see [`crate::effect`]), retried with exponential backoff and jitter until it is done,
//! visible with its last error. Each effect checks state before acting, so a retry never
//! does the work twice. A row it cannot read is recorded as failed, like any other try.

use crate::desk::Desk;
use crate::error::DeskError;
use crate::events::DeskEvent;
use crate::model::*;
use crate::time::now;
use std::sync::Arc;
use std::time::Duration;

use crate::effect::charge_key;
pub use crate::effect::{
    CLOSE_LINK, CONFIRM_APPOINTMENT, CREATE_LINK, EXPIRE_LINK, Effect, NOTE_CONTACT, REFUND,
    TAG_CONTACT,
};

/// How long a worker holds an item before another may take it.
const LEASE: chrono::Duration = chrono::Duration::seconds(120);
const BATCH: i64 = 16;

/// When the first retry of a failed side effect falls due.
pub fn first_retry() -> chrono::Duration {
    chrono::Duration::seconds(30)
}

/// 30 s × 2^attempts, capped at an hour, ±20 % jitter so retries from many desks spread.
pub fn backoff(attempts: i64) -> chrono::Duration {
    let base = 30_i64.saturating_mul(1 << attempts.clamp(0, 7)).min(3600);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter_permille = i64::from(nanos % 401) - 200; // -200 ..= 200
    chrono::Duration::milliseconds(base * 1000 + base * jitter_permille)
}

impl Desk {
    /// Performs every due outbox item once; returns how many finished.
    pub async fn drain_outbox(&self) -> Result<usize, DeskError> {
        let at = now();
        let items = self.store.claim_outbox(at, at + LEASE, BATCH).await?;
        let mut finished = 0;
        // Charges whose owed work changed in this pass: their screens re-read it once.
        let mut touched = std::collections::BTreeSet::new();
        for item in items {
            match self.perform(&item).await {
                Ok(()) => {
                    self.store.finish_outbox(&item.id, now()).await?;
                    finished += 1;
                    touched.extend(charge_id_of(&item));
                }
                Err(e) => {
                    tracing::warn!(
                        item = %item.id,
                        kind = %item.kind,
                        attempts = item.attempts,
                        code = ?e.code(),
                        "side effect failed; will retry"
                    );
                    self.store
                        .fail_outbox(
                            &item.id,
                            &e.public_message(),
                            now() + backoff(item.attempts),
                        )
                        .await?;
                    touched.extend(charge_id_of(&item));
                }
            }
        }
        // Screens showing these charges refresh what is owed (done, tries, last error).
        for charge_id in touched {
            self.events.emit(DeskEvent::EffectsChanged { charge_id });
        }
        Ok(finished)
    }

    /// Runs the outbox worker until the task is dropped.
    pub async fn run_outbox_worker(self: Arc<Self>, every: Duration) {
        loop {
            if let Err(e) = self.drain_outbox().await {
                tracing::warn!(code = ?e.code(), "outbox pass failed");
            }
            // Woken as soon as work is queued (a payment's side effects), else every `every`
            // for retries falling due.
            let _ = tokio::time::timeout(every, self.outbox_wake.notified()).await;
        }
    }

    async fn perform(&self, item: &OutboxItem) -> Result<(), DeskError> {
        match item.effect()? {
            Effect::CreateLink { charge_id } => self.open_draft_link(&charge_id).await,
            Effect::ExpireLink { charge_id } => self.expire_link_now(&charge_id).await,
            Effect::CloseLink { charge_id } => {
                let charge = self.charge(&charge_id).await?;
                match &charge.preference_id {
                    Some(pref) => self.payments.expire_link(pref).await,
                    None => Ok(()),
                }
            }
            Effect::ConfirmAppointment { booking_id } => {
                self.confirm_paid_booking(&booking_id).await
            }
            Effect::TagContact { contact_id, tag } => {
                self.scheduler.add_contact_tag(&contact_id, &tag).await
            }
            Effect::NoteContact { contact_id, body } => {
                // The body names MP's payment id, so an equal note is this one: an earlier try
                // (or a worker that crashed before marking it done) already added it.
                match self.scheduler.contact_has_note(&contact_id, &body).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    // Listing notes is undocumented (unconfirmed): when it fails, add the
                    // note anyway — at worst twice, never lost.
                    Err(e) => tracing::info!(code = ?e.code(), "contact notes not listed"),
                }
                self.scheduler.add_contact_note(&contact_id, &body).await
            }
            Effect::Refund {
                charge_id,
                payment_id,
                amount,
            } => {
                self.refund_now(&charge_id, payment_id, amount, &item.idempotency_key)
                    .await
            }
        }
    }

    /// Owes MP the expiry of `charge_id`'s link after `error` kept it from happening now: an
    /// outbox row (tried again with backoff, never twice), and the worker woken.
    pub(crate) async fn owe_link_expiry(
        &self,
        charge_id: &str,
        error: &DeskError,
    ) -> Result<(), DeskError> {
        tracing::warn!(charge = %charge_id, code = ?error.code(), "link not expired yet; queued");
        let expire = Effect::ExpireLink {
            charge_id: charge_id.to_string(),
        };
        self.store
            .enqueue(&expire.owed_for_charge(charge_id, Some(error))?)
            .await?;
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Expires an open charge's link at MP and marks the charge cancelled. A charge that is
    /// no longer open (paid meanwhile, already cancelled) needs nothing here; one paid at the
    /// desk only has its link expired.
    pub async fn expire_link_now(&self, charge_id: &str) -> Result<(), DeskError> {
        let mut charge = self.charge(charge_id).await?;
        if charge.status == ChargeStatus::PaidAtDesk {
            // Paid at the desk while MP did not answer: the link must still stop being
            // payable, and the charge stays paid.
            if let Some(pref) = &charge.preference_id {
                self.payments.expire_link(pref).await?;
            }
            return Ok(());
        }
        if charge.status != ChargeStatus::Open {
            return Ok(());
        }
        if let Some(pref) = &charge.preference_id {
            self.payments.expire_link(pref).await?;
        }
        charge.status = ChargeStatus::Cancelled;
        charge.version = self.store.update_charge(&charge).await?;
        self.audit(
            "outbox",
            "charge.cancelled",
            "charge",
            &charge.id,
            "link expired",
        )
        .await;
        self.emit_charge(&charge);
        Ok(())
    }

    /// Staff's "Reintentar ahora": creates a draft charge's link now, and the retry queued for
    /// it is no longer owed, so it stops showing as pending.
    pub async fn create_link_now(&self, charge_id: &str) -> Result<(), DeskError> {
        self.open_draft_link(charge_id).await?;
        if let Some(item) = self
            .store
            .outbox_item(&charge_key(CREATE_LINK, charge_id))
            .await?
        {
            self.store.finish_outbox(&item.id, now()).await?;
        }
        Ok(())
    }

    /// Creates the link of a draft charge (the outbox's `mp.create_link`). A charge that
    /// already has its link, or whose booking never reached GHL, needs nothing.
    async fn open_draft_link(&self, charge_id: &str) -> Result<(), DeskError> {
        let mut charge = self.charge(charge_id).await?;
        if charge.status != ChargeStatus::Draft {
            return Ok(());
        }
        let booking = self
            .store
            .booking(&charge.booking_id)
            .await?
            .ok_or_else(|| DeskError::NotFound("booking".into()))?;
        if booking.sync != SyncState::Synced {
            return Ok(());
        }
        // An earlier attempt may have created the link and lost MP's answer: adopt it rather
        // than make a second payable link for the same charge.
        if let Some(link) = self.payments.live_link(&charge.id).await? {
            charge.preference_id = Some(link.preference_id);
            charge.init_point = Some(link.init_point);
            charge.status = ChargeStatus::Open;
            charge.version = self.store.update_charge(&charge).await?;
            self.audit("outbox", "charge.open", "charge", &charge.id, "adopted")
                .await;
        } else {
            self.try_open_link(&booking, &mut charge).await?;
        }
        self.emit_charge(&charge);
        Ok(())
    }

    /// The side effects a newly paid charge owes, as outbox rows keyed by the charge so each
    /// happens once however often the payment is reported.
    pub(crate) async fn after_payment_effects(
        &self,
        charge: &Charge,
        payment_id: Option<i64>,
    ) -> Result<Vec<OutboxItem>, DeskError> {
        let payment = payment_id
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into());
        let body = format!(
            "Pago recibido: {} (Mercado Pago, pago {payment}).",
            charge.money
        );
        self.after_payment_effects_noting(charge, body).await
    }

    /// The effects a paid charge owes, the contact's note saying `paid` (how it was paid,
    /// e.g. "Pago recibido: 80.00 PEN (pago en caja (efectivo))."; the appointment is added).
    pub(crate) async fn after_payment_effects_noting(
        &self,
        charge: &Charge,
        paid: String,
    ) -> Result<Vec<OutboxItem>, DeskError> {
        let rules = &self.clinic.after_payment;
        let booking = self.store.booking(&charge.booking_id).await?;
        let mut effects = Vec::new();
        if rules.expire_link && charge.preference_id.is_some() {
            let close = Effect::CloseLink {
                charge_id: charge.id.clone(),
            };
            effects.push(close.owed_for_charge(&charge.id, None)?);
        }
        let Some(booking) = booking else {
            return Ok(effects);
        };
        if rules.confirm_appointment && booking.ghl_id.is_some() {
            let confirm = Effect::ConfirmAppointment {
                booking_id: booking.id.clone(),
            };
            effects.push(confirm.owed_for_charge(&charge.id, None)?);
        }
        if let Some(contact) = &booking.contact_id {
            if let Some(tag) = &rules.contact_tag {
                let tag = Effect::TagContact {
                    contact_id: contact.clone(),
                    tag: tag.clone(),
                };
                effects.push(tag.owed_for_charge(&charge.id, None)?);
            }
            if rules.contact_note {
                let body = format!("{paid} Cita: {}.", booking.title);
                let note = Effect::NoteContact {
                    contact_id: contact.clone(),
                    body,
                };
                effects.push(note.owed_for_charge(&charge.id, None)?);
            }
        }
        Ok(effects)
    }

    /// Confirms a paid booking's appointment in GHL unless it is already confirmed or over.
    async fn confirm_paid_booking(&self, booking_id: &str) -> Result<(), DeskError> {
        let mut booking = self
            .store
            .booking(booking_id)
            .await?
            .ok_or_else(|| DeskError::NotFound("booking".into()))?;
        let Some(ghl_id) = booking.ghl_id.clone() else {
            return Ok(());
        };
        if matches!(
            booking.status.as_str(),
            "confirmed"
                | "cancelled"
                | "showed"
                | "noshow"
                | "invalid"
                | crate::ghl_events::DELETED
        ) {
            return Ok(());
        }
        self.scheduler.confirm_appointment(&ghl_id).await?;
        booking.status = "confirmed".into();
        booking.version = self.store.update_booking(&booking).await?;
        Ok(())
    }

    /// What is still owed to the providers for a charge, soonest first: staff see each item
    /// with its last error instead of wondering why GHL or MP do not show it yet.
    pub async fn pending_effects(
        &self,
        charge_id: &str,
    ) -> Result<Vec<crate::view::PendingEffect>, DeskError> {
        let charge = self.charge(charge_id).await?;
        Ok(self
            .store
            .pending_outbox(500)
            .await?
            .into_iter()
            .filter(|item| charge_id_of(item).as_deref() == Some(charge.id.as_str()))
            .map(|item| crate::view::PendingEffect {
                kind: item.kind,
                attempts: item.attempts,
                last_error: item.last_error,
                next_attempt_at: crate::time::to_db(item.next_attempt_at),
            })
            .collect())
    }
}

/// The charge an outbox item works for: named in its effect (links, refunds), else (confirm,
/// tag, note, or an item that cannot be read) by its key, `kind:<charge id>`.
fn charge_id_of(item: &OutboxItem) -> Option<String> {
    let named = item.effect().ok();
    match named.as_ref().and_then(Effect::charge_id) {
        Some(id) => Some(id.to_string()),
        None => item
            .idempotency_key
            .rsplit_once(':')
            .map(|(_, id)| id.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_a_fifth() {
        for attempts in 0..12 {
            let b = backoff(attempts).num_milliseconds();
            let base = (30_i64 << attempts.min(7)).min(3600) * 1000;
            assert!(
                b >= base * 4 / 5 && b <= base * 6 / 5,
                "{attempts}: {b} vs {base}"
            );
        }
    }
}
