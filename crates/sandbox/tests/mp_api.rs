//! The MP side of the sandbox over real loopback HTTP, checked against mercadopago.md,
//! including the signed webhook checked by an independent HMAC computation.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use chrono::Utc;
use common::{Fixture, send, send_text};
use hmac::{Hmac, Mac};
use reqwest::Method;
use sandbox::{PayRequest, SandboxError};
use serde_json::{Value, json};
use sha2::Sha256;

const TUNNEL: &str = "https://clinica-demo.ngrok.app";

fn consulta(extra: Value) -> Value {
    let mut body = json!({
        "items": [{"id": "CONS-1", "title": "Consulta general", "quantity": 2,
                   "currency_id": "PEN", "unit_price": 80.50}],
        "external_reference": "01JDEMOCHARGE0000000000001",
        "metadata": {"booking_id": "01JDEMOBOOKING", "ghl_appointment_id": "abc"},
    });
    if let (Some(base), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    body
}

async fn create(fx: &Fixture, body: &Value) -> (u16, Value) {
    send(fx.mp(Method::POST, "/checkout/preferences").json(body)).await
}

/// What the receiver saw: path and query, headers, body.
type Seen = Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>;

/// A tiny stand-in for the app's webhook listener on 127.0.0.1:0.
async fn receiver() -> (String, Seen) {
    async fn hook(
        State(seen): State<Seen>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let target = uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        seen.lock().expect("lock").push((target, headers, body));
        StatusCode::OK
    }
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/api/payments/webhooks/mp/", post(hook))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

/// HMAC-SHA256 hex, computed here independently of the sandbox's signing code.
fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn signing_matches_published_test_vectors_a_c_and_d() {
    let secret = "e3b1c9f0a7d54b2e8c6f1a9d3b7e5c20";
    let rid = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";
    let a = sandbox::manifest(Some("1319863412"), Some(rid), "1742505638");
    assert_eq!(
        a,
        "id:1319863412;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1742505638;"
    );
    assert_eq!(
        sandbox::sign_manifest(secret, &a),
        "f7aab95c87ed70278995db603c6afaf9a712b945ca82490c630e4ab0c7db2c1a"
    );
    assert_eq!(
        sandbox::x_signature(secret, Some("1319863412"), Some(rid), "1742505638"),
        "ts=1742505638,v1=f7aab95c87ed70278995db603c6afaf9a712b945ca82490c630e4ab0c7db2c1a"
    );
    let c = sandbox::manifest(Some("1319863412"), None, "1742505638");
    assert_eq!(
        sandbox::sign_manifest(secret, &c),
        "b35987e6ac8d8698bcca47f6a4b781cef96c6fcb1c36a0575030e196dc688dee"
    );
    let d = sandbox::manifest(None, Some(rid), "1742505638");
    assert_eq!(
        sandbox::sign_manifest(secret, &d),
        "f74285e871588936f54598bc4028438f571ab196673cdc68b55d40e490a3080d"
    );
}

#[tokio::test]
async fn missing_or_unknown_mp_token_gets_401_in_mp_error_shape() {
    let fx = Fixture::start().await;
    let url = format!("{}/checkout/preferences", fx.sandbox.mp_base_url());
    for request in [
        fx.http.post(&url).json(&consulta(json!({}))),
        fx.http
            .post(&url)
            .bearer_auth("APP_USR-1-2-3-4")
            .json(&consulta(json!({}))),
    ] {
        let (status, body) = send(request).await;
        assert_eq!(status, 401);
        assert_eq!(body["status"], 401);
        assert!(body["message"].is_string() && body["error"].is_string());
        assert_eq!(body["cause"], json!([]));
    }
}

#[tokio::test]
async fn preference_create_answers_201_with_ids_links_and_an_exact_echo() {
    let fx = Fixture::start().await;
    let (status, text) = send_text(
        fx.mp(Method::POST, "/checkout/preferences")
            .json(&consulta(json!({"expires": true,
                                   "expiration_date_to": "2099-01-01T00:00:00.000-05:00"}))),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    // Amounts come back as the exact numbers sent, never through a float.
    assert!(text.contains("\"unit_price\":80.5"), "{text}");
    assert!(text.contains("\"total_amount\":161"), "{text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    let id = body["id"].as_str().expect("id");
    let (collector, uuid) = id.split_once('-').expect("collector-uuid");
    assert_eq!(
        collector,
        body["collector_id"].as_i64().expect("number").to_string()
    );
    assert_eq!(uuid.len(), 36);
    assert!(body["client_id"].is_string());
    let link = format!(
        "{}/mp/checkout/v1/redirect?pref_id={id}",
        fx.sandbox.base_url()
    );
    assert_eq!(body["init_point"], link.as_str());
    assert_eq!(body["sandbox_init_point"], link.as_str());
    let created = body["date_created"].as_str().expect("date");
    assert!(
        created.len() == 29 && created.as_bytes()[19] == b'.',
        "{created}"
    );
    assert!(chrono::DateTime::parse_from_rfc3339(created).is_ok());
    assert_eq!(body["external_reference"], "01JDEMOCHARGE0000000000001");
    assert_eq!(body["metadata"]["booking_id"], "01JDEMOBOOKING");
    assert_eq!(body["expires"], true);
    assert_eq!(body["expiration_date_to"], "2099-01-01T00:00:00.000-05:00");
    assert_eq!(body["items"][0]["title"], "Consulta general");
    assert_eq!(body["items"][0]["quantity"], 2);
    assert_eq!(body["operation_type"], "regular_payment");

    // The pay page the link leads to exists.
    let page = fx.http.get(&link).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("161"));
}

#[tokio::test]
async fn preference_validation_rejects_each_documented_case_with_its_key() {
    let fx = Fixture::start().await;
    let long_url = format!("https://clinica.example/{}", "a".repeat(240));
    let cases: Vec<(Value, &str)> = vec![
        (json!({"items": null}), "invalid_items"),
        (json!({"items": []}), "invalid_items"),
        (
            json!({"items": [{"title": "x", "quantity": 0, "unit_price": 10}]}),
            "invalid_items",
        ),
        (
            json!({"items": [{"title": "x", "quantity": 1, "unit_price": "10"}]}),
            "invalid_items",
        ),
        (
            json!({"items": [{"title": "x", "quantity": 1, "unit_price": 10.5, "currency_id": "CLP"}]}),
            "invalid_items",
        ),
        (
            json!({"items": [{"title": "x", "quantity": 1, "unit_price": 10.5, "currency_id": "COP"}]}),
            "invalid_items",
        ),
        (
            json!({"items": [{"title": "x", "quantity": 1, "unit_price": 10.123}]}),
            "invalid_items",
        ),
        (json!({"expires": "true"}), "invalid_expires"),
        (json!({"auto_return": "approved"}), "invalid_auto_return"),
        (
            json!({"auto_return": "approved", "back_urls": {"failure": "https://x.example/f"}}),
            "invalid_auto_return",
        ),
        (
            json!({"payment_methods": {"installments": 0}}),
            "invalid_payment_methods",
        ),
        (
            json!({"payment_methods": {"installments": 37}}),
            "invalid_payment_methods",
        ),
        (
            json!({"notification_url": "http://clinica.example/hook"}),
            "invalid_notification_url",
        ),
        (
            json!({"notification_url": long_url}),
            "invalid_notification_url",
        ),
        (
            json!({"expiration_date_from": "mañana"}),
            "invalid_expiration_date_from",
        ),
        (
            json!({"expiration_date_to": "2026-13-01"}),
            "invalid_expiration_date_to",
        ),
        (
            json!({"expiration_date_from": "2030-01-02T00:00:00.000-05:00",
                "expiration_date_to": "2030-01-01T00:00:00.000-05:00"}),
            "invalid_expiration_date_to",
        ),
    ];
    for (extra, key) in cases {
        let (status, body) = create(&fx, &consulta(extra.clone())).await;
        assert_eq!(status, 400, "{extra}: {body}");
        assert_eq!(body["error"], key, "{extra}: {body}");
        assert_eq!(body["status"], 400);
        assert!(body["message"].is_string());
        assert_eq!(body["cause"], json!([]));
    }
    // Limits whose error keys are unconfirmed: still a 400 in the same shape.
    for extra in [
        json!({"external_reference": "x".repeat(65)}),
        json!({"external_reference": "cita 42"}),
        json!({"statement_descriptor": "CLINICA DEMO LIMA S"}),
    ] {
        let (status, body) = create(&fx, &consulta(extra.clone())).await;
        assert_eq!(status, 400, "{extra}: {body}");
        assert_eq!(body["status"], 400);
    }
    // And the boundaries themselves pass.
    for extra in [
        json!({"external_reference": "x".repeat(64)}),
        json!({"statement_descriptor": "CLINICA DEMO LIM"}),
        json!({"payment_methods": {"installments": 36}}),
        json!({"items": [{"title": "x", "quantity": 1, "unit_price": 15000, "currency_id": "CLP"}]}),
        json!({"auto_return": "approved", "back_urls": {"success": "https://x.example/ok"}}),
    ] {
        let (status, body) = create(&fx, &consulta(extra.clone())).await;
        assert_eq!(status, 201, "{extra}: {body}");
    }
}

#[tokio::test]
async fn preference_get_put_and_search_by_external_reference() {
    let fx = Fixture::start().await;
    let (_, created) = create(&fx, &consulta(json!({}))).await;
    let id = created["id"].as_str().expect("id");

    let (status, got) = send(fx.mp(Method::GET, &format!("/checkout/preferences/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(got["id"], id);
    assert_eq!(got["items"], created["items"]);

    let (status, body) = send(fx.mp(Method::GET, "/checkout/preferences/123-nope")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "invalid_id");

    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let (status, updated) = send(
        fx.mp(Method::PUT, &format!("/checkout/preferences/{id}"))
            .json(&json!({"expires": true, "expiration_date_to": now})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["expires"], true);
    assert_eq!(updated["expiration_date_to"], now.as_str());
    assert_eq!(updated["items"], created["items"], "untouched fields stay");
    let (status, body) = send(
        fx.mp(Method::PUT, &format!("/checkout/preferences/{id}"))
            .json(&json!({"expires": "yes"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_expires"))
    );

    create(&fx, &consulta(json!({"external_reference": "otra-cita"}))).await;
    let (status, found) = send(fx.mp(
        Method::GET,
        "/checkout/preferences/search?external_reference=01JDEMOCHARGE0000000000001",
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(found["total"], 1);
    assert_eq!(found["next_offset"], 1);
    assert_eq!(found["elements"][0]["id"], id);
    assert_eq!(
        found["elements"][0]["external_reference"],
        "01JDEMOCHARGE0000000000001"
    );
}

#[tokio::test]
async fn paying_creates_a_payment_readable_by_get_and_search() {
    let fx = Fixture::start().await;
    let (_, pref) = create(&fx, &consulta(json!({}))).await;
    let id = pref["id"].as_str().expect("id");
    let (status, paid) = send(
        fx.control(Method::POST, &format!("/mp/preferences/{id}/pay"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(
        paid["delivery_status"],
        Value::Null,
        "no notification_url, no delivery"
    );
    let payment_id = paid["payment_id"].as_i64().expect("int64 id");

    let (status, text) = send_text(fx.mp(Method::GET, &format!("/v1/payments/{payment_id}"))).await;
    assert_eq!(status, 200);
    assert!(text.contains("\"transaction_amount\":161"), "{text}");
    assert!(text.contains("\"transaction_amount_refunded\":0"), "{text}");
    let payment: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(payment["id"], payment_id);
    assert_eq!(payment["status"], "approved");
    assert_eq!(payment["status_detail"], "accredited");
    assert_eq!(payment["currency_id"], "PEN");
    assert_eq!(payment["external_reference"], "01JDEMOCHARGE0000000000001");
    assert_eq!(payment["metadata"], pref["metadata"]);
    assert_eq!(payment["collector_id"], pref["collector_id"]);
    assert_eq!(payment["live_mode"], false);
    assert_eq!(payment["order"]["type"], "mercadopago");
    assert!(payment["order"]["id"].is_i64());
    assert!(payment["date_approved"].is_string());
    assert!(payment["payer"]["email"].is_string());

    // A second attempt at the same link: a new payment and a new merchant order.
    let second = fx
        .sandbox
        .pay_preference(
            id,
            PayRequest {
                status: "rejected".into(),
                amount: Some("0.01".parse().expect("decimal")),
                currency_id: None,
            },
        )
        .await
        .expect("paid");
    assert_ne!(second.payment_id, payment_id);
    let (_, rejected) =
        send_text(fx.mp(Method::GET, &format!("/v1/payments/{}", second.payment_id))).await;
    assert!(
        rejected.contains("\"transaction_amount\":0.01"),
        "{rejected}"
    );
    assert!(rejected.contains("\"date_approved\":null"), "{rejected}");

    let (status, found) = send(fx.mp(
        Method::GET,
        "/v1/payments/search?external_reference=01JDEMOCHARGE0000000000001&sort=date_created&criteria=desc",
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        found["paging"],
        json!({"total": 2, "limit": 30, "offset": 0})
    );
    assert_eq!(found["results"][0]["id"], second.payment_id);
    assert_eq!(found["results"][1]["id"], payment_id);
    let (_, approved) = send(fx.mp(
        Method::GET,
        "/v1/payments/search?external_reference=01JDEMOCHARGE0000000000001&status=approved&limit=1",
    ))
    .await;
    assert_eq!(approved["paging"]["total"], 1);
    assert_eq!(approved["results"][0]["id"], payment_id);
    assert_ne!(
        found["results"][0]["order"]["id"],
        found["results"][1]["order"]["id"]
    );

    let (status, body) = send(fx.mp(Method::GET, "/v1/payments/1")).await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], 404);
}

#[tokio::test]
async fn paid_webhook_is_signed_and_reaches_the_app_through_the_tunnel() {
    let fx = Fixture::start().await;
    let (local, seen) = receiver().await;
    fx.sandbox.add_tunnel(TUNNEL, &local);
    let notification_url = format!("{TUNNEL}/api/payments/webhooks/mp/?source_news=webhooks");
    let (_, pref) = create(
        &fx,
        &consulta(json!({"notification_url": notification_url})),
    )
    .await;
    let id = pref["id"].as_str().expect("id");

    let (status, paid) = send(
        fx.control(Method::POST, &format!("/mp/preferences/{id}/pay"))
            .json(&json!({"status": "approved"})),
    )
    .await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["delivery_status"], 200);
    let payment_id = paid["payment_id"].as_i64().expect("id").to_string();

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let (target, headers, body) = &seen[0];
    assert_eq!(
        target,
        &format!(
            "/api/payments/webhooks/mp/?source_news=webhooks&data.id={payment_id}&type=payment"
        )
    );
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("x-retry"), "0");
    assert_eq!(header("x-socket-timeout"), "22000");
    assert_eq!(header("content-type"), "application/json");
    let request_id = header("x-request-id");
    assert_eq!(uuid_version(&request_id), Some('4'), "{request_id}");

    // Verify x-signature from its parts, as a receiver would (mercadopago.md §9.3).
    let signature = header("x-signature");
    let parts: Vec<(&str, &str)> = signature
        .split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let ts = parts
        .iter()
        .find(|(k, _)| *k == "ts")
        .map(|(_, v)| *v)
        .expect("ts");
    let v1 = parts
        .iter()
        .find(|(k, _)| *k == "v1")
        .map(|(_, v)| *v)
        .expect("v1");
    let ts_secs: i64 = ts.parse().expect("digits");
    assert!(
        (Utc::now().timestamp() - ts_secs).abs() < 60,
        "ts is unix seconds"
    );
    let manifest = format!("id:{payment_id};request-id:{request_id};ts:{ts};");
    assert_eq!(
        v1,
        hmac_hex(&fx.sandbox.config().mp_webhook_secret, &manifest)
    );

    let body: Value = serde_json::from_slice(body).expect("json body");
    assert!(body["id"].is_i64());
    assert_eq!(body["live_mode"], false);
    assert_eq!(body["type"], "payment");
    assert_eq!(body["action"], "payment.created");
    assert_eq!(body["api_version"], "v1");
    assert_eq!(body["user_id"], pref["collector_id"]);
    assert_eq!(body["data"], json!({"id": payment_id}));
    assert!(
        chrono::DateTime::parse_from_rfc3339(body["date_created"].as_str().expect("date")).is_ok()
    );

    // The attempt is on record, in-process and over HTTP.
    let deliveries = fx.sandbox.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, Some(200));
    assert!(deliveries[0].url.starts_with(TUNNEL));
    let (_, listed) = send(fx.control(Method::GET, "/deliveries")).await;
    assert_eq!(listed["deliveries"][0]["status"], 200);
    assert_eq!(listed["deliveries"][0]["data_id"], payment_id.as_str());
}

fn uuid_version(text: &str) -> Option<char> {
    (text.len() == 36 && text.as_bytes()[8] == b'-')
        .then(|| text.chars().nth(14))
        .flatten()
}

#[tokio::test]
async fn https_notification_url_without_a_tunnel_records_a_failed_delivery() {
    let fx = Fixture::start().await;
    let (_, pref) = create(
        &fx,
        &consulta(json!({"notification_url": "https://no-tunnel.example/hook"})),
    )
    .await;
    let id = pref["id"].as_str().expect("id");
    let outcome = fx
        .sandbox
        .pay_preference(id, PayRequest::default())
        .await
        .expect("paid");
    assert_eq!(outcome.delivery_status, None);
    // Without `source_news=webhooks` an IPN copy follows; both fail the same way.
    let deliveries = fx.sandbox.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].format, "webhook");
    assert_eq!(deliveries[1].format, "ipn");
    assert_eq!(deliveries[0].status, None);
    assert!(deliveries[0].error.is_some());
    assert_eq!(deliveries[0].delivered_to, None);
}

#[tokio::test]
async fn paying_an_expired_preference_is_refused() {
    let fx = Fixture::start().await;
    let (_, pref) = create(&fx, &consulta(json!({}))).await;
    let id = pref["id"].as_str().expect("id");
    let past = (Utc::now() - chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let (status, _) = send(
        fx.mp(Method::PUT, &format!("/checkout/preferences/{id}"))
            .json(&json!({"expires": true, "expiration_date_to": past})),
    )
    .await;
    assert_eq!(status, 200);

    let (status, body) = send(
        fx.control(Method::POST, &format!("/mp/preferences/{id}/pay"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "preference_expired");
    assert!(body["message"].is_string());
    let refused = fx.sandbox.pay_preference(id, PayRequest::default()).await;
    assert_eq!(refused, Err(SandboxError::PreferenceExpired(id.to_owned())));
    let (_, found) = send(fx.mp(
        Method::GET,
        "/v1/payments/search?external_reference=01JDEMOCHARGE0000000000001",
    ))
    .await;
    assert_eq!(found["paging"]["total"], 0);
}

#[tokio::test]
async fn reset_forgets_everything_but_the_seed() {
    let fx = Fixture::start().await;
    let (_, pref) = create(&fx, &consulta(json!({}))).await;
    let id = pref["id"].as_str().expect("id");
    let (status, _) = send(fx.control(Method::POST, "/reset")).await;
    assert!(status == 200 || status == 204);
    let (status, _) = send(fx.mp(Method::GET, &format!("/checkout/preferences/{id}"))).await;
    assert_eq!(status, 404);
    let (status, _) = send(fx.ghl(
        Method::GET,
        &format!("/contacts/{}", sandbox::seed::CONTACT_IDS[0]),
    ))
    .await;
    assert_eq!(status, 200);
}
