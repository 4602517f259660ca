//! The listener as the open internet sees it, through a tunnel or proxy: slow and half-open
//! clients, junk from the address real deliveries also come from, captured deliveries
//! replayed with extra parameters, unsigned IPN floods, GHL events for other clinics, and
//! how long delivered data is kept. Each test fails without the defence it names.

use desk::events::NoEvents;
use desk::model::{InboxDelivery, new_id};
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

const MP_PATH: &str = "/api/payments/webhooks/mp/";
const GHL_PATH: &str = "/api/appointments/webhooks/ghl/appointments/";

async fn start(overrides: &[(&str, &str)]) -> support::InProcess {
    support::InProcess::start(None, Arc::new(NoEvents), overrides).await
}

/// Polls `check` until it holds, failing loudly after 30 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Tomorrow at `hour:minute` in Lima (the demo clinic's zone), on the calendar's grid.
fn lima_tomorrow(hour: u32, minute: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let tz = chrono_tz::America::Lima;
    let day = chrono::Utc::now().with_timezone(&tz).date_naive() + chrono::Duration::days(1);
    tz.from_local_datetime(&day.and_time(chrono::NaiveTime::from_hms_opt(hour, minute, 0).unwrap()))
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Whether the server ends the connection (EOF or reset) within 30 s; whatever it writes
/// before that is read and dropped.
async fn closed_by_server(s: &mut tokio::net::TcpStream) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A signed MP delivery for payment `id`, request `rid`, sent to `url` as given.
async fn signed_mp(hub: &support::InProcess, url: &str, id: &str, rid: &str) -> u16 {
    let secret = &hub.sandbox.config().mp_webhook_secret;
    let ts = chrono::Utc::now().timestamp().to_string();
    reqwest::Client::new()
        .post(url)
        .header("x-signature", support::sign(secret, id, rid, &ts))
        .header("x-request-id", rid)
        .body(
            json!({"type": "payment", "action": "payment.updated", "data": {"id": id}}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_are_capped_and_timed_out_and_a_real_delivery_still_gets_through() {
    const CAP: usize = 16;
    let hub = start(&[
        ("LISTENER_MAX_CONNECTIONS", "16"),
        ("LISTENER_HEADER_TIMEOUT_SECS", "2"),
    ])
    .await;
    let addr = hub
        .host
        .listener_url
        .trim_start_matches("http://")
        .to_string();

    // Four times the cap of clients that send half a request head and then nothing.
    let mut slow = Vec::new();
    for _ in 0..CAP * 4 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /api/payments/webhooks/mp/ HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }

    // A patient pays; MP's signed delivery travels the tunnel to the listener.
    let view = hub
        .host
        .desk
        .create_booking(desk::CreateBooking {
            idempotency_key: "slow-clients".into(),
            calendar_id: sandbox::seed::CONSULTA_GENERAL_CALENDAR_ID.into(),
            patient_name: "Ana Quispe".into(),
            patient_phone: None,
            contact_id: None,
            starts_at: lima_tomorrow(10, 0),
            ends_at: lima_tomorrow(10, 30),
            title: None,
            amount: "50.00".into(),
            description: "Consulta".into(),
            source: "desk".into(),
        })
        .await
        .unwrap();
    let charge_id = view.charge.unwrap().id;
    let charge = hub.host.desk.charge(&charge_id).await.unwrap();
    hub.sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            sandbox::PayRequest::default(),
        )
        .await
        .unwrap();
    let desk = hub.host.desk.clone();
    eventually("the charge is paid through the listener", || {
        let desk = desk.clone();
        let id = charge_id.clone();
        async move { desk.charge(&id).await.unwrap().status == desk::ChargeStatus::Paid }
    })
    .await;
    assert!(
        hub.sandbox
            .deliveries()
            .iter()
            .any(|d| d.status == Some(200)),
        "MP's delivery was answered 200"
    );

    // Every slow client is closed by the server, and never were more than the cap open.
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_by_server(s).await,
            "slow client {i} was never closed"
        );
    }
    assert!(
        hub.host.connections.peak() <= CAP,
        "peak {} connections over the cap {CAP}",
        hub.host.connections.peak()
    );
    eventually("every connection is released", || async {
        hub.host.connections.open() == 0
    })
    .await;
    hub.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let hub = start(&[("LISTENER_HEADER_TIMEOUT_SECS", "1")]).await;
    let addr = hub.host.listener_url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("\"ok\"") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    // Kept alive, then idle: the server ends it.
    assert!(
        closed_by_server(&mut s).await,
        "an idle keep-alive connection stayed open"
    );
    hub.stop().await;
}

#[tokio::test]
async fn unsigned_ipn_is_ignored_unless_switched_on() {
    let hub = start(&[]).await;
    let url = format!("{}{MP_PATH}?topic=payment&id=123456", hub.host.listener_url);
    for extra in ["", "&a=1", "&b=2"] {
        let resp = reqwest::Client::new()
            .post(format!("{url}{extra}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "acknowledged, so MP does not retry");
    }
    assert_eq!(hub.host.desk.store().inbox_counts().await.unwrap(), (0, 0));
    assert_eq!(hub.host.counters.ipn_ignored(), 3);
    hub.stop().await;

    // Switched on: one row per (payment, minute), holding only the rebuilt query.
    let hub = start(&[("MP_ACCEPT_IPN", "1")]).await;
    let url = format!("{}{MP_PATH}?topic=payment&id=123456", hub.host.listener_url);
    for extra in ["", "&a=1", "&a=1&b=2", "&source_news=ipn"] {
        let resp = reqwest::Client::new()
            .post(format!("{url}{extra}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let stored = hub.host.desk.store().recent_inbox(10).await.unwrap();
    let queries: Vec<&str> = stored.iter().map(|d| d.query.as_str()).collect();
    // A minute may turn between two requests: then two rows, both rebuilt.
    assert!(
        (1..=2).contains(&queries.len()) && queries.iter().all(|q| *q == "topic=payment&id=123456"),
        "{queries:?}"
    );
    // A query past the cap is refused outright.
    let long = format!("{url}&pad={}", "x".repeat(600));
    let resp = reqwest::Client::new().post(long).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    hub.stop().await;
}

#[tokio::test]
async fn a_captured_signed_delivery_replayed_with_extra_parameters_is_one_delivery() {
    let hub = start(&[]).await;
    hub.sandbox.set_ghl_webhook_url(None);
    let base = format!(
        "{}{MP_PATH}?data.id=987654&type=payment",
        hub.host.listener_url
    );
    for (i, url) in [
        base.clone(),
        format!("{base}&x=1"),
        format!("{base}&x=2&type=merchant_order"),
        format!(
            "{}{MP_PATH}?junk=1&data.id=987654&type=payment",
            hub.host.listener_url
        ),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            signed_mp(&hub, url, "987654", "rid-captured").await,
            200,
            "{i}"
        );
    }
    let stored = hub.host.desk.store().recent_inbox(10).await.unwrap();
    assert_eq!(stored.len(), 1, "one delivery however it is dressed");
    assert_eq!(stored[0].query, "data.id=987654&type=payment");
    hub.stop().await;
}

/// A GHL signing key for the test, trusted like any key in `GHL_WEBHOOK_PUBLIC_KEYS`.
fn ghl_signer() -> (ed25519_dalek::SigningKey, String) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    let pem = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    let trusted = format!(
        "{}\n{}\n{pem}",
        sandbox::SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM,
        sandbox::SANDBOX_GHL_RSA_PUBLIC_KEY_PEM
    );
    (key, trusted)
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

#[tokio::test]
async fn a_ghl_event_for_another_location_is_acknowledged_and_dropped() {
    let (key, trusted) = ghl_signer();
    let hub = start(&[("GHL_WEBHOOK_PUBLIC_KEYS", trusted.as_str())]).await;
    hub.sandbox.set_ghl_webhook_url(None);
    let own = hub.sandbox.config().location_id.clone();
    let send = |location: Option<&str>| {
        let mut body = json!({
            "type": "ContactCreate",
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "webhookId": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(l) = location {
            body["locationId"] = json!(l);
        }
        let body = body.to_string();
        let signature = b64(&key.sign(body.as_bytes()).to_bytes());
        reqwest::Client::new()
            .post(format!("{}{GHL_PATH}", hub.host.listener_url))
            .header("x-ghl-signature", signature)
            .body(body)
            .send()
    };
    for location in [Some("AnotherClinicLoc0001"), None] {
        let resp = send(location).await.unwrap();
        assert_eq!(resp.status(), 200, "acknowledged so GHL does not retry");
        let answer: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(answer["status"], "ignored");
    }
    assert_eq!(hub.host.counters.foreign_location(), 2);
    assert_eq!(hub.host.desk.store().inbox_counts().await.unwrap(), (0, 0));
    // The same event for this clinic is stored: the refusals above are not a listener that
    // refuses everything.
    assert_eq!(send(Some(&own)).await.unwrap().status(), 200);
    assert_eq!(hub.host.desk.store().inbox_counts().await.unwrap().0, 1);
    assert_eq!(hub.host.counters.foreign_location(), 2);
    hub.stop().await;
}

/// Behind a trusted proxy the forwarded client is charged, not the proxy: one client's junk
/// does not spend another's budget, and IPv6 clients share their /64.
#[tokio::test]
async fn junk_through_a_trusted_proxy_is_charged_to_the_forwarded_client() {
    let hub = start(&[]).await;
    let app = server::listener::router(server::listener::ListenerState {
        desk: hub.host.desk.clone(),
        mp_webhook_secret: None,
        rate_limit: server::rate_limit::RateLimit {
            burst: 2.0,
            per_second: 0.01,
        },
        ghl_keys: Arc::new(ghl::webhook::WebhookKeys::empty()),
        accept_ipn: false,
        trusted_proxies: server::rate_limit::parse_ranges("127.0.0.1, ::1").unwrap(),
        counters: Arc::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{MP_PATH}", listener.local_addr().unwrap());
    tokio::spawn(server::serve::serve(
        listener,
        app,
        server::serve::ServeLimits::default(),
        Arc::default(),
    ));
    let http = reqwest::Client::new();
    let from = |client: &'static str| {
        http.post(&url)
            .header("x-forwarded-for", format!("198.51.100.99, {client}"))
            .send()
    };
    let mut statuses = Vec::new();
    for client in [
        "203.0.113.7",
        "203.0.113.7",
        "203.0.113.7",
        "203.0.113.8",
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2::3",
        "2001:db8:9::1",
    ] {
        statuses.push(from(client).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 429, 401, 401, 401, 429, 401]);
    hub.stop().await;
}

#[tokio::test]
async fn the_reconciler_forgets_old_deliveries_and_payer_data() {
    let hub = start(&[("RETENTION_DAYS", "30")]).await;
    let store = hub.host.desk.store().clone();
    let now = chrono::Utc::now();
    // Deliveries the worker acknowledges and ignores (an MP merchant order), so it finishes
    // them at once; only then are they back-dated, so its own finish cannot overwrite the
    // date the test sets.
    let delivery = |key: &str, received: chrono::DateTime<chrono::Utc>| InboxDelivery {
        id: new_id(),
        provider: "mp".into(),
        dedupe_key: key.into(),
        received_at: received,
        headers: "{}".into(),
        query: "data.id=9000000001&type=merchant_order".into(),
        body: r#"{"type":"merchant_order","data":{"id":"9000000001"}}"#.into(),
        attempts: 0,
    };
    let old = delivery("old", now - chrono::Duration::days(40));
    let recent = delivery("recent", now - chrono::Duration::days(3));
    for d in [&old, &recent] {
        store.insert_inbox(d).await.unwrap();
    }
    eventually("the worker finished both deliveries", || {
        let store = store.clone();
        async move { store.inbox_counts().await.unwrap() == (2, 2) }
    })
    .await;
    for (d, processed) in [
        (&old, now - chrono::Duration::days(40)),
        (&recent, now - chrono::Duration::days(3)),
    ] {
        store.finish_inbox(&d.id, processed).await.unwrap();
    }
    hub.host.desk.reconcile().await.unwrap();
    let left: Vec<String> = store
        .recent_inbox(10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.dedupe_key)
        .collect();
    assert_eq!(left, vec!["recent"]);
    hub.stop().await;
}
