//! Cancelling a booking (DESIGN §4, "Cancel"): GHL's appointment is cancelled, an unpaid
//! link is expired so it can no longer be paid, and a paid charge needs staff's refund
//! decision — none, partial or full. A refund is an outbox row whose key is also MP's
//! `X-Idempotency-Key`, so however often it is tried, MP refunds once.
//!
//! The unpaid hold lives here too: a booking still unpaid `unpaid_hold` after it was made is
//! cancelled the same way, but only once its link is expired and MP confirms no payment
//! slipped in.

use crate::desk::Desk;
use crate::effect::{Effect, REFUND};
use crate::error::DeskError;
use crate::ghl_events::DELETED;
use crate::model::*;
use crate::money::Money;
use crate::store::StoreError;
use crate::time::now;
use crate::view::BookingView;
use rust_decimal::Decimal;

/// What staff decided about the money of a paid booking they cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundDecision {
    /// Keep the money (a late-cancellation fee, a rebooking later).
    None,
    /// Refund this much (decimal text as typed), at most what is left of the payment.
    Partial(String),
    /// Refund everything not yet refunded.
    Full,
}

impl RefundDecision {
    /// `none`, `full`, or an amount such as `25.00`.
    pub fn parse(text: &str) -> Result<Self, DeskError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" => Err(DeskError::validation(
                "refund",
                "choose none, full or an amount",
            )),
            "none" | "ninguno" => Ok(RefundDecision::None),
            "full" | "total" => Ok(RefundDecision::Full),
            amount => {
                // A plain positive decimal; the currency's scale is checked against the charge.
                let plain = amount.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && amount.bytes().filter(|b| *b == b'.').count() <= 1
                    && amount.len() <= 16;
                match amount.parse::<Decimal>() {
                    Ok(a) if plain && a > Decimal::ZERO => {
                        Ok(RefundDecision::Partial(amount.to_string()))
                    }
                    _ => Err(DeskError::validation(
                        "refund",
                        "none, full, or a positive amount such as 25.00",
                    )),
                }
            }
        }
    }
}

/// One refund to ask MP for.
#[derive(Debug, Clone, PartialEq)]
struct PlannedRefund {
    payment_id: i64,
    /// `None`: all that remains.
    amount: Option<Decimal>,
}

fn is_over(status: &str) -> bool {
    status == "cancelled" || status == DELETED
}

/// Charges that hold the patient's money.
fn holds_money(status: ChargeStatus) -> bool {
    matches!(
        status,
        ChargeStatus::Paid | ChargeStatus::PartiallyRefunded | ChargeStatus::NeedsReview
    )
}

impl Desk {
    /// Cancels a booking at staff's (or an API caller's) request. A paid booking needs
    /// `decision`; without one nothing changes and the error names the `refund` field.
    /// Cancelling again is harmless: a refund already asked for is never asked twice.
    pub async fn cancel_booking(
        &self,
        booking_id: &str,
        decision: Option<RefundDecision>,
        actor: &str,
    ) -> Result<BookingView, DeskError> {
        if let Some(RefundDecision::Partial(text)) = &decision {
            Money::parse_charge(text, self.clinic.currency)
                .map_err(|e| DeskError::validation("refund", e.to_string()))?;
        }
        let booking = self
            .store
            .booking(booking_id)
            .await?
            .ok_or_else(|| DeskError::NotFound("booking".into()))?;
        let charge = self.store.charge_of_booking(&booking.id).await?;
        // Everything about the money is checked before anything changes.
        let refunds = match &charge {
            Some(c) if holds_money(c.status) => match &decision {
                None => {
                    return Err(DeskError::validation(
                        "refund",
                        "the booking is paid: choose no refund, a partial or a full refund",
                    ));
                }
                Some(d) => {
                    let planned = self.plan_refunds(c, d).await?;
                    self.check_not_asked_otherwise(&planned).await?;
                    Some(planned)
                }
            },
            _ => None,
        };
        let booking = self.cancel_in_calendar(booking, actor).await?;
        let Some(charge) = charge else {
            return self.view_of(&booking).await;
        };
        match refunds {
            Some(planned) if planned.is_empty() => {
                self.audit(
                    actor,
                    "charge.refund_declined",
                    "charge",
                    &charge.id,
                    "none",
                )
                .await;
            }
            Some(planned) => self.queue_refunds(&charge, &planned, actor).await?,
            None => self.close_unpaid(&charge).await?,
        }
        self.view_of(&booking).await
    }

    /// The compat API's cancel: by GHL id, the refund decision optional (without one, a
    /// paid charge stays paid and is flagged for staff, as a cancel made in GHL would be).
    pub async fn cancel_by_ghl_id(
        &self,
        ghl_id: &str,
        decision: Option<RefundDecision>,
    ) -> Result<Booking, DeskError> {
        let booking = self
            .store
            .booking_by_ghl_id(ghl_id)
            .await?
            .ok_or_else(|| DeskError::NotFound("appointment".into()))?;
        let charge = self.store.charge_of_booking(&booking.id).await?;
        let paid = charge.as_ref().is_some_and(|c| holds_money(c.status));
        if paid && decision.is_none() {
            let booking = self.cancel_in_calendar(booking, "api").await?;
            self.end_charge_of(&booking, "api").await?;
            return Ok(booking);
        }
        self.cancel_booking(&booking.id, decision, "api").await?;
        self.store
            .booking(&booking.id)
            .await?
            .ok_or_else(|| DeskError::NotFound("appointment".into()))
    }

    /// Refunds a paid charge without cancelling its booking (an overpayment, a second
    /// approval that `needs_review`).
    pub async fn refund_charge(
        &self,
        charge_id: &str,
        decision: RefundDecision,
        actor: &str,
    ) -> Result<Charge, DeskError> {
        let charge = self.charge(charge_id).await?;
        if !holds_money(charge.status) {
            return Err(DeskError::Conflict(
                "this charge holds no payment to refund".into(),
            ));
        }
        let planned = self.plan_refunds(&charge, &decision).await?;
        self.check_not_asked_otherwise(&planned).await?;
        if planned.is_empty() {
            return Err(DeskError::validation("refund", "choose full or an amount"));
        }
        self.queue_refunds(&charge, &planned, actor).await?;
        self.charge(charge_id).await
    }

    /// Which payments to refund and how much, validated against what MP reported.
    async fn plan_refunds(
        &self,
        charge: &Charge,
        decision: &RefundDecision,
    ) -> Result<Vec<PlannedRefund>, DeskError> {
        let payments = self.store.payments_of_charge(&charge.id).await?;
        let refundable: Vec<&Payment> = payments
            .iter()
            .filter(|p| p.status == "approved" && p.amount_refunded < p.amount)
            .collect();
        match decision {
            RefundDecision::None => Ok(Vec::new()),
            RefundDecision::Full => {
                if refundable.is_empty() {
                    return Err(DeskError::Conflict(
                        "nothing left to refund on this charge".into(),
                    ));
                }
                Ok(refundable
                    .iter()
                    .map(|p| PlannedRefund {
                        payment_id: p.mp_payment_id,
                        amount: None,
                    })
                    .collect())
            }
            RefundDecision::Partial(text) => {
                let money = Money::parse_charge(text, charge.money.currency())
                    .map_err(|e| DeskError::validation("refund", e.to_string()))?;
                // The payment that matches the charge is the one a partial refund comes from.
                let from = refundable
                    .iter()
                    .find(|p| p.amount == charge.money.amount())
                    .or(refundable.first())
                    .ok_or_else(|| {
                        DeskError::Conflict("nothing left to refund on this charge".into())
                    })?;
                let left = from.amount - from.amount_refunded;
                if money.amount() > left {
                    return Err(DeskError::validation(
                        "refund",
                        format!("at most {left} can be refunded"),
                    ));
                }
                // A partial refund of everything left is a full one: MP then says `refunded`.
                let amount = (money.amount() < left).then(|| money.amount());
                Ok(vec![PlannedRefund {
                    payment_id: from.mp_payment_id,
                    amount,
                }])
            }
        }
    }

    /// A refund already asked for a payment is asked once: the same request again is a
    /// harmless repeat, a different one is refused before anything changes.
    async fn check_not_asked_otherwise(&self, planned: &[PlannedRefund]) -> Result<(), DeskError> {
        for r in planned {
            let Some(earlier) = self.store.outbox_item(&refund_key(r.payment_id)).await? else {
                continue;
            };
            // An earlier request that cannot be read is not known to be the same one.
            let same = match earlier.effect() {
                Ok(Effect::Refund { amount, .. }) => amount == r.amount,
                _ => false,
            };
            if !same {
                return Err(DeskError::Conflict(format!(
                    "a refund of payment {} was already requested; make further refunds in \
                     Mercado Pago",
                    r.payment_id
                )));
            }
        }
        Ok(())
    }

    /// Queues each refund (once per payment, ever) and performs it now if MP answers.
    async fn queue_refunds(
        &self,
        charge: &Charge,
        planned: &[PlannedRefund],
        actor: &str,
    ) -> Result<(), DeskError> {
        for r in planned {
            let refund = Effect::Refund {
                charge_id: charge.id.clone(),
                payment_id: r.payment_id,
                amount: r.amount,
            };
            let item = refund.owed(refund_key(r.payment_id), None)?;
            if self.store.enqueue(&item).await? {
                let summary = match r.amount {
                    Some(a) => format!("payment {} partial {a}", r.payment_id),
                    None => format!("payment {} full", r.payment_id),
                };
                self.audit(
                    actor,
                    "charge.refund_requested",
                    "charge",
                    &charge.id,
                    &summary,
                )
                .await;
            }
        }
        // Staff wait for the answer; the outbox worker retries whatever fails now.
        self.drain_outbox().await?;
        Ok(())
    }

    /// Performs one queued refund (`key` is its outbox key, also MP's idempotency key). MP's
    /// idempotency key makes a repeat harmless; a payment already fully refunded needs nothing.
    pub(crate) async fn refund_now(
        &self,
        charge_id: &str,
        payment_id: i64,
        amount: Option<Decimal>,
        key: &str,
    ) -> Result<(), DeskError> {
        let current = self.payments.payment(payment_id).await?;
        if current.status != "refunded" {
            self.payments.refund(payment_id, amount, key).await?;
        }
        self.audit(
            "outbox",
            "charge.refund",
            "charge",
            charge_id,
            &format!("payment {payment_id}"),
        )
        .await;
        // The new status comes from MP's own answer (applying it tells the screens); a failure
        // here is the reconciler's.
        match self.refresh_charge(charge_id).await {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(charge = charge_id, code = ?e.code(), "refund done; charge not refreshed yet")
            }
        }
        Ok(())
    }

    /// Cancels the appointment in GHL (unless already over there) and here.
    async fn cancel_in_calendar(
        &self,
        mut booking: Booking,
        actor: &str,
    ) -> Result<Booking, DeskError> {
        if is_over(&booking.status) {
            return Ok(booking);
        }
        let mut date_updated = None;
        match (&booking.ghl_id, booking.sync) {
            (Some(ghl_id), _) => {
                let remote = self.scheduler.cancel_appointment(ghl_id).await?;
                date_updated = remote.date_updated;
            }
            (None, SyncState::Pending) => {
                return Err(DeskError::Conflict(
                    "the booking is still being created; try again in a moment".into(),
                ));
            }
            (None, _) => {} // GHL refused it: nothing exists there.
        }
        for _ in 0..3 {
            if !is_over(&booking.status) {
                booking.status = "cancelled".into();
                if date_updated.is_some() {
                    // Our own change: its echo from GHL, no newer than this, changes nothing.
                    booking.ghl_date_updated = date_updated.clone();
                }
            }
            match self.store.update_booking(&booking).await {
                Ok(v) => {
                    booking.version = v;
                    self.audit(
                        actor,
                        "booking.cancel",
                        "booking",
                        &booking.id,
                        &booking.title,
                    )
                    .await;
                    return Ok(booking);
                }
                // An echo or a webhook got there first: read again and reapply.
                Err(StoreError::Conflict(_)) => {
                    booking = self
                        .store
                        .booking(&booking.id)
                        .await?
                        .ok_or_else(|| DeskError::NotFound("booking".into()))?;
                    if is_over(&booking.status) {
                        return Ok(booking);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DeskError::Conflict(
            "the booking kept changing; try again".into(),
        ))
    }

    /// The appointment is over (cancelled or deleted, here or in GHL): an unpaid link must not
    /// stay payable, and money already paid waits for staff's refund decision.
    pub(crate) async fn end_charge_of(
        &self,
        booking: &Booking,
        actor: &str,
    ) -> Result<(), DeskError> {
        let Some(charge) = self.store.charge_of_booking(&booking.id).await? else {
            return Ok(());
        };
        if holds_money(charge.status) {
            self.audit(
                actor,
                "charge.refund_decision_needed",
                "charge",
                &charge.id,
                "appointment cancelled after payment",
            )
            .await;
            return Ok(());
        }
        self.close_unpaid(&charge).await
    }

    /// An unpaid charge of a cancelled booking: a draft is cancelled; an open link is
    /// expired now, or by the outbox when MP does not answer.
    async fn close_unpaid(&self, charge: &Charge) -> Result<(), DeskError> {
        match charge.status {
            ChargeStatus::Draft | ChargeStatus::Open => {}
            _ => return Ok(()),
        }
        if charge.status == ChargeStatus::Draft {
            let mut c = charge.clone();
            c.status = ChargeStatus::Cancelled;
            match self.store.update_charge(&c).await {
                Ok(v) => {
                    c.version = v;
                    self.emit_charge(&c);
                    return Ok(());
                }
                // The link was created meanwhile: expire it below.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Err(e) = self.expire_link_now(&charge.id).await {
            if matches!(e, DeskError::DbUnavailable) {
                return Err(e);
            }
            self.owe_link_expiry(&charge.id, &e).await?;
        }
        Ok(())
    }

    /// One pass of the unpaid hold: bookings unpaid for longer than the clinic allows are
    /// released. Returns how many were released.
    pub async fn expire_unpaid_holds(&self) -> Result<usize, DeskError> {
        let Some(hold) = self.clinic.unpaid_hold else {
            return Ok(0);
        };
        let hold = chrono::Duration::from_std(hold).unwrap_or(chrono::Duration::days(7));
        let cutoff = now() - hold;
        let waiting = self
            .store
            .charges_with_status(&[ChargeStatus::Draft, ChargeStatus::Open], 200)
            .await?;
        let mut released = 0;
        for charge in waiting.into_iter().filter(|c| c.created_at <= cutoff) {
            match self.release_hold(charge).await {
                Ok(true) => released += 1,
                Ok(false) => {}
                Err(DeskError::DbUnavailable) => return Err(DeskError::DbUnavailable),
                Err(e) => {
                    tracing::warn!(code = ?e.code(), "unpaid hold not released yet");
                }
            }
        }
        Ok(released)
    }

    /// Expires the link first, so nobody can pay while the appointment is being cancelled;
    /// then asks MP once more, and only a charge still unpaid loses its appointment.
    async fn release_hold(&self, charge: Charge) -> Result<bool, DeskError> {
        if charge.status == ChargeStatus::Open
            && let Some(pref) = &charge.preference_id
        {
            self.payments.expire_link(pref).await?;
        }
        let charge = if charge.preference_id.is_some() {
            self.refresh_charge(&charge.id).await?
        } else {
            charge
        };
        if !matches!(charge.status, ChargeStatus::Draft | ChargeStatus::Open) {
            return Ok(false); // Paid (or otherwise settled) after all.
        }
        let booking = self
            .store
            .booking(&charge.booking_id)
            .await?
            .ok_or_else(|| DeskError::NotFound("booking".into()))?;
        if booking.sync == SyncState::Pending {
            return Ok(false);
        }
        self.cancel_in_calendar(booking, "hold").await?;
        let mut expired = charge;
        expired.status = ChargeStatus::Expired;
        expired.version = self.store.update_charge(&expired).await?;
        self.audit(
            "hold",
            "charge.expired",
            "charge",
            &expired.id,
            "unpaid hold ended",
        )
        .await;
        self.emit_charge(&expired);
        Ok(true)
    }
}

/// The refund's own id: the outbox key and MP's `X-Idempotency-Key` (one refund request per
/// payment from Mostrador; further refunds are made in MP's panel and seen by polling).
fn refund_key(payment_id: i64) -> String {
    format!("{REFUND}:{payment_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_parse_in_both_languages() {
        assert_eq!(RefundDecision::parse("none").unwrap(), RefundDecision::None);
        assert_eq!(
            RefundDecision::parse("Ninguno").unwrap(),
            RefundDecision::None
        );
        assert_eq!(RefundDecision::parse("FULL").unwrap(), RefundDecision::Full);
        assert_eq!(
            RefundDecision::parse("total").unwrap(),
            RefundDecision::Full
        );
        assert_eq!(
            RefundDecision::parse(" 12.50 ").unwrap(),
            RefundDecision::Partial("12.50".into())
        );
        for bad in [
            "  ",
            "-5",
            "0",
            "0.00",
            "NaN",
            "1e3",
            "12,50",
            "'; DROP TABLE x",
            "\u{202e}",
        ] {
            assert!(RefundDecision::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_refund_key_fits_mp_limits() {
        let key = refund_key(i64::MAX);
        assert!(key.len() <= 64);
        assert!(key.chars().all(|c| c.is_ascii_graphic()));
    }
}
