//! Contract tests for `ghl::Client`: every call goes over real loopback HTTP, either to the
//! sandbox (a stateful fake of GHL written from `shared/providers/ghl.md`) or, for answers the
//! sandbox cannot provoke yet, to a `testkit::RecordingServer` started by the test itself.

use std::time::{Duration, Instant};

use chrono::{DateTime, Days, TimeZone, Utc};
use chrono_tz::America::Lima;
use chrono_tz::Tz;
use ghl::client::format_slot_time;
use ghl::{Client, ClientConfig, ContactUpsert, Error, NewAppointment};
use sandbox::{Sandbox, SandboxConfig, seed};
use secrecy::SecretString;
use testkit::{RecordingServer, Reply};

const CALENDARS_VERSION: &str = "2021-04-15";
const CONTACTS_VERSION: &str = "2021-07-28";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

async fn start_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::demo())
        .await
        .expect("sandbox starts on loopback")
}

fn client_for(base_url: &str, token: &str) -> Client {
    Client::new(ClientConfig::new(
        base_url,
        SecretString::from(token.to_owned()),
    ))
    .expect("client builds")
}

fn sandbox_client(sandbox: &Sandbox) -> Client {
    client_for(&sandbox.ghl_base_url(), &sandbox.config().ghl_access_token)
}

fn location_id(sandbox: &Sandbox) -> String {
    sandbox.config().location_id.clone()
}

/// `hour`:00 tomorrow in Lima (Lima has no DST, so the instant always exists).
fn tomorrow_at(hour: u32) -> DateTime<Tz> {
    let today = Utc::now().with_timezone(&Lima).date_naive();
    let day = today
        .checked_add_days(Days::new(1))
        .expect("tomorrow exists");
    let naive = day.and_hms_opt(hour, 0, 0).expect("valid hour");
    Lima.from_local_datetime(&naive)
        .single()
        .expect("Lima has one offset")
}

/// A "Consulta general" booking for the first seeded contact at `start`.
fn consulta(sandbox: &Sandbox, start_time: String, end_time: String) -> NewAppointment {
    NewAppointment {
        calendar_id: seed::CONSULTA_GENERAL_CALENDAR_ID.to_owned(),
        location_id: location_id(sandbox),
        contact_id: seed::CONTACT_IDS[0].to_owned(),
        start_time,
        end_time,
        title: Some("Consulta general - María Flores".to_owned()),
        appointment_status: "confirmed".to_owned(),
        assigned_user_id: Some(seed::CONSULTA_GENERAL_USER_ID.to_owned()),
        ignore_free_slot_validation: false,
    }
}

/// A booking for the 30-minute slot starting at `start`, in the Lima wire format.
fn consulta_at(sandbox: &Sandbox, start: DateTime<Tz>) -> NewAppointment {
    let end = start + chrono::Duration::minutes(30);
    consulta(sandbox, format_slot_time(&start), format_slot_time(&end))
}

/// A server answering every request with the same status, headers and body.
async fn canned(status: u16, headers: &[(&str, &str)], body: &str) -> String {
    RecordingServer::canned(status, headers, body)
        .await
        .url()
        .to_owned()
}

fn canned_client(base_url: &str) -> Client {
    client_for(base_url, "pit-test-token")
}

/// A client that returns a 429 at once (the retries are pinned in `rate_limits.rs`).
fn no_retry_client(base_url: &str) -> Client {
    let mut config = ClientConfig::new(base_url, SecretString::from("pit-test-token".to_owned()));
    config.retry = ghl::RetryPolicy::none();
    Client::new(config).expect("client builds")
}

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn location_reports_lima_timezone() {
    let sandbox = start_sandbox().await;
    let location = sandbox_client(&sandbox)
        .get_location(&location_id(&sandbox))
        .await
        .expect("location is readable");
    assert_eq!(location.id, location_id(&sandbox));
    assert_eq!(location.timezone.as_deref(), Some("America/Lima"));
    assert_eq!(location.name.as_deref(), Some("Clínica Demo"));
}

#[tokio::test]
async fn foreign_location_maps_to_forbidden() {
    let sandbox = start_sandbox().await;
    let err = sandbox_client(&sandbox)
        .get_location("OtherLocation0000001")
        .await
        .expect_err("a location the token has no access to is refused");
    match err {
        Error::Forbidden { message, trace_id } => {
            assert!(
                message.contains("does not have access to this location"),
                "{message}"
            );
            assert!(trace_id.is_some(), "the 403 body carries a traceId");
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_token_maps_to_unauthorized() {
    let sandbox = start_sandbox().await;
    let client = client_for(&sandbox.ghl_base_url(), "pit-not-the-right-token");
    let err = client
        .get_location(&location_id(&sandbox))
        .await
        .expect_err("an unknown token is refused");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let err = client
        .list_calendars(&location_id(&sandbox))
        .await
        .expect_err("on every family");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Calendars
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_calendars_returns_both_seeded_calendars_with_durations_and_team() {
    let sandbox = start_sandbox().await;
    let calendars = sandbox_client(&sandbox)
        .list_calendars(&location_id(&sandbox))
        .await
        .expect("calendars are listed");
    assert_eq!(calendars.len(), 2, "{calendars:?}");

    let find = |id: &str| {
        calendars
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("calendar {id} listed"))
    };
    let consulta = find(seed::CONSULTA_GENERAL_CALENDAR_ID);
    assert_eq!(consulta.name.as_deref(), Some("Consulta general"));
    assert_eq!(consulta.slot_minutes(), 30);
    assert_eq!(
        consulta.location_id.as_deref(),
        Some(location_id(&sandbox).as_str())
    );
    assert_eq!(consulta.team_members.len(), 1);
    assert_eq!(
        consulta.team_members[0].user_id,
        seed::CONSULTA_GENERAL_USER_ID
    );
    assert_eq!(consulta.team_members[0].is_primary, Some(true));

    let odonto = find(seed::ODONTOLOGIA_CALENDAR_ID);
    assert_eq!(odonto.name.as_deref(), Some("Odontología"));
    assert_eq!(odonto.slot_minutes(), 60);
    assert_eq!(odonto.team_members.len(), 1);
    assert_eq!(odonto.team_members[0].user_id, seed::ODONTOLOGIA_USER_ID);
}

#[tokio::test]
async fn list_calendars_of_foreign_location_maps_to_forbidden() {
    let sandbox = start_sandbox().await;
    let err = sandbox_client(&sandbox)
        .list_calendars("OtherLocation0000001")
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Appointments
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_appointment_books_a_free_slot_echoing_lima_times() {
    let sandbox = start_sandbox().await;
    let start = tomorrow_at(10);
    let new = consulta_at(&sandbox, start);
    let created = sandbox_client(&sandbox)
        .create_appointment(&new)
        .await
        .expect("a free slot books");

    assert_eq!(created.id.len(), 20, "GHL-shaped id: {}", created.id);
    assert!(created.id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(
        new.start_time.ends_with("T10:00:00-05:00"),
        "{}",
        new.start_time
    );
    assert_eq!(created.start_time.as_deref(), Some(new.start_time.as_str()));
    assert_eq!(created.end_time.as_deref(), Some(new.end_time.as_str()));
    assert_eq!(
        created.calendar_id.as_deref(),
        Some(seed::CONSULTA_GENERAL_CALENDAR_ID)
    );
    assert_eq!(created.contact_id.as_deref(), Some(seed::CONTACT_IDS[0]));
    assert_eq!(
        created.location_id.as_deref(),
        Some(location_id(&sandbox).as_str())
    );
    assert_eq!(created.appointment_status.as_deref(), Some("confirmed"));
    assert_eq!(
        created.assigned_user_id.as_deref(),
        Some(seed::CONSULTA_GENERAL_USER_ID)
    );
    // §3.3: the create answer has no dateAdded/dateUpdated.
    assert_eq!(created.date_added, None);
    assert_eq!(created.date_updated, None);
}

#[tokio::test]
async fn slot_conflict_maps_to_slot_taken() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let new = consulta_at(&sandbox, tomorrow_at(10));
    client
        .create_appointment(&new)
        .await
        .expect("first booking wins");

    let err = client
        .create_appointment(&new)
        .await
        .expect_err("the same slot again is taken");
    match &err {
        Error::SlotTaken { trace_id } => {
            assert!(trace_id.is_some(), "GHL's 400 carries a traceId")
        }
        other => panic!("expected SlotTaken, got {other:?}"),
    }
    assert!(!err.is_retryable());

    // The same slot for another patient is still taken: one appointment per slot.
    let mut other = new.clone();
    other.contact_id = seed::CONTACT_IDS[1].to_owned();
    let err = client.create_appointment(&other).await.expect_err("taken");
    assert!(matches!(err, Error::SlotTaken { .. }), "{err:?}");
}

#[tokio::test]
async fn utc_rendered_slot_maps_to_slot_taken() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let start = tomorrow_at(11);
    let end = start + chrono::Duration::minutes(30);
    let start_utc = start.with_timezone(&Utc);
    let end_utc = end.with_timezone(&Utc);

    // The same instant as the free slot, rendered in UTC two ways (§3.4: rejected by GHL).
    let renderings = [
        (
            start_utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            end_utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        (format_slot_time(&start_utc), format_slot_time(&end_utc)),
    ];
    for (start_text, end_text) in renderings {
        assert!(!start_text.contains("-05:00"), "{start_text}");
        let err = client
            .create_appointment(&consulta(&sandbox, start_text.clone(), end_text))
            .await
            .expect_err("a UTC rendering is not the slot string");
        assert!(
            matches!(err, Error::SlotTaken { .. }),
            "{start_text}: {err:?}"
        );
    }

    // The slot itself was free all along: the Lima rendering books it.
    client
        .create_appointment(&consulta_at(&sandbox, start))
        .await
        .expect("the Lima rendering of the same instant books");
}

#[tokio::test]
async fn ignore_free_slot_validation_is_refused_before_sending() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let before = sandbox.ghl_requests().len();

    let mut new = consulta_at(&sandbox, tomorrow_at(12));
    new.ignore_free_slot_validation = true;
    let err = client
        .create_appointment(&new)
        .await
        .expect_err("slot validation must stay on");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert_eq!(sandbox.ghl_requests().len(), before, "nothing was sent");

    // And the slot is untouched.
    new.ignore_free_slot_validation = false;
    client
        .create_appointment(&new)
        .await
        .expect("the slot is still free");
}

#[tokio::test]
async fn get_appointment_returns_event_with_record_stamps() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let new = consulta_at(&sandbox, tomorrow_at(15));
    let created = client.create_appointment(&new).await.expect("books");

    let event = client
        .get_appointment(&created.id)
        .await
        .expect("the event is readable");
    assert_eq!(event.id, created.id);
    assert_eq!(event.start_time.as_deref(), Some(new.start_time.as_str()));
    assert_eq!(event.end_time.as_deref(), Some(new.end_time.as_str()));
    assert_eq!(
        event.calendar_id.as_deref(),
        Some(seed::CONSULTA_GENERAL_CALENDAR_ID)
    );
    assert_eq!(event.contact_id.as_deref(), Some(seed::CONTACT_IDS[0]));
    assert_eq!(event.appointment_status.as_deref(), Some("confirmed"));
    for stamp in [&event.date_added, &event.date_updated] {
        let stamp = stamp.as_deref().expect("GET carries dateAdded/dateUpdated");
        DateTime::parse_from_rfc3339(stamp)
            .unwrap_or_else(|e| panic!("{stamp} is ISO-8601 with offset: {e}"));
    }
}

#[tokio::test]
async fn unknown_appointment_maps_to_not_found() {
    let sandbox = start_sandbox().await;
    let err = sandbox_client(&sandbox)
        .get_appointment("UnknownEvent00000001")
        .await
        .expect_err("no such event");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn malformed_ids_are_refused_before_sending() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let before = sandbox.ghl_requests().len();
    for id in ["../x", "", "a/b", "a?b=c", "id with space", "%2e%2e"] {
        let err = client
            .get_appointment(id)
            .await
            .expect_err("malformed event id");
        assert!(matches!(err, Error::InvalidRequest(_)), "{id:?}: {err:?}");
        let err = client
            .get_location(id)
            .await
            .expect_err("malformed location id");
        assert!(matches!(err, Error::InvalidRequest(_)), "{id:?}: {err:?}");
    }
    assert_eq!(sandbox.ghl_requests().len(), before, "nothing was sent");
}

// ---------------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn upsert_contact_creates_then_finds_by_phone() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let contact = ContactUpsert {
        location_id: location_id(&sandbox),
        first_name: Some("Rosa".to_owned()),
        last_name: Some("Mendoza Paredes".to_owned()),
        phone: Some("+51944556677".to_owned()),
        source: Some("mostrador".to_owned()),
        ..ContactUpsert::default()
    };
    let first = client.upsert_contact(&contact).await.expect("created");
    assert!(first.new, "a new phone creates a contact");
    assert_eq!(first.contact.phone.as_deref(), Some("+51944556677"));
    assert_eq!(first.contact.first_name.as_deref(), Some("Rosa"));

    let again = ContactUpsert {
        location_id: location_id(&sandbox),
        first_name: Some("Rosa".to_owned()),
        phone: Some("+51944556677".to_owned()),
        ..ContactUpsert::default()
    };
    let second = client.upsert_contact(&again).await.expect("found");
    assert!(!second.new, "the same phone finds the existing contact");
    assert_eq!(second.contact.id, first.contact.id);
}

#[tokio::test]
async fn upsert_contact_finds_a_seeded_patient_by_phone() {
    let sandbox = start_sandbox().await;
    let (_, _, phone, _) = seed::CONTACTS[0];
    let found = sandbox_client(&sandbox)
        .upsert_contact(&ContactUpsert {
            location_id: location_id(&sandbox),
            phone: Some(phone.to_owned()),
            ..ContactUpsert::default()
        })
        .await
        .expect("found");
    assert!(!found.new);
    assert_eq!(found.contact.id, seed::CONTACT_IDS[0]);
}

// ---------------------------------------------------------------------------------------------
// Version header per family
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn version_header_follows_the_api_family() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let location = location_id(&sandbox);
    client.get_location(&location).await.expect("location");
    client.list_calendars(&location).await.expect("calendars");
    let created = client
        .create_appointment(&consulta_at(&sandbox, tomorrow_at(16)))
        .await
        .expect("created");
    client.get_appointment(&created.id).await.expect("event");
    client
        .upsert_contact(&ContactUpsert {
            location_id: location.clone(),
            phone: Some("+51911112222".to_owned()),
            ..ContactUpsert::default()
        })
        .await
        .expect("contact");

    let requests = sandbox.ghl_requests();
    assert_eq!(requests.len(), 5, "{requests:?}");
    let mut families = Vec::new();
    for r in &requests {
        assert!(r.authorized, "{r:?}");
        let expected = if r.path.starts_with("/calendars") {
            CALENDARS_VERSION
        } else if r.path.starts_with("/contacts") || r.path.starts_with("/locations") {
            CONTACTS_VERSION
        } else {
            panic!("unexpected path {}", r.path)
        };
        assert_eq!(
            r.version.as_deref(),
            Some(expected),
            "{} {}",
            r.method,
            r.path
        );
        families.push((
            r.method.as_str(),
            r.path.split('?').next().unwrap_or_default(),
        ));
    }
    let appointment_path = format!("/calendars/events/appointments/{}", created.id);
    let location_path = format!("/locations/{location}");
    assert_eq!(
        families,
        vec![
            ("GET", location_path.as_str()),
            ("GET", "/calendars/"),
            ("POST", "/calendars/events/appointments"),
            ("GET", appointment_path.as_str()),
            ("POST", "/contacts/upsert"),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Error mapping from answers the sandbox cannot provoke yet (local recording server)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unprocessable_message_array_maps_to_rejected_with_every_message() {
    let base = canned(
        422,
        &[("content-type", "application/json")],
        r#"{"statusCode":422,"message":["calendarId should not be empty","startTime must be a valid ISO 8601 date string"],"error":"Unprocessable Entity","traceId":"trace-422"}"#,
    )
    .await;
    let err = canned_client(&base)
        .get_location("Loc00000000000000001")
        .await
        .expect_err("422");
    match &err {
        Error::Rejected {
            status,
            messages,
            trace_id,
        } => {
            assert_eq!(*status, 422);
            assert_eq!(
                messages,
                &vec![
                    "calendarId should not be empty".to_owned(),
                    "startTime must be a valid ISO 8601 date string".to_owned(),
                ]
            );
            assert_eq!(trace_id.as_deref(), Some("trace-422"));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn plain_bad_request_maps_to_rejected_with_its_message() {
    let base = canned(
        400,
        &[("content-type", "application/json")],
        r#"{"status":400,"message":"MongoError: boom","name":"HttpException","traceId":"t-400"}"#,
    )
    .await;
    let err = canned_client(&base)
        .list_calendars("Loc00000000000000001")
        .await
        .expect_err("400");
    match err {
        Error::Rejected {
            status, messages, ..
        } => {
            assert_eq!(status, 400);
            assert_eq!(messages, vec!["MongoError: boom".to_owned()]);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn slot_message_in_a_422_array_maps_to_slot_taken() {
    let base = canned(
        422,
        &[("content-type", "application/json")],
        r#"{"statusCode":422,"message":["The slot you have selected is no longer available."],"error":"Unprocessable Entity"}"#,
    )
    .await;
    let new = NewAppointment {
        calendar_id: "Cal00000000000000001".into(),
        location_id: "Loc00000000000000001".into(),
        contact_id: "Cnt00000000000000001".into(),
        start_time: "2026-11-28T10:00:00-05:00".into(),
        end_time: "2026-11-28T10:30:00-05:00".into(),
        title: None,
        appointment_status: "confirmed".into(),
        assigned_user_id: None,
        ignore_free_slot_validation: false,
    };
    let err = canned_client(&base)
        .create_appointment(&new)
        .await
        .expect_err("422 slot");
    assert!(matches!(err, Error::SlotTaken { .. }), "{err:?}");
}

#[tokio::test]
async fn rate_limit_maps_to_rate_limited_with_interval_as_retry_after() {
    let base = canned(
        429,
        &[
            ("content-type", "application/json"),
            ("X-RateLimit-Interval-Milliseconds", "10000"),
            ("X-RateLimit-Max", "100"),
            ("X-RateLimit-Remaining", "0"),
        ],
        r#"{"statusCode":429,"message":"Too Many Requests"}"#,
    )
    .await;
    let err = no_retry_client(&base)
        .get_location("Loc00000000000000001")
        .await
        .expect_err("429");
    match &err {
        Error::RateLimited { retry_after } => {
            assert_eq!(*retry_after, Some(Duration::from_millis(10_000)))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn rate_limit_prefers_retry_after_seconds_when_present() {
    let base = canned(
        429,
        &[
            ("Retry-After", "3"),
            ("X-RateLimit-Interval-Milliseconds", "10000"),
        ],
        "",
    )
    .await;
    let err = no_retry_client(&base)
        .get_location("Loc00000000000000001")
        .await
        .expect_err("429");
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3)),
        "{err:?}"
    );
}

#[tokio::test]
async fn html_service_unavailable_maps_to_unavailable() {
    let base = canned(
        503,
        &[("content-type", "text/html; charset=utf-8")],
        "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>",
    )
    .await;
    let err = canned_client(&base)
        .list_calendars("Loc00000000000000001")
        .await
        .expect_err("503");
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: 503,
                trace_id: None
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn truncated_json_success_maps_to_decode() {
    let base = canned(
        200,
        &[("content-type", "application/json")],
        r#"{"location":{"id":"Loc00000000000000001","name":"Clínica","timez"#,
    )
    .await;
    let err = canned_client(&base)
        .get_location("Loc00000000000000001")
        .await
        .expect_err("truncated body");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn success_of_the_wrong_shape_maps_to_decode() {
    let base = canned(
        200,
        &[("content-type", "application/json")],
        r#"{"calendars":"not a list"}"#,
    )
    .await;
    let err = canned_client(&base)
        .list_calendars("Loc00000000000000001")
        .await
        .expect_err("wrong shape");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
}

#[tokio::test]
async fn silent_server_maps_to_timeout() {
    let server =
        RecordingServer::start(|_, _| Reply::new(200, "too late").after(Duration::from_secs(30)))
            .await;
    let mut config = ClientConfig::new(
        server.url(),
        SecretString::from("pit-test-token".to_owned()),
    );
    config.timeout = Duration::from_millis(300);
    let client = Client::new(config).expect("client builds");

    let started = Instant::now();
    let err = client
        .get_location("Loc00000000000000001")
        .await
        .expect_err("no answer in time");
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(err.is_retryable());
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    // Well past any slow machine's 300 ms timeout, still short of the 30 s a missing one waits.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert_eq!(server.requests().len(), 1, "the request reached the server");
}

#[tokio::test]
async fn error_messages_never_contain_the_token() {
    let sandbox = start_sandbox().await;
    let token = "pit-secret-value-that-must-not-leak";
    let client = client_for(&sandbox.ghl_base_url(), token);
    let err = client
        .get_location(&location_id(&sandbox))
        .await
        .expect_err("unknown token");
    assert!(!err.to_string().contains(token));
    assert!(!format!("{err:?}").contains(token));
    assert!(!format!("{client:?}").contains(token));
}
