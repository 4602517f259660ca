//! The GHL side beyond the basics, over real loopback HTTP with raw JSON and forms: OAuth
//! tokens, rate limits, `Version` strictness, contacts create/update/lookup/search, sending a
//! message, calendar GET by id, appointment delete, and API fault injection.

mod common;

use std::time::Duration;

use common::{Fixture, send, send_text};
use reqwest::Method;
use sandbox::seed::{CONSULTA_GENERAL_CALENDAR_ID, CONTACT_IDS};
use sandbox::{
    DEMO_GHL_OAUTH_CLIENT_ID, DEMO_GHL_OAUTH_CLIENT_SECRET, Fault, FaultKind, GhlRateLimit,
};
use serde_json::{Value, json};

// ---------- OAuth ----------

/// `POST /oauth/token`, form-encoded, no bearer, no `Version`.
async fn token(fx: &Fixture, form: &[(&str, &str)]) -> (u16, Value) {
    send(
        fx.http
            .post(format!("{}/oauth/token", fx.sandbox.ghl_base_url()))
            .form(form),
    )
    .await
}

async fn exchange_code(fx: &Fixture) -> Value {
    let code = fx.sandbox.issue_ghl_oauth_code();
    let (status, body) = token(
        fx,
        &[
            ("client_id", DEMO_GHL_OAUTH_CLIENT_ID),
            ("client_secret", DEMO_GHL_OAUTH_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("user_type", "Location"),
            ("redirect_uri", "http://127.0.0.1:1/callback"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refresh(fx: &Fixture, refresh_token: &str) -> (u16, Value) {
    token(
        fx,
        &[
            ("client_id", DEMO_GHL_OAUTH_CLIENT_ID),
            ("client_secret", DEMO_GHL_OAUTH_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("user_type", "Location"),
        ],
    )
    .await
}

/// GET the location with an explicit bearer token.
async fn location_with(fx: &Fixture, access_token: &str) -> (u16, Value) {
    send(
        fx.http
            .get(format!(
                "{}/locations/{}",
                fx.sandbox.ghl_base_url(),
                fx.location_id()
            ))
            .bearer_auth(access_token)
            .header("Version", "2021-07-28"),
    )
    .await
}

#[tokio::test]
async fn oauth_code_exchange_answers_the_documented_fields_and_its_token_opens_the_api() {
    let fx = Fixture::start().await;
    let body = exchange_code(&fx).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_399);
    assert_eq!(body["userType"], "Location");
    assert_eq!(body["locationId"], fx.location_id().as_str());
    assert_eq!(body["approvedLocations"], json!([fx.location_id()]));
    for key in [
        "access_token",
        "refresh_token",
        "scope",
        "companyId",
        "userId",
    ] {
        assert!(body[key].is_string(), "{key}");
    }
    assert!(
        body["scope"]
            .as_str()
            .is_some_and(|s| s.contains("calendars/events.write"))
    );
    let access = body["access_token"].as_str().expect("token");
    let (status, location) = location_with(&fx, access).await;
    assert_eq!(status, 200, "{location}");
    // The PIT keeps working beside OAuth tokens.
    let (status, _) = location_with(&fx, &fx.sandbox.config().ghl_access_token.clone()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_authorization_code_works_once() {
    let fx = Fixture::start().await;
    let code = fx.sandbox.issue_ghl_oauth_code();
    let form = [
        ("client_id", DEMO_GHL_OAUTH_CLIENT_ID),
        ("client_secret", DEMO_GHL_OAUTH_CLIENT_SECRET),
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
    ];
    assert_eq!(token(&fx, &form).await.0, 200);
    let (status, body) = token(&fx, &form).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["statusCode"], 400);
}

#[tokio::test]
async fn refresh_tokens_are_single_use_but_an_identical_refresh_within_30_s_gets_the_same_pair() {
    let fx = Fixture::start().await;
    let first = exchange_code(&fx).await;
    let r1 = first["refresh_token"].as_str().expect("refresh");
    let (status, second) = refresh(&fx, r1).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    // The identical request again within 30 s: the same new pair.
    let (status, again) = refresh(&fx, r1).await;
    assert_eq!(status, 200);
    assert_eq!(again["refresh_token"], second["refresh_token"]);
    assert_eq!(again["access_token"], second["access_token"]);
    // After the window the old token is spent.
    fx.sandbox.advance_clock(Duration::from_secs(31));
    let (status, body) = refresh(&fx, r1).await;
    assert!(status == 400 || status == 401, "{status} {body}");
    // The new one works (once).
    let r2 = second["refresh_token"].as_str().expect("refresh");
    let (status, third) = refresh(&fx, r2).await;
    assert_eq!(status, 200, "{third}");
    let (status, _) = location_with(&fx, third["access_token"].as_str().expect("token")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_different_request_reusing_a_refresh_token_fails_even_within_30_s() {
    let fx = Fixture::start().await;
    let first = exchange_code(&fx).await;
    let r1 = first["refresh_token"].as_str().expect("refresh");
    assert_eq!(refresh(&fx, r1).await.0, 200);
    let (status, _) = token(
        &fx,
        &[
            ("client_id", DEMO_GHL_OAUTH_CLIENT_ID),
            ("client_secret", DEMO_GHL_OAUTH_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", r1),
            ("user_type", "Company"),
        ],
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn oauth_access_tokens_expire_into_the_exact_401_body() {
    let fx = Fixture::start().await;
    fx.sandbox
        .set_ghl_access_token_lifetime(Duration::from_secs(60));
    let body = exchange_code(&fx).await;
    assert_eq!(body["expires_in"], 60);
    let access = body["access_token"].as_str().expect("token");
    assert_eq!(location_with(&fx, access).await.0, 200);
    fx.sandbox.advance_clock(Duration::from_secs(61));
    let (status, body) = location_with(&fx, access).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"statusCode": 401, "message": "Invalid token: access token is invalid", "error": "Unauthorized"})
    );
}

#[tokio::test]
async fn a_suspended_location_refuses_refresh_with_location_is_not_active() {
    let fx = Fixture::start().await;
    let body = exchange_code(&fx).await;
    fx.sandbox.set_ghl_location_suspended(true);
    let (status, err) = refresh(&fx, body["refresh_token"].as_str().expect("refresh")).await;
    assert_eq!(status, 400);
    assert_eq!(err["message"], "Location is not active");
}

#[tokio::test]
async fn oauth_rejects_wrong_client_credentials_and_json_bodies() {
    let fx = Fixture::start().await;
    let (status, _) = token(
        &fx,
        &[
            ("client_id", DEMO_GHL_OAUTH_CLIENT_ID),
            ("client_secret", "nope"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    // The endpoint is form-encoded: a JSON body carries no form fields.
    let (status, body) = send(
        fx.http
            .post(format!("{}/oauth/token", fx.sandbox.ghl_base_url()))
            .json(&json!({"client_id": DEMO_GHL_OAUTH_CLIENT_ID, "client_secret": DEMO_GHL_OAUTH_CLIENT_SECRET, "grant_type": "refresh_token"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].is_array());
}

// ---------- rate limits and Version ----------

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn requests_beyond_the_burst_limit_get_429_with_all_five_headers() {
    let fx = Fixture::start().await;
    fx.sandbox.set_ghl_rate_limit(GhlRateLimit {
        burst_max: 3,
        burst_window: Duration::from_secs(60),
        daily_max: 1000,
    });
    let path = format!("/locations/{}", fx.location_id());
    for expected in ["2", "1", "0"] {
        let resp = fx.ghl(Method::GET, &path).send().await.expect("sent");
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-ratelimit-remaining"), expected);
    }
    let resp = fx.ghl(Method::GET, &path).send().await.expect("sent");
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&resp, "x-ratelimit-max"), "3");
    assert_eq!(header(&resp, "x-ratelimit-interval-milliseconds"), "60000");
    assert_eq!(header(&resp, "x-ratelimit-limit-daily"), "1000");
    assert_eq!(header(&resp, "x-ratelimit-daily-remaining"), "997");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["statusCode"], 429);
    // The window slides past.
    fx.sandbox.advance_clock(Duration::from_secs(61));
    let resp = fx.ghl(Method::GET, &path).send().await.expect("sent");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn the_daily_limit_is_enforced_too_and_settable_over_http() {
    let fx = Fixture::start().await;
    let (status, _) = send(fx.control(Method::POST, "/settings").json(&json!({
        "ghl_rate_limit": {"burst_max": 100, "burst_window": 10000, "daily_max": 2}
    })))
    .await;
    assert_eq!(status, 200);
    let path = format!("/locations/{}", fx.location_id());
    for _ in 0..2 {
        assert_eq!(send(fx.ghl(Method::GET, &path)).await.0, 200);
    }
    let resp = fx.ghl(Method::GET, &path).send().await.expect("sent");
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-ratelimit-daily-remaining"), "0");
}

#[tokio::test]
async fn strict_version_demands_each_familys_value_and_lenient_accepts_any() {
    let fx = Fixture::start().await;
    let cal = format!("/calendars/{CONSULTA_GENERAL_CALENDAR_ID}");
    let with = |path: &str, version: Option<&str>| {
        let mut rb = fx
            .http
            .get(format!("{}{path}", fx.sandbox.ghl_base_url()))
            .bearer_auth(&fx.sandbox.config().ghl_access_token);
        if let Some(v) = version {
            rb = rb.header("Version", v);
        }
        send(rb)
    };
    assert_eq!(
        with(&cal, Some("2021-07-28")).await.0,
        200,
        "lenient by default"
    );
    fx.sandbox.set_ghl_version_strict(true);
    let (status, body) = with(&cal, Some("2021-07-28")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["traceId"].is_string());
    assert_eq!(with(&cal, None).await.0, 400);
    assert_eq!(with(&cal, Some("2021-04-15")).await.0, 200);
    let contact = format!("/contacts/{}", CONTACT_IDS[0]);
    assert_eq!(with(&contact, Some("2021-07-28")).await.0, 200);
    assert_eq!(with(&contact, Some("2021-04-15")).await.0, 400);
}

// ---------- calendars and appointments ----------

#[tokio::test]
async fn calendar_get_by_id_wraps_it_in_calendar() {
    let fx = Fixture::start().await;
    let (status, body) = send(fx.ghl(
        Method::GET,
        &format!("/calendars/{CONSULTA_GENERAL_CALENDAR_ID}"),
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["calendar"]["id"], CONSULTA_GENERAL_CALENDAR_ID);
    assert!(body["calendar"]["slotDuration"].is_number());
}

#[tokio::test]
async fn delete_answers_201_succeeded_and_frees_the_slot() {
    let fx = Fixture::start().await;
    let slots = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 7).await;
    let (_, created) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slots[0]).await;
    let id = created["id"].as_str().expect("id");
    let (status, body) = send(
        fx.ghl(Method::DELETE, &format!("/calendars/events/{id}"))
            .json(&json!({})),
    )
    .await;
    assert_eq!((status, body), (201, json!({"succeeded": true})));
    let (status, _) =
        send(fx.ghl(Method::GET, &format!("/calendars/events/appointments/{id}"))).await;
    assert_eq!(status, 404);
    assert_eq!(
        fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slots[0]).await.0,
        200
    );
    let (status, _) = send(
        fx.ghl(Method::DELETE, &format!("/calendars/events/{id}"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 404);
}

// ---------- contacts ----------

async fn create_contact(fx: &Fixture, body: Value) -> (u16, Value) {
    send(fx.ghl(Method::POST, "/contacts/").json(&body)).await
}

#[tokio::test]
async fn contact_create_is_201_and_a_duplicate_is_400_with_meta() {
    let fx = Fixture::start().await;
    let (status, body) = create_contact(
        &fx,
        json!({"locationId": fx.location_id(), "firstName": "Rosa", "lastName": "Díaz",
               "email": "rosa@example.com", "phone": "+51911111111", "tags": ["nuevo"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["contact"]["id"].as_str().expect("id").to_owned();
    assert_eq!(body["contact"]["tags"], json!(["nuevo"]));

    let (status, dup) = create_contact(
        &fx,
        json!({"locationId": fx.location_id(), "email": "ROSA@example.com"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        dup["message"],
        "This location does not allow duplicated contacts."
    );
    assert_eq!(dup["meta"]["contactId"], id.as_str());
    assert_eq!(dup["meta"]["matchingField"], "email");
    assert_eq!(dup["meta"]["contactName"], "Rosa Díaz");

    let (status, dup) = create_contact(
        &fx,
        json!({"locationId": fx.location_id(), "phone": "+51 911 111 111"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(dup["meta"]["matchingField"], "phone");

    fx.sandbox.set_ghl_allow_duplicate_contacts(true);
    let (status, _) = create_contact(
        &fx,
        json!({"locationId": fx.location_id(), "email": "rosa@example.com"}),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn contact_update_answers_succeded_sic_and_replaces_tags() {
    let fx = Fixture::start().await;
    let id = CONTACT_IDS[1];
    let (status, _) = send(
        fx.ghl(Method::POST, &format!("/contacts/{id}/tags"))
            .json(&json!({"tags": ["a", "b"]})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = send(
        fx.ghl(Method::PUT, &format!("/contacts/{id}"))
            .json(&json!({"tags": ["c"], "firstName": "Pepe"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["succeded"], true);
    assert!(body.get("succeeded").is_none());
    assert_eq!(body["contact"]["tags"], json!(["c"]));
    assert_eq!(body["contact"]["firstName"], "Pepe");
    let (status, _) = send(
        fx.ghl(Method::PUT, "/contacts/NoSuchContact0000001")
            .json(&json!({"firstName": "X"})),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn duplicate_lookup_finds_by_number_or_email_and_answers_null_otherwise() {
    let fx = Fixture::start().await;
    let loc = fx.location_id();
    let url = |q: &str| format!("/contacts/search/duplicate?locationId={loc}&{q}");
    // `+` must be URL-encoded, as the doc says.
    let (status, body) = send(fx.ghl(Method::GET, &url("number=%2B51987654321"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["contact"]["id"], CONTACT_IDS[0]);
    let (_, body) = send(fx.ghl(Method::GET, &url("email=jose.quispe%40example.com"))).await;
    assert_eq!(body["contact"]["id"], CONTACT_IDS[1]);
    let (status, body) = send(fx.ghl(Method::GET, &url("email=nobody%40example.com"))).await;
    assert_eq!((status, body), (200, json!({"contact": null})));
}

#[tokio::test]
async fn contact_search_takes_query_and_eq_filters_and_limits_page_size() {
    let fx = Fixture::start().await;
    let search = |body: Value| send(fx.ghl(Method::POST, "/contacts/search").json(&body));
    let loc = fx.location_id();
    let (status, body) =
        search(json!({"locationId": loc, "pageLimit": 10, "query": "quispe"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 1);
    assert_eq!(body["contacts"][0]["id"], CONTACT_IDS[1]);

    let (_, body) = search(json!({"locationId": loc, "pageLimit": 10, "filters": [
        {"field": "phone", "operator": "eq", "value": "+51998877665"}]}))
    .await;
    assert_eq!(body["contacts"][0]["id"], CONTACT_IDS[2]);
    let (_, body) = search(json!({"locationId": loc, "pageLimit": 10, "filters": [
        {"group": "OR", "filters": [
            {"field": "email", "operator": "eq", "value": "maria.flores@example.com"},
            {"field": "email", "operator": "eq", "value": "jose.quispe@example.com"}]}]}))
    .await;
    assert_eq!(body["total"], 2);

    let (_, all) = search(json!({"locationId": loc, "pageLimit": 2, "page": 1})).await;
    assert_eq!(all["contacts"].as_array().map(Vec::len), Some(2));
    assert_eq!(all["total"], CONTACT_IDS.len());
    let (_, next) = search(json!({"locationId": loc, "pageLimit": 2,
        "searchAfter": all["contacts"][1]["searchAfter"]}))
    .await;
    assert_eq!(next["contacts"].as_array().map(Vec::len), Some(2));
    assert_ne!(next["contacts"][0]["id"], all["contacts"][0]["id"]);

    let (status, body) = search(json!({"locationId": loc, "pageLimit": 501})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].is_array());
    let (status, _) = search(json!({"locationId": loc})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn contact_search_lags_behind_writes_when_configured() {
    let fx = Fixture::start().await;
    fx.sandbox
        .set_ghl_contact_search_lag(Duration::from_secs(5));
    let (status, _) = create_contact(
        &fx,
        json!({"locationId": fx.location_id(), "firstName": "Nuevo", "email": "nuevo@example.com"}),
    )
    .await;
    assert_eq!(status, 201);
    let query = json!({"locationId": fx.location_id(), "pageLimit": 10, "query": "nuevo"});
    let (_, body) = send(fx.ghl(Method::POST, "/contacts/search").json(&query)).await;
    assert_eq!(body["total"], 0, "not indexed yet");
    fx.sandbox.advance_clock(Duration::from_secs(6));
    let (_, body) = send(fx.ghl(Method::POST, "/contacts/search").json(&query)).await;
    assert_eq!(body["total"], 1);
}

// ---------- messages ----------

#[tokio::test]
async fn sending_a_message_answers_the_documented_fields_and_is_recorded() {
    let fx = Fixture::start().await;
    let (status, body) = send(
        fx.ghl(Method::POST, "/conversations/messages")
            .json(&json!({
                "type": "WhatsApp", "contactId": CONTACT_IDS[0], "message": "Su cita es mañana"
            })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for key in ["conversationId", "messageId", "msg"] {
        assert!(body[key].is_string(), "{key}");
    }
    assert_eq!(body["messageIds"], json!([body["messageId"]]));
    let sent = fx.sandbox.ghl_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "WhatsApp");
    assert_eq!(sent[0].message.as_deref(), Some("Su cita es mañana"));
    assert_eq!(sent[0].contact_id, CONTACT_IDS[0]);
    assert_eq!(body["conversationId"], sent[0].conversation_id.as_str());

    let (status, body) = send(
        fx.ghl(Method::POST, "/conversations/messages")
            .json(&json!({
                "type": "SMS", "contactId": "NoSuchContact0000001", "message": "x"
            })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["statusCode"], 400);
    let (status, body) = send(
        fx.ghl(Method::POST, "/conversations/messages")
            .json(&json!({"contactId": CONTACT_IDS[0], "message": "x"})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(body["message"].is_array());
    let (_, listed) = send(fx.control(Method::GET, "/ghl/messages")).await;
    assert_eq!(listed["messages"].as_array().map(Vec::len), Some(1));
}

// ---------- API faults ----------

#[tokio::test]
async fn status_faults_apply_n_times_then_the_route_recovers() {
    let fx = Fixture::start().await;
    fx.sandbox.inject(
        Fault::new(
            "ghl.calendars.get",
            FaultKind::Status {
                status: 503,
                retry_after_secs: None,
            },
        )
        .times(2),
    );
    let path = format!("/calendars/{CONSULTA_GENERAL_CALENDAR_ID}");
    assert_eq!(send(fx.ghl(Method::GET, &path)).await.0, 503);
    let (status, body) = send(fx.ghl(Method::GET, &path)).await;
    assert_eq!(status, 503);
    assert_eq!(body["statusCode"], 503);
    assert_eq!(send(fx.ghl(Method::GET, &path)).await.0, 200);
}

#[tokio::test]
async fn an_injected_429_carries_the_rate_limit_headers() {
    let fx = Fixture::start().await;
    fx.sandbox.inject(
        Fault::new(
            "ghl.free_slots",
            FaultKind::Status {
                status: 429,
                retry_after_secs: None,
            },
        )
        .once(),
    );
    let start = chrono::Utc::now().timestamp_millis();
    let resp = fx
        .ghl(
            Method::GET,
            &format!(
                "/calendars/{CONSULTA_GENERAL_CALENDAR_ID}/free-slots?startDate={start}&endDate={}",
                start + 86_400_000
            ),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-ratelimit-remaining"), "0");
    for name in [
        "x-ratelimit-limit-daily",
        "x-ratelimit-daily-remaining",
        "x-ratelimit-interval-milliseconds",
        "x-ratelimit-max",
    ] {
        assert!(!header(&resp, name).is_empty(), "{name}");
    }
}

#[tokio::test]
async fn html_truncated_and_latency_faults_over_http_control() {
    let fx = Fixture::start().await;
    let (status, body) = send(fx.control(Method::POST, "/faults").json(&json!([
        {"route": "ghl.locations.get", "kind": "html_body", "times": 1},
        {"route": "ghl.locations.get", "kind": "truncated_body", "times": 1},
        {"route": "ghl.locations.get", "kind": "latency", "ms": 300, "times": 1},
    ])))
    .await;
    assert_eq!(status, 201, "{body}");
    let path = format!("/locations/{}", fx.location_id());
    let (status, text) = send_text(fx.ghl(Method::GET, &path)).await;
    assert_eq!(status, 502);
    assert!(text.starts_with("<html>"));
    let (status, text) = send_text(fx.ghl(Method::GET, &path)).await;
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "truncated: {text}"
    );
    let started = std::time::Instant::now();
    assert_eq!(send(fx.ghl(Method::GET, &path)).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let (_, listed) = send(fx.control(Method::GET, "/faults")).await;
    assert_eq!(listed["faults"], json!([]));
}

#[tokio::test]
async fn a_hang_times_the_client_out_after_the_write_happened() {
    let fx = Fixture::start().await;
    fx.sandbox.inject(
        Fault::new(
            "ghl.appointments.create",
            FaultKind::Hang { ms: Some(5_000) },
        )
        .once(),
    );
    let slots = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 7).await;
    let result = fx
        .ghl(Method::POST, "/calendars/events/appointments")
        .timeout(Duration::from_millis(300))
        .json(&json!({
            "calendarId": CONSULTA_GENERAL_CALENDAR_ID,
            "locationId": fx.location_id(),
            "contactId": CONTACT_IDS[0],
            "startTime": slots[0],
        }))
        .send()
        .await;
    assert!(result.is_err_and(|e| e.is_timeout()));
    // The booking exists: the slot is taken.
    let (status, body) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slots[0]).await;
    assert_eq!(status, 400, "{body}");
    // `DELETE /__control/faults` clears everything.
    fx.sandbox.inject(Fault::new(
        "*",
        FaultKind::Status {
            status: 500,
            retry_after_secs: None,
        },
    ));
    let (status, _) = send(fx.control(Method::DELETE, "/faults")).await;
    assert_eq!(status, 204);
    assert!(fx.sandbox.faults().is_empty());
}
