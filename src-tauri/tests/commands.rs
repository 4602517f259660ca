//! Pins the UI contract on Tauri's mock runtime: command names, camelCase argument names,
//! result shapes and the error JSON `{code, message, details?}`. Runs in demo mode.

use desk::events::NoEvents;
use desk::secrets::MemorySecrets;
use mostrador_lib::state::AppState;
use serde_json::{Value, json};
use std::sync::Arc;
use tauri::Manager;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::{InvokeRequest, WebviewWindow};

struct App {
    app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    _dir: tempfile::TempDir,
}

fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let app = mostrador_lib::with_commands(mock_builder())
        .build(tauri::generate_context!())
        .unwrap();
    app.manage(AppState::new(
        dir.path().to_path_buf(),
        Arc::new(NoEvents),
        Arc::new(MemorySecrets::default()),
    ));
    let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    App {
        app,
        window,
        _dir: dir,
    }
}

/// The demo host's in-process sandbox, for fault injection.
fn with_sandbox<T>(app: &App, f: impl FnOnce(&sandbox::Sandbox) -> T) -> T {
    let host = tauri::async_runtime::block_on(app.app.state::<AppState>().host()).unwrap();
    f(host.sandbox.as_ref().expect("demo mode has a sandbox"))
}

fn invoke(app: &App, cmd: &str, args: Value) -> Result<Value, Value> {
    invoke_from(app, "tauri://localhost", cmd, args)
}

fn invoke_from(app: &App, origin: &str, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        &app.window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: origin.parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

fn tomorrow() -> String {
    let tz = chrono_tz::America::Lima;
    (chrono::Utc::now().with_timezone(&tz).date_naive() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string()
}

fn booking_request(key: &str, start: &str, end: &str, amount: &str) -> Value {
    json!({ "request": {
        "idempotencyKey": key,
        "calendarId": sandbox::seed::CONSULTA_GENERAL_CALENDAR_ID,
        "patientName": "Ana Torres",
        "patientPhone": null,
        "date": tomorrow(),
        "startTime": start,
        "endTime": end,
        "amount": amount,
        "description": "Consulta"
    }})
}

#[test]
fn app_status_reports_demo_mode_in_camel_case() {
    let app = app();
    let status = invoke(&app, "app_status", json!({})).unwrap();
    assert_eq!(status["demo"], json!(true));
    assert_eq!(status["timezone"], json!("America/Lima"));
    assert_eq!(status["currency"], json!("PEN"));
    assert!(status["clinicName"].is_string());
    assert!(
        status["listenerUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
}

#[test]
fn list_calendars_returns_id_name_and_slot_minutes() {
    let app = app();
    let cals = invoke(&app, "list_calendars", json!({})).unwrap();
    let first = &cals.as_array().unwrap()[0];
    assert!(first["id"].is_string() && first["name"].is_string());
    assert!(first["slotMinutes"].as_u64().unwrap() > 0);
}

#[test]
fn create_booking_takes_a_camel_case_request_and_returns_the_view() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k1", "10:00", "10:30", "80.00"),
    )
    .unwrap();
    assert_eq!(view["localStart"], json!("10:00"));
    assert_eq!(view["localEnd"], json!("10:30"));
    assert_eq!(view["localDate"], json!(tomorrow()));
    assert!(view["ghlId"].is_string());
    assert_eq!(view["charge"]["amount"], json!("80.00"));
    assert_eq!(view["charge"]["status"], json!("open"));
    assert!(view["charge"]["paymentLink"].is_string());

    let day = invoke(&app, "list_bookings", json!({ "day": tomorrow() })).unwrap();
    assert_eq!(day.as_array().unwrap().len(), 1);
    assert_eq!(day[0]["id"], view["id"]);
}

#[test]
fn create_booking_takes_the_picked_contact_id_and_makes_no_new_contact() {
    let app = app();
    let mut request = booking_request("k16", "11:00", "11:30", "80.00");
    request["request"]["contactId"] = json!(sandbox::seed::CONTACT_IDS[2]);
    let upserts = || {
        with_sandbox(&app, |s| {
            s.ghl_requests()
                .iter()
                .filter(|r| r.method == "POST" && r.path.starts_with("/contacts/upsert"))
                .count()
        })
    };
    let before = upserts();
    let view = invoke(&app, "create_booking", request).unwrap();
    assert!(view["ghlId"].is_string(), "{view}");
    assert_eq!(upserts(), before, "the picked contact, not a new one");
    invoke(
        &app,
        "create_booking",
        booking_request("k18", "12:30", "13:00", "80.00"),
    )
    .unwrap();
    assert_eq!(
        upserts(),
        before + 1,
        "without one, a typed name is looked up"
    );

    let mut unknown = booking_request("k17", "11:30", "12:00", "80.00");
    unknown["request"]["contactId"] = json!("CntNoSuchContact0001");
    let err = invoke(&app, "create_booking", unknown).unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "contactId" }));
}

#[test]
fn a_validation_error_is_code_message_and_field() {
    let app = app();
    let err = invoke(
        &app,
        "create_booking",
        booking_request("k2", "10:00", "10:30", "0"),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "amount" }));
    assert!(err["message"].is_string());
    assert_eq!(
        err.as_object().unwrap().len(),
        3,
        "exactly code, message, details: {err}"
    );

    let err = invoke(
        &app,
        "create_booking",
        booking_request("k3", "10:30", "10:00", "80"),
    )
    .unwrap_err();
    assert_eq!(err["details"]["field"], json!("endTime"));
    let err = invoke(&app, "list_bookings", json!({ "day": "28/11/2026" })).unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
}

#[test]
fn an_unknown_charge_is_not_found_without_details() {
    let app = app();
    let err = invoke(&app, "charge_qr", json!({ "chargeId": "nope" })).unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
    assert!(err.get("details").is_none());
}

#[test]
fn arguments_must_use_the_ui_camel_case_names() {
    let app = app();
    // `charge_id` is not how the UI names it: Tauri refuses before the command runs.
    let err = invoke(&app, "charge_qr", json!({ "charge_id": "x" })).unwrap_err();
    assert!(
        err.get("code").is_none(),
        "refused by Tauri, not by the command: {err}"
    );
    assert!(invoke(&app, "no_such_command", json!({})).is_err());
}

#[test]
fn retrying_the_link_of_an_open_charge_changes_nothing() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k5", "12:00", "12:30", "80.00"),
    )
    .unwrap();
    let charge_id = view["charge"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        invoke(&app, "retry_link", json!({ "chargeId": charge_id })).unwrap(),
        Value::Null
    );
    let qr = invoke(&app, "charge_qr", json!({ "chargeId": charge_id })).unwrap();
    assert_eq!(
        qr["paymentLink"], view["charge"]["paymentLink"],
        "the same link, not a second one"
    );
    let err = invoke(&app, "retry_link", json!({ "chargeId": "nope" })).unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
}

#[test]
fn a_page_from_elsewhere_may_not_call_commands() {
    let app = app();
    let err = invoke_from(&app, "https://example.com", "app_status", json!({})).unwrap_err();
    assert!(err.as_str().unwrap().contains("not allowed"), "{err}");
}

/// Waits until the charge reads `status` (the webhook travels the real path meanwhile).
fn wait_for_charge(app: &App, charge_id: &str, status: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let qr = invoke(app, "charge_qr", json!({ "chargeId": charge_id })).unwrap();
        if qr["status"] == json!(status) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {}, waiting for {status}",
            qr["status"]
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A booking of S/ 80.00 whose patient has paid (in demo mode, through the sandbox).
fn paid_booking(app: &App, key: &str, start: &str, end: &str) -> (String, String) {
    let view = invoke(
        app,
        "create_booking",
        booking_request(key, start, end, "80.00"),
    )
    .unwrap();
    let charge_id = view["charge"]["id"].as_str().unwrap().to_string();
    invoke(app, "simulate_payment", json!({ "chargeId": charge_id })).unwrap();
    wait_for_charge(app, &charge_id, "paid");
    (view["id"].as_str().unwrap().to_string(), charge_id)
}

#[test]
fn the_qr_then_a_simulated_payment_turns_the_charge_paid() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k4", "11:00", "11:30", "80.00"),
    )
    .unwrap();
    let charge_id = view["charge"]["id"].as_str().unwrap().to_string();
    let qr = invoke(&app, "charge_qr", json!({ "chargeId": charge_id })).unwrap();
    assert!(qr["svg"].as_str().unwrap().contains("<svg"));
    assert_eq!(qr["amount"], json!("80.00"));
    assert_eq!(qr["status"], json!("open"));

    assert_eq!(
        invoke(&app, "simulate_payment", json!({ "chargeId": charge_id })).unwrap(),
        Value::Null
    );
    wait_for_charge(&app, &charge_id, "paid");
}

#[test]
fn cancelling_an_unpaid_booking_cancels_its_link() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k6", "13:00", "13:30", "80.00"),
    )
    .unwrap();
    let cancelled = invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": view["id"], "refund": null }),
    )
    .unwrap();
    assert_eq!(cancelled["id"], view["id"]);
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(cancelled["charge"]["status"], json!("cancelled"));
    assert_eq!(cancelled["localStart"], json!("13:00"), "the whole view");

    let again = invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": view["id"], "refund": null }),
    )
    .unwrap();
    assert_eq!(again, cancelled, "cancelling twice changes nothing");
    let err = invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": "nope", "refund": null }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
}

#[test]
fn a_paid_booking_needs_a_refund_decision_then_refunds() {
    let app = app();
    let (booking_id, charge_id) = paid_booking(&app, "k7", "14:00", "14:30");

    let err = invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": booking_id, "refund": null }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "refund" }));
    assert!(err["message"].is_string());
    assert_eq!(err.as_object().unwrap().len(), 3, "{err}");
    for bad in ["", "some", "-5", "80.001", "90.00"] {
        let err = invoke(
            &app,
            "cancel_booking",
            json!({ "bookingId": booking_id, "refund": bad }),
        )
        .unwrap_err();
        assert_eq!(err["code"], json!("VALIDATION"), "{bad}: {err}");
        assert_eq!(err["details"]["field"], json!("refund"), "{bad}: {err}");
    }
    let day = invoke(&app, "list_bookings", json!({ "day": tomorrow() })).unwrap();
    assert_ne!(day[0]["status"], json!("cancelled"), "nothing changed");
    assert_eq!(day[0]["charge"]["status"], json!("paid"));

    let cancelled = invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": booking_id, "refund": "30.00" }),
    )
    .unwrap();
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(cancelled["charge"]["id"], json!(charge_id));
    assert_eq!(cancelled["charge"]["status"], json!("partially_refunded"));
}

#[test]
fn a_full_refund_leaves_the_charge_refunded() {
    let app = app();
    let (booking_id, _) = paid_booking(&app, "k8", "15:00", "15:30");
    let cancelled = invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": booking_id, "refund": "full" }),
    )
    .unwrap();
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(cancelled["charge"]["status"], json!("refunded"));
}

#[test]
fn keeping_the_money_cancels_and_leaves_the_charge_paid() {
    let app = app();
    let (booking_id, _) = paid_booking(&app, "k9", "16:00", "16:30");
    let cancelled = invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": booking_id, "refund": "none" }),
    )
    .unwrap();
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(cancelled["charge"]["status"], json!("paid"));

    // Staff change their mind: the kept money can still be refunded, in part.
    let charge_id = cancelled["charge"]["id"].as_str().unwrap().to_string();
    for bad in ["none", "", "-1", "80.01"] {
        let err = invoke(
            &app,
            "refund_charge",
            json!({ "chargeId": charge_id, "refund": bad }),
        )
        .unwrap_err();
        assert_eq!(err["code"], json!("VALIDATION"), "{bad}: {err}");
        assert_eq!(err["details"]["field"], json!("refund"), "{bad}");
    }
    let refunded = invoke(
        &app,
        "refund_charge",
        json!({ "chargeId": charge_id, "refund": "20.00" }),
    )
    .unwrap();
    assert_eq!(refunded["status"], json!("cancelled"));
    assert_eq!(refunded["charge"]["status"], json!("partially_refunded"));
    let err = invoke(
        &app,
        "refund_charge",
        json!({ "chargeId": "nope", "refund": "full" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
}

#[test]
fn checking_a_payment_reads_mp_at_once() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k10", "17:00", "17:30", "80.00"),
    )
    .unwrap();
    let charge_id = view["charge"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        invoke(&app, "check_payment", json!({ "chargeId": charge_id })).unwrap(),
        Value::Null
    );
    let qr = invoke(&app, "charge_qr", json!({ "chargeId": charge_id })).unwrap();
    assert_eq!(qr["status"], json!("open"), "no payment yet");

    // The sandbox records the payment before its webhook goes out: a check finds it now.
    invoke(&app, "simulate_payment", json!({ "chargeId": charge_id })).unwrap();
    invoke(&app, "check_payment", json!({ "chargeId": charge_id })).unwrap();
    let qr = invoke(&app, "charge_qr", json!({ "chargeId": charge_id })).unwrap();
    assert_eq!(qr["status"], json!("paid"));

    let err = invoke(&app, "check_payment", json!({ "chargeId": "nope" })).unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
    let err = invoke(&app, "check_payment", json!({ "charge_id": charge_id })).unwrap_err();
    assert!(err.get("code").is_none(), "camelCase only: {err}");
}

#[test]
fn nothing_is_owed_for_a_fresh_open_charge() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k11", "18:00", "18:30", "80.00"),
    )
    .unwrap();
    let charge_id = view["charge"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        invoke(&app, "pending_effects", json!({ "chargeId": charge_id })).unwrap(),
        json!([])
    );
    let err = invoke(&app, "pending_effects", json!({ "chargeId": "nope" })).unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
    assert!(err.get("details").is_none());
    let err = invoke(&app, "pending_effects", json!({ "charge_id": charge_id })).unwrap_err();
    assert!(err.get("code").is_none(), "camelCase only: {err}");
}

#[test]
fn a_link_mp_refused_is_owed_with_its_tries_last_error_and_next_try() {
    let app = app();
    // A 400 is not retried by the MP client, so the booking answers at once with a draft.
    let mp_token = with_sandbox(&app, |sandbox| {
        sandbox.inject(sandbox::Fault::new(
            "mp.preferences.create",
            sandbox::FaultKind::Status {
                status: 400,
                retry_after_secs: None,
            },
        ));
        sandbox.config().mp_access_token.clone()
    });
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k12", "18:30", "19:00", "80.00"),
    )
    .unwrap();
    assert_eq!(view["charge"]["status"], json!("draft"));
    let charge_id = view["charge"]["id"].as_str().unwrap().to_string();

    let owed = invoke(&app, "pending_effects", json!({ "chargeId": charge_id })).unwrap();
    let owed = owed.as_array().unwrap();
    assert_eq!(owed.len(), 1, "{owed:?}");
    let item = owed[0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["attempts", "kind", "lastError", "nextAttemptAt"]);
    assert_eq!(item["kind"], json!("mp.create_link"));
    assert_eq!(item["attempts"], json!(0));
    let error = item["lastError"].as_str().unwrap();
    assert!(!error.is_empty());
    assert!(!error.contains(&mp_token), "no secret in staff's text");
    let next = item["nextAttemptAt"].as_str().unwrap();
    let at = chrono::NaiveDateTime::parse_from_str(next, "%Y-%m-%dT%H:%M:%S%.3fZ")
        .unwrap_or_else(|e| panic!("{next}: {e}"));
    assert_eq!(next.len(), "2026-11-28T15:00:00.000Z".len(), "{next}");
    assert!(
        at.and_utc() > chrono::Utc::now(),
        "the retry is still ahead: {next}"
    );
}

/// The sorted keys of a JSON object.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort_unstable();
    k
}

#[test]
fn search_patients_takes_a_query_and_returns_contact_id_name_phone_and_email() {
    let app = app();
    let found = invoke(&app, "search_patients", json!({ "query": "ana.torres" })).unwrap();
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(keys(&found[0]), ["contactId", "email", "name", "phone"]);
    assert_eq!(found[0]["contactId"], json!(sandbox::seed::CONTACT_IDS[2]));
    assert_eq!(found[0]["email"], json!("ana.torres@example.com"));

    let err = invoke(&app, "search_patients", json!({ "query": " a " })).unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "query" }));
    assert_eq!(err.as_object().unwrap().len(), 3, "{err}");
    let err = invoke(&app, "search_patients", json!({ "q": "ana" })).unwrap_err();
    assert!(err.get("code").is_none(), "refused by Tauri: {err}");
}

#[test]
fn create_patient_answers_the_patient_and_whether_it_already_existed() {
    let app = app();
    let args = json!({ "name": "Carmen Díaz", "phone": "+51 911 222 333", "email": null });
    let created = invoke(&app, "create_patient", args.clone()).unwrap();
    assert_eq!(
        keys(&created),
        ["contactId", "email", "existing", "name", "phone"]
    );
    assert_eq!(created["existing"], json!(false));
    assert_eq!(created["phone"], json!("+51911222333"));
    assert_eq!(created["email"], Value::Null);

    let again = invoke(&app, "create_patient", args).unwrap();
    assert_eq!(again["existing"], json!(true));
    assert_eq!(again["contactId"], created["contactId"]);

    let err = invoke(
        &app,
        "create_patient",
        json!({ "name": "Rosa", "phone": null, "email": null }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "phone" }));
    let err = invoke(
        &app,
        "create_patient",
        json!({ "name": "Rosa", "email": "rosa@" }),
    )
    .unwrap_err();
    assert_eq!(err["details"], json!({ "field": "email" }));
}

#[test]
fn free_slots_take_calendar_id_and_day_and_leave_out_taken_times() {
    let app = app();
    let args = json!({
        "calendarId": sandbox::seed::CONSULTA_GENERAL_CALENDAR_ID,
        "day": tomorrow(),
    });
    let slots = invoke(&app, "free_slots", args.clone()).unwrap();
    let slots = slots.as_array().unwrap();
    assert_eq!(
        keys(&slots[0]),
        ["endsAt", "localEnd", "localStart", "startsAt"]
    );
    assert_eq!(slots[0]["localStart"], json!("08:00"));
    assert_eq!(slots[0]["localEnd"], json!("08:30"));
    let starts_at = slots[0]["startsAt"].as_str().unwrap();
    assert!(starts_at.ends_with("T13:00:00.000Z"), "UTC: {starts_at}");
    assert!(slots.iter().any(|s| s["localStart"] == json!("10:00")));

    invoke(
        &app,
        "create_booking",
        booking_request("k13", "10:00", "10:30", "80.00"),
    )
    .unwrap();
    let after = invoke(&app, "free_slots", args).unwrap();
    let after = after.as_array().unwrap();
    assert_eq!(after.len(), slots.len() - 1);
    assert!(!after.iter().any(|s| s["localStart"] == json!("10:00")));

    let err = invoke(
        &app,
        "free_slots",
        json!({ "calendarId": sandbox::seed::CONSULTA_GENERAL_CALENDAR_ID, "day": "28/11/2026" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "day" }));
    let err = invoke(
        &app,
        "free_slots",
        json!({ "calendarId": "CalNoSuchCalendar001", "day": tomorrow() }),
    )
    .unwrap_err();
    assert_eq!(err["details"], json!({ "field": "calendarId" }));
    let err = invoke(
        &app,
        "free_slots",
        json!({ "calendar_id": sandbox::seed::CONSULTA_GENERAL_CALENDAR_ID, "day": tomorrow() }),
    )
    .unwrap_err();
    assert!(err.get("code").is_none(), "camelCase only: {err}");
}

#[test]
fn mark_attendance_takes_booking_id_and_attendance_and_returns_the_view() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k14", "09:00", "09:30", "80.00"),
    )
    .unwrap();
    let marked = invoke(
        &app,
        "mark_attendance",
        json!({ "bookingId": view["id"], "attendance": "showed" }),
    )
    .unwrap();
    assert_eq!(marked["id"], view["id"]);
    assert_eq!(marked["status"], json!("showed"));
    assert_eq!(marked["localStart"], json!("09:00"), "the whole view");
    let marked = invoke(
        &app,
        "mark_attendance",
        json!({ "bookingId": view["id"], "attendance": "noshow" }),
    )
    .unwrap();
    assert_eq!(marked["status"], json!("noshow"));

    let err = invoke(
        &app,
        "mark_attendance",
        json!({ "bookingId": view["id"], "attendance": "llegó" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "attendance" }));

    let gone = invoke(
        &app,
        "create_booking",
        booking_request("k15", "09:30", "10:00", "80.00"),
    )
    .unwrap();
    invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": gone["id"], "refund": null }),
    )
    .unwrap();
    let err = invoke(
        &app,
        "mark_attendance",
        json!({ "bookingId": gone["id"], "attendance": "showed" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("CONFLICT"));
    assert!(err.get("details").is_none(), "{err}");
    let err = invoke(
        &app,
        "mark_attendance",
        json!({ "bookingId": "nope", "attendance": "showed" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
    let err = invoke(
        &app,
        "mark_attendance",
        json!({ "booking_id": view["id"], "attendance": "showed" }),
    )
    .unwrap_err();
    assert!(err.get("code").is_none(), "camelCase only: {err}");
}

#[test]
fn record_desk_payment_takes_charge_id_method_and_reference_and_returns_the_view() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k30", "11:00", "11:30", "80.00"),
    )
    .unwrap();
    let charge_id = view["charge"]["id"].clone();
    let err = invoke(
        &app,
        "record_desk_payment",
        json!({ "chargeId": charge_id, "method": "yape", "reference": null }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "method" }));
    let err = invoke(
        &app,
        "record_desk_payment",
        json!({ "chargeId": charge_id, "method": "cash", "reference": "9".repeat(101) }),
    )
    .unwrap_err();
    assert_eq!(err["details"], json!({ "field": "reference" }));

    let paid = invoke(
        &app,
        "record_desk_payment",
        json!({ "chargeId": charge_id, "method": "cash", "reference": " R-001 " }),
    )
    .unwrap();
    assert_eq!(paid["id"], view["id"], "the booking's view");
    assert_eq!(paid["localStart"], json!("11:00"));
    assert_eq!(paid["charge"]["id"], charge_id);
    assert_eq!(paid["charge"]["status"], json!("paid_at_desk"));
    assert_eq!(paid["charge"]["amount"], json!("80.00"));
    assert_eq!(paid["charge"]["deskMethod"], json!("cash"));
    assert_eq!(paid["charge"]["deskReference"], json!("R-001"));
    assert!(paid["charge"]["paidAt"].is_string());

    let err = invoke(
        &app,
        "record_desk_payment",
        json!({ "chargeId": charge_id, "method": "card" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("CONFLICT"));
    assert!(err.get("details").is_none(), "{err}");
    let err = invoke(
        &app,
        "record_desk_payment",
        json!({ "chargeId": "nope", "method": "card", "reference": null }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
    let err = invoke(
        &app,
        "record_desk_payment",
        json!({ "charge_id": charge_id, "method": "card" }),
    )
    .unwrap_err();
    assert!(err.get("code").is_none(), "camelCase only: {err}");
}

#[test]
fn reschedule_booking_takes_utc_slot_text_and_keeps_the_charge() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k19", "10:00", "10:30", "80.00"),
    )
    .unwrap();
    let slots = invoke(
        &app,
        "free_slots",
        json!({
            "calendarId": sandbox::seed::CONSULTA_GENERAL_CALENDAR_ID,
            "day": tomorrow(),
        }),
    )
    .unwrap();
    let pick = slots
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["localStart"] == json!("15:30"))
        .unwrap()
        .clone();
    let moved = invoke(
        &app,
        "reschedule_booking",
        json!({ "bookingId": view["id"], "startsAt": pick["startsAt"], "endsAt": pick["endsAt"] }),
    )
    .unwrap();
    assert_eq!(moved["id"], view["id"]);
    assert_eq!(moved["localStart"], json!("15:30"));
    assert_eq!(moved["startsAt"], pick["startsAt"]);
    assert_eq!(
        moved["charge"], view["charge"],
        "the same charge, link and status"
    );

    // Back to 10:00 works; onto a taken time does not.
    let other = invoke(
        &app,
        "create_booking",
        booking_request("k20", "11:00", "11:30", "80.00"),
    )
    .unwrap();
    let err = invoke(
        &app,
        "reschedule_booking",
        json!({ "bookingId": view["id"], "startsAt": other["startsAt"], "endsAt": other["endsAt"] }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("SLOT_TAKEN"));
    let err = invoke(
        &app,
        "reschedule_booking",
        json!({ "bookingId": view["id"], "startsAt": "mañana", "endsAt": pick["endsAt"] }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "startsAt" }));
    let err = invoke(
        &app,
        "reschedule_booking",
        json!({ "bookingId": "nope", "startsAt": pick["startsAt"], "endsAt": pick["endsAt"] }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
    let err = invoke(
        &app,
        "reschedule_booking",
        json!({ "booking_id": view["id"], "startsAt": pick["startsAt"], "endsAt": pick["endsAt"] }),
    )
    .unwrap_err();
    assert!(err.get("code").is_none(), "camelCase only: {err}");
}

#[test]
fn send_payment_link_answers_sent_and_the_channel() {
    let app = app();
    let view = invoke(
        &app,
        "create_booking",
        booking_request("k21", "12:00", "12:30", "80.00"),
    )
    .unwrap();
    // The demo's Ana Torres has a phone and an email.
    let mut request = booking_request("k22", "12:30", "13:00", "80.00");
    request["request"]["contactId"] = json!(sandbox::seed::CONTACT_IDS[2]);
    let ana = invoke(&app, "create_booking", request).unwrap();
    for channel in ["whatsapp", "sms", "email"] {
        let sent = invoke(
            &app,
            "send_payment_link",
            json!({ "bookingId": ana["id"], "channel": channel }),
        )
        .unwrap();
        assert_eq!(sent, json!({ "sent": true, "channel": channel }));
    }
    let kinds: Vec<String> = with_sandbox(&app, |s| {
        s.ghl_messages().iter().map(|m| m.kind.clone()).collect()
    });
    assert_eq!(kinds, ["WhatsApp", "SMS", "Email"]);

    let err = invoke(
        &app,
        "send_payment_link",
        json!({ "bookingId": view["id"], "channel": "telegram" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("VALIDATION"));
    assert_eq!(err["details"], json!({ "field": "channel" }));
    invoke(
        &app,
        "cancel_booking",
        json!({ "bookingId": view["id"], "refund": null }),
    )
    .unwrap();
    let err = invoke(
        &app,
        "send_payment_link",
        json!({ "bookingId": view["id"], "channel": "sms" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("CONFLICT"));
    let err = invoke(
        &app,
        "send_payment_link",
        json!({ "bookingId": "nope", "channel": "sms" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
}

#[test]
fn whatsapp_link_answers_a_wa_me_url_and_sends_nothing() {
    let app = app();
    let mut request = booking_request("k23", "13:00", "13:30", "80.00");
    request["request"]["contactId"] = json!(sandbox::seed::CONTACT_IDS[2]);
    let view = invoke(&app, "create_booking", request).unwrap();
    let link = invoke(&app, "whatsapp_link", json!({ "bookingId": view["id"] })).unwrap();
    assert_eq!(keys(&link), ["url"]);
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://wa.me/51998877665?text=Hola%20"),
        "{url}"
    );
    assert!(with_sandbox(&app, |s| s.ghl_messages().is_empty()));
    let err = invoke(&app, "whatsapp_link", json!({ "bookingId": "nope" })).unwrap_err();
    assert_eq!(err["code"], json!("NOT_FOUND"));
    let err = invoke(&app, "whatsapp_link", json!({ "booking_id": view["id"] })).unwrap_err();
    assert!(err.get("code").is_none(), "camelCase only: {err}");
}
