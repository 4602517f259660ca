//! Provider faults from the sandbox (issue 4): GHL and MP answering 429, 500, holding the
//! answer past the client timeout after doing the work ("hang"), or answering slowly. A
//! booking either completes or fails cleanly, and nothing is made twice at a provider:
//! no second appointment, preference, tag or note. Every test runs on SQLite and MariaDB
//! against the in-process sandbox over loopback HTTP, with short client timeouts.
//!
//! What the sandbox holds is read back through separate "inspector" clients (their own rate
//! budget, routes the faults do not touch) and, for contact notes and the contact list, plain
//! HTTP GETs to the sandbox.

use chrono::{DateTime, Duration, Utc};
use desk::inbox::{Accepted, IncomingWebhook};

use desk::testing::TestDb;
use desk::{ChargeStatus, Desk, DeskEvent, ErrorCode, EventSink, SyncState};
use sandbox::{Fault, FaultKind, GhlRateLimit, PayRequest, Sandbox, SandboxConfig, seed};

use std::sync::{Arc, Mutex};
use std::time::Instant;
use testkit::Db;

mod support;
use support::{outbox_due_now, request, tomorrow_at};

/// Per-request timeout of the desk's clients: short, so a lost answer costs a second.
const CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1_000);
/// How long the sandbox holds an answer it already acted on: past the client timeout.
const HANG_MS: u64 = 2_500;

/// Remembers every event the desk emits.
#[derive(Default)]
struct Recorder(Mutex<Vec<DeskEvent>>);

impl EventSink for Recorder {
    fn emit(&self, event: DeskEvent) {
        self.0.lock().unwrap().push(event);
    }
}

struct World {
    desk: Arc<Desk>,
    sandbox: Sandbox,
    /// Reads GHL state; never the desk's client.
    ghl: ghl::Client,
    /// Reads MP state; never the desk's client.
    mp: mercadopago::Client,
    events: Arc<Recorder>,
    _db: TestDb,
}

async fn world(db: Db) -> World {
    let db = db.open().await;
    let sandbox = Sandbox::start(SandboxConfig::demo()).await.unwrap();
    // GHL's 10 s window would make every injected 429 pause the desk's GHL client for 10 s
    // (it honours X-RateLimit-Interval-Milliseconds); a short window keeps the file fast.
    sandbox.set_ghl_rate_limit(GhlRateLimit {
        burst_max: 100,
        burst_window: std::time::Duration::from_millis(500),
        daily_max: 200_000,
    });
    let mut ghl_config = support::ghl_config(&sandbox);
    ghl_config.timeout = CLIENT_TIMEOUT;
    ghl_config.retry = ghl::RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_millis(100),
        max_delay: std::time::Duration::from_secs(2),
    };
    let mut mp_config = support::mp_config(&sandbox);
    mp_config.timeout = CLIENT_TIMEOUT;
    mp_config.retry = mercadopago::RetryPolicy {
        max_attempts: 2,
        base_delay: std::time::Duration::from_millis(50),
        max_delay: std::time::Duration::from_secs(2),
    };
    let events = Arc::new(Recorder::default());
    // No tunnel: deliveries are handed to the inbox by the test, as the listener would.
    let clinic = support::lima_clinic(&sandbox);
    let desk = Desk::new(
        Arc::new(db.store.clone()),
        Arc::new(ghl::Client::new(ghl_config).unwrap()),
        Arc::new(mercadopago::Client::new(mp_config).unwrap()),
        events.clone(),
        clinic,
    );
    World {
        desk: Arc::new(desk),
        ghl: support::ghl_client(&sandbox),
        mp: support::mp_client(&sandbox),
        sandbox,
        events,
        _db: db,
    }
}

testkit::on_both_databases!(
    given world;
    // GHL appointment create.
    ghl_create_429_with_retry_after_fails_cleanly,
    ghl_create_429_without_retry_after_fails_cleanly,
    ghl_create_500_fails_cleanly,
    ghl_create_answer_lost_completes_or_leaves_nothing,
    ghl_create_unanswered_and_unverifiable_is_adopted_by_the_reconciler,
    ghl_create_refused_and_unverifiable_is_failed_by_the_reconciler,
    latency_under_the_timeout_books_once,
    // GHL contact upsert.
    contact_upsert_500_fails_cleanly,
    contact_upsert_429_fails_cleanly,
    contact_upsert_answer_lost_fails_cleanly_and_the_contact_is_reused,
    // MP preference create.
    mp_link_500_is_made_once_by_the_outbox,
    mp_link_429_is_made_once_by_the_outbox,
    mp_link_answer_lost_is_found_not_made_again,
    mp_link_answer_lost_then_retried_by_the_outbox_is_made_once,
    // After-payment side effects.
    after_payment_effects_survive_500s_and_happen_once,
    after_payment_effects_survive_429s_and_happen_once,
    after_payment_effects_whose_answer_is_lost_happen_once,
    // Payment reads while processing deliveries and reconciling.
    a_delivery_survives_payment_reads_failing_with_500,
    a_delivery_survives_payment_reads_timing_out,
    the_reconciler_survives_payment_searches_failing,
);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn status(code: u16) -> FaultKind {
    FaultKind::Status {
        status: code,
        retry_after_secs: None,
    }
}

fn hang() -> FaultKind {
    FaultKind::Hang { ms: Some(HANG_MS) }
}

/// The uses left of the faults injected on `route` (0 once used up: they are removed).
fn left(w: &World, route: &str) -> u32 {
    w.sandbox
        .faults()
        .iter()
        .filter(|f| f.route == route)
        .map(|f| f.times.unwrap_or(u32::MAX))
        .sum()
}

/// Requests the GHL side received with this method whose path (below `/ghl`) matches.
fn ghl_calls(w: &World, method: &str, path: impl Fn(&str) -> bool) -> usize {
    w.sandbox
        .ghl_requests()
        .iter()
        .filter(|r| r.method == method && path(&r.path))
        .count()
}

fn appointment_creates(w: &World) -> usize {
    ghl_calls(w, "POST", |p| {
        p.starts_with("/calendars/events/appointments")
    })
}

/// The appointments GHL holds in the Consulta general calendar overlapping `[from, to)`.
async fn appointments_between(
    w: &World,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<ghl::Appointment> {
    w.ghl
        .list_events(&ghl::EventsQuery {
            location_id: w.sandbox.config().location_id.clone(),
            start: from,
            end: to,
            calendar_id: Some(seed::CONSULTA_GENERAL_CALENDAR_ID.into()),
            user_id: None,
            group_id: None,
        })
        .await
        .unwrap()
}

async fn appointments_at(w: &World, hh: u32) -> Vec<ghl::Appointment> {
    appointments_between(w, tomorrow_at(hh, 0), tomorrow_at(hh, 30)).await
}

/// The preferences MP holds for a charge (its id is the `external_reference`).
async fn preferences_of(w: &World, charge_id: &str) -> Vec<String> {
    let page = w.mp.search_preferences(charge_id, 100, 0).await.unwrap();
    assert_eq!(page.total as usize, page.elements.len());
    page.elements.into_iter().map(|p| p.id).collect()
}

/// Unfinished outbox rows that mention `id` (a charge or booking id) in their payload.
async fn outbox_for(w: &World, id: &str) -> Vec<desk::OutboxItem> {
    w.desk
        .store()
        .pending_outbox(1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.payload.contains(id) || i.idempotency_key.contains(id))
        .collect()
}

/// Every waiting outbox row made due now (see `support::outbox_due_now`).
async fn make_outbox_due(w: &World) -> usize {
    outbox_due_now(w.desk.store().as_ref()).await
}

/// How many times the desk said this charge turned `status`.
fn events_of(w: &World, charge_id: &str, status: &str) -> usize {
    w.events
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .filter(|v| v["chargeId"] == charge_id && v["status"] == status)
        .count()
}

/// How many audit lines say the charge turned `action` (e.g. `charge.paid`).
async fn audited(w: &World, charge_id: &str, action: &str) -> usize {
    w.desk
        .store()
        .audit_of("charge", charge_id)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.action == action)
        .count()
}

/// A plain HTTP/1.1 GET to the sandbox (no client of ours has these reads), as JSON.
async fn sandbox_get(w: &World, path: &str, headers: &[(&str, String)]) -> serde_json::Value {
    let addr = w.sandbox.local_addr();
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let raw = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        raw
    })
    .await
    .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The notes GHL holds on a contact.
async fn notes_of(w: &World, contact_id: &str) -> Vec<String> {
    let token = format!("Bearer {}", w.sandbox.config().ghl_access_token);
    let notes = sandbox_get(
        w,
        &format!("/ghl/contacts/{contact_id}/notes"),
        &[
            ("Authorization", token),
            ("Version", "2021-07-28".to_string()),
        ],
    )
    .await;
    notes["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap().to_string())
        .collect()
}

/// How many contacts the sandbox holds with this name.
async fn contacts_named(w: &World, name: &str) -> usize {
    let info = sandbox_get(w, "/__control/info", &[]).await;
    info["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str() == Some(name))
        .count()
}

/// A failed booking that left nothing behind: failed with an error staff can read, charge
/// cancelled without a link, no appointment in the slot, no preference at MP, and no outbox
/// row that could make one later. Returns the booking id.
async fn assert_failed_cleanly(w: &World, key: &str, hh: u32) -> String {
    let booking = w
        .desk
        .store()
        .booking_by_idempotency_key(key)
        .await
        .unwrap()
        .expect("the attempt is recorded");
    assert_eq!(booking.sync, SyncState::Failed);
    assert!(booking.ghl_id.is_none());
    let error = booking.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("GoHighLevel") && !error.contains("internal"),
        "staff-readable error: {error:?}"
    );
    let charge = w
        .desk
        .store()
        .charge_of_booking(&booking.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charge.status, ChargeStatus::Cancelled);
    assert!(charge.preference_id.is_none() && charge.init_point.is_none());
    let left_in_ghl: Vec<(String, Option<String>)> = appointments_at(w, hh)
        .await
        .into_iter()
        .map(|a| (a.id, a.appointment_status))
        .collect();
    assert!(
        left_in_ghl.is_empty(),
        "no appointment left in GHL for a failed booking ({error:?}), found {left_in_ghl:?}"
    );
    assert!(preferences_of(w, &charge.id).await.is_empty(), "no link");
    assert!(outbox_for(w, &charge.id).await.is_empty());
    assert!(outbox_for(w, &booking.id).await.is_empty());
    // Work that might still be owed would run now: nothing must reach the providers.
    w.desk.drain_outbox().await.unwrap();
    assert!(preferences_of(w, &charge.id).await.is_empty());
    booking.id
}

/// A booking that completed: synced, exactly one appointment in its slot (the booking's),
/// an open charge with exactly one preference (the charge's). Returns the charge id.
async fn assert_booked_once(w: &World, view: &desk::view::BookingView, hh: u32) -> String {
    assert_eq!(view.sync, "synced");
    let in_slot = appointments_at(w, hh).await;
    assert_eq!(in_slot.len(), 1, "exactly one appointment in the slot");
    assert_eq!(Some(&in_slot[0].id), view.ghl_id.as_ref());
    let charge = w
        .desk
        .charge(&view.charge.as_ref().unwrap().id)
        .await
        .unwrap();
    assert_eq!(charge.status, ChargeStatus::Open);
    let prefs = preferences_of(w, &charge.id).await;
    assert_eq!(prefs.len(), 1, "exactly one preference for the charge");
    assert_eq!(charge.preference_id.as_ref(), Some(&prefs[0]));
    assert!(outbox_for(w, &charge.id).await.is_empty(), "nothing owed");
    charge.id
}

// ---------------------------------------------------------------------------------------
// GHL appointment create
// ---------------------------------------------------------------------------------------

/// GHL refuses the create without doing it: the booking fails cleanly, and a retry with the
/// same key tries that booking again and books the (still free) slot once.
async fn ghl_create_refused(w: World, kind: FaultKind, code: ErrorCode, min_wait_ms: u64) {
    w.sandbox
        .inject(Fault::new("ghl.appointments.create", kind).once());
    let started = Instant::now();
    let err = w
        .desk
        .create_booking(request("refused", 10))
        .await
        .unwrap_err();
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(left(&w, "ghl.appointments.create"), 0, "the fault was hit");
    assert_eq!(appointment_creates(&w), 1);
    let id = assert_failed_cleanly(&w, "refused", 10).await;

    // The same attempt again (staff press "Reservar" once more: same key) tries again on
    // the same booking, now that GHL takes it: booked once, no second booking row.
    let again = w.desk.create_booking(request("refused", 10)).await.unwrap();
    assert_eq!(again.id, id);
    assert_booked_once(&w, &again, 10).await;
    assert_eq!(
        appointment_creates(&w),
        2,
        "the refused try and the one that booked"
    );
    let audit = w.desk.store().audit_of("booking", &id).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "booking.retry").count(),
        1
    );
    // And once booked, the key answers with that booking and sends nothing.
    let third = w.desk.create_booking(request("refused", 10)).await.unwrap();
    assert_eq!(third.id, id);
    assert_eq!(appointment_creates(&w), 2);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(min_wait_ms),
        "the client waited out the rate limit before the next call ({:?})",
        started.elapsed()
    );
}

async fn ghl_create_429_with_retry_after_fails_cleanly(w: World) {
    let kind = FaultKind::Status {
        status: 429,
        retry_after_secs: Some(1),
    };
    ghl_create_refused(w, kind, ErrorCode::RateLimited, 1_000).await;
}

async fn ghl_create_429_without_retry_after_fails_cleanly(w: World) {
    // Without Retry-After the client waits one X-RateLimit interval (500 ms here).
    ghl_create_refused(w, status(429), ErrorCode::RateLimited, 500).await;
}

async fn ghl_create_500_fails_cleanly(w: World) {
    ghl_create_refused(w, status(500), ErrorCode::ProviderUnavailable, 0).await;
}

/// GHL makes the appointment but the answer never arrives in time. Either the desk finds
/// and keeps it (booking synced, one appointment) or the booking fails and nothing is left
/// in GHL. What must not happen: a failed booking whose appointment still holds the slot.
async fn ghl_create_answer_lost_completes_or_leaves_nothing(w: World) {
    w.sandbox
        .inject(Fault::new("ghl.appointments.create", hang()).once());
    let outcome = w.desk.create_booking(request("lost", 11)).await;
    assert_eq!(left(&w, "ghl.appointments.create"), 0, "the fault was hit");
    match outcome {
        Ok(view) => {
            assert_booked_once(&w, &view, 11).await;
        }
        Err(err) => {
            assert_eq!(err.code(), ErrorCode::ProviderUnavailable, "{err}");
            assert_failed_cleanly(&w, "lost", 11).await;
            // The slot is free again for the next attempt.
            let view = w.desk.create_booking(request("lost-2", 11)).await.unwrap();
            assert_booked_once(&w, &view, 11).await;
        }
    }
    // The same key never books again.
    let creates = appointment_creates(&w);
    w.desk.create_booking(request("lost", 11)).await.unwrap();
    assert_eq!(appointment_creates(&w), creates);
    assert_eq!(appointments_at(&w, 11).await.len(), 1);
}

/// Makes a booking look older than it is (the reconciler leaves recent pending ones alone:
/// their create may still be running).
async fn age_booking(w: &World, booking_id: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w._db.url).await.unwrap();
    sqlx::query("UPDATE bookings SET created_at = ? WHERE id = ?")
        .bind("2000-01-01T00:00:00.000Z")
        .bind(booking_id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// GHL makes the appointment but its answer is lost, and GHL cannot be asked either: the
/// booking stays pending (not failed: GHL may hold it), nothing is imported twice, and the
/// reconciler adopts the appointment and opens the link once.
async fn ghl_create_unanswered_and_unverifiable_is_adopted_by_the_reconciler(w: World) {
    w.sandbox
        .inject(Fault::new("ghl.appointments.create", hang()).once());
    w.sandbox
        .inject(Fault::new("ghl.events.list", status(500)).times(3));
    let err = w
        .desk
        .create_booking(request("unverified", 14))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ProviderUnavailable, "{err}");
    w.sandbox.clear_faults();
    let booking = w
        .desk
        .store()
        .booking_by_idempotency_key("unverified")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(booking.sync, SyncState::Pending);
    let charge = w
        .desk
        .store()
        .charge_of_booking(&booking.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charge.status, ChargeStatus::Draft);
    let made = appointments_at(&w, 14).await;
    assert_eq!(made.len(), 1, "GHL made it");
    // Too recent to settle: GHL's listing of it is not imported as a second booking.
    w.desk.reconcile_appointments().await.unwrap();
    assert!(
        w.desk
            .store()
            .booking_by_ghl_id(&made[0].id)
            .await
            .unwrap()
            .is_none()
    );

    age_booking(&w, &booking.id).await;
    w.desk.reconcile_appointments().await.unwrap();
    let adopted = w.desk.store().booking(&booking.id).await.unwrap().unwrap();
    assert_eq!(adopted.sync, SyncState::Synced);
    assert_eq!(adopted.ghl_id.as_deref(), Some(made[0].id.as_str()));
    let view = w.desk.view_of(&adopted).await.unwrap();
    assert_booked_once(&w, &view, 14).await;
    assert_eq!(appointment_creates(&w), 1);
    // Settled once: another pass changes nothing.
    w.desk.reconcile_appointments().await.unwrap();
    let again = w.desk.store().booking(&booking.id).await.unwrap().unwrap();
    assert_eq!(again.ghl_id, adopted.ghl_id);
    assert_eq!(preferences_of(&w, &charge.id).await.len(), 1);
}

/// GHL refuses the create (nothing made) and cannot be asked: pending, then failed by the
/// reconciler once GHL's calendar shows nothing, its draft charge cancelled.
async fn ghl_create_refused_and_unverifiable_is_failed_by_the_reconciler(w: World) {
    w.sandbox
        .inject(Fault::new("ghl.appointments.create", status(500)).once());
    w.sandbox
        .inject(Fault::new("ghl.events.list", status(500)).times(3));
    let err = w
        .desk
        .create_booking(request("unmade", 15))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ProviderUnavailable, "{err}");
    w.sandbox.clear_faults();
    let booking = w
        .desk
        .store()
        .booking_by_idempotency_key("unmade")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(booking.sync, SyncState::Pending);
    age_booking(&w, &booking.id).await;
    w.desk.reconcile_appointments().await.unwrap();
    let failed = w.desk.store().booking(&booking.id).await.unwrap().unwrap();
    assert_eq!(failed.sync, SyncState::Failed);
    assert!(failed.ghl_id.is_none());
    let charge = w
        .desk
        .store()
        .charge_of_booking(&booking.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charge.status, ChargeStatus::Cancelled);
    assert!(preferences_of(&w, &charge.id).await.is_empty());
    assert!(appointments_at(&w, 15).await.is_empty());
}

/// Slow answers under the client timeout: contact, appointment and link are each made once.
async fn latency_under_the_timeout_books_once(w: World) {
    let slow = || FaultKind::Latency { ms: 400 };
    w.sandbox
        .inject(Fault::new("ghl.contacts.upsert", slow()).once());
    w.sandbox
        .inject(Fault::new("ghl.appointments.create", slow()).once());
    w.sandbox
        .inject(Fault::new("mp.preferences.create", slow()).once());
    let view = w.desk.create_booking(request("slow", 12)).await.unwrap();
    assert!(w.sandbox.faults().is_empty(), "every slow route was hit");
    assert_booked_once(&w, &view, 12).await;
    assert_eq!(appointment_creates(&w), 1);
    assert_eq!(
        ghl_calls(&w, "POST", |p| p.starts_with("/contacts/upsert")),
        1
    );
    let again = w.desk.create_booking(request("slow", 12)).await.unwrap();
    assert_eq!(again.id, view.id);
    assert_eq!(appointment_creates(&w), 1);
}

// ---------------------------------------------------------------------------------------
// GHL contact upsert
// ---------------------------------------------------------------------------------------

async fn contact_upsert_refused(w: World, kind: FaultKind, code: ErrorCode) {
    w.sandbox
        .inject(Fault::new("ghl.contacts.upsert", kind).once());
    let err = w
        .desk
        .create_booking(request("contact", 13))
        .await
        .unwrap_err();
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(left(&w, "ghl.contacts.upsert"), 0, "the fault was hit");
    assert_eq!(
        appointment_creates(&w),
        0,
        "no appointment without a contact"
    );
    let id = assert_failed_cleanly(&w, "contact", 13).await;
    // The same key again tries that booking again: one upsert more, booked once.
    let again = w.desk.create_booking(request("contact", 13)).await.unwrap();
    assert_eq!(again.id, id);
    assert_eq!(
        ghl_calls(&w, "POST", |p| p.starts_with("/contacts/upsert")),
        2
    );
    assert_booked_once(&w, &again, 13).await;
}

async fn contact_upsert_500_fails_cleanly(w: World) {
    contact_upsert_refused(w, status(500), ErrorCode::ProviderUnavailable).await;
}

async fn contact_upsert_429_fails_cleanly(w: World) {
    contact_upsert_refused(w, status(429), ErrorCode::RateLimited).await;
}

/// The upsert creates the patient but its answer is lost: the booking fails cleanly, and the
/// next attempt finds the same contact instead of making a second one.
async fn contact_upsert_answer_lost_fails_cleanly_and_the_contact_is_reused(w: World) {
    let mut req = request("new-patient", 14);
    req.patient_name = "Pedro Fallas Ccori".into();
    req.patient_phone = Some("+51 944 555 666".into());
    w.sandbox
        .inject(Fault::new("ghl.contacts.upsert", hang()).once());
    let err = w.desk.create_booking(req.clone()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ProviderUnavailable, "{err}");
    assert_eq!(left(&w, "ghl.contacts.upsert"), 0, "the fault was hit");
    assert_eq!(appointment_creates(&w), 0);
    assert_failed_cleanly(&w, "new-patient", 14).await;
    assert_eq!(
        contacts_named(&w, "Pedro Fallas Ccori").await,
        1,
        "the lost upsert did create the contact"
    );

    req.idempotency_key = "new-patient-2".into();
    let view = w.desk.create_booking(req).await.unwrap();
    assert_booked_once(&w, &view, 14).await;
    assert_eq!(
        contacts_named(&w, "Pedro Fallas Ccori").await,
        1,
        "the retry reused the contact"
    );
    let appt = w
        .ghl
        .get_appointment(view.ghl_id.as_deref().unwrap())
        .await
        .unwrap();
    let booking = w.desk.store().booking(&view.id).await.unwrap().unwrap();
    assert_eq!(appt.contact_id, booking.contact_id);
}

// ---------------------------------------------------------------------------------------
// MP preference create
// ---------------------------------------------------------------------------------------

/// Every attempt at the link fails at MP (without MP doing it) while the booking is made and
/// during the first outbox pass: the booking stands with its appointment, the charge shows
/// "link pending", the outbox retries on its schedule, and in the end one preference exists.
async fn mp_link_made_once_by_the_outbox(w: World, kind: FaultKind) {
    // Two for the booking's call (two client attempts), two for the first outbox pass.
    w.sandbox
        .inject(Fault::new("mp.preferences.create", kind).times(4));
    let view = w.desk.create_booking(request("mp", 15)).await.unwrap();
    assert_eq!(view.sync, "synced", "the booking stands");
    assert_eq!(view.status, "confirmed");
    let ghl_id = view.ghl_id.clone().expect("the appointment was made");
    let in_slot = appointments_at(&w, 15).await;
    assert_eq!(in_slot.len(), 1);
    assert_eq!(in_slot[0].id, ghl_id);
    let pending_view = view.charge.clone().unwrap();
    assert_eq!(pending_view.status, "draft", "link pending");
    assert!(pending_view.payment_link.is_none());
    let charge_id = pending_view.id;
    assert_eq!(
        left(&w, "mp.preferences.create"),
        2,
        "both client attempts failed"
    );
    assert!(preferences_of(&w, &charge_id).await.is_empty());

    let owed = outbox_for(&w, &charge_id).await;
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert_eq!(owed[0].kind, desk::outbox::CREATE_LINK);
    assert_eq!(owed[0].attempts, 0);
    assert!(
        owed[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("Mercado Pago"))
    );
    assert!(owed[0].next_attempt_at > Utc::now() + Duration::seconds(20));

    // Not due yet: a pass does not touch MP.
    assert_eq!(w.desk.drain_outbox().await.unwrap(), 0);
    assert_eq!(left(&w, "mp.preferences.create"), 2);

    // Due, and MP still failing: kept, with the error, rescheduled further out.
    assert_eq!(make_outbox_due(&w).await, 1);
    assert_eq!(w.desk.drain_outbox().await.unwrap(), 0);
    assert_eq!(left(&w, "mp.preferences.create"), 0);
    let owed = outbox_for(&w, &charge_id).await;
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].attempts, 1);
    assert!(owed[0].last_error.is_some());
    assert!(owed[0].next_attempt_at > Utc::now() + Duration::seconds(40));
    assert_eq!(
        w.desk.charge(&charge_id).await.unwrap().status,
        ChargeStatus::Draft
    );
    assert!(preferences_of(&w, &charge_id).await.is_empty());

    // Due again, MP back: the link is made, once.
    assert_eq!(make_outbox_due(&w).await, 1);
    assert_eq!(w.desk.drain_outbox().await.unwrap(), 1);
    assert_eq!(events_of(&w, &charge_id, "open"), 1);
    let again = w.desk.create_booking(request("mp", 15)).await.unwrap();
    assert_eq!(again.id, view.id);
    assert_booked_once(&w, &again, 15).await;
    assert_eq!(
        appointment_creates(&w),
        1,
        "the retry made no second appointment"
    );
    // Further passes change nothing.
    make_outbox_due(&w).await;
    assert_eq!(w.desk.drain_outbox().await.unwrap(), 0);
    assert_eq!(preferences_of(&w, &charge_id).await.len(), 1);
}

async fn mp_link_500_is_made_once_by_the_outbox(w: World) {
    mp_link_made_once_by_the_outbox(w, status(500)).await;
}

async fn mp_link_429_is_made_once_by_the_outbox(w: World) {
    // MP's 429 carries Retry-After: 1; the client waits it out between its two attempts.
    mp_link_made_once_by_the_outbox(w, status(429)).await;
}

/// MP makes the preference but the answer is lost: the client's next attempt finds it by
/// `external_reference` instead of making another, and the charge opens at once.
async fn mp_link_answer_lost_is_found_not_made_again(w: World) {
    w.sandbox
        .inject(Fault::new("mp.preferences.create", hang()).once());
    let view = w.desk.create_booking(request("mp-lost", 16)).await.unwrap();
    assert_eq!(left(&w, "mp.preferences.create"), 0, "the fault was hit");
    let charge_id = assert_booked_once(&w, &view, 16).await;
    let again = w.desk.create_booking(request("mp-lost", 16)).await.unwrap();
    assert_eq!(again, view);
    assert_eq!(preferences_of(&w, &charge_id).await.len(), 1);
}

/// MP makes the preference, the answer is lost, and MP's search fails too, so the client
/// gives up and the outbox owes the link. Its retry must not make a second preference.
async fn mp_link_answer_lost_then_retried_by_the_outbox_is_made_once(w: World) {
    w.sandbox
        .inject(Fault::new("mp.preferences.create", hang()).once());
    w.sandbox
        .inject(Fault::new("mp.preferences.search", status(500)).once());
    let view = w.desk.create_booking(request("mp-lost", 17)).await.unwrap();
    assert!(w.sandbox.faults().is_empty(), "both faults were hit");
    assert_eq!(view.sync, "synced");
    let charge_id = view.charge.clone().unwrap().id;
    assert_eq!(view.charge.unwrap().status, "draft", "link pending");
    assert_eq!(
        preferences_of(&w, &charge_id).await.len(),
        1,
        "MP did make the first one"
    );
    assert_eq!(outbox_for(&w, &charge_id).await.len(), 1);

    assert_eq!(make_outbox_due(&w).await, 1);
    assert_eq!(w.desk.drain_outbox().await.unwrap(), 1);
    let charge = w.desk.charge(&charge_id).await.unwrap();
    assert_eq!(charge.status, ChargeStatus::Open);
    let prefs = preferences_of(&w, &charge_id).await;
    assert_eq!(prefs.len(), 1, "one preference per charge, got {prefs:?}");
    assert_eq!(charge.preference_id.as_ref(), Some(&prefs[0]));
}

// ---------------------------------------------------------------------------------------
// After-payment side effects
// ---------------------------------------------------------------------------------------

struct Paid {
    booking_id: String,
    charge_id: String,
    ghl_id: String,
    contact_id: String,
    preference_id: String,
    payment_id: i64,
}

/// A GHL appointment made in GHL as `new` (so confirming it is real work), charged through
/// the desk and paid at MP. The payment is not reported to the desk yet.
async fn an_unreported_payment(w: &World, hh: u32) -> Paid {
    let tz = chrono_tz::America::Lima;
    let made = w
        .ghl
        .create_appointment(&ghl::NewAppointment {
            calendar_id: seed::CONSULTA_GENERAL_CALENDAR_ID.into(),
            location_id: w.sandbox.config().location_id.clone(),
            contact_id: seed::CONTACT_IDS[1].into(),
            start_time: ghl::client::format_slot_time(&tomorrow_at(hh, 0).with_timezone(&tz)),
            end_time: ghl::client::format_slot_time(&tomorrow_at(hh, 30).with_timezone(&tz)),
            title: Some("Control - José Quispe".into()),
            appointment_status: "new".into(),
            assigned_user_id: Some(seed::CONSULTA_GENERAL_USER_ID.into()),
            ignore_free_slot_validation: false,
        })
        .await
        .unwrap();
    let (booking, charge) = w
        .desk
        .charge_appointment(&made.id, "80.00", "Control")
        .await
        .unwrap();
    assert_eq!(booking.status, "new");
    assert_eq!(charge.status, ChargeStatus::Open);
    let preference_id = charge.preference_id.clone().unwrap();
    let paid = w
        .sandbox
        .pay_preference(&preference_id, PayRequest::default())
        .await
        .unwrap();
    Paid {
        booking_id: booking.id,
        charge_id: charge.id,
        ghl_id: made.id,
        contact_id: booking.contact_id.unwrap(),
        preference_id,
        payment_id: paid.payment_id,
    }
}

fn tag_posts(w: &World, contact_id: &str) -> usize {
    let path = format!("/contacts/{contact_id}/tags");
    ghl_calls(w, "POST", |p| p == path)
}

fn note_posts(w: &World, contact_id: &str) -> usize {
    let path = format!("/contacts/{contact_id}/notes");
    ghl_calls(w, "POST", |p| p == path)
}

fn confirm_puts(w: &World, ghl_id: &str) -> usize {
    let path = format!("/calendars/events/appointments/{ghl_id}");
    ghl_calls(w, "PUT", |p| p == path)
}

/// Reports the payment, drains once with the faults in place (every effect fails and is
/// kept with its error), then drains again once due: each effect done exactly once.
/// `attempts` = (confirm PUTs, tag POSTs, note POSTs) the faults absorb.
async fn effects_once_after(w: &World, p: &Paid, attempts: (usize, usize, usize)) {
    w.desk.sync_payment(p.payment_id).await.unwrap();
    let charge = w.desk.charge(&p.charge_id).await.unwrap();
    assert_eq!(charge.status, ChargeStatus::Paid);
    // Close, confirm, tag and note, each keyed by the charge.
    assert_eq!(outbox_for(w, &p.charge_id).await.len(), 4);

    assert_eq!(
        w.desk.drain_outbox().await.unwrap(),
        0,
        "every effect failed"
    );
    assert!(
        w.sandbox.faults().is_empty(),
        "every fault was hit: {:?}",
        w.sandbox.faults()
    );
    let pending = w.desk.store().pending_outbox(100).await.unwrap();
    let kinds: Vec<&str> = pending.iter().map(|i| i.kind.as_str()).collect();
    for kind in [
        desk::outbox::CLOSE_LINK,
        desk::outbox::CONFIRM_APPOINTMENT,
        desk::outbox::TAG_CONTACT,
        desk::outbox::NOTE_CONTACT,
    ] {
        assert_eq!(
            kinds.iter().filter(|k| **k == kind).count(),
            1,
            "{kind}: {kinds:?}"
        );
    }
    for item in &pending {
        assert_eq!(item.attempts, 1, "{item:?}");
        assert!(
            item.last_error.as_deref().is_some_and(|e| !e.is_empty()),
            "{item:?}"
        );
        assert!(item.next_attempt_at > Utc::now(), "{item:?}");
    }
    // The link is still open at MP, GHL untouched.
    assert_eq!(w.desk.drain_outbox().await.unwrap(), 0, "nothing due yet");
    assert_eq!(confirm_puts(w, &p.ghl_id), attempts.0);
    assert_eq!(tag_posts(w, &p.contact_id), attempts.1);
    assert_eq!(note_posts(w, &p.contact_id), attempts.2);

    // Due, providers back: each effect is done.
    assert_eq!(make_outbox_due(w).await, 4);
    assert_eq!(w.desk.drain_outbox().await.unwrap(), 4);
    assert!(w.desk.store().pending_outbox(100).await.unwrap().is_empty());
    assert_done_once(w, p, attempts).await;

    // The payment reported again, and more passes: nothing more reaches the providers.
    w.desk.sync_payment(p.payment_id).await.unwrap();
    w.desk.refresh_charge(&p.charge_id).await.unwrap();
    make_outbox_due(w).await;
    assert_eq!(w.desk.drain_outbox().await.unwrap(), 0);
    assert_done_once(w, p, attempts).await;
}

async fn assert_done_once(w: &World, p: &Paid, attempts: (usize, usize, usize)) {
    assert_eq!(confirm_puts(w, &p.ghl_id), attempts.0 + 1, "confirmed once");
    assert_eq!(tag_posts(w, &p.contact_id), attempts.1 + 1, "tagged once");
    assert_eq!(note_posts(w, &p.contact_id), attempts.2 + 1, "noted once");
    let appt = w.ghl.get_appointment(&p.ghl_id).await.unwrap();
    assert_eq!(appt.appointment_status.as_deref(), Some("confirmed"));
    let booking = w
        .desk
        .store()
        .booking(&p.booking_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(booking.status, "confirmed");
    let contact = w.ghl.get_contact(&p.contact_id).await.unwrap();
    assert_eq!(
        contact
            .tags
            .iter()
            .filter(|t| *t == "pago_confirmado")
            .count(),
        1,
        "{:?}",
        contact.tags
    );
    let marker = format!("pago {}", p.payment_id);
    let notes = notes_of(w, &p.contact_id).await;
    assert_eq!(
        notes.iter().filter(|n| n.contains(&marker)).count(),
        1,
        "one payment note: {notes:?}"
    );
    // The link is closed: a second payment is refused.
    assert!(
        w.sandbox
            .pay_preference(&p.preference_id, PayRequest::default())
            .await
            .is_err()
    );
    let charge = w.desk.charge(&p.charge_id).await.unwrap();
    assert_eq!(charge.status, ChargeStatus::Paid);
    assert_eq!(audited(w, &p.charge_id, "charge.paid").await, 1);
    assert_eq!(events_of(w, &p.charge_id, "paid"), 1);
    assert_eq!(
        w.desk
            .store()
            .payments_of_charge(&p.charge_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn after_payment_effects_survive_500s_and_happen_once(w: World) {
    let p = an_unreported_payment(&w, 9).await;
    // GHL does not retry 500s itself; MP tries its PUT twice.
    w.sandbox
        .inject(Fault::new("ghl.appointments.update", status(500)).once());
    w.sandbox
        .inject(Fault::new("ghl.contacts.tags.add", status(500)).once());
    w.sandbox
        .inject(Fault::new("ghl.contacts.notes.create", status(500)).once());
    w.sandbox
        .inject(Fault::new("mp.preferences.update", status(500)).times(2));
    effects_once_after(&w, &p, (1, 1, 1)).await;
}

async fn after_payment_effects_survive_429s_and_happen_once(w: World) {
    let p = an_unreported_payment(&w, 9).await;
    // GHL's client retries a 429 three times on the PUT and the tag (safe to repeat), never
    // on the note (it would add it twice); MP's tries its PUT twice, honouring Retry-After.
    w.sandbox
        .inject(Fault::new("ghl.appointments.update", status(429)).times(3));
    w.sandbox
        .inject(Fault::new("ghl.contacts.tags.add", status(429)).times(3));
    w.sandbox
        .inject(Fault::new("ghl.contacts.notes.create", status(429)).once());
    w.sandbox
        .inject(Fault::new("mp.preferences.update", status(429)).times(2));
    effects_once_after(&w, &p, (3, 3, 1)).await;
}

/// GHL does each write but the answers are lost: the retries must not repeat what was done
/// (a second identical note on the patient's record).
async fn after_payment_effects_whose_answer_is_lost_happen_once(w: World) {
    let p = an_unreported_payment(&w, 9).await;
    w.sandbox
        .inject(Fault::new("ghl.appointments.update", hang()).once());
    w.sandbox
        .inject(Fault::new("ghl.contacts.tags.add", hang()).once());
    w.sandbox
        .inject(Fault::new("ghl.contacts.notes.create", hang()).once());
    w.desk.sync_payment(p.payment_id).await.unwrap();
    w.desk.drain_outbox().await.unwrap();
    assert!(w.sandbox.faults().is_empty(), "every fault was hit");
    // Whatever failed is retried once due.
    for _ in 0..3 {
        make_outbox_due(&w).await;
        w.desk.drain_outbox().await.unwrap();
    }
    assert!(w.desk.store().pending_outbox(100).await.unwrap().is_empty());
    let contact = w.ghl.get_contact(&p.contact_id).await.unwrap();
    assert_eq!(
        contact
            .tags
            .iter()
            .filter(|t| *t == "pago_confirmado")
            .count(),
        1
    );
    let appt = w.ghl.get_appointment(&p.ghl_id).await.unwrap();
    assert_eq!(appt.appointment_status.as_deref(), Some("confirmed"));
    let marker = format!("pago {}", p.payment_id);
    let notes = notes_of(&w, &p.contact_id).await;
    assert_eq!(
        notes.iter().filter(|n| n.contains(&marker)).count(),
        1,
        "one payment note, got {notes:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// Payment reads
// ---------------------------------------------------------------------------------------

/// What the listener stores for MP's `payment.*` webhook about `payment_id`.
fn delivery(payment_id: i64, request_id: &str, action: &str) -> IncomingWebhook {
    let body = serde_json::json!({
        "action": action,
        "api_version": "v1",
        "data": { "id": payment_id.to_string() },
        "date_created": Utc::now().to_rfc3339(),
        "id": 12_345_678,
        "live_mode": false,
        "type": "payment",
        "user_id": "1273205088",
    });
    IncomingWebhook {
        provider: "mp",
        query: format!("data.id={payment_id}&type=payment"),
        body: body.to_string().into_bytes(),
        delivery_id: format!("{request_id}:{}", Utc::now().timestamp()),
    }
}

/// A booking whose link was paid at MP, not yet known to the desk.
async fn a_paid_booking(w: &World, hh: u32) -> (String, i64) {
    let view = w.desk.create_booking(request("paid", hh)).await.unwrap();
    let charge = w.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let paid = w
        .sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    (charge.id, paid.payment_id)
}

/// The delivery is stored, MP's payment read fails on every client attempt, the delivery is
/// kept and processed on a later pass: paid once, its effects queued once.
async fn delivery_survives_payment_reads_failing(w: World, kind: FaultKind) {
    let (charge_id, payment_id) = a_paid_booking(&w, 8).await;
    let hook = delivery(payment_id, "req-1", "payment.created");
    assert_eq!(
        w.desk.accept_webhook(hook.clone()).await.unwrap(),
        Accepted::Stored
    );
    w.sandbox
        .inject(Fault::new("mp.payments.get", kind).times(2));

    assert_eq!(w.desk.drain_inbox().await.unwrap(), 0, "the read failed");
    assert_eq!(
        left(&w, "mp.payments.get"),
        0,
        "both client attempts failed"
    );
    assert_eq!(w.desk.store().inbox_counts().await.unwrap(), (1, 0), "kept");
    assert_eq!(
        w.desk.charge(&charge_id).await.unwrap().status,
        ChargeStatus::Open
    );
    assert!(
        w.desk
            .store()
            .payments_of_charge(&charge_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(outbox_for(&w, &charge_id).await.is_empty());
    assert_eq!(w.desk.drain_inbox().await.unwrap(), 0, "not due again yet");

    // Its retry falls due after the inbox backoff (2 s for a first failure).
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let mut finished = 0;
    while finished == 0 && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        finished = w.desk.drain_inbox().await.unwrap();
    }
    assert_eq!(finished, 1, "processed on a later pass");
    assert_eq!(w.desk.store().inbox_counts().await.unwrap(), (1, 1));
    let charge = w.desk.charge(&charge_id).await.unwrap();
    assert_eq!(charge.status, ChargeStatus::Paid);
    let effects = outbox_for(&w, &charge_id).await.len();
    assert_eq!(effects, 4, "close, confirm, tag and note queued once");

    // The same delivery again, and MP's next notification of the same payment: no change.
    assert_eq!(
        w.desk.accept_webhook(hook).await.unwrap(),
        Accepted::Duplicate
    );
    let update = delivery(payment_id, "req-2", "payment.updated");
    assert_eq!(
        w.desk.accept_webhook(update).await.unwrap(),
        Accepted::Stored
    );
    assert_eq!(w.desk.drain_inbox().await.unwrap(), 1);
    assert_eq!(w.desk.store().inbox_counts().await.unwrap(), (2, 2));
    let again = w.desk.charge(&charge_id).await.unwrap();
    assert_eq!(
        again.version, charge.version,
        "re-processing changed nothing"
    );
    assert_eq!(
        w.desk
            .store()
            .payments_of_charge(&charge_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(outbox_for(&w, &charge_id).await.len(), effects);
    assert_eq!(audited(&w, &charge_id, "charge.paid").await, 1);
    assert_eq!(events_of(&w, &charge_id, "paid"), 1);
}

async fn a_delivery_survives_payment_reads_failing_with_500(w: World) {
    delivery_survives_payment_reads_failing(w, status(500)).await;
}

async fn a_delivery_survives_payment_reads_timing_out(w: World) {
    delivery_survives_payment_reads_failing(w, hang()).await;
}

/// "Check now" / the reconciler while MP's payment search fails (500, then a timeout): the
/// pass reports the failure, changes nothing, and the next pass marks the charge paid once.
async fn the_reconciler_survives_payment_searches_failing(w: World) {
    let (charge_id, _) = a_paid_booking(&w, 18).await;
    w.sandbox
        .inject(Fault::new("mp.payments.search", status(500)).once());
    w.sandbox
        .inject(Fault::new("mp.payments.search", hang()).once());
    let pass = w.desk.reconcile_payments().await.unwrap();
    assert_eq!((pass.checked, pass.failed), (0, 1));
    assert!(w.sandbox.faults().is_empty(), "both client attempts failed");
    assert_eq!(
        w.desk.charge(&charge_id).await.unwrap().status,
        ChargeStatus::Open
    );
    assert!(
        w.desk
            .store()
            .payments_of_charge(&charge_id)
            .await
            .unwrap()
            .is_empty()
    );

    let pass = w.desk.reconcile_payments().await.unwrap();
    assert_eq!((pass.checked, pass.failed), (1, 0));
    let charge = w.desk.charge(&charge_id).await.unwrap();
    assert_eq!(charge.status, ChargeStatus::Paid);
    let effects = outbox_for(&w, &charge_id).await.len();
    w.desk.reconcile_payments().await.unwrap();
    assert_eq!(
        w.desk.charge(&charge_id).await.unwrap().version,
        charge.version
    );
    assert_eq!(
        w.desk
            .store()
            .payments_of_charge(&charge_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(outbox_for(&w, &charge_id).await.len(), effects);
    assert_eq!(audited(&w, &charge_id, "charge.paid").await, 1);
    assert_eq!(events_of(&w, &charge_id, "paid"), 1);
}
