//! Wire-format tests for endpoints against a recording loopback server: what the client
//! sends (paths, `Version`, query encodings, bodies) and how it reads GHL's documented
//! answers (ghl.md §3–§5). The sandbox covers the stateful behaviour in `contract.rs`.

mod common;

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use common::{Reply, pit_client, recording, seen};
use ghl::{
    ContactSearch, DuplicateKey, Error, EventsQuery, FreeSlotsQuery, NewContact, NewNote,
    OutboundMessage,
};

const CALENDARS_VERSION: &str = "2021-04-15";
const CONTACTS_VERSION: &str = "2021-07-28";

// ---------------------------------------------------------------------------------------------
// Free slots (§3.2)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn free_slots_over_45_days_take_two_calls_of_at_most_31_days_and_merge() {
    let (base, log) = recording(|_, i| {
        let body = if i == 0 {
            r#"{"2026-12-01":{"slots":["2026-12-01T10:00:00-05:00","2026-12-01T10:30:00-05:00"]},"_dates_":{"slots":["ignored"]},"traceId":"t-a"}"#
        } else {
            r#"{"2027-01-10":{"slots":["2027-01-10T09:00:00-05:00"]},"traceId":"t-b","extra":42}"#
        };
        Reply::json(200, body)
    })
    .await;
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 5, 0, 0)
        .single()
        .expect("date");
    let query = FreeSlotsQuery {
        start,
        end: start + ChronoDuration::days(45),
        timezone: Some("America/Lima".into()),
        user_id: Some("UsrDraLuciaRamos0001".into()),
    };
    let slots = pit_client(&base, |_| {})
        .free_slots("CalConsultaGeneral01", &query)
        .await
        .expect("free slots");

    let calls = seen(&log);
    assert_eq!(calls.len(), 2);
    let mut previous_end = None;
    for call in &calls {
        assert_eq!(call.method, "GET");
        assert_eq!(call.path, "/calendars/CalConsultaGeneral01/free-slots");
        assert_eq!(call.header("version"), Some(CALENDARS_VERSION));
        let from: i64 = call
            .query_value("startDate")
            .expect("startDate")
            .parse()
            .expect("ms number");
        let to: i64 = call
            .query_value("endDate")
            .expect("endDate")
            .parse()
            .expect("ms number");
        assert!(to - from <= 31 * 24 * 3600 * 1000, "window over 31 days");
        assert!(to > from);
        if let Some(prev) = previous_end {
            assert!(from > prev, "windows don't overlap");
        }
        previous_end = Some(to);
        assert_eq!(
            call.query_value("timezone").as_deref(),
            Some("America/Lima")
        );
        assert_eq!(
            call.query_value("userId").as_deref(),
            Some("UsrDraLuciaRamos0001")
        );
    }
    assert_eq!(
        calls[0].query_value("startDate"),
        Some(start.timestamp_millis().to_string())
    );
    assert_eq!(
        calls[1].query_value("endDate"),
        Some(
            (start + ChronoDuration::days(45))
                .timestamp_millis()
                .to_string()
        )
    );
    assert_eq!(
        slots.all().collect::<Vec<_>>(),
        [
            "2026-12-01T10:00:00-05:00",
            "2026-12-01T10:30:00-05:00",
            "2027-01-10T09:00:00-05:00"
        ]
    );
    assert_eq!(slots.days.len(), 2);
    assert_eq!(slots.trace_ids, ["t-a", "t-b"]);
}

#[tokio::test]
async fn free_slots_with_end_before_start_are_refused_before_sending() {
    let (base, log) = recording(|_, _| Reply::json(200, "{}")).await;
    let start = Utc::now();
    let err = pit_client(&base, |_| {})
        .free_slots(
            "Cal1",
            &FreeSlotsQuery {
                start,
                end: start - ChronoDuration::hours(1),
                timezone: None,
                user_id: None,
            },
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(seen(&log).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Appointments (§3.5, §3.6)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn delete_sends_an_empty_json_body_and_accepts_any_2xx() {
    let (base, log) = recording(|_, i| match i {
        0 => Reply::json(201, r#"{"succeeded":true}"#),
        1 => Reply::json(204, ""),
        _ => Reply::json(
            404,
            r#"{"statusCode":404,"message":"Not found","traceId":"t-404"}"#,
        ),
    })
    .await;
    let client = pit_client(&base, |_| {});
    client
        .delete_appointment("Evt00000000000000001")
        .await
        .expect("201");
    client
        .delete_appointment("Evt00000000000000001")
        .await
        .expect("204");
    let err = client
        .delete_appointment("Evt00000000000000001")
        .await
        .expect_err("404");
    assert!(
        matches!(err, Error::NotFound { ref trace_id } if trace_id.as_deref() == Some("t-404")),
        "{err:?}"
    );

    let calls = seen(&log);
    let first = &calls[0];
    assert_eq!(first.method, "DELETE");
    assert_eq!(first.path, "/calendars/events/Evt00000000000000001");
    assert_eq!(first.body, b"{}");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("version"), Some(CALENDARS_VERSION));
}

#[tokio::test]
async fn events_list_sends_ms_strings_and_requires_a_calendar_user_or_group() {
    let (base, log) = recording(|_, _| {
        Reply::json(
            200,
            r#"{"events":[{"id":"Evt1","calendarId":"Cal1","startTime":"2026-12-01T10:00:00-05:00","appointmentStatus":"booked","masterEventId":"Ser1"}]}"#,
        )
    })
    .await;
    let client = pit_client(&base, |_| {});
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("date");
    let mut q = EventsQuery {
        location_id: "Loc1".into(),
        start,
        end: start + ChronoDuration::days(1),
        calendar_id: None,
        user_id: None,
        group_id: None,
    };
    let err = client.list_events(&q).await.expect_err("needs an id");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(seen(&log).is_empty(), "refused before sending");

    q.calendar_id = Some("Cal1".into());
    let events = client.list_events(&q).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].status(),
        Some(ghl::AppointmentStatus::Unknown("booked".into()))
    );
    assert_eq!(events[0].master_event_id.as_deref(), Some("Ser1"));
    let call = &seen(&log)[0];
    assert_eq!(call.path, "/calendars/events");
    assert_eq!(call.header("version"), Some(CALENDARS_VERSION));
    assert_eq!(call.query_value("locationId").as_deref(), Some("Loc1"));
    assert_eq!(
        call.query_value("startTime"),
        Some(start.timestamp_millis().to_string())
    );
    assert_eq!(
        call.query_value("endTime"),
        Some(
            (start + ChronoDuration::days(1))
                .timestamp_millis()
                .to_string()
        )
    );
    assert_eq!(call.query_value("calendarId").as_deref(), Some("Cal1"));
    assert_eq!(call.query_value("userId"), None);
}

#[tokio::test]
async fn create_is_not_retried_on_429() {
    let (base, log) = recording(|_, _| {
        Reply::json(429, r#"{"statusCode":429,"message":"Too Many Requests"}"#)
            .header("Retry-After", "0")
    })
    .await;
    let new = ghl::NewAppointment {
        calendar_id: "Cal1".into(),
        location_id: "Loc1".into(),
        contact_id: "Cnt1".into(),
        start_time: "2026-12-01T10:00:00-05:00".into(),
        end_time: "2026-12-01T10:30:00-05:00".into(),
        title: None,
        appointment_status: "confirmed".into(),
        assigned_user_id: Some("Usr1".into()),
        ignore_free_slot_validation: false,
    };
    let err = pit_client(&base, |_| {})
        .create_appointment(&new)
        .await
        .expect_err("429");
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert_eq!(seen(&log).len(), 1, "a create is never sent twice");
}

// ---------------------------------------------------------------------------------------------
// Contacts (§4)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_contact_reads_201_and_maps_the_duplicate_400_to_the_existing_id() {
    let (base, log) = recording(|_, i| {
        if i == 0 {
            Reply::json(201, r#"{"contact":{"id":"CntNew0000000000001","firstName":"Rosa","phone":"+51944556677","tags":["mostrador"]}}"#)
        } else {
            Reply::json(
                400,
                r#"{"statusCode":400,"message":"This location does not allow duplicated contacts.","meta":{"contactId":"CntNew0000000000001","matchingField":"phone","contactName":"Rosa"},"traceId":"t-dup"}"#,
            )
        }
    })
    .await;
    let client = pit_client(&base, |_| {});
    let new = NewContact {
        location_id: "Loc1".into(),
        first_name: Some("Rosa".into()),
        phone: Some("+51944556677".into()),
        tags: vec!["mostrador".into()],
        ..NewContact::default()
    };
    let created = client.create_contact(&new).await.expect("201");
    assert_eq!(created.id, "CntNew0000000000001");
    let err = client.create_contact(&new).await.expect_err("duplicate");
    match &err {
        Error::DuplicateContact {
            contact_id,
            matching_field,
            trace_id,
        } => {
            assert_eq!(contact_id, "CntNew0000000000001");
            assert_eq!(matching_field.as_deref(), Some("phone"));
            assert_eq!(trace_id.as_deref(), Some("t-dup"));
        }
        other => panic!("expected DuplicateContact, got {other:?}"),
    }
    assert!(!err.to_string().contains("+51"), "no phone in the message");

    let call = &seen(&log)[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/contacts/");
    assert_eq!(call.header("version"), Some(CONTACTS_VERSION));
    let body = call.json();
    assert_eq!(body["locationId"], "Loc1");
    assert_eq!(body["tags"], serde_json::json!(["mostrador"]));
    assert!(body.get("email").is_none(), "absent fields are not sent");
}

#[tokio::test]
async fn duplicate_lookup_encodes_plus_and_at_and_reads_null_as_none() {
    let (base, log) = recording(|s, _| {
        if s.query_value("email").is_some() {
            Reply::json(
                200,
                r#"{"contact":{"id":"Cnt1","email":"rosa@example.com"}}"#,
            )
        } else {
            Reply::json(200, r#"{"contact":null,"traceId":"t"}"#)
        }
    })
    .await;
    let client = pit_client(&base, |_| {});
    let none = client
        .find_duplicate_contact("Loc1", &DuplicateKey::Phone("+51944556677".into()))
        .await
        .expect("lookup");
    assert_eq!(none, None);
    let found = client
        .find_duplicate_contact("Loc1", &DuplicateKey::Email("rosa@example.com".into()))
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, "Cnt1");

    let calls = seen(&log);
    assert_eq!(calls[0].path, "/contacts/search/duplicate");
    assert_eq!(calls[0].header("version"), Some(CONTACTS_VERSION));
    let raw = calls[0].query.as_deref().expect("query");
    assert!(raw.contains("number=%2B51944556677"), "{raw}");
    assert!(raw.contains("locationId=Loc1"), "{raw}");
    let raw = calls[1].query.as_deref().expect("query");
    assert!(raw.contains("email=rosa%40example.com"), "{raw}");
}

#[tokio::test]
async fn contact_search_sends_the_documented_body_and_checks_limits_first() {
    let (base, log) = recording(|_, _| {
        Reply::json(
            200,
            r#"{"contacts":[{"id":"Cnt1","firstName":"Rosa"}],"total":1}"#,
        )
    })
    .await;
    let client = pit_client(&base, |_| {});
    let search = ContactSearch {
        location_id: "Loc1".into(),
        page_limit: 20,
        page: Some(1),
        query: Some("Rosa".into()),
        filters: vec![
            serde_json::json!({"field":"tags","operator":"contains","value":"mostrador"}),
        ],
        ..ContactSearch::default()
    };
    let result = client.search_contacts(&search).await.expect("search");
    assert_eq!(result.total, Some(1));
    assert_eq!(result.contacts[0].id, "Cnt1");
    let call = &seen(&log)[0];
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("POST", "/contacts/search")
    );
    assert_eq!(call.header("version"), Some(CONTACTS_VERSION));
    let body = call.json();
    assert_eq!(body["locationId"], "Loc1");
    assert_eq!(body["pageLimit"], 20);
    assert_eq!(body["page"], 1);
    assert_eq!(body["query"], "Rosa");
    assert!(body.get("searchAfter").is_none());
    assert_eq!(body["filters"][0]["operator"], "contains");

    for bad in [
        ContactSearch {
            page_limit: 501,
            ..search.clone()
        },
        ContactSearch {
            page_limit: 0,
            ..search.clone()
        },
        ContactSearch {
            query: Some("x".repeat(76)),
            ..search.clone()
        },
        ContactSearch {
            search_after: Some(serde_json::json!([1, "Cnt1"])),
            ..search.clone()
        },
    ] {
        let err = client.search_contacts(&bad).await.expect_err("refused");
        assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    }
    assert_eq!(seen(&log).len(), 1, "refusals sent nothing");
    // 75 characters is still fine, and a cursor without a page too.
    let ok = ContactSearch {
        page: None,
        search_after: Some(serde_json::json!([1, "Cnt1"])),
        query: Some("é".repeat(75)),
        ..search
    };
    client
        .search_contacts(&ok)
        .await
        .expect("75 chars and a cursor");
    assert_eq!(
        seen(&log)[1].json()["searchAfter"],
        serde_json::json!([1, "Cnt1"])
    );
}

#[tokio::test]
async fn tags_are_added_with_post_and_notes_posted() {
    let (base, log) = recording(|s, _| {
        if s.path.ends_with("/tags") {
            Reply::json(201, r#"{"tags":["vip","mostrador"]}"#)
        } else {
            Reply::json(
                201,
                r#"{"note":{"id":"Note1","body":"Pagó con Yape","contactId":"Cnt1"}}"#,
            )
        }
    })
    .await;
    let client = pit_client(&base, |_| {});
    let tags = client
        .add_contact_tags("Cnt1", &["mostrador".to_owned()])
        .await
        .expect("tags");
    assert_eq!(tags, ["vip", "mostrador"]);
    let note = client
        .add_contact_note(
            "Cnt1",
            &NewNote {
                body: "Pagó con Yape".into(),
                ..NewNote::default()
            },
        )
        .await
        .expect("note");
    assert_eq!(note.id.as_deref(), Some("Note1"));

    let calls = seen(&log);
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("POST", "/contacts/Cnt1/tags")
    );
    assert_eq!(calls[0].json(), serde_json::json!({"tags":["mostrador"]}));
    assert_eq!(calls[0].header("version"), Some(CONTACTS_VERSION));
    assert_eq!(
        (calls[1].method.as_str(), calls[1].path.as_str()),
        ("POST", "/contacts/Cnt1/notes")
    );
    assert_eq!(calls[1].json(), serde_json::json!({"body":"Pagó con Yape"}));

    let err = client
        .add_contact_tags("Cnt1", &[])
        .await
        .expect_err("empty");
    assert!(matches!(err, Error::InvalidRequest(_)));
}

// ---------------------------------------------------------------------------------------------
// Messages (§5)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn message_goes_minimal_first_and_retries_once_with_subtype_when_asked() {
    let (base, log) = recording(|s, _| {
        if s.json().get("subType").is_some() {
            Reply::json(200, r#"{"conversationId":"Conv1","messageId":"Msg1","msg":"Message queued successfully."}"#)
        } else {
            Reply::json(
                422,
                r#"{"statusCode":422,"message":["subType must be one of the following values: SMS, Email, WhatsApp"],"error":"Unprocessable Entity"}"#,
            )
        }
    })
    .await;
    let sent = pit_client(&base, |_| {})
        .send_message(&OutboundMessage::whatsapp(
            "Cnt1",
            "Su cita es mañana a las 10:00",
        ))
        .await
        .expect("sent on the second try");
    assert_eq!(sent.message_id.as_deref(), Some("Msg1"));
    let calls = seen(&log);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].path, "/conversations/messages");
    assert_eq!(calls[0].header("version"), Some(CALENDARS_VERSION));
    assert_eq!(
        calls[0].json(),
        serde_json::json!({"type":"WhatsApp","contactId":"Cnt1","message":"Su cita es mañana a las 10:00"})
    );
    assert_eq!(calls[1].json()["subType"], "WhatsApp");
    assert_eq!(calls[1].json()["type"], "WhatsApp");
}

#[tokio::test]
async fn message_accepted_minimal_is_sent_once_and_other_rejections_are_not_retried() {
    let (base, log) = recording(|s, _| {
        if s.json()["type"] == "SMS" {
            Reply::json(200, r#"{"conversationId":"Conv1","messageId":"Msg1"}"#)
        } else {
            Reply::json(
                400,
                r#"{"statusCode":400,"message":"Contact has no email"}"#,
            )
        }
    })
    .await;
    let client = pit_client(&base, |_| {});
    client
        .send_message(&OutboundMessage::sms("Cnt1", "Hola"))
        .await
        .expect("sent");
    let err = client
        .send_message(&OutboundMessage::email(
            "Cnt1",
            "Su cita",
            "Hola",
            "<p>Hola</p>",
        ))
        .await
        .expect_err("rejected");
    assert!(
        matches!(err, Error::Rejected { status: 400, .. }),
        "{err:?}"
    );
    let calls = seen(&log);
    assert_eq!(
        calls.len(),
        2,
        "no subType retry for an unrelated rejection"
    );
    assert_eq!(
        calls[0].json(),
        serde_json::json!({"type":"SMS","contactId":"Cnt1","message":"Hola"})
    );
    let email = calls[1].json();
    assert_eq!(email["type"], "Email");
    assert_eq!(email["subject"], "Su cita");
    assert_eq!(email["html"], "<p>Hola</p>");
}
