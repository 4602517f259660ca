//! The webhook inbox: a verified delivery is stored before it is answered, and a worker
//! drains the inbox by re-reading each payment from MP's API. Re-processing is harmless:
//! the outcome depends only on what MP's API says, applied monotonically.

use crate::charge_status::derive_settled;
use crate::desk::Desk;
use crate::error::DeskError;
use crate::events::DeskEvent;
use crate::model::*;
use crate::ports::ReportedPayment;
use crate::store::StoreError;
use crate::time::now;
use mercadopago::webhook::Notification;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// How long a worker holds a delivery before another may take it.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Deliveries taken per pass.
const BATCH: i64 = 32;

/// A webhook the listener verified, as it arrived.
#[derive(Debug, Clone)]
pub struct IncomingWebhook {
    /// `mp` (signed), `mp_ipn` (unsigned legacy format) or `ghl`.
    pub provider: &'static str,
    pub query: String,
    pub body: Vec<u8>,
    /// What makes this delivery distinct, and alone does: the duplicate key is this and the
    /// provider (e.g. MP's `data.id`, `x-request-id` and `ts`).
    pub delivery_id: String,
}

/// What accepting a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Stored,
    /// The same delivery was already stored; nothing new to do.
    Duplicate,
}

impl Desk {
    /// Stores a verified delivery and wakes the worker. An error means it was NOT stored and
    /// the provider must be told to retry.
    pub async fn accept_webhook(&self, hook: IncomingWebhook) -> Result<Accepted, DeskError> {
        // The listener names what makes a delivery distinct (`delivery_id`, built from
        // verified fields only); the query is not part of it, so parameters appended to a
        // captured request cannot make it look new.
        let mut hasher = Sha256::new();
        for part in [hook.provider.as_bytes(), hook.delivery_id.as_bytes()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let dedupe_key = format!("{}:{}", hook.provider, hex::encode(hasher.finalize()));
        let delivery = InboxDelivery {
            id: new_id(),
            provider: hook.provider.to_string(),
            dedupe_key,
            received_at: now(),
            headers: serde_json::json!({ "delivery": hook.delivery_id }).to_string(),
            query: hook.query,
            body: String::from_utf8_lossy(&hook.body).into_owned(),
            attempts: 0,
        };
        let stored = self.store.insert_inbox(&delivery).await?;
        self.inbox_wake.notify_one();
        Ok(if stored {
            Accepted::Stored
        } else {
            Accepted::Duplicate
        })
    }

    /// Processes what is due in the inbox; returns how many deliveries were finished.
    pub async fn drain_inbox(&self) -> Result<usize, DeskError> {
        self.release_held_leases().await?;
        let mut finished = 0;
        loop {
            let at = now();
            let batch = self.store.claim_inbox(at, at + LEASE, BATCH).await?;
            if batch.is_empty() {
                return Ok(finished);
            }
            // MP announces one payment many times (created, updated, IPN copies, retries):
            // a payment re-read once in this batch is current for every delivery naming it.
            let mut synced = std::collections::HashSet::new();
            for (i, delivery) in batch.iter().enumerate() {
                let payment = mp_payment_of(delivery);
                let outcome = match payment {
                    Some(id) if synced.contains(&id) => Ok(()),
                    Some(id) => self.sync_payment(id).await.inspect(|_| {
                        synced.insert(id);
                    }),
                    None => self.process(delivery).await,
                };
                let recorded = match outcome {
                    Ok(()) => {
                        finished += 1;
                        self.store.finish_inbox(&delivery.id, now()).await
                    }
                    Err(e) => {
                        let wait = backoff(delivery.attempts);
                        tracing::warn!(
                            delivery = %delivery.id,
                            attempts = delivery.attempts,
                            code = ?e.code(),
                            "delivery processing failed; will retry"
                        );
                        self.store
                            .fail_inbox(&delivery.id, &e.public_message(), now() + wait)
                            .await
                    }
                };
                if let Err(e) = recorded {
                    // Storage is gone: this delivery and the rest of the batch keep their
                    // lease. Release them as soon as storage is back, not a lease later.
                    self.held_leases
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend(batch[i..].iter().map(|d| d.id.clone()));
                    return Err(e.into());
                }
            }
        }
    }

    /// Releases the deliveries a failed pass could not (see `drain_inbox`).
    async fn release_held_leases(&self) -> Result<(), DeskError> {
        let held = std::mem::take(&mut *self.held_leases.lock().unwrap_or_else(|p| p.into_inner()));
        for (i, id) in held.iter().enumerate() {
            if let Err(e) = self
                .store
                .fail_inbox(id, "released after a storage failure", now())
                .await
            {
                self.held_leases
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(held[i..].iter().cloned());
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Runs the inbox worker until the task is dropped: drains on every wake-up, and at least
    /// every `every` so retries fall due.
    pub async fn run_inbox_worker(self: Arc<Self>, every: Duration) {
        loop {
            if let Err(e) = self.drain_inbox().await {
                tracing::warn!(code = ?e.code(), "inbox pass failed");
            }
            let _ = tokio::time::timeout(every, self.inbox_wake.notified()).await;
        }
    }

    /// Processes one delivery that names no MP payment (GHL events, other MP topics).
    async fn process(&self, d: &InboxDelivery) -> Result<(), DeskError> {
        match d.provider.as_str() {
            "mp" | "mp_ipn" => {
                let Some(n) = Notification::parse(&d.query, d.body.as_bytes()) else {
                    tracing::info!(delivery = %d.id, "MP delivery names no resource; ignored");
                    return Ok(());
                };
                // Deliveries naming a payment were synced by `drain_inbox` (`mp_payment_of`).
                tracing::info!(delivery = %d.id, topic = n.topic(), "MP topic ignored");
                Ok(())
            }
            "ghl" => self.apply_ghl_event(d.body.as_bytes()).await,
            other => {
                tracing::info!(delivery = %d.id, provider = other, "no processor; ignored");
                Ok(())
            }
        }
    }

    /// Re-reads one payment from MP and applies it to its charge.
    pub async fn sync_payment(&self, payment_id: i64) -> Result<(), DeskError> {
        let reported = match self.payments.payment(payment_id).await {
            Ok(p) => p,
            // MP does not know it (a forged IPN, another account's id): nothing to apply.
            Err(DeskError::NotFound(_)) => {
                tracing::info!(
                    payment = payment_id,
                    "notification for a payment MP does not know; ignored"
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Some(charge_id) = reported.external_reference.clone() else {
            tracing::info!(
                payment = payment_id,
                "payment without external_reference; not ours"
            );
            return Ok(());
        };
        if self.store.charge(&charge_id).await?.is_none() {
            tracing::info!(
                payment = payment_id,
                "payment for an unknown charge; ignored"
            );
            return Ok(());
        }
        self.apply_payments(&charge_id, vec![reported]).await
    }

    /// Asks MP for every payment of a charge and applies them ("check now", reconciler).
    pub async fn refresh_charge(&self, charge_id: &str) -> Result<Charge, DeskError> {
        let reported = self.payments.payments_for(charge_id).await?;
        let reported = reported
            .into_iter()
            .filter(|p| p.external_reference.as_deref() == Some(charge_id))
            .collect();
        self.apply_payments(charge_id, reported).await?;
        self.charge(charge_id).await
    }

    /// Merges payments read from MP into the charge, in one transaction, retrying when a
    /// concurrent writer got there first.
    async fn apply_payments(
        &self,
        charge_id: &str,
        reported: Vec<ReportedPayment>,
    ) -> Result<(), DeskError> {
        for _ in 0..3 {
            let charge = self.charge(charge_id).await?;
            let known = self.store.payments_of_charge(charge_id).await?;
            let changed: Vec<Payment> = reported
                .iter()
                .filter_map(|r| fresher(r, charge_id, &known))
                .collect();
            let mut all: Vec<Payment> = known
                .iter()
                .filter(|k| !changed.iter().any(|c| c.mp_payment_id == k.mp_payment_id))
                .cloned()
                .collect();
            all.extend(changed.iter().cloned());
            // A charge paid at the desk keeps that rule after it went to review.
            let paid_at_desk = matches!(
                charge.status,
                ChargeStatus::PaidAtDesk | ChargeStatus::NeedsReview
            ) && self.store.desk_payment(charge_id).await?.is_some();
            let derived = derive_settled(&charge, paid_at_desk, &all);
            if changed.is_empty() && derived.status == charge.status {
                return Ok(());
            }
            let mut next = charge.clone();
            next.status = derived.status;
            if derived.status == ChargeStatus::Paid && next.paid_at.is_none() {
                next.paid_at = derived
                    .paying_payment
                    .and_then(|id| all.iter().find(|p| p.mp_payment_id == id))
                    .and_then(|p| p.date_approved)
                    .or(Some(now()));
            }
            let audit = (next.status != charge.status).then(|| AuditEntry {
                actor: "webhook".into(),
                action: format!("charge.{}", next.status.as_str()),
                entity: "charge".into(),
                entity_id: charge.id.clone(),
                summary: derived.review_reason.clone().unwrap_or_else(|| {
                    format!("{} -> {}", charge.status.as_str(), next.status.as_str())
                }),
            });
            let effects =
                if next.status == ChargeStatus::Paid && charge.status != ChargeStatus::Paid {
                    self.after_payment_effects(&next, derived.paying_payment)
                        .await?
                } else {
                    Vec::new()
                };
            match self
                .store
                .record_payments(&changed, &next, audit.as_ref(), &effects)
                .await
            {
                Ok(_) => {
                    if !effects.is_empty() {
                        self.outbox_wake.notify_one();
                    }
                    if next.status != charge.status {
                        tracing::info!(
                            charge = %charge.id,
                            from = charge.status.as_str(),
                            to = next.status.as_str(),
                            "charge status changed"
                        );
                        self.events.emit(DeskEvent::ChargeUpdated {
                            charge_id: charge.id.clone(),
                            booking_id: charge.booking_id.clone(),
                            status: next.status.as_str().to_string(),
                        });
                    }
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(DeskError::Conflict(
            "the charge kept changing; will retry".into(),
        ))
    }
}

/// The reported payment as a record, unless what we hold is as new or newer (a stale read
/// never overwrites a fresher one).
fn fresher(r: &ReportedPayment, charge_id: &str, known: &[Payment]) -> Option<Payment> {
    if let Some(k) = known.iter().find(|k| k.mp_payment_id == r.id) {
        let same = k.status == r.status
            && k.amount_refunded == r.amount_refunded
            && k.status_detail == r.status_detail;
        let older = match (k.date_last_updated, r.date_last_updated) {
            (Some(kept), Some(read)) => read < kept,
            _ => false,
        };
        if same || older {
            return None;
        }
    }
    Some(Payment {
        mp_payment_id: r.id,
        charge_id: charge_id.to_string(),
        status: r.status.clone(),
        status_detail: r.status_detail.clone(),
        amount: r.amount,
        currency: r.currency.clone(),
        amount_refunded: r.amount_refunded,
        method: r.method.clone(),
        date_created: r.date_created,
        date_approved: r.date_approved,
        date_last_updated: r.date_last_updated,
        raw: r.raw.clone(),
    })
}

/// 2^attempts seconds, capped at an hour.
fn backoff(attempts: i64) -> chrono::Duration {
    let secs = 1_i64 << attempts.clamp(0, 12);
    chrono::Duration::seconds(secs.min(3600))
}

/// The MP payment a delivery names, when it names one.
fn mp_payment_of(d: &InboxDelivery) -> Option<i64> {
    if !matches!(d.provider.as_str(), "mp" | "mp_ipn") {
        return None;
    }
    Notification::parse(&d.query, d.body.as_bytes()).and_then(|n| n.payment_id())
}
