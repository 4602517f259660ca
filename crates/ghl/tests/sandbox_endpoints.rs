//! The newer endpoints against the sandbox over loopback: calendar by id, free slots booked
//! by their exact string, reschedule, cancel, events list, contact read, tags and notes.

use chrono::{DateTime, Days, Utc};
use chrono_tz::America::Lima;
use ghl::client::format_slot_time;
use ghl::{
    AppointmentStatus, AppointmentUpdate, Client, ClientConfig, Error, EventsQuery, FreeSlotsQuery,
    NewAppointment, NewNote,
};
use sandbox::{Sandbox, SandboxConfig, seed};
use secrecy::SecretString;

async fn start() -> (Sandbox, Client) {
    let sandbox = Sandbox::start(SandboxConfig::demo())
        .await
        .expect("sandbox starts on loopback");
    let client = Client::new(ClientConfig::new(
        sandbox.ghl_base_url(),
        SecretString::from(sandbox.config().ghl_access_token.clone()),
    ))
    .expect("client builds");
    (sandbox, client)
}

/// Tomorrow 00:00 to the day after, Lima time, as UTC instants.
fn tomorrow_range() -> (DateTime<Utc>, DateTime<Utc>) {
    let today = Utc::now().with_timezone(&Lima).date_naive();
    let day = today.checked_add_days(Days::new(1)).expect("tomorrow");
    let start = day
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_local_timezone(Lima)
        .single()
        .expect("Lima has one offset")
        .with_timezone(&Utc);
    (start, start + chrono::Duration::days(1))
}

async fn free_slots_tomorrow(sandbox: &Sandbox, client: &Client) -> Vec<String> {
    let (start, end) = tomorrow_range();
    let slots = client
        .free_slots(
            seed::CONSULTA_GENERAL_CALENDAR_ID,
            &FreeSlotsQuery {
                start,
                end,
                timezone: Some(sandbox.config().timezone.clone()),
                user_id: None,
            },
        )
        .await
        .expect("free slots");
    slots.all().map(str::to_owned).collect()
}

fn booking(sandbox: &Sandbox, slot: &str, minutes: i64) -> NewAppointment {
    let start = DateTime::parse_from_rfc3339(slot).expect("slot is ISO-8601 with offset");
    NewAppointment {
        calendar_id: seed::CONSULTA_GENERAL_CALENDAR_ID.to_owned(),
        location_id: sandbox.config().location_id.clone(),
        contact_id: seed::CONTACT_IDS[0].to_owned(),
        start_time: slot.to_owned(),
        end_time: format_slot_time(&(start + chrono::Duration::minutes(minutes))),
        title: Some("Consulta general - María Flores".to_owned()),
        appointment_status: "confirmed".to_owned(),
        assigned_user_id: Some(seed::CONSULTA_GENERAL_USER_ID.to_owned()),
        ignore_free_slot_validation: false,
    }
}

#[tokio::test]
async fn get_calendar_returns_the_seeded_calendar() {
    let (_sandbox, client) = start().await;
    let cal = client
        .get_calendar(seed::ODONTOLOGIA_CALENDAR_ID)
        .await
        .expect("calendar");
    assert_eq!(cal.id, seed::ODONTOLOGIA_CALENDAR_ID);
    assert_eq!(cal.slot_minutes(), 60);
    let err = client
        .get_calendar("UnknownCalendar00001")
        .await
        .expect_err("unknown");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_free_slot_string_books_as_is_and_then_disappears() {
    let (sandbox, client) = start().await;
    let slots = free_slots_tomorrow(&sandbox, &client).await;
    assert!(!slots.is_empty(), "the seeded calendar is open every day");
    assert!(
        slots.iter().all(|s| s.ends_with("-05:00")),
        "rendered in Lima: {slots:?}"
    );
    let slot = slots[2].clone();
    let created = client
        .create_appointment(&booking(&sandbox, &slot, 30))
        .await
        .expect("the exact slot string books");
    assert_eq!(created.start_time.as_deref(), Some(slot.as_str()));
    let after = free_slots_tomorrow(&sandbox, &client).await;
    assert!(!after.contains(&slot), "booked slot is no longer free");
    assert_eq!(after.len(), slots.len() - 1);
}

#[tokio::test]
async fn reschedule_cancel_and_list_events() {
    let (sandbox, client) = start().await;
    let slots = free_slots_tomorrow(&sandbox, &client).await;
    let created = client
        .create_appointment(&booking(&sandbox, &slots[0], 30))
        .await
        .expect("booked");

    // Reschedule to another free slot.
    let later = booking(&sandbox, &slots[4], 30);
    let moved = client
        .update_appointment(
            &created.id,
            &AppointmentUpdate {
                start_time: Some(later.start_time.clone()),
                end_time: Some(later.end_time.clone()),
                ..AppointmentUpdate::default()
            },
        )
        .await
        .expect("rescheduled");
    assert_eq!(moved.id, created.id);
    assert_eq!(moved.start_time.as_deref(), Some(later.start_time.as_str()));

    // The old slot is free again, the new one is listed as an event.
    let (start, end) = tomorrow_range();
    let events = client
        .list_events(&EventsQuery {
            location_id: sandbox.config().location_id.clone(),
            start,
            end,
            calendar_id: Some(seed::CONSULTA_GENERAL_CALENDAR_ID.to_owned()),
            user_id: None,
            group_id: None,
        })
        .await
        .expect("events");
    let listed = events
        .iter()
        .find(|e| e.id == created.id)
        .expect("the appointment is listed");
    assert_eq!(
        listed.start_time.as_deref(),
        Some(later.start_time.as_str())
    );

    let cancelled = client
        .cancel_appointment(&created.id)
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status(), Some(AppointmentStatus::Cancelled));
    let event = client.get_appointment(&created.id).await.expect("kept");
    assert_eq!(event.appointment_status.as_deref(), Some("cancelled"));

    // The PUTs went out with the calendars Version and the cancel body only.
    let puts: Vec<_> = sandbox
        .ghl_requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 2);
    assert!(
        puts.iter()
            .all(|r| r.version.as_deref() == Some("2021-04-15"))
    );
}

#[tokio::test]
async fn rescheduling_onto_a_taken_slot_is_slot_taken() {
    let (sandbox, client) = start().await;
    let slots = free_slots_tomorrow(&sandbox, &client).await;
    let first = client
        .create_appointment(&booking(&sandbox, &slots[0], 30))
        .await
        .expect("first");
    let mut second = booking(&sandbox, &slots[1], 30);
    second.contact_id = seed::CONTACT_IDS[1].to_owned();
    let second = client.create_appointment(&second).await.expect("second");
    let taken = booking(&sandbox, &slots[0], 30);
    let err = client
        .update_appointment(
            &second.id,
            &AppointmentUpdate {
                start_time: Some(taken.start_time),
                end_time: Some(taken.end_time),
                ..AppointmentUpdate::default()
            },
        )
        .await
        .expect_err("taken by the first");
    assert!(matches!(err, Error::SlotTaken { .. }), "{err:?}");
    assert_ne!(first.id, second.id);
}

#[tokio::test]
async fn contact_tags_are_added_not_replaced_and_notes_attach() {
    let (_sandbox, client) = start().await;
    let id = seed::CONTACT_IDS[1];
    let before = client.get_contact(id).await.expect("contact");
    assert_eq!(before.id, id);
    client
        .add_contact_tags(id, &["mostrador".to_owned()])
        .await
        .expect("first tag");
    client
        .add_contact_tags(id, &["pagado".to_owned()])
        .await
        .expect("second tag");
    let after = client.get_contact(id).await.expect("contact");
    for tag in before
        .tags
        .iter()
        .chain(["mostrador".to_owned(), "pagado".to_owned()].iter())
    {
        assert!(after.tags.contains(tag), "{tag} kept: {:?}", after.tags);
    }
    let note = client
        .add_contact_note(
            id,
            &NewNote {
                body: "Cita pagada por link".into(),
                ..NewNote::default()
            },
        )
        .await
        .expect("note");
    assert_eq!(note.body.as_deref(), Some("Cita pagada por link"));
}
