//! The seed's REST API, kept in the hub: same paths and JSON, behind a bearer token, with
//! validation and idempotent creates. Over loopback HTTP in demo mode.

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use desk::events::NoEvents;
use sandbox::{PayRequest, Sandbox, seed};
use serde_json::{Value, json};
use server::Host;
use server::compat::{CompatState, router};
use std::sync::Arc;

mod support;

const TOKEN: &str = "hub-test-token-0123456789";

struct Api {
    host: Host,
    sandbox: Sandbox,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Api {
    let support::InProcess { host, sandbox, dir } =
        support::InProcess::start(None, Arc::new(NoEvents), &[]).await;
    let app = router(CompatState {
        desk: host.desk.clone(),
        token: TOKEN.to_string().into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Api {
        host,
        sandbox,
        base,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

/// Tomorrow at `hour`:00 Lima, as a caller would send it (UTC, RFC 3339).
fn tomorrow(hour: u32, minute: u32) -> String {
    let tz = chrono_tz::America::Lima;
    let day = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    tz.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
        .to_rfc3339()
}

fn appointment(hour: u32) -> Value {
    json!({
        "calendarId": seed::CONSULTA_GENERAL_CALENDAR_ID,
        "contactId": seed::CONTACT_IDS[0],
        "startTime": tomorrow(hour, 0),
        "endTime": tomorrow(hour, 30),
        "payment_amount": 150.5,
        "title": "Consulta de control",
        "payment_description": "Consulta"
    })
}

impl Api {
    async fn post(&self, path: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn every_endpoint_needs_the_bearer_token() {
    let api = start().await;
    for (method, path) in [
        ("POST", "/api/appointments/create/"),
        ("GET", "/api/appointments/appointments/"),
        ("POST", "/api/payments/create/"),
        ("GET", "/api/payments/"),
        ("PUT", "/api/appointments/update/abc/"),
        ("DELETE", "/api/appointments/delete/abc/"),
    ] {
        let url = format!("{}{path}", api.base);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let none = api.http.request(m.clone(), &url).send().await.unwrap();
        assert_eq!(none.status(), 401, "{path} without a token");
        let wrong = api
            .http
            .request(m, &url)
            .bearer_auth("hub-test-token-0123456788")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
    }
}

#[tokio::test]
async fn create_answers_the_seed_fields_with_the_link() {
    let api = start().await;
    let (status, body) = api
        .post("/api/appointments/create/", &appointment(10), None)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["message"], json!("Cita y link de pago creados."));
    for field in [
        "id",
        "ghl_id",
        "location_id",
        "calendar_id",
        "contact_id",
        "title",
        "appointment_status",
        "assigned_user_id",
        "notes",
        "start_time",
        "end_time",
        "source",
        "date_added",
        "date_updated",
        "payment_link",
        "payment_preference_id",
    ] {
        assert!(body.get(field).is_some(), "missing {field} in {body}");
    }
    assert_eq!(body["title"], json!("Consulta de control"));
    assert_eq!(body["contact_id"], json!(seed::CONTACT_IDS[0]));
    assert!(body["payment_link"].as_str().unwrap().contains("pref_id="));

    let (status, list) = api.get("/api/appointments/appointments/").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["ghl_id"], body["ghl_id"]);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_books_once() {
    let api = start().await;
    let (a, first) = api
        .post(
            "/api/appointments/create/",
            &appointment(11),
            Some("retry-1"),
        )
        .await;
    let (b, again) = api
        .post(
            "/api/appointments/create/",
            &appointment(11),
            Some("retry-1"),
        )
        .await;
    assert_eq!((a, b), (201, 201));
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        first["payment_preference_id"],
        again["payment_preference_id"]
    );
    let (_, list) = api.get("/api/appointments/appointments/").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_gets_a_400_naming_the_field_and_stores_nothing() {
    let api = start().await;
    for field in [
        "calendarId",
        "contactId",
        "startTime",
        "endTime",
        "payment_amount",
    ] {
        let mut body = appointment(12);
        body.as_object_mut().unwrap().remove(field);
        let (status, answer) = api.post("/api/appointments/create/", &body, None).await;
        assert_eq!(status, 400, "{field}");
        assert_eq!(
            answer["error"],
            json!(format!("Falta el campo requerido: {field}"))
        );
    }
    let cases = [
        ("payment_amount", json!(0)),
        ("payment_amount", json!("12.345")),
        ("payment_amount", json!("'; DROP TABLE charges; --")),
        ("startTime", json!("mañana a las 10")),
        ("calendarId", json!("no-such-calendar")),
        ("locationId", json!("other-location")),
    ];
    for (field, value) in cases {
        let mut body = appointment(12);
        body[field] = value.clone();
        let (status, answer) = api.post("/api/appointments/create/", &body, None).await;
        assert_eq!(status, 400, "{field} = {value}: {answer}");
        assert!(answer["error"].is_string());
    }
    let wrong_type = api
        .http
        .post(format!("{}/api/appointments/create/", api.base))
        .bearer_auth(TOKEN)
        .body(r#"{"calendarId": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    let (_, list) = api.get("/api/appointments/appointments/").await;
    assert_eq!(list, json!([]), "nothing stored");
}

#[tokio::test]
async fn payments_list_uses_mp_words_and_a_second_link_is_a_conflict() {
    let api = start().await;
    let (_, created) = api
        .post("/api/appointments/create/", &appointment(13), None)
        .await;
    let ghl_id = created["ghl_id"].as_str().unwrap();

    let again = json!({ "appointmentId": ghl_id, "contactId": seed::CONTACT_IDS[0], "amount": "150.50", "description": "Consulta" });
    let (status, _) = api.post("/api/payments/create/", &again, None).await;
    assert_eq!(status, 409, "one open link per appointment");

    let (_, list) = api.get("/api/payments/").await;
    assert_eq!(list[0]["status"], json!("pending"));
    assert_eq!(list[0]["amount"], json!("150.50"));
    assert_eq!(list[0]["appointment_ghl_id"], json!(ghl_id));

    let sandbox = &api.sandbox;
    let pref = created["payment_preference_id"].as_str().unwrap();
    let paid = sandbox
        .pay_preference(pref, PayRequest::default())
        .await
        .unwrap();
    let charge_id = list[0]["id"].as_str().unwrap();
    api.host.desk.refresh_charge(charge_id).await.unwrap();
    let (_, list) = api.get("/api/payments/").await;
    assert_eq!(list[0]["status"], json!("approved"));
    assert_eq!(list[0]["payment_id"], json!(paid.payment_id));
}

#[tokio::test]
async fn update_reschedules_in_ghl_and_answers_ghl_appointment_json() {
    let api = start().await;
    let (status, created) = api
        .post("/api/appointments/create/", &appointment(9), None)
        .await;
    assert_eq!(status, 201, "{created}");
    let ghl_id = created["ghl_id"].as_str().unwrap().to_string();
    let path = format!("/api/appointments/update/{ghl_id}/");
    let (status, body) = api
        .send(
            reqwest::Method::PUT,
            &path,
            Some(&json!({
                "startTime": tomorrow(11, 0),
                "endTime": tomorrow(11, 30),
                "title": "Control reprogramado",
                "notes": "llega tarde"
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], ghl_id);
    assert_eq!(body["title"], "Control reprogramado");
    assert_eq!(body["calendarId"], seed::CONSULTA_GENERAL_CALENDAR_ID);
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(body["startTime"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&tomorrow(11, 0)).unwrap()
    );
    let (_, list) = api.get("/api/appointments/appointments/").await;
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ghl_id"] == ghl_id)
        .unwrap()
        .clone();
    assert_eq!(row["title"], "Control reprogramado");
    assert_eq!(row["notes"], "llega tarde");

    // Wrong types, unknown statuses, nothing to change, unknown and malformed ids.
    for (body, want, field) in [
        (json!({ "title": 5 }), 400, Some("title")),
        (
            json!({ "appointmentStatus": "borrada" }),
            400,
            Some("appointmentStatus"),
        ),
        (json!({ "startTime": "mañana" }), 400, Some("startTime")),
        (json!({ "endTime": tomorrow(8, 0) }), 400, Some("endTime")),
        (json!({}), 400, None),
    ] {
        let (status, answer) = api.send(reqwest::Method::PUT, &path, Some(&body)).await;
        assert_eq!(status, want, "{body} -> {answer}");
        if let Some(f) = field {
            assert_eq!(answer["field"], f, "{body} -> {answer}");
        }
    }
    let (status, _) = api
        .send(
            reqwest::Method::PUT,
            "/api/appointments/update/unknown123/",
            Some(&json!({ "title": "x" })),
        )
        .await;
    assert_eq!(status, 404);
    let (status, answer) = api
        .send(
            reqwest::Method::PUT,
            "/api/appointments/update/a'%20OR%201=1/",
            Some(&json!({ "title": "x" })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(answer["field"], "ghl_id");
    api.host.shutdown().await;
}

#[tokio::test]
async fn delete_cancels_expires_the_link_and_a_paid_one_refunds_only_when_asked() {
    let api = start().await;
    let (_, unpaid) = api
        .post("/api/appointments/create/", &appointment(9), None)
        .await;
    let unpaid_id = unpaid["ghl_id"].as_str().unwrap().to_string();
    let (status, body) = api
        .send(
            reqwest::Method::DELETE,
            &format!("/api/appointments/delete/{unpaid_id}/"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Cita cancelada correctamente");
    let sandbox = &api.sandbox;
    assert!(
        sandbox
            .pay_preference(
                unpaid["payment_preference_id"].as_str().unwrap(),
                PayRequest::default()
            )
            .await
            .is_err(),
        "a cancelled appointment's link can no longer be paid"
    );

    // A paid one: cancelled without a refund unless the caller asks for one.
    let (_, paid) = api
        .post("/api/appointments/create/", &appointment(10), None)
        .await;
    let paid_id = paid["ghl_id"].as_str().unwrap().to_string();
    let payment = sandbox
        .pay_preference(
            paid["payment_preference_id"].as_str().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    api.host
        .desk
        .sync_payment(payment.payment_id)
        .await
        .unwrap();
    let (status, answer) = api
        .send(
            reqwest::Method::DELETE,
            &format!("/api/appointments/delete/{paid_id}/?refund=999.00"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "refund");
    let (status, _) = api
        .send(
            reqwest::Method::DELETE,
            &format!("/api/appointments/delete/{paid_id}/?refund=full"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, payments) = api.get("/api/payments/").await;
    let row = payments
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["appointment_ghl_id"] == paid_id)
        .unwrap()
        .clone();
    assert_eq!(row["status"], "refunded");
    let (status, _) = api
        .send(
            reqwest::Method::DELETE,
            "/api/appointments/delete/unknown123/",
            None,
        )
        .await;
    assert_eq!(status, 404);
    api.host.shutdown().await;
}

/// A REST client sees its own field names in errors (`payment_amount`, not the domain's
/// `amount`), and nothing is booked.
#[tokio::test]
async fn create_errors_name_the_fields_the_client_sent() {
    let api = start().await;
    for (field, value, named) in [
        ("payment_amount", json!("12.345"), "payment_amount"),
        ("payment_amount", json!("-5"), "payment_amount"),
        (
            "payment_description",
            json!("x".repeat(201)),
            "payment_description",
        ),
        ("title", json!("t".repeat(201)), "title"),
    ] {
        let mut body = appointment(15);
        body[field] = value;
        let (status, answer) = api.post("/api/appointments/create/", &body, None).await;
        assert_eq!(status, 400, "{field}: {answer}");
        assert_eq!(answer["field"], named, "{field}: {answer}");
    }
    let (_, list) = api.get("/api/appointments/appointments/").await;
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was booked");
}
