//! The GHL side of the sandbox over real loopback HTTP, checked against ghl.md.

mod common;

use chrono::{DateTime, FixedOffset, Utc};
use common::{Fixture, send};
use reqwest::Method;
use sandbox::seed::{CONSULTA_GENERAL_CALENDAR_ID, CONTACT_IDS, ODONTOLOGIA_CALENDAR_ID};
use serde_json::{Value, json};

const RATE_HEADERS: [&str; 5] = [
    "x-ratelimit-limit-daily",
    "x-ratelimit-daily-remaining",
    "x-ratelimit-interval-milliseconds",
    "x-ratelimit-max",
    "x-ratelimit-remaining",
];

fn slot_unavailable_without_trace(body: &Value) -> Value {
    let mut body = body.clone();
    let trace = body
        .as_object_mut()
        .and_then(|m| m.remove("traceId"))
        .expect("traceId present");
    assert!(trace.as_str().is_some_and(|t| !t.is_empty()));
    body
}

#[tokio::test]
async fn missing_or_unknown_ghl_token_gets_the_exact_401_body() {
    let fx = Fixture::start().await;
    let url = format!(
        "{}/locations/{}",
        fx.sandbox.ghl_base_url(),
        fx.location_id()
    );
    let expected = json!({
        "statusCode": 401,
        "message": "Invalid token: access token is invalid",
        "error": "Unauthorized"
    });
    let (status, body) = send(fx.http.get(&url)).await;
    assert_eq!((status, &body), (401, &expected));
    let (status, body) = send(fx.http.get(&url).bearer_auth("pit-someone-else")).await;
    assert_eq!((status, &body), (401, &expected));
    // The MP token is not a GHL token.
    let (status, _) = send(
        fx.http
            .get(&url)
            .bearer_auth(&fx.sandbox.config().mp_access_token),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn every_ghl_response_carries_the_five_rate_limit_headers() {
    let fx = Fixture::start().await;
    let ok = fx
        .ghl(Method::GET, &format!("/locations/{}", fx.location_id()))
        .send()
        .await
        .expect("sent");
    let unauthorized = fx
        .http
        .get(format!(
            "{}/calendars/?locationId=x",
            fx.sandbox.ghl_base_url()
        ))
        .send()
        .await
        .expect("sent");
    for response in [&ok, &unauthorized] {
        for name in RATE_HEADERS {
            let value = response
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing"));
            value
                .to_str()
                .expect("ascii")
                .parse::<u64>()
                .expect("numeric");
        }
    }
    assert_eq!(ok.headers()["x-ratelimit-max"], "100");
    assert_eq!(ok.headers()["x-ratelimit-interval-milliseconds"], "10000");
    assert_eq!(ok.headers()["x-ratelimit-limit-daily"], "200000");
    // The Version header is recorded for tests of what clients send.
    let recorded = fx.sandbox.ghl_requests();
    assert_eq!(recorded[0].version.as_deref(), Some("2021-07-28"));
}

#[tokio::test]
async fn location_reports_its_timezone_and_other_locations_are_forbidden() {
    let fx = Fixture::start().await;
    let (status, body) =
        send(fx.ghl(Method::GET, &format!("/locations/{}", fx.location_id()))).await;
    assert_eq!(status, 200);
    assert_eq!(body["location"]["id"], "demo-location-0001");
    assert_eq!(body["location"]["name"], "Clínica Demo");
    assert_eq!(body["location"]["timezone"], "America/Lima");

    let (status, body) = send(fx.ghl(Method::GET, "/locations/someone-elses-location")).await;
    assert_eq!(status, 403);
    assert_eq!(body["statusCode"], 403);
    assert_eq!(
        body["message"],
        "The token does not have access to this location"
    );
    assert!(body["traceId"].is_string());
}

#[tokio::test]
async fn calendars_list_the_two_seeded_calendars_with_documented_fields() {
    let fx = Fixture::start().await;
    let (status, body) = send(fx.ghl(
        Method::GET,
        &format!("/calendars/?locationId={}", fx.location_id()),
    ))
    .await;
    assert_eq!(status, 200);
    let calendars = body["calendars"].as_array().expect("calendars array");
    assert_eq!(calendars.len(), 2);
    let consulta = &calendars[0];
    assert_eq!(consulta["id"], CONSULTA_GENERAL_CALENDAR_ID);
    assert_eq!(consulta["name"], "Consulta general");
    assert_eq!(consulta["locationId"], "demo-location-0001");
    assert_eq!(consulta["slotDuration"], 30);
    assert_eq!(consulta["slotDurationUnit"], "mins");
    assert_eq!(consulta["slotInterval"], 30);
    assert_eq!(consulta["appoinmentPerSlot"], 1);
    assert_eq!(consulta["autoConfirm"], true);
    assert_eq!(consulta["isActive"], true);
    assert!(consulta["calendarType"].is_string());
    assert_eq!(consulta["teamMembers"].as_array().map(Vec::len), Some(1));
    assert!(consulta["teamMembers"][0]["userId"].is_string());
    assert_eq!(
        consulta["openHours"][0],
        json!({"daysOfTheWeek": [0,1,2,3,4,5,6],
               "hours": [{"openHour": 8, "openMinute": 0, "closeHour": 20, "closeMinute": 0}]})
    );
    let odonto = &calendars[1];
    assert_eq!(odonto["name"], "Odontología");
    assert_eq!(odonto["slotDuration"], 60);
    assert_eq!(
        odonto["openHours"][0]["daysOfTheWeek"],
        json!([1, 2, 3, 4, 5, 6])
    );

    let (status, _) = send(fx.ghl(Method::GET, "/calendars/?locationId=other")).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn free_slots_are_keyed_by_local_date_and_render_in_the_requested_timezone() {
    let fx = Fixture::start().await;
    let start = Utc::now().timestamp_millis();
    let end = start + 3 * 86_400_000;
    let path = |tz: &str| {
        format!(
            "/calendars/{ODONTOLOGIA_CALENDAR_ID}/free-slots?startDate={start}&endDate={end}&timezone={tz}"
        )
    };
    let (status, lima) = send(fx.ghl(Method::GET, &path("America/Lima"))).await;
    assert_eq!(status, 200);
    assert!(lima["traceId"].is_string());
    let mut count = 0;
    for (date, day) in lima.as_object().expect("map") {
        if date == "traceId" {
            continue;
        }
        assert!(
            chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
            "{date}"
        );
        for slot in day["slots"].as_array().expect("slots") {
            let slot = slot.as_str().expect("string");
            count += 1;
            assert!(slot.starts_with(date.as_str()), "{slot} under {date}");
            assert!(slot.ends_with("-05:00"), "{slot}");
            assert_eq!(slot.len(), "2026-11-28T10:00:00-05:00".len());
            // Odontología: hourly, 09:00 to 17:00 starts, never in the past.
            let hour: u32 = slot[11..13].parse().expect("hour");
            assert!(
                (9..=17).contains(&hour) && &slot[14..19] == "00:00",
                "{slot}"
            );
            let at: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(slot).expect("iso");
            assert!(at > Utc::now());
        }
    }
    assert!(count > 0);

    let (status, utc) = send(fx.ghl(Method::GET, &path("UTC"))).await;
    assert_eq!(status, 200);
    let first_utc = utc
        .as_object()
        .expect("map")
        .iter()
        .find(|(k, _)| *k != "traceId")
        .map(|(_, v)| v["slots"][0].as_str().expect("slot").to_owned())
        .expect("a day");
    assert!(first_utc.ends_with("+00:00"), "{first_utc}");
}

#[tokio::test]
async fn free_slots_reject_a_range_over_31_days() {
    let fx = Fixture::start().await;
    let start = Utc::now().timestamp_millis();
    let end = start + 32 * 86_400_000;
    let (status, body) = send(fx.ghl(
        Method::GET,
        &format!(
            "/calendars/{CONSULTA_GENERAL_CALENDAR_ID}/free-slots?startDate={start}&endDate={end}"
        ),
    ))
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["statusCode"], 400);
    assert!(body["traceId"].is_string());
}

#[tokio::test]
async fn booked_slots_disappear_from_free_slots_and_return_when_cancelled() {
    let fx = Fixture::start().await;
    let slots = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 3).await;
    let slot = slots[1].clone();
    let (status, created) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slot).await;
    assert_eq!(status, 200, "{created}");
    assert!(
        !fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 3)
            .await
            .contains(&slot)
    );

    let id = created["id"].as_str().expect("id");
    let (status, updated) = send(
        fx.ghl(Method::PUT, &format!("/calendars/events/appointments/{id}"))
            .json(&json!({"appointmentStatus": "cancelled"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["appointmentStatus"], "cancelled");
    assert!(
        fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 3)
            .await
            .contains(&slot)
    );
}

#[tokio::test]
async fn appointment_create_answers_unwrapped_without_dates_and_get_adds_them() {
    let fx = Fixture::start().await;
    let slot = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 3).await[0].clone();
    let (status, created) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slot).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["calendarId"], CONSULTA_GENERAL_CALENDAR_ID);
    assert_eq!(created["contactId"], CONTACT_IDS[0]);
    assert_eq!(created["locationId"], "demo-location-0001");
    assert_eq!(created["startTime"], slot.as_str());
    assert_eq!(created["title"], "Consulta");
    // autoConfirm calendar, no appointmentStatus sent.
    assert_eq!(created["appointmentStatus"], "confirmed");
    assert!(created["assignedUserId"].is_string());
    assert!(created.get("dateAdded").is_none() && created.get("dateUpdated").is_none());
    assert!(created.get("event").is_none());
    let start = DateTime::parse_from_rfc3339(&slot).expect("slot");
    let end = DateTime::parse_from_rfc3339(created["endTime"].as_str().expect("end")).expect("end");
    assert_eq!(end - start, chrono::Duration::minutes(30));

    let id = created["id"].as_str().expect("id");
    let (status, got) =
        send(fx.ghl(Method::GET, &format!("/calendars/events/appointments/{id}"))).await;
    assert_eq!(status, 200);
    let event = &got["event"];
    assert_eq!(event["id"], id);
    assert_eq!(event["startTime"], slot.as_str());
    for key in ["dateAdded", "dateUpdated"] {
        let text = event[key].as_str().unwrap_or_else(|| panic!("{key}"));
        assert!(DateTime::parse_from_rfc3339(text).is_ok(), "{text}");
    }
}

#[tokio::test]
async fn appointment_create_without_required_fields_is_422_with_a_message_array() {
    let fx = Fixture::start().await;
    let (status, body) = send(
        fx.ghl(Method::POST, "/calendars/events/appointments")
            .json(&json!({"title": "sin datos"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["statusCode"], 422);
    assert_eq!(body["error"], "Unprocessable Entity");
    let messages: Vec<&str> = body["message"]
        .as_array()
        .expect("message is an array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for field in ["calendarId", "locationId", "contactId", "startTime"] {
        assert!(
            messages.iter().any(|m| m.starts_with(field)),
            "{field}: {messages:?}"
        );
    }
}

#[tokio::test]
async fn booking_a_taken_slot_returns_the_exact_slot_unavailable_400() {
    let fx = Fixture::start().await;
    let slot = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 3).await[2].clone();
    assert_eq!(fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slot).await.0, 200);
    let (status, body) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slot).await;
    assert_eq!(status, 400);
    assert_eq!(
        slot_unavailable_without_trace(&body),
        json!({"statusCode": 400, "message": "The slot you have selected is no longer available.", "error": "Bad Request"})
    );
}

#[tokio::test]
async fn the_utc_form_of_a_free_slot_is_a_different_slot_and_is_rejected() {
    let fx = Fixture::start().await;
    let slot = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 3).await[0].clone();
    let utc = DateTime::parse_from_rfc3339(&slot)
        .expect("slot")
        .with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (status, body) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &utc).await;
    assert_eq!(status, 400, "{utc}: {body}");
    assert_eq!(
        body["message"],
        "The slot you have selected is no longer available."
    );
    // Off-grid and past times are not slots either.
    let off_grid = slot
        .replace(":00:00-05:00", ":10:00-05:00")
        .replace(":30:00-05:00", ":10:00-05:00");
    assert_eq!(
        fx.book(CONSULTA_GENERAL_CALENDAR_ID, &off_grid).await.0,
        400
    );
    assert_eq!(
        fx.book(CONSULTA_GENERAL_CALENDAR_ID, "2020-01-06T10:00:00-05:00")
            .await
            .0,
        400
    );
    // The slot itself is still free.
    assert_eq!(fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slot).await.0, 200);
}

#[tokio::test]
async fn concurrent_identical_creates_let_exactly_one_win() {
    let fx = std::sync::Arc::new(Fixture::start().await);
    let slot = fx.free_slots(ODONTOLOGIA_CALENDAR_ID, 7).await[0].clone();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let fx = fx.clone();
        let slot = slot.clone();
        tasks.push(tokio::spawn(async move {
            fx.book(ODONTOLOGIA_CALENDAR_ID, &slot).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            200 => wins += 1,
            400 => assert_eq!(
                body["message"],
                "The slot you have selected is no longer available."
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn ignore_free_slot_validation_allows_an_overlapping_squeeze_in() {
    let fx = Fixture::start().await;
    let slot = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 3).await[0].clone();
    assert_eq!(fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slot).await.0, 200);
    let (status, body) = send(fx.ghl(Method::POST, "/calendars/events/appointments").json(
        &json!({
            "calendarId": CONSULTA_GENERAL_CALENDAR_ID,
            "locationId": fx.location_id(),
            "contactId": CONTACT_IDS[1],
            "startTime": slot,
            "ignoreFreeSlotValidation": true,
            "appointmentStatus": "new",
        }),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["appointmentStatus"], "new");
}

#[tokio::test]
async fn rescheduling_revalidates_the_new_slot() {
    let fx = Fixture::start().await;
    let slots = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 3).await;
    let (_, a) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slots[0]).await;
    let (_, b) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slots[1]).await;
    let b_id = b["id"].as_str().expect("id");
    let (status, body) = send(
        fx.ghl(
            Method::PUT,
            &format!("/calendars/events/appointments/{b_id}"),
        )
        .json(&json!({"startTime": a["startTime"]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = send(
        fx.ghl(
            Method::PUT,
            &format!("/calendars/events/appointments/{b_id}"),
        )
        .json(&json!({"startTime": slots[3], "title": "Reprogramada"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["startTime"], slots[3].as_str());
    assert_eq!(body["title"], "Reprogramada");
    assert!(body.get("dateUpdated").is_none());
}

#[tokio::test]
async fn unknown_event_is_a_404_in_ghl_shape() {
    let fx = Fixture::start().await;
    let (status, body) = send(fx.ghl(Method::GET, "/calendars/events/appointments/nope")).await;
    assert_eq!(status, 404);
    assert_eq!(body["statusCode"], 404);
    assert!(body["message"].is_string() && body["traceId"].is_string());
}

#[tokio::test]
async fn events_list_needs_a_calendar_user_or_group_and_filters_by_window() {
    let fx = Fixture::start().await;
    let slot = fx.free_slots(ODONTOLOGIA_CALENDAR_ID, 7).await[0].clone();
    let (_, created) = fx.book(ODONTOLOGIA_CALENDAR_ID, &slot).await;
    let start = Utc::now().timestamp_millis().to_string();
    let end = (Utc::now().timestamp_millis() + 8 * 86_400_000).to_string();
    let base = format!(
        "/calendars/events?locationId={}&startTime={start}&endTime={end}",
        fx.location_id()
    );
    let (status, body) = send(fx.ghl(Method::GET, &base)).await;
    assert!(status == 400 || status == 422, "{status}");
    assert!(body["traceId"].is_string());

    let (status, body) = send(fx.ghl(
        Method::GET,
        &format!("{base}&calendarId={ODONTOLOGIA_CALENDAR_ID}"),
    ))
    .await;
    assert_eq!(status, 200);
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["id"], created["id"]);
    assert!(events[0]["dateAdded"].is_string());

    let (_, body) = send(fx.ghl(
        Method::GET,
        &format!("{base}&calendarId={CONSULTA_GENERAL_CALENDAR_ID}"),
    ))
    .await;
    assert_eq!(body["events"], json!([]));

    let past = format!(
        "/calendars/events?locationId={}&startTime=0&endTime=1000&calendarId={ODONTOLOGIA_CALENDAR_ID}",
        fx.location_id()
    );
    let (_, body) = send(fx.ghl(Method::GET, &past)).await;
    assert_eq!(body["events"], json!([]));
}

#[tokio::test]
async fn upsert_matches_an_existing_contact_by_phone_or_creates_one() {
    let fx = Fixture::start().await;
    let (status, body) = send(fx.ghl(Method::POST, "/contacts/upsert").json(&json!({
        "locationId": fx.location_id(),
        "phone": "+51987654321",
        "firstName": "María",
    })))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["new"], false);
    assert_eq!(body["contact"]["id"], CONTACT_IDS[0]);

    let (status, body) = send(fx.ghl(Method::POST, "/contacts/upsert").json(&json!({
        "locationId": fx.location_id(),
        "phone": "+51911122233",
        "firstName": "Rosa",
        "lastName": "Mendoza",
        "email": "rosa.mendoza@example.com",
    })))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["new"], true);
    let id = body["contact"]["id"].as_str().expect("id").to_owned();

    let (status, got) = send(fx.ghl(Method::GET, &format!("/contacts/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(got["contact"]["firstName"], "Rosa");
    assert_eq!(got["contact"]["phone"], "+51911122233");

    let (status, _) = send(
        fx.ghl(Method::POST, "/contacts/upsert")
            .json(&json!({"phone": "+51"})),
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn tags_endpoint_adds_tags_without_replacing_and_notes_are_created() {
    let fx = Fixture::start().await;
    let id = CONTACT_IDS[1];
    let (status, body) = send(
        fx.ghl(Method::POST, &format!("/contacts/{id}/tags"))
            .json(&json!({"tags": ["paciente"]})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body, json!({"tags": ["paciente"]}));
    let (status, body) = send(
        fx.ghl(Method::POST, &format!("/contacts/{id}/tags"))
            .json(&json!({"tags": ["pago_confirmado", "paciente"]})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body, json!({"tags": ["paciente", "pago_confirmado"]}));

    let (status, body) = send(
        fx.ghl(Method::POST, &format!("/contacts/{id}/notes"))
            .json(&json!({"body": "Pagó S/ 80.00 con Mercado Pago"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["note"]["body"], "Pagó S/ 80.00 con Mercado Pago");
    assert!(body["note"]["id"].is_string());

    let (status, _) = send(
        fx.ghl(Method::POST, "/contacts/unknown/tags")
            .json(&json!({"tags": ["x"]})),
    )
    .await;
    assert_eq!(status, 404);
}
