-- Schema v1 (SQLite). Ids are ULIDs; times are UTC text `YYYY-MM-DDTHH:MM:SS.mmmZ`
-- (fixed width, so text order is time order); money is exact decimal text ("80.00").
CREATE TABLE bookings (
    id               TEXT PRIMARY KEY NOT NULL,
    ghl_id           TEXT UNIQUE,
    location_id      TEXT NOT NULL,
    calendar_id      TEXT NOT NULL,
    contact_id       TEXT,
    patient_name     TEXT NOT NULL,
    title            TEXT NOT NULL,
    status           TEXT NOT NULL,
    sync_state       TEXT NOT NULL,
    starts_at        TEXT NOT NULL,
    ends_at          TEXT NOT NULL,
    assigned_user_id TEXT,
    notes            TEXT,
    source           TEXT NOT NULL,
    ghl_date_added   TEXT,
    ghl_date_updated TEXT,
    idempotency_key  TEXT NOT NULL UNIQUE,
    last_error       TEXT,
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX bookings_starts_at ON bookings (starts_at);

CREATE TABLE charges (
    id            TEXT PRIMARY KEY NOT NULL,
    booking_id    TEXT NOT NULL REFERENCES bookings (id),
    amount        TEXT NOT NULL,
    currency      TEXT NOT NULL,
    description   TEXT NOT NULL,
    preference_id TEXT UNIQUE,
    init_point    TEXT,
    status        TEXT NOT NULL,
    expires_at    TEXT,
    paid_at       TEXT,
    version       INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX charges_booking_id ON charges (booking_id);
CREATE INDEX charges_status ON charges (status);

CREATE TABLE payments (
    mp_payment_id     INTEGER PRIMARY KEY NOT NULL,
    charge_id         TEXT NOT NULL REFERENCES charges (id),
    status            TEXT NOT NULL,
    status_detail     TEXT,
    amount            TEXT NOT NULL,
    currency          TEXT NOT NULL,
    amount_refunded   TEXT NOT NULL,
    method            TEXT,
    date_created      TEXT,
    date_approved     TEXT,
    date_last_updated TEXT,
    raw               TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX payments_charge_id ON payments (charge_id);

CREATE TABLE webhook_inbox (
    id           TEXT PRIMARY KEY NOT NULL,
    provider     TEXT NOT NULL,
    dedupe_key   TEXT NOT NULL UNIQUE,
    received_at  TEXT NOT NULL,
    headers      TEXT NOT NULL,
    query        TEXT NOT NULL,
    body         TEXT NOT NULL,
    processed_at TEXT,
    attempts     INTEGER NOT NULL,
    last_error   TEXT,
    locked_until TEXT
);
CREATE INDEX webhook_inbox_pending ON webhook_inbox (processed_at, received_at);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    next_attempt_at TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT,
    done_at         TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (done_at, next_attempt_at);

CREATE TABLE audit_log (
    id        TEXT PRIMARY KEY NOT NULL,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    summary   TEXT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
