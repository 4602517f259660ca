-- Schema v1 (MySQL/MariaDB). Same columns and meaning as migrations/sqlite: ids are ULIDs,
-- times UTC text `YYYY-MM-DDTHH:MM:SS.mmmZ`, money exact decimal text.
CREATE TABLE bookings (
    id               VARCHAR(26) NOT NULL PRIMARY KEY,
    ghl_id           VARCHAR(64) NULL UNIQUE,
    location_id      VARCHAR(64) NOT NULL,
    calendar_id      VARCHAR(64) NOT NULL,
    contact_id       VARCHAR(64) NULL,
    patient_name     VARCHAR(200) NOT NULL,
    title            VARCHAR(200) NOT NULL,
    status           VARCHAR(32) NOT NULL,
    sync_state       VARCHAR(16) NOT NULL,
    starts_at        CHAR(24) NOT NULL,
    ends_at          CHAR(24) NOT NULL,
    assigned_user_id VARCHAR(64) NULL,
    notes            TEXT NULL,
    source           VARCHAR(32) NOT NULL,
    ghl_date_added   VARCHAR(40) NULL,
    ghl_date_updated VARCHAR(40) NULL,
    idempotency_key  VARCHAR(128) NOT NULL UNIQUE,
    last_error       TEXT NULL,
    version          BIGINT NOT NULL,
    created_at       CHAR(24) NOT NULL,
    updated_at       CHAR(24) NOT NULL,
    INDEX bookings_starts_at (starts_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE charges (
    id            VARCHAR(26) NOT NULL PRIMARY KEY,
    booking_id    VARCHAR(26) NOT NULL,
    amount        VARCHAR(40) NOT NULL,
    currency      CHAR(3) NOT NULL,
    description   VARCHAR(256) NOT NULL,
    preference_id VARCHAR(128) NULL UNIQUE,
    init_point    VARCHAR(1024) NULL,
    status        VARCHAR(32) NOT NULL,
    expires_at    CHAR(24) NULL,
    paid_at       CHAR(24) NULL,
    version       BIGINT NOT NULL,
    created_at    CHAR(24) NOT NULL,
    updated_at    CHAR(24) NOT NULL,
    INDEX charges_booking_id (booking_id),
    INDEX charges_status (status),
    CONSTRAINT charges_booking_fk FOREIGN KEY (booking_id) REFERENCES bookings (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE payments (
    mp_payment_id     BIGINT NOT NULL PRIMARY KEY,
    charge_id         VARCHAR(26) NOT NULL,
    status            VARCHAR(32) NOT NULL,
    status_detail     VARCHAR(128) NULL,
    amount            VARCHAR(40) NOT NULL,
    currency          CHAR(3) NOT NULL,
    amount_refunded   VARCHAR(40) NOT NULL,
    method            VARCHAR(64) NULL,
    date_created      VARCHAR(40) NULL,
    date_approved     VARCHAR(40) NULL,
    date_last_updated VARCHAR(40) NULL,
    raw               MEDIUMTEXT NOT NULL,
    created_at        CHAR(24) NOT NULL,
    updated_at        CHAR(24) NOT NULL,
    INDEX payments_charge_id (charge_id),
    CONSTRAINT payments_charge_fk FOREIGN KEY (charge_id) REFERENCES charges (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE webhook_inbox (
    id           VARCHAR(26) NOT NULL PRIMARY KEY,
    provider     VARCHAR(16) NOT NULL,
    dedupe_key   VARCHAR(191) NOT NULL UNIQUE,
    received_at  CHAR(24) NOT NULL,
    headers      TEXT NOT NULL,
    query        TEXT NOT NULL,
    body         MEDIUMTEXT NOT NULL,
    processed_at CHAR(24) NULL,
    attempts     BIGINT NOT NULL,
    last_error   TEXT NULL,
    locked_until CHAR(24) NULL,
    INDEX webhook_inbox_pending (processed_at, received_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE outbox (
    id              VARCHAR(26) NOT NULL PRIMARY KEY,
    kind            VARCHAR(64) NOT NULL,
    payload         TEXT NOT NULL,
    idempotency_key VARCHAR(191) NOT NULL UNIQUE,
    next_attempt_at CHAR(24) NOT NULL,
    attempts        BIGINT NOT NULL,
    last_error      TEXT NULL,
    done_at         CHAR(24) NULL,
    created_at      CHAR(24) NOT NULL,
    INDEX outbox_due (done_at, next_attempt_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE audit_log (
    id        VARCHAR(26) NOT NULL PRIMARY KEY,
    at        CHAR(24) NOT NULL,
    actor     VARCHAR(64) NOT NULL,
    action    VARCHAR(64) NOT NULL,
    entity    VARCHAR(32) NOT NULL,
    entity_id VARCHAR(64) NOT NULL,
    summary   TEXT NOT NULL,
    INDEX audit_log_entity (entity, entity_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
