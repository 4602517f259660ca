//! The main job against the sandbox over real loopback HTTP, on SQLite and MySQL: book,
//! open the link, pay, see the charge paid — and every way it must refuse.

use chrono::{Duration, Utc};
use desk::events::BroadcastEvents;
use desk::testing::TestDb;
use desk::{ClinicConfig, CreateBooking, Desk, DeskEvent, ErrorCode};
use rust_decimal::Decimal;
use sandbox::{PayRequest, Sandbox, SandboxConfig, seed};
use secrecy::SecretString;
use std::str::FromStr;
use std::sync::Arc;
use testkit::Db;
use tokio::sync::broadcast;

mod support;
use support::{ghl_client, mp_client, outbox_due_now, request, tomorrow_at};

struct World {
    desk: Arc<Desk>,
    sandbox: Sandbox,
    events: broadcast::Receiver<DeskEvent>,
    _db: TestDb,
}

async fn world(db: Db) -> World {
    let db = db.open().await;
    let sandbox = Sandbox::start(SandboxConfig::demo()).await.unwrap();
    let (desk, events) = desk_on(&sandbox, &db, None);
    World {
        desk: Arc::new(desk),
        sandbox,
        events,
        _db: db,
    }
}

/// A desk on the sandbox and `db`; `unpaid_hold` as the clinic set it.
fn desk_on(
    sandbox: &Sandbox,
    db: &TestDb,
    unpaid_hold: Option<std::time::Duration>,
) -> (Desk, broadcast::Receiver<DeskEvent>) {
    let (tx, rx) = broadcast::channel(16);
    let clinic = ClinicConfig {
        unpaid_hold,
        ..support::lima_clinic(sandbox)
    };
    let desk = Desk::new(
        Arc::new(db.store.clone()),
        Arc::new(ghl_client(sandbox)),
        Arc::new(mp_client(sandbox)),
        Arc::new(BroadcastEvents(tx)),
        clinic,
    );
    (desk, rx)
}

testkit::on_both_databases!(
    given world;
    a_booking_creates_the_appointment_and_an_open_link,
    a_retry_with_the_same_key_returns_the_same_booking_and_books_once,
    a_taken_slot_is_refused_with_slot_taken_and_marked_failed,
    bad_input_is_refused_naming_the_field_and_stores_nothing,
    an_approved_payment_marks_the_charge_paid_once,
    an_underpaid_approval_needs_review_and_is_never_paid,
    a_rejected_attempt_leaves_the_charge_open,
    the_reconciler_finds_a_payment_whose_webhook_never_came,
    a_paid_charge_closes_its_link_and_tags_and_notes_the_contact_once,
    cancelling_an_unpaid_booking_cancels_in_ghl_and_the_link_can_no_longer_be_paid,
    cancelling_a_paid_booking_needs_a_refund_decision_and_changes_nothing_without_one,
    a_full_refund_on_cancel_is_made_once_however_often_it_is_asked,
    a_partial_refund_is_bounded_by_what_was_paid,
    declining_a_refund_keeps_the_money_and_says_so_in_the_audit,
    the_unpaid_hold_releases_only_bookings_nobody_paid,
    the_reconciler_imports_cancels_and_deletes_what_ghl_changed_without_webhooks,
    an_edit_reschedules_in_ghl_and_a_cancel_by_edit_expires_the_link,
    a_refund_whose_answer_is_lost_or_refused_is_retried_and_made_once,
    staff_see_what_is_still_owed_for_a_charge_with_its_last_error,
    owed_work_stored_by_the_previous_version_is_done_and_an_unknown_kind_is_recorded,
);

async fn a_booking_creates_the_appointment_and_an_open_link(w: World) {
    let view = w.desk.create_booking(request("k1", 10)).await.unwrap();
    assert_eq!(view.sync, "synced");
    assert_eq!(view.status, "confirmed");
    assert_eq!(view.local_start, "10:00");
    assert_eq!(view.local_end, "10:30");
    assert_eq!(view.calendar_name.as_deref(), Some("Consulta general"));
    let charge = view.charge.clone().unwrap();
    assert_eq!(charge.status, "open");
    assert_eq!(charge.amount, "80.00");
    assert_eq!(charge.currency, "PEN");
    let link = charge.payment_link.unwrap();
    assert!(link.starts_with(&w.sandbox.mp_base_url()), "{link}");

    // GHL holds exactly that appointment, at the Lima slot string.
    let ghl_id = view.ghl_id.unwrap();
    let c = w.sandbox.config();
    let client = ghl::Client::new(ghl::ClientConfig::new(
        w.sandbox.ghl_base_url(),
        SecretString::from(c.ghl_access_token.clone()),
    ))
    .unwrap();
    let appt = client.get_appointment(&ghl_id).await.unwrap();
    assert!(appt.start_time.unwrap().ends_with("T10:00:00-05:00"));
    assert_eq!(
        appt.calendar_id.as_deref(),
        Some(seed::CONSULTA_GENERAL_CALENDAR_ID)
    );

    // The agenda of that local day shows it.
    let day = tomorrow_at(10, 0)
        .with_timezone(&chrono_tz::America::Lima)
        .format("%Y-%m-%d")
        .to_string();
    let agenda = w.desk.agenda(&day).await.unwrap();
    assert_eq!(agenda.len(), 1);
    assert_eq!(agenda[0].id, view.id);
}

async fn a_retry_with_the_same_key_returns_the_same_booking_and_books_once(w: World) {
    let (a, b) = tokio::join!(
        w.desk.create_booking(request("same", 11)),
        w.desk.create_booking(request("same", 11))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    let c = w.desk.create_booking(request("same", 11)).await.unwrap();
    assert_eq!(c.id, a.id);
    let creates = w
        .sandbox
        .ghl_requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/calendars/events/appointments"))
        .count();
    assert_eq!(creates, 1, "one GHL appointment for one key");
}

async fn a_taken_slot_is_refused_with_slot_taken_and_marked_failed(w: World) {
    w.desk.create_booking(request("first", 12)).await.unwrap();
    let err = w
        .desk
        .create_booking(request("second", 12))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SlotTaken);
    let failed = w
        .desk
        .store()
        .booking_by_idempotency_key("second")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.sync, desk::SyncState::Failed);
    let charge = w
        .desk
        .store()
        .charge_of_booking(&failed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charge.status, desk::ChargeStatus::Cancelled);
    assert!(
        charge.preference_id.is_none(),
        "no link for a failed booking"
    );
}

async fn bad_input_is_refused_naming_the_field_and_stores_nothing(w: World) {
    type Mutation = Box<dyn Fn(&mut CreateBooking)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "endTime",
            Box::new(|r| r.ends_at = r.starts_at - Duration::minutes(30)),
        ),
        ("amount", Box::new(|r| r.amount = "0".into())),
        ("amount", Box::new(|r| r.amount = "-5".into())),
        ("amount", Box::new(|r| r.amount = "80.001".into())),
        ("amount", Box::new(|r| r.amount = "ochenta".into())),
        ("patientName", Box::new(|r| r.patient_name = "   ".into())),
        (
            "patientPhone",
            Box::new(|r| r.patient_phone = Some("call me".into())),
        ),
        ("calendarId", Box::new(|r| r.calendar_id = "".into())),
        ("calendarId", Box::new(|r| r.calendar_id = "nope".into())),
        ("description", Box::new(|r| r.description = "".into())),
        (
            "idempotencyKey",
            Box::new(|r| r.idempotency_key = "".into()),
        ),
        (
            "startTime",
            Box::new(|r| {
                r.starts_at = Utc::now() - Duration::hours(2);
                r.ends_at = Utc::now() - Duration::hours(1);
            }),
        ),
    ];
    for (i, (field, mutate)) in cases.iter().enumerate() {
        let mut r = request(&format!("bad-{i}"), 13);
        mutate(&mut r);
        let err = w.desk.create_booking(r).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "case {i}");
        assert_eq!(err.field(), Some(*field), "case {i}");
        assert!(
            w.desk
                .store()
                .booking_by_idempotency_key(&format!("bad-{i}"))
                .await
                .unwrap()
                .is_none(),
            "case {i} stored nothing"
        );
    }
    assert!(
        w.sandbox.ghl_requests().iter().all(|r| r.method == "GET"),
        "nothing sent to GHL"
    );
}

async fn an_approved_payment_marks_the_charge_paid_once(mut w: World) {
    let view = w.desk.create_booking(request("pay", 14)).await.unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let paid = w
        .sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    w.desk.sync_payment(paid.payment_id).await.unwrap();
    let after = w.desk.charge(&charge.id).await.unwrap();
    assert_eq!(after.status, desk::ChargeStatus::Paid);
    assert!(after.paid_at.is_some());
    match w.events.try_recv().unwrap() {
        DeskEvent::ChargeUpdated {
            charge_id, status, ..
        } => {
            assert_eq!(charge_id, charge.id);
            assert_eq!(status, "paid");
        }
        other => panic!("expected the paid status, got {other:?}"),
    }
    // Re-processing the same payment changes nothing and says nothing.
    w.desk.sync_payment(paid.payment_id).await.unwrap();
    w.desk.refresh_charge(&charge.id).await.unwrap();
    assert!(w.events.try_recv().is_err());
    let again = w.desk.charge(&charge.id).await.unwrap();
    assert_eq!(again.version, after.version);
    assert_eq!(
        w.desk
            .store()
            .payments_of_charge(&charge.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn an_underpaid_approval_needs_review_and_is_never_paid(w: World) {
    let view = w.desk.create_booking(request("under", 15)).await.unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let pay = PayRequest {
        amount: Some(Decimal::from_str("0.01").unwrap()),
        ..PayRequest::default()
    };
    let paid = w
        .sandbox
        .pay_preference(charge.preference_id.as_deref().unwrap(), pay)
        .await
        .unwrap();
    w.desk.sync_payment(paid.payment_id).await.unwrap();
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().status,
        desk::ChargeStatus::NeedsReview
    );
}

async fn a_rejected_attempt_leaves_the_charge_open(w: World) {
    let view = w
        .desk
        .create_booking(request("rejected", 16))
        .await
        .unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let pay = PayRequest {
        status: "rejected".into(),
        ..PayRequest::default()
    };
    w.sandbox
        .pay_preference(charge.preference_id.as_deref().unwrap(), pay)
        .await
        .unwrap();
    let refreshed = w.desk.refresh_charge(&charge.id).await.unwrap();
    assert_eq!(refreshed.status, desk::ChargeStatus::Open);
    assert_eq!(
        w.desk
            .store()
            .payments_of_charge(&charge.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn the_reconciler_finds_a_payment_whose_webhook_never_came(w: World) {
    let view = w.desk.create_booking(request("missed", 17)).await.unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    // No public URL in these tests: the sandbox has nowhere to deliver.
    w.sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().status,
        desk::ChargeStatus::Open
    );
    let pass = w.desk.reconcile_payments().await.unwrap();
    assert_eq!(pass.failed, 0);
    assert!(pass.checked >= 1);
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().status,
        desk::ChargeStatus::Paid
    );
    // A second pass changes nothing.
    let before = w.desk.charge(&charge.id).await.unwrap().version;
    w.desk.reconcile_payments().await.unwrap();
    assert_eq!(w.desk.charge(&charge.id).await.unwrap().version, before);
}

async fn a_paid_charge_closes_its_link_and_tags_and_notes_the_contact_once(w: World) {
    let view = w.desk.create_booking(request("effects", 18)).await.unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let pref = charge.preference_id.clone().unwrap();
    let paid = w
        .sandbox
        .pay_preference(&pref, PayRequest::default())
        .await
        .unwrap();
    // The same payment reported three times, the outbox drained after each.
    for _ in 0..3 {
        w.desk.sync_payment(paid.payment_id).await.unwrap();
        w.desk.drain_outbox().await.unwrap();
    }
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().status,
        desk::ChargeStatus::Paid
    );
    assert!(
        w.desk.store().pending_outbox(10).await.unwrap().is_empty(),
        "every side effect done"
    );
    let writes = |suffix: &str| {
        w.sandbox
            .ghl_requests()
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path.starts_with("/contacts/") && r.path.ends_with(suffix)
            })
            .count()
    };
    assert_eq!(writes("/tags"), 1, "tagged once");
    assert_eq!(writes("/notes"), 1, "noted once");
    // The link is closed: a second payment is refused.
    assert!(
        w.sandbox
            .pay_preference(&pref, PayRequest::default())
            .await
            .is_err()
    );
}

/// Books at `hh`:00 tomorrow, pays it at the sandbox, and applies the payment.
async fn paid_booking(w: &World, key: &str, hh: u32) -> (String, desk::Charge, i64) {
    let view = w.desk.create_booking(request(key, hh)).await.unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let paid = w
        .sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    w.desk.sync_payment(paid.payment_id).await.unwrap();
    let charge = w.desk.charge(&charge.id).await.unwrap();
    assert_eq!(charge.status, desk::ChargeStatus::Paid);
    (view.id, charge, paid.payment_id)
}

async fn ghl_status(w: &World, ghl_id: &str) -> String {
    ghl_client(&w.sandbox)
        .get_appointment(ghl_id)
        .await
        .unwrap()
        .appointment_status
        .unwrap()
}

async fn refunds_at_mp(w: &World, payment_id: i64) -> Vec<mercadopago::Refund> {
    mp_client(&w.sandbox)
        .list_refunds(payment_id)
        .await
        .unwrap()
}

async fn cancelling_an_unpaid_booking_cancels_in_ghl_and_the_link_can_no_longer_be_paid(w: World) {
    let view = w.desk.create_booking(request("c-unpaid", 9)).await.unwrap();
    let ghl_id = view.ghl_id.clone().unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let after = w.desk.cancel_booking(&view.id, None, "desk").await.unwrap();
    assert_eq!(after.status, "cancelled");
    assert_eq!(ghl_status(&w, &ghl_id).await, "cancelled");
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().status,
        desk::ChargeStatus::Cancelled
    );
    assert!(
        w.sandbox
            .pay_preference(
                charge.preference_id.as_deref().unwrap(),
                PayRequest::default()
            )
            .await
            .is_err(),
        "the expired link refuses payment"
    );
    // A second cancel is harmless and sends nothing more to GHL.
    let puts = || {
        w.sandbox
            .ghl_requests()
            .iter()
            .filter(|r| r.method == "PUT")
            .count()
    };
    let before = puts();
    w.desk.cancel_booking(&view.id, None, "desk").await.unwrap();
    assert_eq!(puts(), before);
}

async fn cancelling_a_paid_booking_needs_a_refund_decision_and_changes_nothing_without_one(
    w: World,
) {
    let (booking_id, charge, payment_id) = paid_booking(&w, "c-nodecision", 10).await;
    let ghl_id = w
        .desk
        .store()
        .booking(&booking_id)
        .await
        .unwrap()
        .unwrap()
        .ghl_id
        .unwrap();
    let err = w
        .desk
        .cancel_booking(&booking_id, None, "desk")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert_eq!(err.field(), Some("refund"));
    assert_ne!(ghl_status(&w, &ghl_id).await, "cancelled");
    let booking = w.desk.store().booking(&booking_id).await.unwrap().unwrap();
    assert_ne!(booking.status, "cancelled");
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().version,
        charge.version
    );
    // A refund larger than the payment is refused the same way, before anything changes.
    let err = w
        .desk
        .cancel_booking(
            &booking_id,
            Some(desk::RefundDecision::Partial("80.01".into())),
            "desk",
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("refund"));
    assert_ne!(ghl_status(&w, &ghl_id).await, "cancelled");
    assert!(refunds_at_mp(&w, payment_id).await.is_empty());
}

async fn a_full_refund_on_cancel_is_made_once_however_often_it_is_asked(w: World) {
    let (booking_id, charge, payment_id) = paid_booking(&w, "c-full", 11).await;
    for _ in 0..3 {
        w.desk
            .cancel_booking(&booking_id, Some(desk::RefundDecision::Full), "desk")
            .await
            .unwrap();
        w.desk.drain_outbox().await.unwrap();
    }
    let refunds = refunds_at_mp(&w, payment_id).await;
    assert_eq!(refunds.len(), 1, "refunded once");
    assert_eq!(refunds[0].amount, Decimal::from_str("80.00").unwrap());
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().status,
        desk::ChargeStatus::Refunded
    );
    let booking = w.desk.store().booking(&booking_id).await.unwrap().unwrap();
    assert_eq!(booking.status, "cancelled");
    let audit = w.desk.store().audit_of("charge", &charge.id).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "charge.refund_requested")
            .count(),
        1
    );
    // Refunding again through the other door is refused: nothing is left.
    let err = w
        .desk
        .refund_charge(&charge.id, desk::RefundDecision::Full, "desk")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert_eq!(refunds_at_mp(&w, payment_id).await.len(), 1);
}

async fn a_partial_refund_is_bounded_by_what_was_paid(w: World) {
    let (booking_id, charge, payment_id) = paid_booking(&w, "c-partial", 12).await;
    for bad in ["0", "-5", "abc", "80.001", "1e3"] {
        let err = w
            .desk
            .cancel_booking(
                &booking_id,
                Some(desk::RefundDecision::Partial(bad.into())),
                "desk",
            )
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some("refund"), "{bad}");
    }
    assert!(refunds_at_mp(&w, payment_id).await.is_empty());
    w.desk
        .cancel_booking(
            &booking_id,
            Some(desk::RefundDecision::Partial("30.00".into())),
            "desk",
        )
        .await
        .unwrap();
    let refunds = refunds_at_mp(&w, payment_id).await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, Decimal::from_str("30.00").unwrap());
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().status,
        desk::ChargeStatus::PartiallyRefunded
    );
    let stored = w.desk.store().payments_of_charge(&charge.id).await.unwrap();
    assert_eq!(
        stored[0].amount_refunded,
        Decimal::from_str("30.00").unwrap()
    );
    // The same request again is a harmless repeat; another amount is refused, nothing sent.
    w.desk
        .refund_charge(
            &charge.id,
            desk::RefundDecision::Partial("30.00".into()),
            "desk",
        )
        .await
        .unwrap();
    for other in [
        desk::RefundDecision::Partial("10.00".into()),
        desk::RefundDecision::Full,
    ] {
        let err = w
            .desk
            .refund_charge(&charge.id, other, "desk")
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict);
    }
    assert_eq!(refunds_at_mp(&w, payment_id).await.len(), 1);
}

async fn declining_a_refund_keeps_the_money_and_says_so_in_the_audit(w: World) {
    let (booking_id, charge, payment_id) = paid_booking(&w, "c-none", 13).await;
    let view = w
        .desk
        .cancel_booking(&booking_id, Some(desk::RefundDecision::None), "desk")
        .await
        .unwrap();
    assert_eq!(view.status, "cancelled");
    assert_eq!(
        w.desk.charge(&charge.id).await.unwrap().status,
        desk::ChargeStatus::Paid
    );
    assert!(refunds_at_mp(&w, payment_id).await.is_empty());
    let audit = w.desk.store().audit_of("charge", &charge.id).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "charge.refund_declined"));
}

async fn the_unpaid_hold_releases_only_bookings_nobody_paid(w: World) {
    let unpaid = w.desk.create_booking(request("h-unpaid", 9)).await.unwrap();
    let (paid_id, _, _) = paid_booking(&w, "h-paid", 10).await;
    // Paid at MP, but the webhook never came: the hold must find it before releasing.
    let quiet = w.desk.create_booking(request("h-quiet", 11)).await.unwrap();
    let quiet_charge = w.desk.charge(&quiet.charge.unwrap().id).await.unwrap();
    w.sandbox
        .pay_preference(
            quiet_charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();

    // The same store, seen by a desk whose clinic holds unpaid bookings for 1 ms.
    let (held, _) = desk_on(
        &w.sandbox,
        &w._db,
        Some(std::time::Duration::from_millis(1)),
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // The desk without a hold releases nothing.
    assert_eq!(w.desk.expire_unpaid_holds().await.unwrap(), 0);
    assert_eq!(held.expire_unpaid_holds().await.unwrap(), 1);

    let unpaid_charge = w
        .desk
        .charge(&unpaid.charge.clone().unwrap().id)
        .await
        .unwrap();
    assert_eq!(unpaid_charge.status, desk::ChargeStatus::Expired);
    assert_eq!(
        ghl_status(&w, unpaid.ghl_id.as_deref().unwrap()).await,
        "cancelled"
    );
    assert!(
        w.sandbox
            .pay_preference(
                unpaid_charge.preference_id.as_deref().unwrap(),
                PayRequest::default()
            )
            .await
            .is_err()
    );
    assert_eq!(
        w.desk.charge(&quiet_charge.id).await.unwrap().status,
        desk::ChargeStatus::Paid
    );
    for id in [&paid_id, &quiet.id] {
        let b = w.desk.store().booking(id).await.unwrap().unwrap();
        assert_ne!(b.status, "cancelled");
    }
    // Nothing left to release.
    assert_eq!(held.expire_unpaid_holds().await.unwrap(), 0);
}

async fn the_reconciler_imports_cancels_and_deletes_what_ghl_changed_without_webhooks(w: World) {
    let other_desk = ghl_client(&w.sandbox);
    let c = w.sandbox.config().clone();
    let contact = other_desk
        .upsert_contact(&ghl::ContactUpsert {
            location_id: c.location_id.clone(),
            name: Some("Walk-in".into()),
            phone: Some("+51 900 000 111".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .contact
        .id;
    let lima = chrono_tz::America::Lima;
    let outside = other_desk
        .create_appointment(&ghl::NewAppointment {
            calendar_id: seed::CONSULTA_GENERAL_CALENDAR_ID.into(),
            location_id: c.location_id.clone(),
            contact_id: contact,
            start_time: ghl::client::format_slot_time(&tomorrow_at(15, 0).with_timezone(&lima)),
            end_time: ghl::client::format_slot_time(&tomorrow_at(15, 30).with_timezone(&lima)),
            title: Some("Control - Walk-in".into()),
            appointment_status: "confirmed".into(),
            assigned_user_id: None,
            ignore_free_slot_validation: false,
        })
        .await
        .unwrap();
    let ours = w.desk.create_booking(request("r-ours", 9)).await.unwrap();
    let ours_charge = w.desk.charge(&ours.charge.unwrap().id).await.unwrap();

    let pass = w.desk.reconcile_appointments().await.unwrap();
    assert_eq!(pass.failed, 0);
    let imported = w
        .desk
        .store()
        .booking_by_ghl_id(&outside.id)
        .await
        .unwrap()
        .expect("imported");
    assert_eq!(imported.source, "ghl");
    assert_eq!(imported.title, "Control - Walk-in");
    assert_eq!(imported.starts_at, tomorrow_at(15, 0));
    // A second pass changes nothing.
    w.desk.reconcile_appointments().await.unwrap();
    let again = w
        .desk
        .store()
        .booking_by_ghl_id(&outside.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.version, imported.version);

    // Cancelled and deleted in GHL, with no webhook to say so.
    other_desk
        .cancel_appointment(ours.ghl_id.as_deref().unwrap())
        .await
        .unwrap();
    other_desk.delete_appointment(&outside.id).await.unwrap();
    w.desk.reconcile_appointments().await.unwrap();
    w.desk.drain_outbox().await.unwrap();
    let ours_now = w.desk.store().booking(&ours.id).await.unwrap().unwrap();
    assert_eq!(ours_now.status, "cancelled");
    assert_eq!(
        w.desk.charge(&ours_charge.id).await.unwrap().status,
        desk::ChargeStatus::Cancelled,
        "the unpaid link of a booking cancelled in GHL is expired"
    );
    let gone = w
        .desk
        .store()
        .booking_by_ghl_id(&outside.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.status, "deleted");
}

async fn an_edit_reschedules_in_ghl_and_a_cancel_by_edit_expires_the_link(w: World) {
    let view = w.desk.create_booking(request("e-1", 9)).await.unwrap();
    let ghl_id = view.ghl_id.clone().unwrap();
    let (booking, remote) = w
        .desk
        .edit_appointment(
            &ghl_id,
            desk::AppointmentEdit {
                starts_at: Some(tomorrow_at(16, 0)),
                ends_at: Some(tomorrow_at(16, 30)),
                notes: Some("trae sus análisis".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(booking.starts_at, tomorrow_at(16, 0));
    assert_eq!(remote.starts_at, tomorrow_at(16, 0));
    assert_eq!(booking.notes.as_deref(), Some("trae sus análisis"));
    let at_ghl = ghl_client(&w.sandbox)
        .get_appointment(&ghl_id)
        .await
        .unwrap();
    assert!(at_ghl.start_time.unwrap().ends_with("T16:00:00-05:00"));

    // Invalid edits send nothing.
    let puts = || {
        w.sandbox
            .ghl_requests()
            .iter()
            .filter(|r| r.method == "PUT")
            .count()
    };
    let before = puts();
    for (edit, field) in [
        (
            desk::AppointmentEdit {
                status: Some("borrada".into()),
                ..Default::default()
            },
            "appointmentStatus",
        ),
        (
            desk::AppointmentEdit {
                ends_at: Some(tomorrow_at(8, 0)),
                ..Default::default()
            },
            "endTime",
        ),
        (
            desk::AppointmentEdit {
                title: Some(" ".into()),
                ..Default::default()
            },
            "title",
        ),
    ] {
        let err = w.desk.edit_appointment(&ghl_id, edit).await.unwrap_err();
        assert_eq!(err.field(), Some(field));
    }
    assert_eq!(puts(), before);

    let charge_id = view.charge.unwrap().id;
    w.desk
        .edit_appointment(
            &ghl_id,
            desk::AppointmentEdit {
                status: Some("cancelled".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    w.desk.drain_outbox().await.unwrap();
    assert_eq!(
        w.desk.charge(&charge_id).await.unwrap().status,
        desk::ChargeStatus::Cancelled
    );
}

async fn a_refund_whose_answer_is_lost_or_refused_is_retried_and_made_once(w: World) {
    use sandbox::{Fault, FaultKind};
    // MP makes the refund but the answer is cut in half: the outcome is unknown here.
    let (lost_id, lost_charge, lost_payment) = paid_booking(&w, "f-lost", 9).await;
    w.sandbox
        .inject(Fault::new("mp.refunds.create", FaultKind::TruncatedBody).once());
    w.desk
        .cancel_booking(
            &lost_id,
            Some(desk::RefundDecision::Partial("20.00".into())),
            "desk",
        )
        .await
        .unwrap();
    let owed = w.desk.store().pending_outbox(10).await.unwrap();
    assert_eq!(owed.len(), 1, "the refund is still owed: {owed:?}");
    assert!(owed[0].last_error.is_some());
    assert_eq!(refunds_at_mp(&w, lost_payment).await.len(), 1);
    // Tried again (same key): MP answers with the refund it already made.
    for _ in 0..2 {
        outbox_due_now(w.desk.store().as_ref()).await;
        w.desk.drain_outbox().await.unwrap();
    }
    assert!(w.desk.store().pending_outbox(10).await.unwrap().is_empty());
    let refunds = refunds_at_mp(&w, lost_payment).await;
    assert_eq!(refunds.len(), 1, "refunded once");
    assert_eq!(refunds[0].amount, Decimal::from_str("20.00").unwrap());
    assert_eq!(
        w.desk.charge(&lost_charge.id).await.unwrap().status,
        desk::ChargeStatus::PartiallyRefunded
    );

    // MP refuses with 500 twice (more than the client's own retries within one attempt).
    let (busy_id, busy_charge, busy_payment) = paid_booking(&w, "f-busy", 10).await;
    w.sandbox.inject(
        Fault::new(
            "mp.refunds.create",
            FaultKind::Status {
                status: 500,
                retry_after_secs: None,
            },
        )
        .times(8),
    );
    w.desk
        .cancel_booking(&busy_id, Some(desk::RefundDecision::Full), "desk")
        .await
        .unwrap();
    assert!(refunds_at_mp(&w, busy_payment).await.is_empty());
    assert_eq!(
        w.desk.charge(&busy_charge.id).await.unwrap().status,
        desk::ChargeStatus::Paid,
        "nothing refunded yet, nothing pretended"
    );
    w.sandbox.clear_faults();
    outbox_due_now(w.desk.store().as_ref()).await;
    w.desk.drain_outbox().await.unwrap();
    assert_eq!(refunds_at_mp(&w, busy_payment).await.len(), 1);
    assert_eq!(
        w.desk.charge(&busy_charge.id).await.unwrap().status,
        desk::ChargeStatus::Refunded
    );
}

async fn staff_see_what_is_still_owed_for_a_charge_with_its_last_error(mut w: World) {
    use sandbox::{Fault, FaultKind};
    // A link MP refused is owed; staff's "Reintentar ahora" settles it at once.
    w.sandbox.inject(
        Fault::new(
            "mp.preferences.create",
            FaultKind::Status {
                status: 400,
                retry_after_secs: None,
            },
        )
        .once(),
    );
    let draft = w
        .desk
        .create_booking(request("owed-link", 10))
        .await
        .unwrap();
    let draft_charge = draft.charge.unwrap().id;
    let owed = w.desk.pending_effects(&draft_charge).await.unwrap();
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert_eq!(owed[0].kind, "mp.create_link");
    w.desk.create_link_now(&draft_charge).await.unwrap();
    assert_eq!(
        w.desk.charge(&draft_charge).await.unwrap().status,
        desk::ChargeStatus::Open
    );
    assert!(
        w.desk
            .pending_effects(&draft_charge)
            .await
            .unwrap()
            .is_empty()
    );

    let view = w.desk.create_booking(request("owed", 9)).await.unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    assert!(w.desk.pending_effects(&charge.id).await.unwrap().is_empty());
    w.sandbox.inject(Fault::new(
        "ghl.contacts.tags.add",
        FaultKind::Status {
            status: 500,
            retry_after_secs: None,
        },
    ));
    let paid = w
        .sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    w.desk.sync_payment(paid.payment_id).await.unwrap();
    while w.events.try_recv().is_ok() {}
    w.desk.drain_outbox().await.unwrap();
    // The failed try tells the screens to re-read what is owed, without a status change.
    let mut told = Vec::new();
    while let Ok(e) = w.events.try_recv() {
        told.push(e);
    }
    assert_eq!(
        told,
        vec![DeskEvent::EffectsChanged {
            charge_id: charge.id.clone()
        }]
    );
    let owed = w.desk.pending_effects(&charge.id).await.unwrap();
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert_eq!(owed[0].kind, "ghl.tag");
    assert_eq!(owed[0].attempts, 1);
    let error = owed[0].last_error.clone().unwrap();
    assert!(error.contains("GoHighLevel"), "{error}");
    assert!(!error.contains(&w.sandbox.config().ghl_access_token));
    assert_eq!(
        w.desk.pending_effects("nope").await.unwrap_err().code(),
        ErrorCode::NotFound
    );

    w.sandbox.clear_faults();
    outbox_due_now(w.desk.store().as_ref()).await;
    w.desk.drain_outbox().await.unwrap();
    assert!(w.desk.pending_effects(&charge.id).await.unwrap().is_empty());
}

/// Outbox rows as the previous version stored them (kind text, JSON payload) are performed
/// after an upgrade; a row of a kind this version does not know is recorded as a failed try,
/// with its error for staff, and stops nothing else.
async fn owed_work_stored_by_the_previous_version_is_done_and_an_unknown_kind_is_recorded(
    w: World,
) {
    let view = w.desk.create_booking(request("legacy", 10)).await.unwrap();
    let charge = view.charge.unwrap();
    let contact = w
        .desk
        .store()
        .booking(&view.id)
        .await
        .unwrap()
        .unwrap()
        .contact_id
        .unwrap();
    let row = |kind: &str, payload: serde_json::Value| desk::OutboxItem {
        id: desk::new_id(),
        kind: kind.into(),
        payload: payload.to_string(),
        idempotency_key: format!("{kind}:{}", charge.id),
        next_attempt_at: Utc::now() - Duration::seconds(1),
        attempts: 0,
        last_error: None,
    };
    let store = w.desk.store();
    let tag = serde_json::json!({ "contactId": contact, "tag": "legacy" });
    assert!(store.enqueue(&row("ghl.tag", tag)).await.unwrap());
    let unknown = serde_json::json!({ "chargeId": charge.id });
    assert!(store.enqueue(&row("mp.teleport", unknown)).await.unwrap());

    assert_eq!(w.desk.drain_outbox().await.unwrap(), 1, "the tag is done");
    let owed = w.desk.pending_effects(&charge.id).await.unwrap();
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert_eq!(owed[0].kind, "mp.teleport");
    assert_eq!(owed[0].attempts, 1);
    assert_eq!(owed[0].last_error.as_deref(), Some("internal error"));
}
