//! Storage: the [`Store`] trait the domain writes through, and [`SqlStore`], its one
//! implementation over SQLite (embedded default) or MySQL/MariaDB (shared clinic database).
//!
//! Both dialects run the same SQL: it sticks to what both accept (`?` placeholders, text
//! times, decimal text money, insert-then-catch-unique instead of upsert syntax). What
//! differs — DDL and connection set-up — lives in `migrations/{sqlite,mysql}` and in
//! [`sql::Dialect`]. The conformance suite (`tests/store_conformance.rs`) proves the two
//! behave the same.

mod rows;
pub mod sql;

pub use sql::{Dialect, SqlStore};

use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Why storage failed. Messages carry no secrets and no patient data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is locked; try again later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or optimistic-concurrency conflict.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored row cannot be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Other(String),
}

/// A day of the agenda: each booking with its charge, if any.
pub type AgendaRow = (Booking, Option<Charge>);

/// Everything the domain stores.
#[async_trait]
pub trait Store: Send + Sync {
    /// Answers when the database does.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new booking and its draft charge in one transaction. A second booking with
    /// the same idempotency key is a `Conflict`, and stores nothing.
    async fn insert_booking(&self, booking: &Booking, charge: &Charge) -> Result<(), StoreError>;
    /// Stores a booking that comes with no charge (one imported from GHL).
    async fn insert_booking_only(&self, booking: &Booking) -> Result<(), StoreError>;
    async fn booking(&self, id: &str) -> Result<Option<Booking>, StoreError>;
    async fn booking_by_idempotency_key(&self, key: &str) -> Result<Option<Booking>, StoreError>;
    async fn booking_by_ghl_id(&self, ghl_id: &str) -> Result<Option<Booking>, StoreError>;
    /// The latest bookings by start time, newest first.
    async fn recent_bookings(&self, limit: i64) -> Result<Vec<Booking>, StoreError>;
    /// Writes a booking if nobody else did since it was read (`version`); returns the new version.
    async fn update_booking(&self, booking: &Booking) -> Result<i64, StoreError>;
    /// Bookings starting in `[from, to)`, earliest first, with their charges.
    async fn agenda(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AgendaRow>, StoreError>;

    async fn charge(&self, id: &str) -> Result<Option<Charge>, StoreError>;
    async fn charge_of_booking(&self, booking_id: &str) -> Result<Option<Charge>, StoreError>;
    /// Adds a charge to an existing booking.
    async fn insert_charge(&self, charge: &Charge) -> Result<(), StoreError>;
    /// The latest charges by last change, newest first.
    async fn recent_charges(&self, limit: i64) -> Result<Vec<Charge>, StoreError>;
    /// Writes a charge if unchanged since read (`version`); returns the new version.
    async fn update_charge(&self, charge: &Charge) -> Result<i64, StoreError>;
    /// Charges in any of these statuses (for the reconciler and the outbox).
    async fn charges_with_status(
        &self,
        statuses: &[ChargeStatus],
        limit: i64,
    ) -> Result<Vec<Charge>, StoreError>;

    /// The desk payment of a charge, when it was paid at the desk.
    async fn desk_payment(&self, charge_id: &str) -> Result<Option<DeskPayment>, StoreError>;
    /// In one transaction: writes the charge (version-checked) with its desk payment, an
    /// audit line, and queues the side effects it owes (skipping keys already queued).
    /// Returns the charge's new version.
    async fn record_desk_payment(
        &self,
        charge: &Charge,
        desk: &DeskPayment,
        audit: &AuditEntry,
        effects: &[OutboxItem],
    ) -> Result<i64, StoreError>;

    async fn payments_of_charge(&self, charge_id: &str) -> Result<Vec<Payment>, StoreError>;
    /// In one transaction: inserts or replaces the payments, writes the charge
    /// (version-checked), an audit line, and queues the side effects this change owes
    /// (skipping any whose idempotency key is already queued).
    async fn record_payments(
        &self,
        payments: &[Payment],
        charge: &Charge,
        audit: Option<&AuditEntry>,
        effects: &[OutboxItem],
    ) -> Result<i64, StoreError>;

    /// Stores a delivery; `false` when one with the same dedupe key is already stored.
    async fn insert_inbox(&self, delivery: &InboxDelivery) -> Result<bool, StoreError>;
    /// Leases up to `limit` unprocessed deliveries until `lease_until`.
    async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<InboxDelivery>, StoreError>;
    async fn finish_inbox(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Releases a delivery to be retried after `retry_at`, keeping the error for staff.
    async fn fail_inbox(
        &self,
        id: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// (stored, processed) counts.
    async fn inbox_counts(&self) -> Result<(i64, i64), StoreError>;
    /// The newest deliveries stored, newest first (what arrived, as stored).
    async fn recent_inbox(&self, limit: i64) -> Result<Vec<InboxDelivery>, StoreError>;
    /// Deletes deliveries processed before `before`; unprocessed ones are kept whatever
    /// their age. Returns how many were deleted.
    async fn purge_processed_inbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Empties the raw provider JSON (payer names, emails, card data) of payments last
    /// updated before `before`, keeping every typed column the audit trail needs (status,
    /// amounts, method, dates). Returns how many were emptied.
    async fn forget_payment_payloads(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Ends every inbox lease, so unprocessed deliveries are taken at once. Only for a
    /// database one process owns, when that process starts: the leases are its previous
    /// run's, which died holding them. Returns how many were released.
    async fn release_inbox_leases(&self) -> Result<u64, StoreError>;
    /// Makes every unfinished outbox item due at `now` (its lease or backoff ended), for the
    /// same single-owner start as [`Store::release_inbox_leases`]. Returns how many.
    async fn release_outbox_leases(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Queues a side effect; `false` when its idempotency key is already queued.
    async fn enqueue(&self, item: &OutboxItem) -> Result<bool, StoreError>;
    /// Leases up to `limit` due, unfinished items until `lease_until` (their next attempt
    /// time doubles as the lease, so no extra column is needed).
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxItem>, StoreError>;
    async fn finish_outbox(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Keeps the error for staff and schedules the next attempt.
    async fn fail_outbox(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The item queued under `idempotency_key`, finished or not.
    async fn outbox_item(&self, idempotency_key: &str) -> Result<Option<OutboxItem>, StoreError>;
    /// Unfinished items, soonest first (what staff see as "pending").
    async fn pending_outbox(&self, limit: i64) -> Result<Vec<OutboxItem>, StoreError>;
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    async fn audit_of(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditEntry>, StoreError>;
}
