//! Payment at the desk ("pago en caja"): the patient pays cash, by card on the clinic's POS
//! or by transfer instead of through the MP link. The link is expired first and MP is asked
//! once more, so a charge MP already holds money for is never settled a second time; an MP
//! payment that arrives afterwards anyway puts the charge in review
//! ([`crate::charge_status::derive_settled`]).

use crate::desk::Desk;
use crate::error::DeskError;
use crate::model::{AuditEntry, Charge, ChargeStatus, DeskMethod, DeskPayment};
use crate::store::StoreError;
use crate::time::now;
use crate::view::BookingView;

/// The longest reference staff may type (a voucher or operation number, not a note).
pub const MAX_REFERENCE_CHARS: usize = 100;

/// A desk payment as asked for, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskPaymentRequest {
    pub method: DeskMethod,
    pub reference: Option<String>,
}

impl DeskPaymentRequest {
    /// Reads `method` (`cash`, `card`, `transfer`) and the optional `reference` (trimmed;
    /// empty means none). Bad input is `VALIDATION` on the field it names.
    pub fn parse(method: &str, reference: Option<&str>) -> Result<Self, DeskError> {
        let method = DeskMethod::parse(method.trim()).ok_or_else(|| {
            DeskError::validation("method", "the method must be cash, card or transfer")
        })?;
        let reference = reference.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reference {
            if r.chars().count() > MAX_REFERENCE_CHARS {
                return Err(DeskError::validation(
                    "reference",
                    format!("the reference has at most {MAX_REFERENCE_CHARS} characters"),
                ));
            }
            if r.chars().any(char::is_control) {
                return Err(DeskError::validation(
                    "reference",
                    "the reference must be one line of text",
                ));
            }
        }
        Ok(DeskPaymentRequest {
            method,
            reference: reference.map(str::to_string),
        })
    }
}

/// Whether MP's money is (or was) on the charge: it was paid through MP.
fn paid_through_mp(status: ChargeStatus) -> bool {
    matches!(
        status,
        ChargeStatus::Paid
            | ChargeStatus::PartiallyRefunded
            | ChargeStatus::Refunded
            | ChargeStatus::ChargedBack
            | ChargeStatus::NeedsReview
    )
}

impl Desk {
    /// Records that the charge `id` (a charge id, or the id of its booking) was paid at the
    /// desk by `actor`. Only a `draft` or `open` charge can be; its MP link is expired first
    /// (now, or by the outbox when MP does not answer) and MP is asked once more: a payment MP
    /// already has wins, and the answer is `CONFLICT`. Then the charge is `paid_at_desk`, and
    /// the appointment is confirmed and the contact tagged and noted as for an MP payment.
    pub async fn record_desk_payment(
        &self,
        id: &str,
        method: &str,
        reference: Option<&str>,
        actor: &str,
    ) -> Result<BookingView, DeskError> {
        let request = DeskPaymentRequest::parse(method, reference)?;
        let charge = self.charge_by_own_or_booking_id(id).await?;
        ensure_unpaid(&charge)?;
        if charge.status == ChargeStatus::Open
            && let Some(pref) = &charge.preference_id
            && let Err(e) = self.payments.expire_link(pref).await
        {
            self.owe_link_expiry(&charge.id, &e).await?;
        }
        // MP once more: a payment made before the link expired is MP's, not the desk's.
        let (charge, mp_checked) = match self.refresh_charge(&charge.id).await {
            Ok(c) => (c, true),
            Err(DeskError::DbUnavailable) => return Err(DeskError::DbUnavailable),
            Err(e) => {
                // The desk holds the money now; should MP report a payment later, the charge
                // goes to review rather than being counted twice.
                tracing::warn!(charge = %charge.id, code = ?e.code(), "MP not asked; recording anyway");
                (self.charge(&charge.id).await?, false)
            }
        };
        if paid_through_mp(charge.status) {
            self.emit_charge(&charge);
            return Err(DeskError::Conflict(
                "Mercado Pago already has a payment for this charge: it was paid through Mercado Pago, not at the desk".into(),
            ));
        }
        ensure_unpaid(&charge)?;
        let desk = DeskPayment {
            method: request.method,
            reference: request.reference,
            recorded_by: actor.to_string(),
            recorded_at: now(),
        };
        let mut next = charge.clone();
        next.status = ChargeStatus::PaidAtDesk;
        next.paid_at = Some(desk.recorded_at);
        let audit = AuditEntry {
            actor: actor.into(),
            action: "charge.paid_at_desk".into(),
            entity: "charge".into(),
            entity_id: charge.id.clone(),
            summary: format!(
                "{} -> paid_at_desk: {} {}{}{}",
                charge.status.as_str(),
                next.money,
                desk.method.as_str(),
                desk.reference
                    .as_deref()
                    .map(|r| format!(", ref. {r}"))
                    .unwrap_or_default(),
                if mp_checked {
                    ""
                } else {
                    " (MP not reachable to check)"
                }
            ),
        };
        let effects = self
            .after_payment_effects_noting(&next, desk_note(&next, &desk))
            .await?;
        match self
            .store
            .record_desk_payment(&next, &desk, &audit, &effects)
            .await
        {
            Ok(v) => next.version = v,
            Err(StoreError::Conflict(_)) => {
                return Err(DeskError::Conflict(
                    "the charge changed meanwhile; look at it again before recording".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(charge = %next.id, method = desk.method.as_str(), "charge paid at the desk");
        if !effects.is_empty() {
            self.outbox_wake.notify_one();
        }
        self.emit_charge(&next);
        self.booking_view(&next.booking_id).await
    }

    /// The charge `id` names, or the (newest) charge of the booking `id` names.
    async fn charge_by_own_or_booking_id(&self, id: &str) -> Result<Charge, DeskError> {
        let id = id.trim();
        if let Some(c) = self.store.charge(id).await? {
            return Ok(c);
        }
        self.store
            .charge_of_booking(id)
            .await?
            .ok_or_else(|| DeskError::NotFound("charge".into()))
    }

    /// The desk payment of a charge, when it was paid at the desk.
    pub async fn desk_payment(&self, charge_id: &str) -> Result<Option<DeskPayment>, DeskError> {
        Ok(self.store.desk_payment(charge_id).await?)
    }
}

/// Only a charge with no money seen can be settled at the desk.
fn ensure_unpaid(charge: &Charge) -> Result<(), DeskError> {
    match charge.status {
        ChargeStatus::Draft | ChargeStatus::Open => Ok(()),
        other => Err(DeskError::Conflict(format!(
            "the charge is {}: only an unpaid charge can be paid at the desk",
            other.as_str()
        ))),
    }
}

/// The GHL contact note for a desk payment, in the clinic's words.
fn desk_note(charge: &Charge, desk: &DeskPayment) -> String {
    format!(
        "Pago recibido: {} (pago en caja ({}){}).",
        charge.money,
        desk.method.spanish(),
        desk.reference
            .as_deref()
            .map(|r| format!(", ref. {r}"))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_references_are_validated_on_their_fields() {
        let ok = DeskPaymentRequest::parse(" card ", Some("  OP-123 ")).unwrap();
        assert_eq!(ok.method, DeskMethod::Card);
        assert_eq!(ok.reference.as_deref(), Some("OP-123"));
        assert_eq!(
            DeskPaymentRequest::parse("cash", Some("   "))
                .unwrap()
                .reference,
            None
        );
        let field = |r: Result<DeskPaymentRequest, DeskError>| match r {
            Err(DeskError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(DeskPaymentRequest::parse("yape", None)), "method");
        assert_eq!(field(DeskPaymentRequest::parse("", None)), "method");
        let long = "ñ".repeat(101);
        assert_eq!(
            field(DeskPaymentRequest::parse("cash", Some(&long))),
            "reference"
        );
        assert!(DeskPaymentRequest::parse("cash", Some(&"ñ".repeat(100))).is_ok());
        assert_eq!(
            field(DeskPaymentRequest::parse("cash", Some("a\nb"))),
            "reference"
        );
    }
}
