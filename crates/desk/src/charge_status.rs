//! A charge's status, derived from the payments MP's API reports for it — never from a
//! webhook body. Pure functions: the rules of money, testable without I/O.

use crate::model::{Charge, ChargeStatus, Payment};
use rust_decimal::Decimal;

/// What the payments say about a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub status: ChargeStatus,
    /// The approved payment that paid it, when exactly one did.
    pub paying_payment: Option<i64>,
    /// Why the charge needs a person, when it does.
    pub review_reason: Option<String>,
}

/// Statuses MP uses for money that reached the clinic (even if later disputed).
fn counts_as_paid(status: &str) -> bool {
    matches!(status, "approved" | "in_mediation")
}

/// Statuses MP uses for money that came back.
fn counts_as_reversed(status: &str) -> bool {
    matches!(status, "refunded" | "charged_back")
}

/// Derives the status of `charge` from `payments` (all payments MP reports for it).
///
/// Rules: an approved payment must match the charge's amount and currency, else the charge
/// needs review; two approvals need review (a refund is owed); refunds and chargebacks after
/// approval are applied; rejected or pending attempts leave the charge open. A charge that
/// was never opened, was cancelled or expired keeps that status unless money arrived anyway,
/// which needs review. A charge paid at the desk follows [`derive_settled`].
pub fn derive(charge: &Charge, payments: &[Payment]) -> Derived {
    derive_settled(charge, charge.status == ChargeStatus::PaidAtDesk, payments)
}

/// [`derive()`], told whether the charge was paid at the desk (its desk payment is stored,
/// whatever its status now). Such a charge stays `paid_at_desk` while MP holds no money for
/// it; an MP payment that is approved (or in mediation, or only partly refunded) on top of
/// the desk's money needs review — the charge is never counted as paid twice. When that MP
/// payment is refunded in full or charged back, the desk payment stands again.
pub fn derive_settled(charge: &Charge, paid_at_desk: bool, payments: &[Payment]) -> Derived {
    if paid_at_desk {
        if let Some(p) = payments.iter().find(|p| counts_as_paid(&p.status)) {
            return review(format!(
                "payment {} reached MP for a charge already paid at the desk: refund one of them",
                p.mp_payment_id
            ));
        }
        return Derived {
            status: ChargeStatus::PaidAtDesk,
            paying_payment: None,
            review_reason: None,
        };
    }
    let matches_charge = |p: &Payment| {
        p.currency == charge.money.currency().code() && p.amount == charge.money.amount()
    };
    let money_arrived: Vec<&Payment> = payments
        .iter()
        .filter(|p| counts_as_paid(&p.status) || counts_as_reversed(&p.status))
        .collect();

    if let Some(p) = money_arrived.iter().find(|p| !matches_charge(p)) {
        return review(format!(
            "payment {} is {} {} but the charge is {}",
            p.mp_payment_id, p.amount, p.currency, charge.money
        ));
    }
    let approved: Vec<&&Payment> = money_arrived
        .iter()
        .filter(|p| counts_as_paid(&p.status))
        .collect();
    if approved.len() > 1 {
        return review(format!(
            "{} approved payments for one charge: refund the extra ones",
            approved.len()
        ));
    }
    if let Some(p) = approved.first() {
        if matches!(
            charge.status,
            ChargeStatus::Cancelled | ChargeStatus::Expired
        ) {
            return review(format!(
                "payment {} arrived after the charge was {}",
                p.mp_payment_id,
                charge.status.as_str()
            ));
        }
        let status = if p.amount_refunded > Decimal::ZERO {
            if p.amount_refunded >= p.amount {
                ChargeStatus::Refunded
            } else {
                ChargeStatus::PartiallyRefunded
            }
        } else {
            ChargeStatus::Paid
        };
        return Derived {
            status,
            paying_payment: Some(p.mp_payment_id),
            review_reason: None,
        };
    }
    if let Some(p) = money_arrived.first() {
        // Only reversed payments: the money came and went.
        let status = if p.status == "charged_back" {
            ChargeStatus::ChargedBack
        } else {
            ChargeStatus::Refunded
        };
        return Derived {
            status,
            paying_payment: Some(p.mp_payment_id),
            review_reason: None,
        };
    }
    let status = match charge.status {
        ChargeStatus::Draft
        | ChargeStatus::Expired
        | ChargeStatus::Cancelled
        | ChargeStatus::NeedsReview
        | ChargeStatus::PaidAtDesk => charge.status,
        _ => ChargeStatus::Open,
    };
    Derived {
        status,
        paying_payment: None,
        review_reason: None,
    }
}

fn review(reason: String) -> Derived {
    Derived {
        status: ChargeStatus::NeedsReview,
        paying_payment: None,
        review_reason: Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use crate::time::now;
    use std::str::FromStr;

    fn charge(amount: &str) -> Charge {
        Charge {
            id: "C1".into(),
            booking_id: "B1".into(),
            money: Money::parse_charge(amount, Currency::Pen).unwrap(),
            description: "Consulta".into(),
            preference_id: Some("p".into()),
            init_point: Some("https://x".into()),
            status: ChargeStatus::Open,
            expires_at: None,
            paid_at: None,
            version: 1,
            created_at: now(),
            updated_at: now(),
        }
    }

    fn payment(id: i64, status: &str, amount: &str, currency: &str, refunded: &str) -> Payment {
        Payment {
            mp_payment_id: id,
            charge_id: "C1".into(),
            status: status.into(),
            status_detail: None,
            amount: Decimal::from_str(amount).unwrap(),
            currency: currency.into(),
            amount_refunded: Decimal::from_str(refunded).unwrap(),
            method: None,
            date_created: None,
            date_approved: None,
            date_last_updated: None,
            raw: "{}".into(),
        }
    }

    #[test]
    fn a_matching_approval_pays_the_charge() {
        let d = derive(
            &charge("500.00"),
            &[payment(1, "approved", "500", "PEN", "0")],
        );
        assert_eq!(d.status, ChargeStatus::Paid);
        assert_eq!(d.paying_payment, Some(1));
    }

    #[test]
    fn an_underpaid_approval_needs_review_never_paid() {
        let d = derive(
            &charge("500.00"),
            &[payment(1, "approved", "0.01", "PEN", "0")],
        );
        assert_eq!(d.status, ChargeStatus::NeedsReview);
    }

    #[test]
    fn a_currency_mismatch_needs_review() {
        let d = derive(
            &charge("500.00"),
            &[payment(1, "approved", "500", "USD", "0")],
        );
        assert_eq!(d.status, ChargeStatus::NeedsReview);
    }

    #[test]
    fn a_rejected_attempt_then_an_approval_is_paid_in_either_order() {
        let rejected = payment(1, "rejected", "80", "PEN", "0");
        let approved = payment(2, "approved", "80", "PEN", "0");
        let c = charge("80");
        assert_eq!(
            derive(&c, &[rejected.clone(), approved.clone()]).status,
            ChargeStatus::Paid
        );
        assert_eq!(derive(&c, &[approved, rejected]).status, ChargeStatus::Paid);
    }

    #[test]
    fn two_approvals_need_review() {
        let c = charge("80");
        let d = derive(
            &c,
            &[
                payment(1, "approved", "80", "PEN", "0"),
                payment(2, "approved", "80", "PEN", "0"),
            ],
        );
        assert_eq!(d.status, ChargeStatus::NeedsReview);
    }

    #[test]
    fn refunds_after_approval_are_applied() {
        let c = charge("80");
        assert_eq!(
            derive(&c, &[payment(1, "approved", "80", "PEN", "30")]).status,
            ChargeStatus::PartiallyRefunded
        );
        assert_eq!(
            derive(&c, &[payment(1, "refunded", "80", "PEN", "80")]).status,
            ChargeStatus::Refunded
        );
        assert_eq!(
            derive(&c, &[payment(1, "charged_back", "80", "PEN", "0")]).status,
            ChargeStatus::ChargedBack
        );
    }

    #[test]
    fn only_failed_attempts_leave_the_charge_open() {
        let c = charge("80");
        let d = derive(
            &c,
            &[
                payment(1, "rejected", "80", "PEN", "0"),
                payment(2, "pending", "80", "PEN", "0"),
            ],
        );
        assert_eq!(d.status, ChargeStatus::Open);
    }

    fn at_desk(c: &Charge) -> Charge {
        let mut c = c.clone();
        c.status = ChargeStatus::PaidAtDesk;
        c
    }

    #[test]
    fn a_charge_paid_at_the_desk_stays_so_while_mp_holds_no_money() {
        let c = at_desk(&charge("80"));
        for payments in [
            vec![],
            vec![payment(1, "rejected", "80", "PEN", "0")],
            vec![payment(1, "pending", "80", "PEN", "0")],
        ] {
            let d = derive(&c, &payments);
            assert_eq!(d.status, ChargeStatus::PaidAtDesk);
            assert_eq!(d.paying_payment, None);
        }
    }

    #[test]
    fn an_mp_approval_for_a_charge_paid_at_the_desk_needs_review_never_paid_twice() {
        let c = at_desk(&charge("80"));
        for status in ["approved", "in_mediation"] {
            let d = derive(&c, &[payment(1, status, "80", "PEN", "0")]);
            assert_eq!(d.status, ChargeStatus::NeedsReview, "{status}");
            assert!(d.review_reason.unwrap().contains("desk"));
        }
        // Partly refunded: MP still holds money on top of the desk's.
        let d = derive(&c, &[payment(1, "approved", "80", "PEN", "30")]);
        assert_eq!(d.status, ChargeStatus::NeedsReview);
    }

    #[test]
    fn a_charge_paid_at_the_desk_stays_in_review_whatever_its_status_says() {
        // Once in review, the stored status no longer says "desk": the desk payment does.
        let mut c = charge("80");
        c.status = ChargeStatus::NeedsReview;
        let approved = [payment(1, "approved", "80", "PEN", "0")];
        assert_eq!(
            derive_settled(&c, true, &approved).status,
            ChargeStatus::NeedsReview
        );
        // Without a desk payment the same approval pays the charge (the MP-only rule).
        assert_eq!(
            derive_settled(&c, false, &approved).status,
            ChargeStatus::Paid
        );
    }

    #[test]
    fn an_mp_payment_refunded_in_full_leaves_the_desk_payment_standing() {
        let mut c = charge("80");
        c.status = ChargeStatus::NeedsReview;
        for status in ["refunded", "charged_back"] {
            let d = derive_settled(&c, true, &[payment(1, status, "80", "PEN", "80")]);
            assert_eq!(d.status, ChargeStatus::PaidAtDesk, "{status}");
        }
    }

    #[test]
    fn money_for_a_cancelled_charge_needs_review() {
        let mut c = charge("80");
        c.status = ChargeStatus::Cancelled;
        let d = derive(&c, &[payment(1, "approved", "80", "PEN", "0")]);
        assert_eq!(d.status, ChargeStatus::NeedsReview);
    }
}
