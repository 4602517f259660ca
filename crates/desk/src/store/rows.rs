//! Reading rows back into domain records; a value that does not parse is `Corrupt`.

use super::StoreError;
use crate::model::*;
use crate::money::{Currency, Money};
use crate::time::from_db;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::str::FromStr;

pub(super) const BOOKING_COLUMNS: &str = "id, ghl_id, location_id, calendar_id, contact_id, \
    patient_name, title, status, sync_state, starts_at, ends_at, assigned_user_id, notes, \
    source, ghl_date_added, ghl_date_updated, idempotency_key, last_error, version, \
    created_at, updated_at";

pub(super) const CHARGE_COLUMNS: &str = "id, booking_id, amount, currency, description, \
    preference_id, init_point, status, expires_at, paid_at, version, created_at, updated_at";

pub(super) const PAYMENT_COLUMNS: &str = "mp_payment_id, charge_id, status, status_detail, \
    amount, currency, amount_refunded, method, date_created, date_approved, \
    date_last_updated, raw";

pub(super) const INBOX_COLUMNS: &str =
    "id, provider, dedupe_key, received_at, headers, query, body, attempts";

fn text(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    row.try_get::<String, _>(col)
        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn opt_text(row: &AnyRow, col: &str) -> Result<Option<String>, StoreError> {
    row.try_get::<Option<String>, _>(col)
        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn int(row: &AnyRow, col: &str) -> Result<i64, StoreError> {
    row.try_get::<i64, _>(col)
        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn time(row: &AnyRow, col: &str) -> Result<DateTime<Utc>, StoreError> {
    let s = text(row, col)?;
    from_db(&s).ok_or_else(|| StoreError::Corrupt(format!("{col}: bad time")))
}

fn opt_time(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    match opt_text(row, col)? {
        None => Ok(None),
        Some(s) => from_db(&s)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("{col}: bad time"))),
    }
}

fn decimal(row: &AnyRow, col: &str) -> Result<Decimal, StoreError> {
    let s = text(row, col)?;
    Decimal::from_str(&s).map_err(|_| StoreError::Corrupt(format!("{col}: bad amount")))
}

pub(super) fn booking(row: &AnyRow) -> Result<Booking, StoreError> {
    Ok(Booking {
        id: text(row, "id")?,
        ghl_id: opt_text(row, "ghl_id")?,
        location_id: text(row, "location_id")?,
        calendar_id: text(row, "calendar_id")?,
        contact_id: opt_text(row, "contact_id")?,
        patient_name: text(row, "patient_name")?,
        title: text(row, "title")?,
        status: text(row, "status")?,
        sync: SyncState::parse(&text(row, "sync_state")?)
            .ok_or_else(|| StoreError::Corrupt("sync_state".into()))?,
        starts_at: time(row, "starts_at")?,
        ends_at: time(row, "ends_at")?,
        assigned_user_id: opt_text(row, "assigned_user_id")?,
        notes: opt_text(row, "notes")?,
        source: text(row, "source")?,
        ghl_date_added: opt_text(row, "ghl_date_added")?,
        ghl_date_updated: opt_text(row, "ghl_date_updated")?,
        idempotency_key: text(row, "idempotency_key")?,
        last_error: opt_text(row, "last_error")?,
        version: int(row, "version")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(super) fn charge(row: &AnyRow) -> Result<Charge, StoreError> {
    let currency = Currency::from_str(&text(row, "currency")?).map_err(StoreError::Corrupt)?;
    Ok(Charge {
        id: text(row, "id")?,
        booking_id: text(row, "booking_id")?,
        money: Money::reported(decimal(row, "amount")?, currency),
        description: text(row, "description")?,
        preference_id: opt_text(row, "preference_id")?,
        init_point: opt_text(row, "init_point")?,
        status: ChargeStatus::parse(&text(row, "status")?)
            .ok_or_else(|| StoreError::Corrupt("charge status".into()))?,
        expires_at: opt_time(row, "expires_at")?,
        paid_at: opt_time(row, "paid_at")?,
        version: int(row, "version")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(super) const DESK_PAYMENT_COLUMNS: &str = "desk_method, desk_reference, desk_by, desk_at";

/// The desk payment columns of a charge row; `None` when it was not paid at the desk.
pub(super) fn desk_payment(row: &AnyRow) -> Result<Option<DeskPayment>, StoreError> {
    let Some(method) = opt_text(row, "desk_method")? else {
        return Ok(None);
    };
    let method = DeskMethod::parse(&method)
        .ok_or_else(|| StoreError::Corrupt("desk payment method".into()))?;
    Ok(Some(DeskPayment {
        method,
        reference: opt_text(row, "desk_reference")?,
        recorded_by: opt_text(row, "desk_by")?.unwrap_or_default(),
        recorded_at: opt_time(row, "desk_at")?
            .ok_or_else(|| StoreError::Corrupt("desk payment time".into()))?,
    }))
}

pub(super) fn payment(row: &AnyRow) -> Result<Payment, StoreError> {
    Ok(Payment {
        mp_payment_id: int(row, "mp_payment_id")?,
        charge_id: text(row, "charge_id")?,
        status: text(row, "status")?,
        status_detail: opt_text(row, "status_detail")?,
        amount: decimal(row, "amount")?,
        currency: text(row, "currency")?,
        amount_refunded: decimal(row, "amount_refunded")?,
        method: opt_text(row, "method")?,
        date_created: opt_time(row, "date_created")?,
        date_approved: opt_time(row, "date_approved")?,
        date_last_updated: opt_time(row, "date_last_updated")?,
        raw: text(row, "raw")?,
    })
}

pub(super) fn inbox(row: &AnyRow) -> Result<InboxDelivery, StoreError> {
    Ok(InboxDelivery {
        id: text(row, "id")?,
        provider: text(row, "provider")?,
        dedupe_key: text(row, "dedupe_key")?,
        received_at: time(row, "received_at")?,
        headers: text(row, "headers")?,
        query: text(row, "query")?,
        body: text(row, "body")?,
        attempts: int(row, "attempts")?,
    })
}

pub(super) const OUTBOX_COLUMNS: &str =
    "id, kind, payload, idempotency_key, next_attempt_at, attempts, last_error";

pub(super) fn outbox(row: &AnyRow) -> Result<OutboxItem, StoreError> {
    Ok(OutboxItem {
        id: text(row, "id")?,
        kind: text(row, "kind")?,
        payload: text(row, "payload")?,
        idempotency_key: text(row, "idempotency_key")?,
        next_attempt_at: time(row, "next_attempt_at")?,
        attempts: int(row, "attempts")?,
        last_error: opt_text(row, "last_error")?,
    })
}

pub(super) fn audit(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        actor: text(row, "actor")?,
        action: text(row, "action")?,
        entity: text(row, "entity")?,
        entity_id: text(row, "entity_id")?,
        summary: text(row, "summary")?,
    })
}
