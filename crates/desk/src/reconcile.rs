//! The reconciler: what webhooks missed, polling finds. It asks MP for the payments of every
//! charge still waiting (and of recently paid ones, for refunds and chargebacks) through the
//! same code path as a webhook, so with no public URL at all the app is still correct, only
//! slower.

use crate::booking::Desk;
use crate::error::DeskError;
use crate::model::ChargeStatus;
use std::sync::Arc;
use std::time::Duration;

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

    /// Reconciles on start and then every `every`, until the task is dropped.
    pub async fn run_reconciler(self: Arc<Self>, every: Duration) {
        loop {
            match self.reconcile_payments().await {
                Ok(r) if r.checked + r.failed > 0 => {
                    tracing::info!(
                        checked = r.checked,
                        failed = r.failed,
                        "reconciled payments"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(code = ?e.code(), "reconcile pass failed"),
            }
            tokio::time::sleep(every).await;
        }
    }
}
