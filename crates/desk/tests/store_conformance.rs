//! One Store conformance suite, run against SQLite and against a real MySQL/MariaDB:
//! every test gets a fresh database, and both dialects must behave the same.

use chrono::{DateTime, Duration, Utc};
use desk::model::*;
use desk::money::{Currency, Money};
use desk::store::{Store, StoreError};
use desk::testing::TestDb;
use desk::time::now;
use rust_decimal::Decimal;
use std::str::FromStr;
use testkit::Db;

testkit::on_both_databases!(
    given fresh;
    booking_and_charge_are_stored_together_and_read_back_exactly,
    a_second_booking_with_the_same_idempotency_key_stores_nothing,
    a_stale_version_is_a_conflict_and_writes_nothing,
    the_agenda_returns_one_day_in_order_with_charges,
    a_duplicate_inbox_delivery_is_stored_once,
    a_claimed_delivery_is_not_claimed_again_until_its_lease_expires,
    a_failed_delivery_is_retried_after_its_time_and_finished_ones_never,
    payments_and_charge_are_recorded_in_one_transaction,
    a_conflicting_charge_write_rolls_back_its_payments,
    outbox_items_are_unique_by_idempotency_key,
    charges_are_found_by_status,
    due_outbox_items_are_leased_once_and_retried_when_due,
    releasing_inbox_leases_frees_unprocessed_deliveries_only,
    releasing_outbox_leases_makes_unfinished_items_due,
    retention_deletes_old_processed_deliveries_and_empties_old_payment_payloads,
    a_desk_payment_is_stored_with_its_charge_audit_and_effects_in_one_transaction,
    a_stale_desk_payment_is_a_conflict_and_writes_nothing,
    a_database_of_schema_v1_upgrades_and_reads_its_charges_back,
);

/// The first schema: what a database written before desk payments holds.
const SCHEMA_V1: i64 = 20261128000001;

/// A fresh database of `db`'s kind; each test reads its store.
async fn fresh(db: Db) -> TestDb {
    db.open().await
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn booking(key: &str, starts: &str) -> Booking {
    let t = now();
    Booking {
        id: new_id(),
        ghl_id: None,
        location_id: "loc".into(),
        calendar_id: "cal".into(),
        contact_id: Some("contact".into()),
        patient_name: "María José Ñáñez O'Brien".into(),
        title: "Consulta - María".into(),
        status: "new".into(),
        sync: SyncState::Pending,
        starts_at: at(starts),
        ends_at: at(starts) + Duration::minutes(30),
        assigned_user_id: Some("user".into()),
        notes: Some("'; DROP TABLE bookings; --".into()),
        source: "desk".into(),
        ghl_date_added: None,
        ghl_date_updated: None,
        idempotency_key: key.into(),
        last_error: None,
        version: 1,
        created_at: t,
        updated_at: t,
    }
}

fn charge_for(b: &Booking, amount: &str, currency: Currency) -> Charge {
    let t = now();
    Charge {
        id: new_id(),
        booking_id: b.id.clone(),
        money: Money::parse_charge(amount, currency).unwrap(),
        description: "Consulta".into(),
        preference_id: None,
        init_point: None,
        status: ChargeStatus::Draft,
        expires_at: Some(at("2030-01-01T00:00:00.000Z")),
        paid_at: None,
        version: 1,
        created_at: t,
        updated_at: t,
    }
}

fn payment(id: i64, charge: &Charge, status: &str) -> Payment {
    Payment {
        mp_payment_id: id,
        charge_id: charge.id.clone(),
        status: status.into(),
        status_detail: Some("accredited".into()),
        amount: Decimal::from_str("80.00").unwrap(),
        currency: "PEN".into(),
        amount_refunded: Decimal::ZERO,
        method: Some("visa".into()),
        date_created: Some(at("2026-11-28T15:00:00.123Z")),
        date_approved: Some(at("2026-11-28T15:00:01.000Z")),
        date_last_updated: Some(at("2026-11-28T15:00:01.000Z")),
        raw: r#"{"id":1,"payer":{"email":"x@y.z"}}"#.into(),
    }
}

fn delivery(key: &str, received: DateTime<Utc>) -> InboxDelivery {
    InboxDelivery {
        id: new_id(),
        provider: "mp".into(),
        dedupe_key: key.into(),
        received_at: received,
        headers: "{}".into(),
        query: "data.id=1&type=payment".into(),
        body: "{\"type\":\"payment\"}".into(),
        attempts: 0,
    }
}

async fn booking_and_charge_are_stored_together_and_read_back_exactly(db: TestDb) {
    let s: &dyn Store = &db.store;
    s.ping().await.unwrap();
    let b = booking("k1", "2026-11-28T15:00:00.000Z");
    let c = charge_for(&b, "80.5", Currency::Pen);
    s.insert_booking(&b, &c).await.unwrap();
    assert_eq!(s.booking(&b.id).await.unwrap().as_ref(), Some(&b));
    assert_eq!(
        s.booking_by_idempotency_key("k1").await.unwrap().as_ref(),
        Some(&b)
    );
    let read = s.charge(&c.id).await.unwrap().unwrap();
    assert_eq!(read, c);
    assert_eq!(read.money.amount().to_string(), "80.50");
    assert_eq!(s.charge_of_booking(&b.id).await.unwrap(), Some(c));

    let b2 = booking("k-clp", "2026-11-28T16:00:00.000Z");
    let c2 = charge_for(&b2, "15000", Currency::Clp);
    s.insert_booking(&b2, &c2).await.unwrap();
    let read = s.charge(&c2.id).await.unwrap().unwrap();
    assert_eq!(read.money.amount().to_string(), "15000");
    assert_eq!(read.money.currency(), Currency::Clp);
    assert!(s.booking("missing").await.unwrap().is_none());
}

async fn a_second_booking_with_the_same_idempotency_key_stores_nothing(db: TestDb) {
    let s: &dyn Store = &db.store;
    let b = booking("same-key", "2026-11-28T15:00:00.000Z");
    s.insert_booking(&b, &charge_for(&b, "80", Currency::Pen))
        .await
        .unwrap();
    let again = booking("same-key", "2026-11-28T17:00:00.000Z");
    let c = charge_for(&again, "99", Currency::Pen);
    let err = s.insert_booking(&again, &c).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(s.booking(&again.id).await.unwrap().is_none());
    assert!(
        s.charge(&c.id).await.unwrap().is_none(),
        "the charge was rolled back too"
    );
}

async fn a_stale_version_is_a_conflict_and_writes_nothing(db: TestDb) {
    let s: &dyn Store = &db.store;
    let mut b = booking("k", "2026-11-28T15:00:00.000Z");
    s.insert_booking(&b, &charge_for(&b, "80", Currency::Pen))
        .await
        .unwrap();
    let stale = b.clone();
    b.ghl_id = Some("ghl-1".into());
    b.sync = SyncState::Synced;
    b.version = s.update_booking(&b).await.unwrap();
    assert_eq!(b.version, 2);
    let mut late = stale;
    late.patient_name = "Otro".into();
    assert!(matches!(
        s.update_booking(&late).await,
        Err(StoreError::Conflict(_))
    ));
    let read = s.booking(&b.id).await.unwrap().unwrap();
    assert_eq!(read.ghl_id.as_deref(), Some("ghl-1"));
    assert_eq!(read.patient_name, b.patient_name);
    assert_eq!(read.version, 2);
}

async fn the_agenda_returns_one_day_in_order_with_charges(db: TestDb) {
    let s: &dyn Store = &db.store;
    let late = booking("a", "2026-11-28T20:00:00.000Z");
    let early = booking("b", "2026-11-28T14:00:00.000Z");
    let next_day = booking("c", "2026-11-29T05:00:00.000Z");
    for b in [&late, &early, &next_day] {
        s.insert_booking(b, &charge_for(b, "80", Currency::Pen))
            .await
            .unwrap();
    }
    let day = s
        .agenda(
            at("2026-11-28T05:00:00.000Z"),
            at("2026-11-29T05:00:00.000Z"),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = day.iter().map(|(b, _)| b.id.as_str()).collect();
    assert_eq!(ids, vec![early.id.as_str(), late.id.as_str()]);
    assert!(
        day.iter()
            .all(|(b, c)| c.as_ref().is_some_and(|c| c.booking_id == b.id))
    );
}

async fn a_duplicate_inbox_delivery_is_stored_once(db: TestDb) {
    let s: &dyn Store = &db.store;
    assert!(s.insert_inbox(&delivery("mp:abc", now())).await.unwrap());
    assert!(!s.insert_inbox(&delivery("mp:abc", now())).await.unwrap());
    assert!(s.insert_inbox(&delivery("mp:def", now())).await.unwrap());
    assert_eq!(s.inbox_counts().await.unwrap(), (2, 0));
}

async fn a_claimed_delivery_is_not_claimed_again_until_its_lease_expires(db: TestDb) {
    let s: &dyn Store = &db.store;
    let t0 = now();
    s.insert_inbox(&delivery("mp:1", t0)).await.unwrap();
    let first = s
        .claim_inbox(t0, t0 + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts, 1);
    let during = s.claim_inbox(t0 + Duration::seconds(30), t0 + Duration::seconds(90), 10);
    assert!(during.await.unwrap().is_empty());
    let after = s
        .claim_inbox(t0 + Duration::seconds(61), t0 + Duration::seconds(120), 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].attempts, 2);
}

async fn a_failed_delivery_is_retried_after_its_time_and_finished_ones_never(db: TestDb) {
    let s: &dyn Store = &db.store;
    let t0 = now();
    s.insert_inbox(&delivery("mp:1", t0)).await.unwrap();
    s.insert_inbox(&delivery("mp:2", t0 + Duration::milliseconds(1)))
        .await
        .unwrap();
    let claimed = s
        .claim_inbox(t0, t0 + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    s.finish_inbox(&claimed[0].id, t0).await.unwrap();
    s.fail_inbox(&claimed[1].id, "MP unavailable", t0 + Duration::seconds(10))
        .await
        .unwrap();
    assert!(
        s.claim_inbox(t0 + Duration::seconds(5), t0 + Duration::seconds(65), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retry = s
        .claim_inbox(t0 + Duration::seconds(11), t0 + Duration::seconds(71), 10)
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].dedupe_key, "mp:2");
    assert_eq!(s.inbox_counts().await.unwrap(), (2, 1));
}

async fn payments_and_charge_are_recorded_in_one_transaction(db: TestDb) {
    let s: &dyn Store = &db.store;
    let b = booking("k", "2026-11-28T15:00:00.000Z");
    let mut c = charge_for(&b, "80", Currency::Pen);
    s.insert_booking(&b, &c).await.unwrap();
    c.status = ChargeStatus::Paid;
    c.paid_at = Some(at("2026-11-28T15:00:01.000Z"));
    let audit = AuditEntry {
        actor: "webhook".into(),
        action: "charge.paid".into(),
        entity: "charge".into(),
        entity_id: c.id.clone(),
        summary: "open -> paid".into(),
    };
    let p = payment(17014025134, &c, "approved");
    c.version = s
        .record_payments(std::slice::from_ref(&p), &c, Some(&audit), &[])
        .await
        .unwrap();
    assert_eq!(s.payments_of_charge(&c.id).await.unwrap(), vec![p.clone()]);
    let read = s.charge(&c.id).await.unwrap().unwrap();
    assert_eq!(read.status, ChargeStatus::Paid);
    assert_eq!(read.paid_at, c.paid_at);
    assert_eq!(s.audit_of("charge", &c.id).await.unwrap(), vec![audit]);

    // The same payment again, refunded: replaced, not duplicated.
    let mut refunded = p;
    refunded.status = "refunded".into();
    refunded.amount_refunded = Decimal::from_str("80.00").unwrap();
    c.status = ChargeStatus::Refunded;
    s.record_payments(std::slice::from_ref(&refunded), &c, None, &[])
        .await
        .unwrap();
    assert_eq!(s.payments_of_charge(&c.id).await.unwrap(), vec![refunded]);
}

async fn a_conflicting_charge_write_rolls_back_its_payments(db: TestDb) {
    let s: &dyn Store = &db.store;
    let b = booking("k", "2026-11-28T15:00:00.000Z");
    let c = charge_for(&b, "80", Currency::Pen);
    s.insert_booking(&b, &c).await.unwrap();
    let mut stale = c.clone();
    stale.version = 99;
    stale.status = ChargeStatus::Paid;
    let err = s
        .record_payments(&[payment(1, &c, "approved")], &stale, None, &[])
        .await;
    assert!(matches!(err, Err(StoreError::Conflict(_))));
    assert!(s.payments_of_charge(&c.id).await.unwrap().is_empty());
    assert_eq!(
        s.charge(&c.id).await.unwrap().unwrap().status,
        ChargeStatus::Draft
    );
}

async fn outbox_items_are_unique_by_idempotency_key(db: TestDb) {
    let s: &dyn Store = &db.store;
    let item = OutboxItem {
        id: new_id(),
        kind: "mp.create_link".into(),
        payload: "{}".into(),
        idempotency_key: "mp.create_link:C1".into(),
        next_attempt_at: now(),
        attempts: 0,
        last_error: Some("timeout".into()),
    };
    assert!(s.enqueue(&item).await.unwrap());
    let again = OutboxItem {
        id: new_id(),
        ..item
    };
    assert!(!s.enqueue(&again).await.unwrap());
}

async fn charges_are_found_by_status(db: TestDb) {
    let s: &dyn Store = &db.store;
    let b1 = booking("k1", "2026-11-28T15:00:00.000Z");
    let b2 = booking("k2", "2026-11-28T16:00:00.000Z");
    let mut open = charge_for(&b1, "80", Currency::Pen);
    let draft = charge_for(&b2, "80", Currency::Pen);
    s.insert_booking(&b1, &open).await.unwrap();
    s.insert_booking(&b2, &draft).await.unwrap();
    open.status = ChargeStatus::Open;
    open.preference_id = Some("123-abc".into());
    s.update_charge(&open).await.unwrap();
    let found = s
        .charges_with_status(&[ChargeStatus::Open], 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, open.id);
    assert!(s.charges_with_status(&[], 10).await.unwrap().is_empty());
}

async fn due_outbox_items_are_leased_once_and_retried_when_due(db: TestDb) {
    let s: &dyn Store = &db.store;
    let t0 = now();
    let item = |key: &str, due| OutboxItem {
        id: new_id(),
        kind: "mp.create_link".into(),
        payload: "{}".into(),
        idempotency_key: key.into(),
        next_attempt_at: due,
        attempts: 0,
        last_error: None,
    };
    s.enqueue(&item("due", t0)).await.unwrap();
    s.enqueue(&item("later", t0 + Duration::minutes(10)))
        .await
        .unwrap();

    let claimed = s
        .claim_outbox(t0, t0 + Duration::seconds(120), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].idempotency_key, "due");
    assert_eq!(claimed[0].attempts, 1);
    // Leased: nobody else gets it until the lease runs out.
    assert!(
        s.claim_outbox(t0 + Duration::seconds(60), t0 + Duration::seconds(180), 10)
            .await
            .unwrap()
            .is_empty()
    );

    s.fail_outbox(
        &claimed[0].id,
        "Mercado Pago is unavailable",
        t0 + Duration::seconds(30),
    )
    .await
    .unwrap();
    let pending = s.pending_outbox(10).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        pending[0].last_error.as_deref(),
        Some("Mercado Pago is unavailable")
    );

    let retry = s
        .claim_outbox(t0 + Duration::seconds(31), t0 + Duration::seconds(151), 10)
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].attempts, 2);
    s.finish_outbox(&retry[0].id, t0 + Duration::seconds(32))
        .await
        .unwrap();
    let pending = s.pending_outbox(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].idempotency_key, "later");
    // A finished item is still found by its key (refunds are asked for once per payment).
    let done = s
        .outbox_item("due")
        .await
        .unwrap()
        .expect("kept after it is done");
    assert_eq!(done.attempts, 2);
    assert!(s.outbox_item("never").await.unwrap().is_none());
}

async fn releasing_inbox_leases_frees_unprocessed_deliveries_only(db: TestDb) {
    let s: &dyn Store = &db.store;
    let t0 = now();
    for (i, key) in ["mp:leased", "mp:waiting", "mp:done"].iter().enumerate() {
        s.insert_inbox(&delivery(key, t0 + Duration::milliseconds(i as i64)))
            .await
            .unwrap();
    }
    let claimed = s
        .claim_inbox(t0, t0 + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    s.fail_inbox(&claimed[1].id, "MP unavailable", t0 + Duration::hours(1))
        .await
        .unwrap();
    s.finish_inbox(&claimed[2].id, t0).await.unwrap();
    assert_eq!(s.release_inbox_leases().await.unwrap(), 2);
    let again = s
        .claim_inbox(t0 + Duration::seconds(1), t0 + Duration::seconds(61), 10)
        .await
        .unwrap();
    let keys: Vec<_> = again.iter().map(|d| d.dedupe_key.as_str()).collect();
    assert_eq!(keys, ["mp:leased", "mp:waiting"]);
    assert_eq!(s.release_inbox_leases().await.unwrap(), 2);
    assert_eq!(s.inbox_counts().await.unwrap(), (3, 1));
}

async fn releasing_outbox_leases_makes_unfinished_items_due(db: TestDb) {
    let s: &dyn Store = &db.store;
    let t0 = now();
    let item = |key: &str, due: DateTime<Utc>| OutboxItem {
        id: new_id(),
        kind: "ghl.tag".into(),
        payload: "{}".into(),
        idempotency_key: key.into(),
        next_attempt_at: due,
        attempts: 0,
        last_error: None,
    };
    s.enqueue(&item("leased", t0)).await.unwrap();
    s.enqueue(&item("backing-off", t0 + Duration::hours(1)))
        .await
        .unwrap();
    s.enqueue(&item("done", t0)).await.unwrap();
    let claimed = s
        .claim_outbox(t0, t0 + Duration::seconds(120), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let done = claimed
        .iter()
        .find(|i| i.idempotency_key == "done")
        .unwrap();
    s.finish_outbox(&done.id, t0).await.unwrap();
    assert!(s.claim_outbox(t0, t0, 10).await.unwrap().is_empty());

    assert_eq!(s.release_outbox_leases(t0).await.unwrap(), 2);
    let again = s
        .claim_outbox(t0, t0 + Duration::seconds(120), 10)
        .await
        .unwrap();
    let mut keys: Vec<_> = again.iter().map(|i| i.idempotency_key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["backing-off", "leased"]);
}

async fn retention_deletes_old_processed_deliveries_and_empties_old_payment_payloads(db: TestDb) {
    let s: &dyn Store = &db.store;
    let old = delivery("old-processed", at("2026-01-01T10:00:00.000Z"));
    let recent = delivery("recent-processed", at("2026-11-20T10:00:00.000Z"));
    let stuck = delivery("old-unprocessed", at("2026-01-02T10:00:00.000Z"));
    for d in [&old, &recent, &stuck] {
        assert!(s.insert_inbox(d).await.unwrap());
    }
    s.finish_inbox(&old.id, at("2026-01-01T10:00:01.000Z"))
        .await
        .unwrap();
    s.finish_inbox(&recent.id, at("2026-11-20T10:00:01.000Z"))
        .await
        .unwrap();
    assert_eq!(
        s.purge_processed_inbox(at("2026-06-01T00:00:00.000Z"))
            .await
            .unwrap(),
        1
    );
    // The unprocessed one stays whatever its age; newest first.
    let left: Vec<String> = s
        .recent_inbox(10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.dedupe_key)
        .collect();
    assert_eq!(left, vec!["recent-processed", "old-unprocessed"]);
    assert_eq!(s.inbox_counts().await.unwrap(), (2, 1));

    let b = booking("k-retention", "2026-11-28T15:00:00.000Z");
    let mut c = charge_for(&b, "80", Currency::Pen);
    s.insert_booking(&b, &c).await.unwrap();
    c.status = ChargeStatus::Paid;
    let p = payment(17014025199, &c, "approved");
    s.record_payments(std::slice::from_ref(&p), &c, None, &[])
        .await
        .unwrap();
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    assert_eq!(s.forget_payment_payloads(yesterday).await.unwrap(), 0);
    assert_eq!(s.payments_of_charge(&c.id).await.unwrap(), vec![p.clone()]);
    let soon = chrono::Utc::now() + chrono::Duration::minutes(1);
    assert_eq!(s.forget_payment_payloads(soon).await.unwrap(), 1);
    let kept = s.payments_of_charge(&c.id).await.unwrap();
    let expected = Payment {
        raw: "{}".into(),
        ..p
    };
    assert_eq!(kept, vec![expected], "typed columns kept, payer data gone");
    assert_eq!(s.forget_payment_payloads(soon).await.unwrap(), 0);
}

fn desk_cash(reference: Option<&str>) -> DeskPayment {
    DeskPayment {
        method: DeskMethod::Cash,
        reference: reference.map(str::to_string),
        recorded_by: "desk".into(),
        recorded_at: at("2026-11-28T15:30:00.250Z"),
    }
}

fn paid_at_desk_audit(c: &Charge) -> AuditEntry {
    AuditEntry {
        actor: "desk".into(),
        action: "charge.paid_at_desk".into(),
        entity: "charge".into(),
        entity_id: c.id.clone(),
        summary: "open -> paid_at_desk".into(),
    }
}

fn owed(key: &str) -> OutboxItem {
    OutboxItem {
        id: new_id(),
        kind: "ghl.confirm".into(),
        payload: r#"{"bookingId":"b"}"#.into(),
        idempotency_key: key.into(),
        next_attempt_at: now(),
        attempts: 0,
        last_error: None,
    }
}

async fn a_desk_payment_is_stored_with_its_charge_audit_and_effects_in_one_transaction(db: TestDb) {
    let s: &dyn Store = &db.store;
    let b = booking("desk", "2026-11-28T15:00:00.000Z");
    let c = charge_for(&b, "80.00", Currency::Pen);
    s.insert_booking(&b, &c).await.unwrap();
    assert_eq!(s.desk_payment(&c.id).await.unwrap(), None);
    assert_eq!(s.desk_payment("no-such-charge").await.unwrap(), None);

    let mut paid = c.clone();
    paid.status = ChargeStatus::PaidAtDesk;
    paid.paid_at = Some(at("2026-11-28T15:30:00.250Z"));
    let reference = "Voucher Nº 00123 — 'caja 2'";
    let desk = desk_cash(Some(reference));
    let v = s
        .record_desk_payment(
            &paid,
            &desk,
            &paid_at_desk_audit(&c),
            &[owed("ghl.confirm:x"), owed("ghl.confirm:x")],
        )
        .await
        .unwrap();
    assert_eq!(v, c.version + 1);
    let read = s.charge(&c.id).await.unwrap().unwrap();
    assert_eq!(read.status, ChargeStatus::PaidAtDesk);
    assert_eq!(read.paid_at, paid.paid_at);
    assert_eq!(read.money, c.money, "the charge's amount, exactly");
    assert_eq!(read.version, v);
    assert_eq!(s.desk_payment(&c.id).await.unwrap(), Some(desk));
    let audit = s.audit_of("charge", &c.id).await.unwrap();
    assert_eq!(audit, [paid_at_desk_audit(&c)]);
    let pending = s.pending_outbox(10).await.unwrap();
    assert_eq!(pending.len(), 1, "one effect per key");
    let found = s
        .charges_with_status(&[ChargeStatus::PaidAtDesk], 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

async fn a_stale_desk_payment_is_a_conflict_and_writes_nothing(db: TestDb) {
    let s: &dyn Store = &db.store;
    let b = booking("stale-desk", "2026-11-28T15:00:00.000Z");
    let c = charge_for(&b, "80.00", Currency::Pen);
    s.insert_booking(&b, &c).await.unwrap();
    let mut meanwhile = c.clone();
    meanwhile.status = ChargeStatus::Open;
    s.update_charge(&meanwhile).await.unwrap();

    let mut stale = c.clone();
    stale.status = ChargeStatus::PaidAtDesk;
    let err = s
        .record_desk_payment(
            &stale,
            &desk_cash(None),
            &paid_at_desk_audit(&c),
            &[owed("ghl.confirm:stale")],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(
        s.charge(&c.id).await.unwrap().unwrap().status,
        ChargeStatus::Open
    );
    assert_eq!(s.desk_payment(&c.id).await.unwrap(), None);
    assert!(s.audit_of("charge", &c.id).await.unwrap().is_empty());
    assert!(s.pending_outbox(10).await.unwrap().is_empty());
}

async fn a_database_of_schema_v1_upgrades_and_reads_its_charges_back(db: TestDb) {
    let old = if db.url.starts_with("sqlite:") {
        desk::testing::sqlite_at_version(SCHEMA_V1).await
    } else {
        desk::testing::mysql_at_version(SCHEMA_V1).await
    };
    // Rows as v1 wrote them (its insert names only v1's columns).
    let b = booking("before-upgrade", "2026-11-28T15:00:00.000Z");
    let mut c = charge_for(&b, "1234.50", Currency::Pen);
    c.status = ChargeStatus::Open;
    c.preference_id = Some("pref-v1".into());
    old.store.insert_booking(&b, &c).await.unwrap();
    old.store.close().await;

    let upgraded = desk::store::SqlStore::connect(&old.url).await.unwrap();
    let s: &dyn Store = &upgraded;
    let read = s.charge(&c.id).await.unwrap().unwrap();
    assert_eq!(read, c, "read back exactly");
    assert_eq!(s.desk_payment(&c.id).await.unwrap(), None);
    // And it can be paid at the desk now.
    let mut paid = read.clone();
    paid.status = ChargeStatus::PaidAtDesk;
    let desk = desk_cash(Some("R-1"));
    s.record_desk_payment(&paid, &desk, &paid_at_desk_audit(&c), &[])
        .await
        .unwrap();
    assert_eq!(s.desk_payment(&c.id).await.unwrap(), Some(desk));
    upgraded.close().await;
}
