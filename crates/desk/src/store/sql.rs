//! [`SqlStore`]: the [`Store`] over sqlx's `Any` driver, one code path for SQLite and MySQL.

use super::rows::{
    self, BOOKING_COLUMNS, CHARGE_COLUMNS, DESK_PAYMENT_COLUMNS, INBOX_COLUMNS, OUTBOX_COLUMNS,
    PAYMENT_COLUMNS,
};
use super::{AgendaRow, Store, StoreError};
use crate::model::*;
use crate::time::{now, to_db};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::{AnyPool, AssertSqlSafe, Executor};
use std::path::Path;
use std::time::Duration;

/// The two databases Mostrador runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    MySql,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/mysql");

/// Storage over a pooled SQLite file or MySQL/MariaDB database.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Runs `sql`, whose only parameter is its `LIMIT ?`, and reads each row with `read`.
    async fn rows_up_to<T>(
        &self,
        sql: String,
        limit: i64,
        read: fn(&sqlx::any::AnyRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(read)
            .collect()
    }

    /// Opens (creating if needed) the embedded SQLite file, in WAL mode, and migrates it.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::connect(&url).await
    }

    /// Opens a `sqlite:` or `mysql:` URL (`DATABASE_URL`) and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_migrated(url, None).await
    }

    /// Opens `url` migrated only up to `version`: a database as an older Mostrador left it,
    /// for upgrade tests.
    #[cfg(any(test, feature = "testing"))]
    pub async fn connect_at_version(url: &str, version: i64) -> Result<Self, StoreError> {
        Self::connect_migrated(url, Some(version)).await
    }

    async fn connect_migrated(url: &str, up_to: Option<i64>) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Dialect::MySql
        } else {
            return Err(StoreError::Other(
                "DATABASE_URL must start with sqlite: or mysql:".into(),
            ));
        };
        let url = url.replacen("mariadb:", "mysql:", 1);
        let options = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 4,
                Dialect::MySql => 8,
            })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    let setup: &[&'static str] = match dialect {
                        Dialect::Sqlite => &[
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA foreign_keys = ON",
                        ],
                        Dialect::MySql => &["SET SESSION sql_mode = 'STRICT_ALL_TABLES'"],
                    };
                    for stmt in setup {
                        conn.execute(*stmt).await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await.map_err(map_err)?;
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::MySql => &MYSQL_MIGRATIONS,
        };
        match up_to {
            None => migrator.run(&pool).await,
            Some(version) => migrator.run_to(version, &pool).await,
        }
        .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        Ok(Self { pool, dialect })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The booking whose `column` (a column name from this file, never input) equals `value`.
    async fn booking_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Booking>, StoreError> {
        let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE {column} = ?");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(rows::booking).transpose()
    }

    /// The newest charge whose `column` (a column name from this file) equals `value`.
    async fn charge_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Charge>, StoreError> {
        let sql = format!(
            "SELECT {CHARGE_COLUMNS} FROM charges WHERE {column} = ? ORDER BY created_at DESC, id DESC"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(rows::charge).transpose()
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`IMMEDIATE`):
    /// a deferred transaction that reads and then writes fails with "database is locked" when
    /// another connection wrote in between, and the busy timeout does not cover that case.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::MySql => self.pool.begin().await,
        }
        .map_err(map_err)
    }

    /// Runs one write statement whose only answer is success.
    async fn exec(&self, query: AnyQuery<'_>) -> Result<(), StoreError> {
        query.execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    /// Closes the pool (tests and shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Maps sqlx errors: connection trouble is `Unavailable`, unique violations `Conflict`.
fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict("duplicate key".into())
        }
        sqlx::Error::Database(db) if is_busy(db.message()) => {
            StoreError::Unavailable(db.message().to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

fn is_busy(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("database is locked") || m.contains("busy") || m.contains("gone away")
}

fn expect_one(result: AnyQueryResult, what: &str) -> Result<(), StoreError> {
    if result.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "{what} changed since it was read"
        )))
    }
}

const INSERT_BOOKING: &str = "INSERT INTO bookings (id, ghl_id, location_id, calendar_id, \
    contact_id, patient_name, title, status, sync_state, starts_at, ends_at, assigned_user_id, \
    notes, source, ghl_date_added, ghl_date_updated, idempotency_key, last_error, version, \
    created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const INSERT_CHARGE: &str = "INSERT INTO charges (id, booking_id, amount, currency, description, \
    preference_id, init_point, status, expires_at, paid_at, version, created_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_BOOKING: &str = "UPDATE bookings SET ghl_id = ?, contact_id = ?, patient_name = ?, \
    title = ?, status = ?, sync_state = ?, starts_at = ?, ends_at = ?, assigned_user_id = ?, \
    notes = ?, ghl_date_added = ?, ghl_date_updated = ?, last_error = ?, version = version + 1, \
    updated_at = ? WHERE id = ? AND version = ?";

const UPDATE_CHARGE: &str = "UPDATE charges SET preference_id = ?, init_point = ?, status = ?, \
    expires_at = ?, paid_at = ?, version = version + 1, updated_at = ? \
    WHERE id = ? AND version = ?";

// Both payment statements bind the same values in the same order (see `bind_payment`),
// the insert adding `created_at` last.
const INSERT_PAYMENT: &str = "INSERT INTO payments (charge_id, status, status_detail, amount, \
    currency, amount_refunded, method, date_created, date_approved, date_last_updated, raw, \
    updated_at, mp_payment_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_PAYMENT: &str = "UPDATE payments SET charge_id = ?, status = ?, status_detail = ?, \
    amount = ?, currency = ?, amount_refunded = ?, method = ?, date_created = ?, \
    date_approved = ?, date_last_updated = ?, raw = ?, updated_at = ? WHERE mp_payment_id = ?";

const INSERT_OUTBOX: &str = "INSERT INTO outbox (id, kind, payload, idempotency_key, \
    next_attempt_at, attempts, last_error, done_at, created_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)";

const INSERT_AUDIT: &str = "INSERT INTO audit_log (id, at, actor, action, entity, entity_id, \
    summary) VALUES (?, ?, ?, ?, ?, ?, ?)";

fn opt_time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(to_db)
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        match self.dialect {
            // `SELECT 1` never touches an SQLite file: ask for the write lock instead, so a
            // database another process has locked is reported as unavailable.
            Dialect::Sqlite => self.begin().await?.rollback().await.map_err(map_err)?,
            Dialect::MySql => {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
            }
        }
        Ok(())
    }

    async fn insert_booking(&self, b: &Booking, c: &Charge) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        bind_booking_insert(sqlx::query(INSERT_BOOKING), b)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        bind_charge_insert(sqlx::query(INSERT_CHARGE), c)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn insert_booking_only(&self, b: &Booking) -> Result<(), StoreError> {
        bind_booking_insert(sqlx::query(INSERT_BOOKING), b)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn booking(&self, id: &str) -> Result<Option<Booking>, StoreError> {
        self.booking_where("id", id).await
    }

    async fn booking_by_idempotency_key(&self, key: &str) -> Result<Option<Booking>, StoreError> {
        self.booking_where("idempotency_key", key).await
    }

    async fn booking_by_ghl_id(&self, ghl_id: &str) -> Result<Option<Booking>, StoreError> {
        self.booking_where("ghl_id", ghl_id).await
    }

    async fn recent_bookings(&self, limit: i64) -> Result<Vec<Booking>, StoreError> {
        let sql = format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings ORDER BY starts_at DESC, id DESC LIMIT ?"
        );
        self.rows_up_to(sql, limit, rows::booking).await
    }

    async fn update_booking(&self, b: &Booking) -> Result<i64, StoreError> {
        let result = sqlx::query(UPDATE_BOOKING)
            .bind(&b.ghl_id)
            .bind(&b.contact_id)
            .bind(&b.patient_name)
            .bind(&b.title)
            .bind(&b.status)
            .bind(b.sync.as_str())
            .bind(to_db(b.starts_at))
            .bind(to_db(b.ends_at))
            .bind(&b.assigned_user_id)
            .bind(&b.notes)
            .bind(&b.ghl_date_added)
            .bind(&b.ghl_date_updated)
            .bind(&b.last_error)
            .bind(to_db(now()))
            .bind(&b.id)
            .bind(b.version)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one(result, "booking")?;
        Ok(b.version + 1)
    }

    async fn agenda(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AgendaRow>, StoreError> {
        let sql = format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE starts_at >= ? AND starts_at < ? \
             ORDER BY starts_at, id"
        );
        let found = sqlx::query(AssertSqlSafe(sql))
            .bind(to_db(from))
            .bind(to_db(to))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let bookings = found
            .iter()
            .map(rows::booking)
            .collect::<Result<Vec<_>, _>>()?;
        let charge_sql = format!(
            "SELECT {CHARGE_COLUMNS} FROM charges WHERE booking_id IN \
             (SELECT id FROM bookings WHERE starts_at >= ? AND starts_at < ?)"
        );
        let charges = sqlx::query(AssertSqlSafe(charge_sql))
            .bind(to_db(from))
            .bind(to_db(to))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(rows::charge)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(bookings
            .into_iter()
            .map(|b| {
                let charge = charges.iter().find(|c| c.booking_id == b.id).cloned();
                (b, charge)
            })
            .collect())
    }

    async fn charge(&self, id: &str) -> Result<Option<Charge>, StoreError> {
        self.charge_where("id", id).await
    }

    async fn charge_of_booking(&self, booking_id: &str) -> Result<Option<Charge>, StoreError> {
        self.charge_where("booking_id", booking_id).await
    }

    async fn insert_charge(&self, c: &Charge) -> Result<(), StoreError> {
        bind_charge_insert(sqlx::query(INSERT_CHARGE), c)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn recent_charges(&self, limit: i64) -> Result<Vec<Charge>, StoreError> {
        let sql = format!(
            "SELECT {CHARGE_COLUMNS} FROM charges ORDER BY updated_at DESC, id DESC LIMIT ?"
        );
        self.rows_up_to(sql, limit, rows::charge).await
    }

    async fn update_charge(&self, c: &Charge) -> Result<i64, StoreError> {
        let result = bind_charge_update(sqlx::query(UPDATE_CHARGE), c)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one(result, "charge")?;
        Ok(c.version + 1)
    }

    async fn charges_with_status(
        &self,
        statuses: &[ChargeStatus],
        limit: i64,
    ) -> Result<Vec<Charge>, StoreError> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; statuses.len()].join(", ");
        let sql = format!(
            "SELECT {CHARGE_COLUMNS} FROM charges WHERE status IN ({marks}) \
             ORDER BY updated_at DESC LIMIT ?"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for s in statuses {
            q = q.bind(s.as_str());
        }
        q.bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(rows::charge)
            .collect()
    }

    async fn desk_payment(&self, charge_id: &str) -> Result<Option<DeskPayment>, StoreError> {
        let sql = format!("SELECT {DESK_PAYMENT_COLUMNS} FROM charges WHERE id = ?");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(charge_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(row.as_ref().map(rows::desk_payment).transpose()?.flatten())
    }

    async fn record_desk_payment(
        &self,
        charge: &Charge,
        desk: &DeskPayment,
        audit: &AuditEntry,
        effects: &[OutboxItem],
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE charges SET desk_method = ?, desk_reference = ?, desk_by = ?, desk_at = ? \
             WHERE id = ?",
        )
        .bind(desk.method.as_str())
        .bind(&desk.reference)
        .bind(&desk.recorded_by)
        .bind(to_db(desk.recorded_at))
        .bind(&charge.id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        commit_charge(tx, charge, Some(audit), effects, &to_db(now())).await
    }

    async fn payments_of_charge(&self, charge_id: &str) -> Result<Vec<Payment>, StoreError> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE charge_id = ? ORDER BY mp_payment_id"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(charge_id)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(rows::payment)
            .collect()
    }

    async fn record_payments(
        &self,
        payments: &[Payment],
        charge: &Charge,
        audit: Option<&AuditEntry>,
        effects: &[OutboxItem],
    ) -> Result<i64, StoreError> {
        let at = to_db(now());
        let mut tx = self.begin().await?;
        for p in payments {
            let exists = sqlx::query("SELECT 1 FROM payments WHERE mp_payment_id = ?")
                .bind(p.mp_payment_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
                .is_some();
            let q = if exists {
                bind_payment(sqlx::query(UPDATE_PAYMENT), p, &at)
            } else {
                bind_payment(sqlx::query(INSERT_PAYMENT), p, &at).bind(&at)
            };
            q.execute(&mut *tx).await.map_err(map_err)?;
        }
        commit_charge(tx, charge, audit, effects, &at).await
    }

    async fn insert_inbox(&self, d: &InboxDelivery) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO webhook_inbox (id, provider, dedupe_key, received_at, headers, query, \
             body, processed_at, attempts, last_error, locked_until) \
             VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, NULL, NULL)",
        )
        .bind(&d.id)
        .bind(&d.provider)
        .bind(&d.dedupe_key)
        .bind(to_db(d.received_at))
        .bind(&d.headers)
        .bind(&d.query)
        .bind(&d.body)
        .execute(&self.pool)
        .await;
        match result.map_err(map_err) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<InboxDelivery>, StoreError> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} FROM webhook_inbox WHERE processed_at IS NULL \
             AND (locked_until IS NULL OR locked_until < ?) ORDER BY received_at, id LIMIT ?"
        );
        let candidates = sqlx::query(AssertSqlSafe(sql))
            .bind(to_db(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(rows::inbox)
            .collect::<Result<Vec<_>, _>>()?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for mut d in candidates {
            // Another worker may have leased it between the read and now: only one wins.
            let result = sqlx::query(
                "UPDATE webhook_inbox SET locked_until = ?, attempts = attempts + 1 \
                 WHERE id = ? AND processed_at IS NULL \
                 AND (locked_until IS NULL OR locked_until < ?)",
            )
            .bind(to_db(lease_until))
            .bind(&d.id)
            .bind(to_db(now))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            if result.rows_affected() == 1 {
                d.attempts += 1;
                claimed.push(d);
            }
        }
        Ok(claimed)
    }

    async fn finish_inbox(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            sqlx::query(
                "UPDATE webhook_inbox SET processed_at = ?, locked_until = NULL, \
                 last_error = NULL WHERE id = ?",
            )
            .bind(to_db(at))
            .bind(id),
        )
        .await
    }

    async fn fail_inbox(
        &self,
        id: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.exec(
            sqlx::query("UPDATE webhook_inbox SET locked_until = ?, last_error = ? WHERE id = ?")
                .bind(to_db(retry_at))
                .bind(error)
                .bind(id),
        )
        .await
    }

    async fn release_inbox_leases(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_inbox SET locked_until = NULL \
             WHERE processed_at IS NULL AND locked_until IS NOT NULL",
        )
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn release_outbox_leases(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET next_attempt_at = ? WHERE done_at IS NULL AND next_attempt_at > ?",
        )
        .bind(to_db(now))
        .bind(to_db(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn inbox_counts(&self) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, COUNT(processed_at) AS processed FROM webhook_inbox",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        use sqlx::Row;
        let total: i64 = row.try_get("total").map_err(map_err)?;
        let processed: i64 = row.try_get("processed").map_err(map_err)?;
        Ok((total, processed))
    }

    async fn recent_inbox(&self, limit: i64) -> Result<Vec<InboxDelivery>, StoreError> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} FROM webhook_inbox ORDER BY received_at DESC, id DESC LIMIT ?"
        );
        self.rows_up_to(sql, limit, rows::inbox).await
    }

    async fn purge_processed_inbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM webhook_inbox WHERE processed_at IS NOT NULL AND processed_at < ?",
        )
        .bind(to_db(before))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn forget_payment_payloads(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done =
            sqlx::query("UPDATE payments SET raw = '{}' WHERE updated_at < ? AND raw <> '{}'")
                .bind(to_db(before))
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn enqueue(&self, item: &OutboxItem) -> Result<bool, StoreError> {
        let at = to_db(now());
        let result = bind_outbox_insert(sqlx::query(INSERT_OUTBOX), item, &at)
            .execute(&self.pool)
            .await;
        match result.map_err(map_err) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE done_at IS NULL AND next_attempt_at <= ? \
             ORDER BY next_attempt_at, id LIMIT ?"
        );
        let due = sqlx::query(AssertSqlSafe(sql))
            .bind(to_db(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(rows::outbox)
            .collect::<Result<Vec<_>, _>>()?;
        let mut claimed = Vec::with_capacity(due.len());
        for mut item in due {
            // Moving next_attempt_at from the value read is the lease: only one worker wins.
            let result = sqlx::query(
                "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1 \
                 WHERE id = ? AND done_at IS NULL AND next_attempt_at = ?",
            )
            .bind(to_db(lease_until))
            .bind(&item.id)
            .bind(to_db(item.next_attempt_at))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            if result.rows_affected() == 1 {
                item.attempts += 1;
                item.next_attempt_at = lease_until;
                claimed.push(item);
            }
        }
        Ok(claimed)
    }

    async fn finish_outbox(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            sqlx::query("UPDATE outbox SET done_at = ?, last_error = NULL WHERE id = ?")
                .bind(to_db(at))
                .bind(id),
        )
        .await
    }

    async fn fail_outbox(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.exec(
            sqlx::query("UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?")
                .bind(to_db(next_attempt_at))
                .bind(error)
                .bind(id),
        )
        .await
    }

    async fn outbox_item(&self, idempotency_key: &str) -> Result<Option<OutboxItem>, StoreError> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE idempotency_key = ?");
        sqlx::query(AssertSqlSafe(sql))
            .bind(idempotency_key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(rows::outbox)
            .transpose()
    }

    async fn pending_outbox(&self, limit: i64) -> Result<Vec<OutboxItem>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE done_at IS NULL \
             ORDER BY next_attempt_at, id LIMIT ?"
        );
        self.rows_up_to(sql, limit, rows::outbox).await
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        bind_audit(sqlx::query(INSERT_AUDIT), entry)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn audit_of(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        sqlx::query(
            "SELECT actor, action, entity, entity_id, summary FROM audit_log \
             WHERE entity = ? AND entity_id = ? ORDER BY id",
        )
        .bind(entity)
        .bind(entity_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(rows::audit)
        .collect()
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Queues, inside `tx`, each effect whose idempotency key is not queued yet.
/// The end every charge write shares: the version-checked charge update, its audit line and
/// the effects it owes, committed with whatever `tx` already holds. Returns the new version.
async fn commit_charge(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    charge: &Charge,
    audit: Option<&AuditEntry>,
    effects: &[OutboxItem],
    at: &str,
) -> Result<i64, StoreError> {
    let result = bind_charge_update(sqlx::query(UPDATE_CHARGE), charge)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    expect_one(result, "charge")?;
    if let Some(a) = audit {
        bind_audit(sqlx::query(INSERT_AUDIT), a)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    queue_new(&mut tx, effects, at).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(charge.version + 1)
}

async fn queue_new(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    effects: &[OutboxItem],
    at: &str,
) -> Result<(), StoreError> {
    for item in effects {
        let queued = sqlx::query("SELECT 1 FROM outbox WHERE idempotency_key = ?")
            .bind(&item.idempotency_key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?
            .is_some();
        if !queued {
            bind_outbox_insert(sqlx::query(INSERT_OUTBOX), item, at)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
        }
    }
    Ok(())
}

fn bind_booking_insert<'q>(q: AnyQuery<'q>, b: &'q Booking) -> AnyQuery<'q> {
    q.bind(&b.id)
        .bind(&b.ghl_id)
        .bind(&b.location_id)
        .bind(&b.calendar_id)
        .bind(&b.contact_id)
        .bind(&b.patient_name)
        .bind(&b.title)
        .bind(&b.status)
        .bind(b.sync.as_str())
        .bind(to_db(b.starts_at))
        .bind(to_db(b.ends_at))
        .bind(&b.assigned_user_id)
        .bind(&b.notes)
        .bind(&b.source)
        .bind(&b.ghl_date_added)
        .bind(&b.ghl_date_updated)
        .bind(&b.idempotency_key)
        .bind(&b.last_error)
        .bind(b.version)
        .bind(to_db(b.created_at))
        .bind(to_db(b.updated_at))
}

fn bind_charge_insert<'q>(q: AnyQuery<'q>, c: &'q Charge) -> AnyQuery<'q> {
    q.bind(&c.id)
        .bind(&c.booking_id)
        .bind(c.money.amount().to_string())
        .bind(c.money.currency().code())
        .bind(&c.description)
        .bind(&c.preference_id)
        .bind(&c.init_point)
        .bind(c.status.as_str())
        .bind(opt_time(c.expires_at))
        .bind(opt_time(c.paid_at))
        .bind(c.version)
        .bind(to_db(c.created_at))
        .bind(to_db(c.updated_at))
}

fn bind_charge_update<'q>(q: AnyQuery<'q>, c: &'q Charge) -> AnyQuery<'q> {
    q.bind(&c.preference_id)
        .bind(&c.init_point)
        .bind(c.status.as_str())
        .bind(opt_time(c.expires_at))
        .bind(opt_time(c.paid_at))
        .bind(to_db(now()))
        .bind(&c.id)
        .bind(c.version)
}

fn bind_payment<'q>(q: AnyQuery<'q>, p: &'q Payment, at: &'q str) -> AnyQuery<'q> {
    q.bind(&p.charge_id)
        .bind(&p.status)
        .bind(&p.status_detail)
        .bind(p.amount.to_string())
        .bind(&p.currency)
        .bind(p.amount_refunded.to_string())
        .bind(&p.method)
        .bind(opt_time(p.date_created))
        .bind(opt_time(p.date_approved))
        .bind(opt_time(p.date_last_updated))
        .bind(&p.raw)
        .bind(at)
        .bind(p.mp_payment_id)
}

fn bind_outbox_insert<'q>(q: AnyQuery<'q>, item: &'q OutboxItem, at: &'q str) -> AnyQuery<'q> {
    q.bind(&item.id)
        .bind(&item.kind)
        .bind(&item.payload)
        .bind(&item.idempotency_key)
        .bind(to_db(item.next_attempt_at))
        .bind(item.attempts)
        .bind(&item.last_error)
        .bind(at)
}

fn bind_audit<'q>(q: AnyQuery<'q>, a: &'q AuditEntry) -> AnyQuery<'q> {
    q.bind(new_id())
        .bind(to_db(now()))
        .bind(&a.actor)
        .bind(&a.action)
        .bind(&a.entity)
        .bind(&a.entity_id)
        .bind(&a.summary)
}
