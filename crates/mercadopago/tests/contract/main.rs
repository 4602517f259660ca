//! Contract tests for `mercadopago::Client`: every call goes over real loopback HTTP, either to
//! the sandbox (a stateful fake of MP written from `shared/providers/mercadopago.md`) or, for
//! answers the sandbox cannot provoke yet and for checking what the client sends, to a
//! `testkit::RecordingServer` started by the test itself.
//!
//! Modules: `preferences` (update, expire, search, look-before-re-create), `search` (payment
//! paging, merchant orders), `refunds`, `retries` (backoff, `Retry-After`, idempotency keys).

mod preferences;
mod refunds;
mod retries;
mod sandbox_refunds;
mod search;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use chrono::Utc;
use mercadopago::{Client, ClientConfig, Error, Item, PreferenceRequest, RetryPolicy, format_date};
use rust_decimal::Decimal;
use sandbox::{PayRequest, Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use testkit::{Log, RecordingServer, Reply, Seen};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

async fn start_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::demo())
        .await
        .expect("sandbox starts on loopback")
}

fn client_for(base_url: &str, token: &str) -> Client {
    let mut config = ClientConfig::new(base_url, SecretString::from(token.to_owned()));
    config.retry = fast_retry();
    Client::new(config).expect("client builds")
}

fn sandbox_client(sandbox: &Sandbox) -> Client {
    client_for(&sandbox.mp_base_url(), &sandbox.config().mp_access_token)
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal literal")
}

/// A one-item Checkout Pro preference valid for an hour.
fn preference(reference: &str, unit_price: &str, currency: &str) -> PreferenceRequest {
    let now = Utc::now();
    PreferenceRequest {
        items: vec![Item {
            id: "CONS-1".to_owned(),
            title: "Consulta general".to_owned(),
            quantity: 1,
            unit_price: dec(unit_price),
            currency_id: Some(currency.to_owned()),
        }],
        external_reference: reference.to_owned(),
        notification_url: None,
        expires: true,
        expiration_date_from: Some(format_date(now - chrono::Duration::minutes(1))),
        expiration_date_to: Some(format_date(now + chrono::Duration::hours(1))),
        back_urls: None,
        auto_return: None,
        statement_descriptor: Some("CLINICA DEMO".to_owned()),
        binary_mode: None,
        metadata: serde_json::Map::new(),
    }
}

/// The seller id the sandbox derives from the demo token.
fn collector_id(sandbox: &Sandbox) -> i64 {
    sandbox.config().mp_account().0
}

fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A server answering every request with the same status, headers and body.
async fn canned(status: u16, headers: &[(&str, &str)], body: &str) -> String {
    RecordingServer::canned(status, headers, body)
        .await
        .url()
        .to_owned()
}

/// Retries in milliseconds, so tests that provoke them stay fast.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

/// A client for a local test server: fast retries, a 2 s per-attempt timeout.
fn fast_config(base_url: &str) -> ClientConfig {
    let mut config = ClientConfig::new(
        base_url,
        SecretString::from("APP_USR-1-010101-abc-2".to_owned()),
    );
    config.retry = fast_retry();
    config.timeout = Duration::from_secs(2);
    config
}

fn canned_client(base_url: &str) -> Client {
    Client::new(fast_config(base_url)).expect("client builds")
}

/// A server that records every request and answers 201 with a minimal valid preference.
async fn recording_server() -> (String, Log) {
    let body = json!({
        "id": "1273205088-6da17b39-3bf4-4307-9124-4381c56372e0",
        "init_point": "https://www.mercadopago.com.pe/checkout/v1/redirect?pref_id=1273205088-6da17b39-3bf4-4307-9124-4381c56372e0",
        "collector_id": 1273205088_i64,
        "external_reference": "visit-0001",
    })
    .to_string();
    let server = RecordingServer::start(move |_, _| Reply::json(201, body.clone())).await;
    (server.url().to_owned(), server.log())
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.header(name)
}

// ---------------------------------------------------------------------------------------------
// Preferences
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_preference_returns_init_point_and_collector_scoped_id() {
    let sandbox = start_sandbox().await;
    let request = preference("visit-0001", "80.50", "PEN");
    let created = sandbox_client(&sandbox)
        .create_preference(&request, "charge-0001")
        .await
        .expect("201 with the preference");

    let collector = collector_id(&sandbox);
    let (prefix, uuid) = created.id.split_once('-').expect("<collector>-<uuid>");
    assert_eq!(prefix, collector.to_string(), "{}", created.id);
    assert!(is_uuid(uuid), "{}", created.id);
    assert_eq!(created.collector_id, Some(collector));
    assert_eq!(created.external_reference.as_deref(), Some("visit-0001"));
    assert_eq!(created.expires, Some(true));
    assert!(
        created.init_point.starts_with(&sandbox.base_url()),
        "{}",
        created.init_point
    );
    assert!(
        created
            .init_point
            .contains(&format!("pref_id={}", created.id)),
        "{}",
        created.init_point
    );
    assert!(created.date_created.is_some());
}

#[tokio::test]
async fn get_preference_reads_back_the_created_preference() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let created = client
        .create_preference(&preference("visit-0002", "120", "PEN"), "charge-0002")
        .await
        .expect("created");
    let read = client.get_preference(&created.id).await.expect("readable");
    assert_eq!(read.id, created.id);
    assert_eq!(read.init_point, created.init_point);
    assert_eq!(read.external_reference.as_deref(), Some("visit-0002"));
    assert_eq!(read.collector_id, Some(collector_id(&sandbox)));
    assert_eq!(read.expiration_date_to, created.expiration_date_to);
}

#[tokio::test]
async fn unknown_preference_maps_to_not_found() {
    let sandbox = start_sandbox().await;
    let err = sandbox_client(&sandbox)
        .get_preference("1273205088-00000000-0000-4000-8000-000000000000")
        .await
        .expect_err("no such preference");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn malformed_preference_id_is_refused_before_sending() {
    let (base, seen) = recording_server().await;
    let client = canned_client(&base);
    for id in ["../x", "", "a/b", "a?b", "a b"] {
        let err = client.get_preference(id).await.expect_err("malformed id");
        assert!(matches!(err, Error::InvalidRequest(_)), "{id:?}: {err:?}");
    }
    assert!(seen.lock().expect("log").is_empty(), "nothing was sent");
}

#[tokio::test]
async fn invalid_preferences_are_refused_before_sending() {
    let (base, seen) = recording_server().await;
    let client = canned_client(&base);

    /// A valid 80 PEN preference changed by `change`.
    fn with(change: impl FnOnce(&mut PreferenceRequest)) -> PreferenceRequest {
        let mut p = preference("visit-1", "80", "PEN");
        change(&mut p);
        p
    }
    assert_eq!("CLINICA DEMO LIMA".len(), 17);
    let cases: Vec<(&str, PreferenceRequest)> = vec![
        (
            "PEN with 3 decimals",
            preference("visit-1", "80.125", "PEN"),
        ),
        (
            "COP with decimals",
            preference("visit-1", "50000.50", "COP"),
        ),
        ("CLP with decimals", preference("visit-1", "5000.5", "CLP")),
        ("zero amount", preference("visit-1", "0", "PEN")),
        ("unsupported currency", preference("visit-1", "10", "EUR")),
        ("reference with a space", preference("visit 1", "80", "PEN")),
        (
            "reference over 64 chars",
            preference(&"r".repeat(65), "80", "PEN"),
        ),
        ("empty reference", preference("", "80", "PEN")),
        (
            "plain-http notification_url",
            with(|p| p.notification_url = Some("http://clinic.example/hooks/mp".to_owned())),
        ),
        (
            "notification_url over 248 chars",
            with(|p| {
                p.notification_url = Some(format!("https://clinic.example/{}", "x".repeat(240)))
            }),
        ),
        (
            "17-char statement_descriptor",
            with(|p| p.statement_descriptor = Some("CLINICA DEMO LIMA".to_owned())),
        ),
        ("no items", with(|p| p.items.clear())),
        ("quantity 0", with(|p| p.items[0].quantity = 0)),
        (
            "auto_return without back_urls.success",
            with(|p| p.auto_return = Some("approved".to_owned())),
        ),
    ];

    for (what, request) in &cases {
        let err = client
            .create_preference(request, "charge-invalid")
            .await
            .expect_err(what);
        assert!(matches!(err, Error::InvalidRequest(_)), "{what}: {err:?}");
        assert!(!err.is_retryable(), "{what}");
    }
    assert!(seen.lock().expect("log").is_empty(), "nothing was sent");

    // Limits themselves are fine: 64 chars, 16-char descriptor, 2 decimals, whole COP, and a
    // PEN amount whose third decimal is a trailing zero.
    let mut p = preference(&"r".repeat(64), "80.100", "PEN");
    p.statement_descriptor = Some("CLINICA DEMO LIM".to_owned());
    p.notification_url = Some("https://clinic.example/hooks/mp?source_news=webhooks".to_owned());
    client
        .create_preference(&p, "ok-1")
        .await
        .expect("at the limits");
    client
        .create_preference(&preference("visit-cop", "50000", "COP"), "ok-2")
        .await
        .expect("whole COP");
    assert_eq!(seen.lock().expect("log").len(), 2);
}

#[tokio::test]
async fn create_preference_sends_idempotency_key_and_exact_json() {
    let (base, seen) = recording_server().await;
    let token = "APP_USR-1-010101-abc-2";
    let client = client_for(&base, token);
    let mut request = preference("visit-0001", "80.50", "PEN");
    request
        .metadata
        .insert("charge_id".to_owned(), json!("charge-0001"));
    let created = client
        .create_preference(&request, "charge-0001")
        .await
        .expect("a 201 is a success");
    assert_eq!(created.external_reference.as_deref(), Some("visit-0001"));

    // The same logical create retried carries the same key.
    client
        .create_preference(&request, "charge-0001")
        .await
        .expect("retry");

    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.method, Method::POST);
        assert_eq!(s.path, "/checkout/preferences");
        assert_eq!(header(s, "x-idempotency-key"), Some("charge-0001"));
        assert_eq!(
            header(s, "authorization"),
            Some(format!("Bearer {token}").as_str())
        );
        assert_eq!(header(s, "content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&s.body).expect("JSON body");
        // Money is a JSON number with its exact digits, booleans are booleans (§4.2, §10.7).
        assert_eq!(body["items"][0]["unit_price"].to_string(), "80.5");
        assert!(body["items"][0]["unit_price"].is_number());
        assert_eq!(body["items"][0]["quantity"], json!(1));
        assert_eq!(body["items"][0]["currency_id"], json!("PEN"));
        assert_eq!(body["expires"], json!(true));
        assert_eq!(body["external_reference"], json!("visit-0001"));
        assert_eq!(body["metadata"], json!({ "charge_id": "charge-0001" }));
    }
}

#[tokio::test]
async fn reads_do_not_send_an_idempotency_key() {
    let (base, seen) = recording_server().await;
    let client = canned_client(&base);
    let _ = client
        .get_preference("1273205088-6da17b39-3bf4-4307-9124-4381c56372e0")
        .await;
    let _ = client.get_payment(17_014_025_134).await;
    let _ = client.search_payments("visit-0001").await;
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.method, Method::GET, "{}", s.path);
        assert_eq!(header(s, "x-idempotency-key"), None, "{}", s.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_payment_after_paying_reads_exact_amount_and_reference() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let created = client
        .create_preference(&preference("visit-0003", "1234.56", "PEN"), "charge-0003")
        .await
        .expect("created");
    let paid = sandbox
        .pay_preference(&created.id, PayRequest::default())
        .await
        .expect("paid");

    let payment = client.get_payment(paid.payment_id).await.expect("readable");
    assert_eq!(payment.id, paid.payment_id);
    assert!(
        payment.id > i64::from(u32::MAX),
        "ids are 64-bit: {}",
        payment.id
    );
    assert_eq!(payment.status, "approved");
    assert_eq!(payment.status_detail.as_deref(), Some("accredited"));
    assert_eq!(payment.transaction_amount, dec("1234.56"));
    assert_eq!(payment.transaction_amount.to_string(), "1234.56");
    assert_eq!(payment.currency_id, "PEN");
    assert_eq!(payment.external_reference.as_deref(), Some("visit-0003"));
    assert_eq!(payment.collector_id, Some(collector_id(&sandbox)));
    assert!(payment.date_approved.is_some());
    assert!(payment.order.as_ref().and_then(|o| o.id.as_ref()).is_some());

    assert!(!payment.raw.is_empty());
    let raw: Value = serde_json::from_str(&payment.raw).expect("raw is the JSON MP sent");
    assert_eq!(raw["id"], json!(paid.payment_id));
    assert_eq!(raw["external_reference"], json!("visit-0003"));
}

#[tokio::test]
async fn unknown_payment_maps_to_not_found() {
    let sandbox = start_sandbox().await;
    let err = sandbox_client(&sandbox)
        .get_payment(99_999_999_999)
        .await
        .expect_err("no such payment");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn search_payments_finds_every_attempt_of_a_reference_newest_first() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let created = client
        .create_preference(&preference("visit-0004", "80.50", "PEN"), "charge-0004")
        .await
        .expect("created");
    // Another visit's payment must not show up.
    let other = client
        .create_preference(&preference("visit-0005", "60", "PEN"), "charge-0005")
        .await
        .expect("created");
    sandbox
        .pay_preference(&other.id, PayRequest::default())
        .await
        .expect("paid");

    let rejected = sandbox
        .pay_preference(
            &created.id,
            PayRequest {
                status: "rejected".to_owned(),
                ..PayRequest::default()
            },
        )
        .await
        .expect("rejected attempt");
    let after_reject = client.search_payments("visit-0004").await.expect("search");
    assert_eq!(after_reject.results.len(), 1);
    assert_eq!(after_reject.results[0].id, rejected.payment_id);
    assert_eq!(after_reject.results[0].status, "rejected");

    let approved = sandbox
        .pay_preference(&created.id, PayRequest::default())
        .await
        .expect("approved attempt");
    assert_ne!(approved.payment_id, rejected.payment_id);

    let found = client.search_payments("visit-0004").await.expect("search");
    assert_eq!(found.paging.total, 2);
    let ids: Vec<i64> = found.results.iter().map(|p| p.id).collect();
    assert_eq!(ids, vec![approved.payment_id, rejected.payment_id]);
    assert_eq!(found.results[0].status, "approved");
    assert_eq!(found.results[1].status, "rejected");
    for p in &found.results {
        assert_eq!(p.external_reference.as_deref(), Some("visit-0004"));
        assert_eq!(p.transaction_amount, dec("80.50"));
        let raw: Value = serde_json::from_str(&p.raw).expect("raw set on each result");
        assert_eq!(raw["id"], json!(p.id));
        assert_eq!(raw["status"], json!(p.status));
    }

    let none = client.search_payments("visit-9999").await.expect("search");
    assert!(none.results.is_empty());
    assert_eq!(none.paging.total, 0);
}

#[tokio::test]
async fn wrong_token_maps_to_unauthorized() {
    let sandbox = start_sandbox().await;
    let client = client_for(
        &sandbox.mp_base_url(),
        "APP_USR-4679935697572392-112801-00000000000000000000000000000000-1273205088",
    );
    let err = client
        .create_preference(&preference("visit-0006", "80", "PEN"), "charge-0006")
        .await
        .expect_err("unknown token");
    assert!(matches!(err, Error::Unauthorized), "{err:?}");
    assert!(!err.is_retryable());
    let err = client
        .get_payment(17_014_025_134)
        .await
        .expect_err("unknown token");
    assert!(matches!(err, Error::Unauthorized), "{err:?}");
    let err = client
        .search_payments("visit-0006")
        .await
        .expect_err("unknown token");
    assert!(matches!(err, Error::Unauthorized), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Error mapping from answers the sandbox cannot provoke yet (local recording server)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn validation_error_maps_to_rejected_with_its_key() {
    let base = canned(
        400,
        &[("content-type", "application/json")],
        r#"{"message":"expires value is not boolean","error":"invalid_expires","status":400,"cause":[]}"#,
    )
    .await;
    let err = canned_client(&base)
        .create_preference(&preference("visit-0007", "80", "PEN"), "charge-0007")
        .await
        .expect_err("400");
    match &err {
        Error::Rejected {
            status,
            error,
            message,
            code,
            ..
        } => {
            assert_eq!(*code, None, "cause was empty");
            assert_eq!(*status, 400);
            assert_eq!(error, "invalid_expires");
            assert_eq!(message, "expires value is not boolean");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!err.is_retryable());
}

/// Retry-After (7 s) is longer than the test policy's 50 ms ceiling: the call ends at once.
#[tokio::test]
async fn rate_limit_maps_to_rate_limited_with_retry_after_seconds() {
    let base = canned(
        429,
        &[("content-type", "application/json"), ("Retry-After", "7")],
        r#"{"message":"too many requests","error":"too_many_requests","status":429,"cause":[]}"#,
    )
    .await;
    let err = canned_client(&base)
        .search_payments("visit-0008")
        .await
        .expect_err("429");
    match &err {
        Error::RateLimited { retry_after } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn server_error_maps_to_unavailable_and_is_retryable() {
    let base = canned(
        500,
        &[("content-type", "application/json")],
        r#"{"message":"internal_error","error":"internal_error","status":500,"cause":[]}"#,
    )
    .await;
    let err = canned_client(&base)
        .get_payment(17_014_025_134)
        .await
        .expect_err("500");
    assert!(matches!(err, Error::Unavailable { status: 500 }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn html_success_maps_to_decode() {
    let base = canned(
        200,
        &[("content-type", "text/html; charset=utf-8")],
        "<!DOCTYPE html><html><body><h1>Mercado Pago</h1></body></html>",
    )
    .await;
    let client = canned_client(&base);
    let err = client.get_payment(17_014_025_134).await.expect_err("HTML");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    let err = client
        .get_preference("1273205088-6da17b39-3bf4-4307-9124-4381c56372e0")
        .await
        .expect_err("HTML");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    let err = client
        .search_payments("visit-0009")
        .await
        .expect_err("HTML");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn silent_server_maps_to_timeout() {
    let server =
        RecordingServer::start(|_, _| Reply::new(200, "too late").after(Duration::from_secs(30)))
            .await;
    let mut config = ClientConfig::new(
        server.url(),
        SecretString::from("APP_USR-1-010101-abc-2".to_owned()),
    );
    config.timeout = Duration::from_millis(300);
    config.retry = RetryPolicy::none();
    let client = Client::new(config).expect("client builds");

    let started = Instant::now();
    let err = client
        .get_payment(17_014_025_134)
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
    let token = "APP_USR-secret-value-that-must-not-leak";
    let client = client_for(&sandbox.mp_base_url(), token);
    let err = client.get_payment(1).await.expect_err("unknown token");
    assert!(!err.to_string().contains(token));
    assert!(!format!("{err:?}").contains(token));
    assert!(!format!("{client:?}").contains(token));
}
