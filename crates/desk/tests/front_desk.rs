//! The receptionist's day against the sandbox over real loopback HTTP, on SQLite and MySQL:
//! finding a patient, adding one without making a second contact, the free-slot picker,
//! marking attendance, rescheduling while keeping the charge, and sending the payment link
//! to the patient — and every way each must refuse.

use chrono::Duration;
use desk::events::NoEvents;
use desk::money::Currency;
use desk::testing::TestDb;
use desk::{Attendance, Channel, CreateBooking, Desk, ErrorCode, Store};
use sandbox::{Sandbox, SandboxConfig, seed};
use std::sync::Arc;
use testkit::Db;

mod support;
use support::{request, tomorrow_at};

struct World {
    desk: Arc<Desk>,
    sandbox: Sandbox,
    ghl: ghl::Client,
    db: TestDb,
}

async fn world(db: Db) -> World {
    let db = db.open().await;
    let sandbox = Sandbox::start(SandboxConfig::demo()).await.unwrap();
    let ghl = support::ghl_client(&sandbox);
    let mp = support::mp_client(&sandbox);
    let clinic = support::lima_clinic(&sandbox);
    let desk = Desk::new(
        Arc::new(db.store.clone()),
        Arc::new(ghl.clone()),
        Arc::new(mp),
        Arc::new(NoEvents),
        clinic,
    );
    World {
        desk: Arc::new(desk),
        sandbox,
        ghl,
        db,
    }
}

testkit::on_both_databases!(
    given world;
    patients_are_found_by_name_phone_or_email,
    a_search_of_fewer_than_2_or_more_than_100_characters_is_refused_before_ghl,
    a_search_answers_at_most_twenty_patients,
    a_new_patient_is_created_once_and_then_found_as_existing,
    a_patient_ghl_already_has_by_phone_or_email_is_not_created_again,
    bad_patient_input_is_refused_naming_the_field_and_creates_nothing,
    free_slots_cover_the_local_day_in_the_calendar_slot_length,
    a_booked_slot_is_no_longer_offered_and_an_offered_slot_books,
    free_slots_refuse_an_unknown_calendar_or_a_malformed_day,
    attendance_is_written_to_ghl_and_the_booking_follows_audited_as_desk,
    attendance_is_refused_for_cancelled_failed_or_unknown_bookings,
    a_reschedule_moves_the_appointment_in_ghl_and_keeps_the_charge,
    a_reschedule_to_a_taken_or_off_grid_time_is_refused_and_changes_nothing,
    a_reschedule_is_refused_for_bookings_that_do_not_stand,
    the_payment_link_is_sent_by_whatsapp_sms_or_email_audited_without_contact_data,
    only_an_open_charge_with_a_link_is_sent,
    a_patient_without_a_phone_or_email_cannot_be_sent_that_channel,
    the_whatsapp_link_dials_the_patient_digits_with_the_encoded_message,
    a_desk_payment_expires_the_link_settles_the_charge_and_confirms_in_ghl,
    a_desk_payment_is_refused_when_mp_already_has_the_payment,
    only_an_unpaid_charge_is_paid_at_the_desk_and_bad_input_changes_nothing,
    an_mp_payment_after_a_desk_payment_needs_review_never_counted_twice,
);

fn ghl_calls(w: &World, method: &str, path: &str) -> usize {
    w.sandbox
        .ghl_requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(path))
        .count()
}

/// `POST /contacts/` calls: contacts GHL was asked to create.
fn contacts_created(w: &World) -> usize {
    w.sandbox
        .ghl_requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/contacts/")
        .count()
}

fn tomorrow() -> String {
    tomorrow_at(12, 0)
        .with_timezone(&chrono_tz::America::Lima)
        .format("%Y-%m-%d")
        .to_string()
}

async fn patients_are_found_by_name_phone_or_email(w: World) {
    let maria = seed::CONTACT_IDS[0];
    for query in [
        "maría",
        "Flores Hua",
        "987 654",
        "+51987654321",
        "maria.flores@",
    ] {
        let found = w.desk.search_patients(query).await.unwrap();
        assert!(
            found.iter().any(|p| p.contact_id == maria),
            "{query}: {found:?}"
        );
    }
    let found = w
        .desk
        .search_patients("  ana.torres@example.com ")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let ana = &found[0];
    assert_eq!(ana.contact_id, seed::CONTACT_IDS[2]);
    assert_eq!(ana.name, "Ana Torres Vargas");
    assert_eq!(ana.phone.as_deref(), Some("+51998877665"));
    assert_eq!(ana.email.as_deref(), Some("ana.torres@example.com"));
    assert!(
        w.desk
            .search_patients("Nadie Así")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_search_of_fewer_than_2_or_more_than_100_characters_is_refused_before_ghl(w: World) {
    for bad in [String::new(), "  a  ".into(), "x".repeat(101)] {
        let err = w.desk.search_patients(&bad).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{bad:?}");
        assert_eq!(err.field(), Some("query"));
    }
    assert_eq!(ghl_calls(&w, "POST", "/contacts/search"), 0);
    // 100 characters are accepted (GHL is sent its 75-character maximum).
    let long = format!("María{}", " ".repeat(90)) + "Flore";
    assert_eq!(long.chars().count(), 100);
    w.desk.search_patients(&long).await.unwrap();
}

async fn a_search_answers_at_most_twenty_patients(w: World) {
    for i in 0..25 {
        let new = ghl::NewContact {
            location_id: w.sandbox.config().location_id.clone(),
            name: Some(format!("Paciente Prueba {i:02}")),
            phone: Some(format!("+5190000{i:04}")),
            ..Default::default()
        };
        w.ghl.create_contact(&new).await.unwrap();
    }
    let found = w.desk.search_patients("paciente prueba").await.unwrap();
    assert_eq!(found.len(), 20);
}

async fn a_new_patient_is_created_once_and_then_found_as_existing(w: World) {
    let created = w
        .desk
        .create_patient("  Carmen Díaz  ", Some("+51 911-222 333"), Some(""))
        .await
        .unwrap();
    assert!(!created.existing);
    assert_eq!(created.patient.name, "Carmen Díaz");
    assert_eq!(created.patient.phone.as_deref(), Some("+51911222333"));
    assert_eq!(created.patient.email, None);
    let held = w
        .ghl
        .get_contact(&created.patient.contact_id)
        .await
        .unwrap();
    assert_eq!(held.phone.as_deref(), Some("+51911222333"));

    let again = w
        .desk
        .create_patient(
            "Carmen D.",
            Some("+51911222333"),
            Some("carmen@example.com"),
        )
        .await
        .unwrap();
    assert!(again.existing);
    assert_eq!(again.patient.contact_id, created.patient.contact_id);
    assert_eq!(contacts_created(&w), 1, "one contact made");

    let audit =
        w.db.store
            .audit_of("contact", &created.patient.contact_id)
            .await
            .unwrap();
    let actions: Vec<_> = audit
        .iter()
        .map(|a| (a.actor.as_str(), a.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        [("desk", "patient.create"), ("desk", "patient.existing")]
    );
    assert!(
        audit.iter().all(|a| !a.summary.contains("911")),
        "no phone in the audit"
    );
}

async fn a_patient_ghl_already_has_by_phone_or_email_is_not_created_again(w: World) {
    // María's phone, typed the desk's way.
    let by_phone = w
        .desk
        .create_patient("Maria F", Some("+51 987 654 321"), None)
        .await
        .unwrap();
    assert!(by_phone.existing);
    assert_eq!(by_phone.patient.contact_id, seed::CONTACT_IDS[0]);
    assert_eq!(by_phone.patient.name, "María Flores Huamán", "GHL's name");

    // A new phone but José's email: found by email after the phone lookup.
    let by_email = w
        .desk
        .create_patient(
            "José Q",
            Some("+51 900 111 222"),
            Some("jose.quispe@example.com"),
        )
        .await
        .unwrap();
    assert!(by_email.existing);
    assert_eq!(by_email.patient.contact_id, seed::CONTACT_IDS[1]);

    let lookups: Vec<String> = w
        .sandbox
        .ghl_requests()
        .iter()
        .filter(|r| r.path.starts_with("/contacts/search/duplicate"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(lookups.len(), 3, "{lookups:?}");
    assert!(lookups[1].contains("number="), "phone first: {lookups:?}");
    assert!(lookups[2].contains("email="), "then email: {lookups:?}");
    assert_eq!(contacts_created(&w), 0, "nothing created");
}

async fn bad_patient_input_is_refused_naming_the_field_and_creates_nothing(w: World) {
    let long_name = "x".repeat(201);
    let cases: [(&str, Option<&str>, Option<&str>, &str); 7] = [
        ("", Some("+51911222333"), None, "name"),
        ("   ", Some("+51911222333"), None, "name"),
        (&long_name, Some("+51911222333"), None, "name"),
        ("Rosa", Some("98-ab-12"), None, "phone"),
        ("Rosa", Some("123"), None, "phone"),
        ("Rosa", None, Some("rosa@clinica"), "email"),
        ("Rosa", Some(" "), Some(""), "phone"),
    ];
    for (name, phone, email, field) in cases {
        let err = w.desk.create_patient(name, phone, email).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{field}");
        assert_eq!(err.field(), Some(field), "{name:?} {phone:?} {email:?}");
    }
    assert!(
        w.sandbox
            .ghl_requests()
            .iter()
            .all(|r| !r.path.starts_with("/contacts")),
        "GHL was not asked"
    );
}

async fn free_slots_cover_the_local_day_in_the_calendar_slot_length(w: World) {
    let day = tomorrow();
    let slots = w
        .desk
        .free_slots(seed::CONSULTA_GENERAL_CALENDAR_ID, &day)
        .await
        .unwrap();
    // Consulta general: every 30 minutes from 08:00 to 20:00, every day.
    assert_eq!(slots.len(), 24);
    assert_eq!(slots[0].local_start, "08:00");
    assert_eq!(slots[0].local_end, "08:30");
    assert_eq!(slots[0].starts_at, tomorrow_at(8, 0));
    assert_eq!(slots[23].local_start, "19:30");
    assert!(slots.windows(2).all(|p| p[0].starts_at < p[1].starts_at));
    assert!(
        slots
            .iter()
            .all(|s| s.ends_at - s.starts_at == Duration::minutes(30))
    );
    let json = serde_json::to_value(&slots[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "startsAt": desk::time::to_db(tomorrow_at(8, 0)),
            "endsAt": desk::time::to_db(tomorrow_at(8, 30)),
            "localStart": "08:00",
            "localEnd": "08:30",
        })
    );

    // Odontología: one-hour slots on the hour (none on Sundays).
    let dental = w
        .desk
        .free_slots(seed::ODONTOLOGIA_CALENDAR_ID, &day)
        .await
        .unwrap();
    assert!(dental.len() <= 9);
    assert!(
        dental.iter().all(
            |s| s.ends_at - s.starts_at == Duration::hours(1) && s.local_start.ends_with(":00")
        )
    );
}

async fn a_booked_slot_is_no_longer_offered_and_an_offered_slot_books(w: World) {
    let day = tomorrow();
    let cal = seed::CONSULTA_GENERAL_CALENDAR_ID;
    w.desk.create_booking(request("taken", 10)).await.unwrap();
    let slots = w.desk.free_slots(cal, &day).await.unwrap();
    assert_eq!(slots.len(), 23);
    assert!(!slots.iter().any(|s| s.local_start == "10:00"), "taken");
    assert!(slots.iter().any(|s| s.local_start == "10:30"));

    // The picker's slot, booked as offered, is accepted by GHL's slot validation.
    let pick = slots
        .iter()
        .find(|s| s.local_start == "15:30")
        .unwrap()
        .clone();
    let booking = CreateBooking {
        starts_at: pick.starts_at,
        ends_at: pick.ends_at,
        ..request("picked", 0)
    };
    let view = w.desk.create_booking(booking).await.unwrap();
    assert_eq!(view.local_start, "15:30");
    let after = w.desk.free_slots(cal, &day).await.unwrap();
    assert_eq!(after.len(), 22);
    assert!(!after.iter().any(|s| s.local_start == "15:30"));
}

async fn free_slots_refuse_an_unknown_calendar_or_a_malformed_day(w: World) {
    let day = tomorrow();
    let err = w
        .desk
        .free_slots("CalNoSuchCalendar001", &day)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert_eq!(err.field(), Some("calendarId"));
    for bad in ["", "28/11/2026", "2026-13-01", "2026-02-30", "tomorrow"] {
        let err = w
            .desk
            .free_slots(seed::CONSULTA_GENERAL_CALENDAR_ID, bad)
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{bad}");
        assert_eq!(err.field(), Some("day"), "{bad}");
    }
    assert_eq!(ghl_calls(&w, "GET", "/calendars/CalConsulta"), 0);
}

async fn attendance_is_written_to_ghl_and_the_booking_follows_audited_as_desk(w: World) {
    let booked = w.desk.create_booking(request("came", 9)).await.unwrap();
    let ghl_id = booked.ghl_id.clone().unwrap();

    let view = w
        .desk
        .mark_attendance(&booked.id, Attendance::Showed)
        .await
        .unwrap();
    assert_eq!(view.id, booked.id);
    assert_eq!(view.status, "showed");
    let held = w.ghl.get_appointment(&ghl_id).await.unwrap();
    assert_eq!(held.appointment_status.as_deref(), Some("showed"));
    let row = w.db.store.booking(&booked.id).await.unwrap().unwrap();
    assert_eq!(row.status, "showed");
    assert_eq!(
        row.ghl_date_updated, held.date_updated,
        "GHL's answer applied"
    );

    // Staff correct it: the patient did not come after all.
    let view = w
        .desk
        .mark_attendance(&booked.id, Attendance::parse("noshow").unwrap())
        .await
        .unwrap();
    assert_eq!(view.status, "noshow");
    let held = w.ghl.get_appointment(&ghl_id).await.unwrap();
    assert_eq!(held.appointment_status.as_deref(), Some("noshow"));
    assert_eq!(
        view.charge.unwrap().status,
        "open",
        "the charge is untouched"
    );

    let audit = w.db.store.audit_of("booking", &booked.id).await.unwrap();
    let marks: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "booking.attendance")
        .map(|a| (a.actor.as_str(), a.summary.as_str()))
        .collect();
    assert_eq!(marks, [("desk", "showed"), ("desk", "noshow")]);

    for bad in ["", "llegó", "cancelled", "SHOWED"] {
        let err = Attendance::parse(bad).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{bad}");
        assert_eq!(err.field(), Some("attendance"));
    }
}

/// Two bookings that do not stand: one cancelled, one GHL refused (its slot was taken).
async fn a_cancelled_and_a_failed_booking(w: &World) -> (desk::view::BookingView, desk::Booking) {
    let cancelled = w.desk.create_booking(request("gone", 11)).await.unwrap();
    w.desk
        .cancel_booking(&cancelled.id, None, "desk")
        .await
        .unwrap();
    w.desk.create_booking(request("first", 12)).await.unwrap();
    let err = w
        .desk
        .create_booking(request("second", 12))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SlotTaken);
    let failed =
        w.db.store
            .booking_by_idempotency_key("second")
            .await
            .unwrap()
            .unwrap();
    (cancelled, failed)
}

async fn attendance_is_refused_for_cancelled_failed_or_unknown_bookings(w: World) {
    let (cancelled, failed) = a_cancelled_and_a_failed_booking(&w).await;
    let puts_before = ghl_calls(&w, "PUT", "/calendars/events/appointments");

    for id in [cancelled.id.as_str(), failed.id.as_str()] {
        let err = w
            .desk
            .mark_attendance(id, Attendance::Showed)
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict, "{id}: {err}");
    }
    let err = w
        .desk
        .mark_attendance("no-such-booking", Attendance::NoShow)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert_eq!(
        ghl_calls(&w, "PUT", "/calendars/events/appointments"),
        puts_before,
        "nothing sent to GHL"
    );
    let row = w.db.store.booking(&cancelled.id).await.unwrap().unwrap();
    assert_eq!(row.status, "cancelled");
}

/// The booking's row and its charge, as stored.
async fn row_and_charge(w: &World, booking_id: &str) -> (desk::Booking, desk::Charge) {
    let row = w.db.store.booking(booking_id).await.unwrap().unwrap();
    let charge =
        w.db.store
            .charge_of_booking(booking_id)
            .await
            .unwrap()
            .unwrap();
    (row, charge)
}

async fn a_reschedule_moves_the_appointment_in_ghl_and_keeps_the_charge(w: World) {
    let day = tomorrow();
    let cal = seed::CONSULTA_GENERAL_CALENDAR_ID;
    let booked = w.desk.create_booking(request("move", 10)).await.unwrap();
    let ghl_id = booked.ghl_id.clone().unwrap();
    let (_, before) = row_and_charge(&w, &booked.id).await;
    let pick = w
        .desk
        .free_slots(cal, &day)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.local_start == "15:30")
        .unwrap();

    let view = w
        .desk
        .reschedule(&booked.id, pick.starts_at, pick.ends_at)
        .await
        .unwrap();
    assert_eq!(view.id, booked.id);
    assert_eq!(
        (view.local_start.as_str(), view.local_end.as_str()),
        ("15:30", "16:00")
    );
    assert_eq!(view.starts_at, desk::time::to_db(pick.starts_at));
    let held = w.ghl.get_appointment(&ghl_id).await.unwrap();
    let held_start = chrono::DateTime::parse_from_rfc3339(held.start_time.as_deref().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(held_start, pick.starts_at, "moved in GHL");
    let (row, after) = row_and_charge(&w, &booked.id).await;
    assert_eq!(row.starts_at, pick.starts_at);
    assert_eq!(row.ends_at, pick.ends_at);
    assert_eq!(
        row.ghl_date_updated, held.date_updated,
        "GHL's answer applied"
    );
    assert_eq!(after.id, before.id, "the same charge");
    assert_eq!(after.init_point, before.init_point, "the same link");
    assert_eq!(after.status, before.status);
    assert_eq!(after.version, before.version, "the charge was not written");

    let slots = w.desk.free_slots(cal, &day).await.unwrap();
    assert!(slots.iter().any(|s| s.local_start == "10:00"), "freed");
    assert!(!slots.iter().any(|s| s.local_start == "15:30"), "taken");

    // A paid booking moves and stays paid.
    let preference = after.preference_id.clone().unwrap();
    w.sandbox
        .pay_preference(&preference, sandbox::PayRequest::default())
        .await
        .unwrap();
    w.desk.refresh_charge(&after.id).await.unwrap();
    let view = w
        .desk
        .reschedule(&booked.id, tomorrow_at(17, 0), tomorrow_at(17, 30))
        .await
        .unwrap();
    assert_eq!(view.local_start, "17:00");
    let charge = view.charge.unwrap();
    assert_eq!(
        (charge.id.as_str(), charge.status.as_str()),
        (after.id.as_str(), "paid")
    );

    let audit = w.db.store.audit_of("booking", &booked.id).await.unwrap();
    let moves: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "booking.reschedule")
        .map(|a| (a.actor.as_str(), a.summary.clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (
                "desk",
                format!(
                    "{} -> {}",
                    desk::time::to_db(tomorrow_at(10, 0)),
                    desk::time::to_db(pick.starts_at)
                )
            ),
            (
                "desk",
                format!(
                    "{} -> {}",
                    desk::time::to_db(pick.starts_at),
                    desk::time::to_db(tomorrow_at(17, 0))
                )
            ),
        ]
    );
}

async fn a_reschedule_to_a_taken_or_off_grid_time_is_refused_and_changes_nothing(w: World) {
    w.desk.create_booking(request("stays", 10)).await.unwrap();
    let booked = w.desk.create_booking(request("wants", 11)).await.unwrap();
    let (row, charge) = row_and_charge(&w, &booked.id).await;

    let taken = (tomorrow_at(10, 0), tomorrow_at(10, 30));
    let off_grid = (tomorrow_at(11, 10), tomorrow_at(11, 40));
    for (start, end) in [taken, off_grid] {
        let err = w.desk.reschedule(&booked.id, start, end).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::SlotTaken, "{start}: {err}");
    }
    let puts = ghl_calls(&w, "PUT", "/calendars/events/appointments");
    let err = w
        .desk
        .reschedule(&booked.id, tomorrow_at(12, 0), tomorrow_at(12, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert_eq!(err.field(), Some("endTime"));
    assert_eq!(
        ghl_calls(&w, "PUT", "/calendars/events/appointments"),
        puts,
        "an invalid time is not sent"
    );

    assert_eq!(
        row_and_charge(&w, &booked.id).await,
        (row, charge),
        "nothing changed"
    );
    let held = w
        .ghl
        .get_appointment(booked.ghl_id.as_deref().unwrap())
        .await
        .unwrap();
    let held_start = chrono::DateTime::parse_from_rfc3339(held.start_time.as_deref().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(held_start, tomorrow_at(11, 0));
    let audit = w.db.store.audit_of("booking", &booked.id).await.unwrap();
    assert!(audit.iter().all(|a| a.action != "booking.reschedule"));
}

async fn a_reschedule_is_refused_for_bookings_that_do_not_stand(w: World) {
    let (cancelled, failed) = a_cancelled_and_a_failed_booking(&w).await;
    let puts_before = ghl_calls(&w, "PUT", "/calendars/events/appointments");
    let (start, end) = (tomorrow_at(16, 0), tomorrow_at(16, 30));
    for id in [cancelled.id.as_str(), failed.id.as_str()] {
        let err = w.desk.reschedule(id, start, end).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict, "{id}: {err}");
    }
    let err = w
        .desk
        .reschedule("no-such-booking", start, end)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert_eq!(
        ghl_calls(&w, "PUT", "/calendars/events/appointments"),
        puts_before,
        "nothing sent to GHL"
    );
}

/// The message every channel sends for an 80.00 PEN booking at `hh`:00 tomorrow, greeting
/// the contact by the first name GHL holds.
async fn expected_message(w: &World, contact_id: &str, link: &str, hh: u32) -> String {
    let name = w.ghl.get_contact(contact_id).await.unwrap().name.unwrap();
    let at = tomorrow_at(hh, 0).with_timezone(&chrono_tz::America::Lima);
    let money = desk::Money::parse_charge("80.00", Currency::Pen).unwrap();
    desk::send_link::payment_message(
        &w.desk.clinic().clinic_name,
        name.split_whitespace().next(),
        at,
        &money,
        link,
    )
}

async fn the_payment_link_is_sent_by_whatsapp_sms_or_email_audited_without_contact_data(w: World) {
    let booked = w.desk.create_booking(request("send", 10)).await.unwrap();
    let (row, charge) = row_and_charge(&w, &booked.id).await;
    let link = charge.init_point.clone().unwrap();
    let contact = row.contact_id.clone().unwrap();
    assert_eq!(contact, seed::CONTACT_IDS[0], "María, found by phone");

    for channel in ["whatsapp", "sms", "email"] {
        w.desk
            .send_payment_link(&booked.id, Channel::parse(channel).unwrap())
            .await
            .unwrap();
    }
    let sent = w.sandbox.ghl_messages();
    let kinds: Vec<_> = sent.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["WhatsApp", "SMS", "Email"]);
    let text = expected_message(&w, &contact, &link, 10).await;
    assert!(text.contains(&w.desk.clinic().clinic_name));
    assert!(
        text.contains("80.00 PEN") && text.contains("a las 10:00"),
        "{text}"
    );
    for m in &sent {
        assert_eq!(m.contact_id, contact);
        assert_eq!(m.message.as_deref(), Some(text.as_str()), "{}", m.kind);
    }
    let email = &sent[2].body;
    assert!(
        email["subject"]
            .as_str()
            .unwrap()
            .contains(&w.desk.clinic().clinic_name)
    );
    assert!(email["html"].as_str().unwrap().contains("Pagar ahora"));
    assert!(
        sent[0].body.get("subject").is_none(),
        "text channels send text"
    );

    let (_, after) = row_and_charge(&w, &booked.id).await;
    assert_eq!(after, charge, "sending changes nothing");
    let audit = w.db.store.audit_of("charge", &charge.id).await.unwrap();
    let lines: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "charge.link_sent")
        .map(|a| (a.actor.as_str(), a.summary.as_str()))
        .collect();
    assert_eq!(
        lines,
        [("desk", "whatsapp"), ("desk", "sms"), ("desk", "email")]
    );
    assert!(
        audit
            .iter()
            .all(|a| !a.summary.contains("987") && !a.summary.contains('@')),
        "no phone or email in the audit"
    );
}

async fn only_an_open_charge_with_a_link_is_sent(w: World) {
    // Cancelled: its link is cancelled with it.
    let cancelled = w.desk.create_booking(request("gone", 9)).await.unwrap();
    w.desk
        .cancel_booking(&cancelled.id, None, "desk")
        .await
        .unwrap();
    // Paid.
    let paid = w.desk.create_booking(request("paid", 10)).await.unwrap();
    let (_, charge) = row_and_charge(&w, &paid.id).await;
    w.sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            sandbox::PayRequest::default(),
        )
        .await
        .unwrap();
    w.desk.refresh_charge(&charge.id).await.unwrap();
    // Draft: MP refused the link.
    w.sandbox.inject(sandbox::Fault::new(
        "mp.preferences.create",
        sandbox::FaultKind::Status {
            status: 400,
            retry_after_secs: None,
        },
    ));
    let draft = w.desk.create_booking(request("draft", 11)).await.unwrap();
    assert_eq!(draft.charge.as_ref().unwrap().status, "draft");

    for id in [&cancelled.id, &paid.id, &draft.id] {
        let err = w
            .desk
            .send_payment_link(id, Channel::WhatsApp)
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict, "{id}: {err}");
        let err = w.desk.whatsapp_link(id).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict, "{id}: {err}");
    }
    let err = w
        .desk
        .send_payment_link("no-such-booking", Channel::Sms)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(w.sandbox.ghl_messages().is_empty(), "nothing sent");
}

async fn a_patient_without_a_phone_or_email_cannot_be_sent_that_channel(w: World) {
    let location_id = w.sandbox.config().location_id.clone();
    let email_only = w
        .ghl
        .create_contact(&ghl::NewContact {
            location_id: location_id.clone(),
            name: Some("Lucía Paz".into()),
            email: Some("lucia.paz@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let phone_only = w
        .ghl
        .create_contact(&ghl::NewContact {
            location_id,
            name: Some("Pedro Ruiz".into()),
            phone: Some("+51911000222".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let book = |key: &str, hh: u32, contact: &str| CreateBooking {
        contact_id: Some(contact.to_string()),
        patient_phone: None,
        ..request(key, hh)
    };
    let lucia = w
        .desk
        .create_booking(book("lucia", 9, &email_only.id))
        .await
        .unwrap();
    let pedro = w
        .desk
        .create_booking(book("pedro", 10, &phone_only.id))
        .await
        .unwrap();

    for channel in [Channel::WhatsApp, Channel::Sms] {
        let err = w
            .desk
            .send_payment_link(&lucia.id, channel)
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        assert_eq!(err.field(), Some("phone"));
    }
    let err = w.desk.whatsapp_link(&lucia.id).await.unwrap_err();
    assert_eq!(err.field(), Some("phone"));
    let err = w
        .desk
        .send_payment_link(&pedro.id, Channel::Email)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert_eq!(err.field(), Some("email"));
    assert!(w.sandbox.ghl_messages().is_empty(), "nothing sent");

    w.desk
        .send_payment_link(&lucia.id, Channel::Email)
        .await
        .unwrap();
    let sent = w.sandbox.ghl_messages();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("Hola Lucía,")
    );
}

async fn the_whatsapp_link_dials_the_patient_digits_with_the_encoded_message(w: World) {
    let booked = w.desk.create_booking(request("wa", 10)).await.unwrap();
    let (row, charge) = row_and_charge(&w, &booked.id).await;
    let url = w.desk.whatsapp_link(&booked.id).await.unwrap();
    let (base, text) = url.split_once("?text=").unwrap();
    assert_eq!(base, "https://wa.me/51987654321");
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)),
        "{text}"
    );
    assert_eq!(
        percent_decode(text),
        expected_message(
            &w,
            row.contact_id.as_deref().unwrap(),
            charge.init_point.as_deref().unwrap(),
            10
        )
        .await
    );
    assert!(w.sandbox.ghl_messages().is_empty(), "a link sends nothing");
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn a_desk_payment_expires_the_link_settles_the_charge_and_confirms_in_ghl(w: World) {
    let booked = w.desk.create_booking(request("caja", 10)).await.unwrap();
    let (_, open) = row_and_charge(&w, &booked.id).await;
    assert_eq!(open.status, desk::ChargeStatus::Open);

    let view = w
        .desk
        .record_desk_payment(&open.id, "cash", Some("  R-001 "), "desk")
        .await
        .unwrap();
    let shown = view.charge.unwrap();
    assert_eq!(shown.status, "paid_at_desk");
    assert_eq!(shown.amount, "80.00", "the charge's amount, exactly");
    assert_eq!(shown.desk_method.as_deref(), Some("cash"));
    assert_eq!(shown.desk_reference.as_deref(), Some("R-001"));
    assert!(shown.paid_at.is_some());
    // The link no longer takes money.
    assert!(
        w.sandbox
            .pay_preference(
                open.preference_id.as_deref().unwrap(),
                sandbox::PayRequest::default()
            )
            .await
            .is_err(),
        "an expired link is not payable"
    );
    let desk_payment = w.desk.desk_payment(&open.id).await.unwrap().unwrap();
    assert_eq!(desk_payment.method, desk::model::DeskMethod::Cash);
    assert_eq!(desk_payment.recorded_by, "desk");
    let audit = w.db.store.audit_of("charge", &open.id).await.unwrap();
    let line = audit
        .iter()
        .find(|a| a.action == "charge.paid_at_desk")
        .unwrap();
    assert_eq!(line.actor, "desk");
    // The booking's agenda row shows it too.
    let day = tomorrow();
    let agenda = w.desk.agenda(&day).await.unwrap();
    let row = agenda.iter().find(|b| b.id == booked.id).unwrap();
    assert_eq!(
        row.charge.as_ref().unwrap().desk_method.as_deref(),
        Some("cash")
    );

    // After-payment effects, as for an MP payment: confirmed in GHL, contact noted.
    w.desk.drain_outbox().await.unwrap();
    assert!(w.desk.pending_effects(&open.id).await.unwrap().is_empty());
    let held = w
        .ghl
        .get_appointment(booked.ghl_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(held.appointment_status.as_deref(), Some("confirmed"));
    // Asked again: the charge is no longer unpaid.
    let err = w
        .desk
        .record_desk_payment(&booked.id, "card", None, "desk")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
}

async fn a_desk_payment_is_refused_when_mp_already_has_the_payment(w: World) {
    let booked = w
        .desk
        .create_booking(request("mp-first", 10))
        .await
        .unwrap();
    let (_, open) = row_and_charge(&w, &booked.id).await;
    // The patient paid the link; no webhook reached the desk yet.
    w.sandbox
        .pay_preference(
            open.preference_id.as_deref().unwrap(),
            sandbox::PayRequest::default(),
        )
        .await
        .unwrap();
    let err = w
        .desk
        .record_desk_payment(&booked.id, "transfer", Some("OP 77"), "desk")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("Mercado Pago"), "{err}");
    let (_, charge) = row_and_charge(&w, &booked.id).await;
    assert_eq!(charge.status, desk::ChargeStatus::Paid, "what MP says");
    assert_eq!(w.desk.desk_payment(&charge.id).await.unwrap(), None);
}

async fn only_an_unpaid_charge_is_paid_at_the_desk_and_bad_input_changes_nothing(w: World) {
    let booked = w.desk.create_booking(request("input", 10)).await.unwrap();
    let (_, before) = row_and_charge(&w, &booked.id).await;
    let long = "9".repeat(101);
    for (method, reference, field) in [
        ("yape", None, "method"),
        ("", Some("x"), "method"),
        ("cash", Some(long.as_str()), "reference"),
    ] {
        match w
            .desk
            .record_desk_payment(&booked.id, method, reference, "desk")
            .await
        {
            Err(desk::DeskError::Validation { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{method}: {other:?}"),
        }
    }
    let (_, after) = row_and_charge(&w, &booked.id).await;
    assert_eq!(after, before, "nothing changed");

    let err = w
        .desk
        .record_desk_payment("no-such-charge", "cash", None, "desk")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);

    let cancelled = w.desk.create_booking(request("gone", 11)).await.unwrap();
    w.desk
        .cancel_booking(&cancelled.id, None, "desk")
        .await
        .unwrap();
    let err = w
        .desk
        .record_desk_payment(&cancelled.id, "cash", None, "desk")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);

    // A draft (MP refused the link) is paid at the desk, and its link is never created.
    w.sandbox.inject(sandbox::Fault::new(
        "mp.preferences.create",
        sandbox::FaultKind::Status {
            status: 400,
            retry_after_secs: None,
        },
    ));
    let draft = w.desk.create_booking(request("draft", 12)).await.unwrap();
    assert_eq!(draft.charge.as_ref().unwrap().status, "draft");
    w.sandbox.clear_faults();
    let view = w
        .desk
        .record_desk_payment(&draft.id, "card", None, "desk")
        .await
        .unwrap();
    assert_eq!(view.charge.unwrap().status, "paid_at_desk");
    support::outbox_due_now(&w.db.store).await;
    w.desk.drain_outbox().await.unwrap();
    let (_, charge) = row_and_charge(&w, &draft.id).await;
    assert_eq!(charge.status, desk::ChargeStatus::PaidAtDesk);
    assert_eq!(
        charge.preference_id, None,
        "no link made after the desk payment"
    );
}

async fn an_mp_payment_after_a_desk_payment_needs_review_never_counted_twice(w: World) {
    let booked = w.desk.create_booking(request("twice", 10)).await.unwrap();
    let (_, open) = row_and_charge(&w, &booked.id).await;
    // MP does not answer the expiry: the link stays payable for now, and the expiry is owed.
    w.sandbox.inject(sandbox::Fault::new(
        "mp.preferences.update",
        sandbox::FaultKind::Status {
            status: 500,
            retry_after_secs: None,
        },
    ));
    let view = w
        .desk
        .record_desk_payment(&open.id, "cash", None, "desk")
        .await
        .unwrap();
    assert_eq!(view.charge.unwrap().status, "paid_at_desk");
    let owed: Vec<String> = w
        .desk
        .pending_effects(&open.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(owed.iter().any(|k| k == "mp.expire_link"), "{owed:?}");

    // The patient pays the still-open link anyway.
    let paid = w
        .sandbox
        .pay_preference(
            open.preference_id.as_deref().unwrap(),
            sandbox::PayRequest::default(),
        )
        .await
        .unwrap();
    let charge = w.desk.refresh_charge(&open.id).await.unwrap();
    assert_eq!(charge.status, desk::ChargeStatus::NeedsReview);
    let _ = paid;
    // Re-reading MP (webhook re-delivery, reconciler) keeps it in review: never "paid".
    w.desk.reconcile_payments().await.unwrap();
    let charge = w.desk.refresh_charge(&open.id).await.unwrap();
    assert_eq!(charge.status, desk::ChargeStatus::NeedsReview);
    let view = w.desk.booking_view(&booked.id).await.unwrap();
    let shown = view.charge.unwrap();
    assert_eq!(shown.status, "needs_review");
    assert_eq!(
        shown.desk_method.as_deref(),
        Some("cash"),
        "the desk payment is kept"
    );
    let audit = w.db.store.audit_of("charge", &open.id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "charge.needs_review" && a.summary.contains("desk")),
        "{audit:?}"
    );

    // Once MP answers, the owed expiry is done and the charge stays in review.
    w.sandbox.clear_faults();
    support::outbox_due_now(&w.db.store).await;
    w.desk.drain_outbox().await.unwrap();
    let (_, charge) = row_and_charge(&w, &booked.id).await;
    assert_eq!(charge.status, desk::ChargeStatus::NeedsReview);
}
