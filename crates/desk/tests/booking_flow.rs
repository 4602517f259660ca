//! The main job against the sandbox over real loopback HTTP, on SQLite and MySQL: book,
//! open the link, pay, see the charge paid — and every way it must refuse.

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use desk::events::BroadcastEvents;
use desk::money::Currency;
use desk::testing::{self, TestDb};
use desk::{ClinicConfig, CreateBooking, Desk, DeskEvent, ErrorCode};
use rust_decimal::Decimal;
use sandbox::{PayRequest, Sandbox, SandboxConfig, seed};
use secrecy::SecretString;
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::broadcast;

struct World {
    desk: Arc<Desk>,
    sandbox: Sandbox,
    events: broadcast::Receiver<DeskEvent>,
    _db: TestDb,
}

async fn world(db: TestDb) -> World {
    let sandbox = Sandbox::start(SandboxConfig::demo()).await.unwrap();
    let c = sandbox.config().clone();
    let ghl = ghl::Client::new(ghl::ClientConfig::new(
        sandbox.ghl_base_url(),
        SecretString::from(c.ghl_access_token.clone()),
    ))
    .unwrap();
    let mp = mercadopago::Client::new(mercadopago::ClientConfig::new(
        sandbox.mp_base_url(),
        SecretString::from(c.mp_access_token.clone()),
    ))
    .unwrap();
    let (tx, rx) = broadcast::channel(16);
    let clinic = ClinicConfig {
        location_id: c.location_id.clone(),
        clinic_name: c.location_name.clone(),
        timezone: chrono_tz::America::Lima,
        currency: Currency::Pen,
        // No tunnel in these tests: payments are found by re-reading, as with no public URL.
        public_webhook_url: None,
        link_ttl: std::time::Duration::from_secs(3600),
        after_payment: desk::config::AfterPayment::default(),
    };
    let desk = Desk::new(
        Arc::new(db.store.clone()),
        Arc::new(ghl),
        Arc::new(mp),
        Arc::new(BroadcastEvents(tx)),
        clinic,
    );
    World {
        desk: Arc::new(desk),
        sandbox,
        events: rx,
        _db: db,
    }
}

/// Tomorrow at `hh:mm` in Lima, on the Consulta general grid.
fn tomorrow_at(hh: u32, mm: u32) -> chrono::DateTime<Utc> {
    let tz = chrono_tz::America::Lima;
    let day = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    tz.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hh, mm, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
}

fn request(key: &str, hh: u32) -> CreateBooking {
    CreateBooking {
        idempotency_key: key.into(),
        calendar_id: seed::CONSULTA_GENERAL_CALENDAR_ID.into(),
        patient_name: "Rosa Huamán".into(),
        patient_phone: Some("+51 987 654 321".into()),
        contact_id: None,
        starts_at: tomorrow_at(hh, 0),
        ends_at: tomorrow_at(hh, 30),
        title: None,
        amount: "80.00".into(),
        description: "Consulta".into(),
        source: "desk".into(),
    }
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::world(super::testing::sqlite().await).await).await; } )*
        }
        mod mysql {
            $( #[tokio::test] async fn $name() { super::$name(super::world(super::testing::mysql().await).await).await; } )*
        }
    };
}

on_both_databases!(
    a_booking_creates_the_appointment_and_an_open_link,
    a_retry_with_the_same_key_returns_the_same_booking_and_books_once,
    a_taken_slot_is_refused_with_slot_taken_and_marked_failed,
    bad_input_is_refused_naming_the_field_and_stores_nothing,
    an_approved_payment_marks_the_charge_paid_once,
    an_underpaid_approval_needs_review_and_is_never_paid,
    a_rejected_attempt_leaves_the_charge_open,
    the_reconciler_finds_a_payment_whose_webhook_never_came,
    a_paid_charge_closes_its_link_and_tags_and_notes_the_contact_once,
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
