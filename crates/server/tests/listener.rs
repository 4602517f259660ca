//! The public webhook listener over real loopback HTTP, in demo mode: the sandbox pays and
//! delivers signed notifications through its fake tunnel to the listener.

use desk::events::BroadcastEvents;
use desk::{CreateBooking, DeskEvent};
use sandbox::{PayRequest, Sandbox, seed};
use server::Host;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

mod support;
use support::sign;

const MP_PATH: &str = "/api/payments/webhooks/mp/";

struct Running {
    host: Host,
    sandbox: Sandbox,
    events: broadcast::Receiver<DeskEvent>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// GHL's appointment webhooks off, so the inbox holds only MP deliveries.
async fn start_mp_only() -> Running {
    let r = start().await;
    r.sandbox.set_ghl_webhook_url(None);
    r
}

async fn start() -> Running {
    start_with(&[]).await
}

async fn start_with(overrides: &[(&str, &str)]) -> Running {
    let (tx, rx) = broadcast::channel(64);
    let hub = support::InProcess::start(None, Arc::new(BroadcastEvents(tx)), overrides).await;
    Running {
        host: hub.host,
        sandbox: hub.sandbox,
        events: rx,
        http: reqwest::Client::new(),
        _dir: hub.dir,
    }
}

fn booking(key: &str, hour: u32) -> CreateBooking {
    use chrono::{Duration, NaiveTime, TimeZone, Utc};
    let tz = chrono_tz::America::Lima;
    let day = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    let at = |m: u32| {
        tz.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hour, m, 0).unwrap()))
            .unwrap()
            .with_timezone(&Utc)
    };
    CreateBooking {
        idempotency_key: key.into(),
        calendar_id: seed::CONSULTA_GENERAL_CALENDAR_ID.into(),
        patient_name: "Juan Pérez".into(),
        patient_phone: None,
        contact_id: None,
        starts_at: at(0),
        ends_at: at(30),
        title: None,
        amount: "120.50".into(),
        description: "Consulta".into(),
        source: "desk".into(),
    }
}

async fn inbox(r: &Running) -> (i64, i64) {
    r.host.desk.store().inbox_counts().await.unwrap()
}

async fn wait_for_status(r: &mut Running, charge_id: &str, status: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, r.events.recv()).await {
            Ok(Ok(DeskEvent::ChargeUpdated {
                charge_id: c,
                status: s,
                ..
            })) if c == charge_id && s == status => {
                return;
            }
            Ok(Ok(_)) => continue,
            other => panic!("no {status} event for {charge_id}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    let r = start().await;
    let resp = r
        .http
        .get(format!("{}/healthz", r.host.listener_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn only_the_webhook_paths_and_healthz_exist() {
    let r = start().await;
    for path in [
        "/",
        "/api/appointments/create/",
        "/admin",
        "/api/payments/webhooks/mp",
    ] {
        let resp = r
            .http
            .post(format!("{}{path}", r.host.listener_url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn an_unsigned_or_forged_delivery_is_401_and_stores_nothing() {
    let r = start().await;
    let url = format!("{}{MP_PATH}?data.id=123&type=payment", r.host.listener_url);
    let body = r#"{"type":"payment","data":{"id":"123"}}"#;
    let unsigned = r.http.post(&url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let forged = r
        .http
        .post(&url)
        .header(
            "x-signature",
            sign("not-the-secret", "123", "rid-1", "1742505638"),
        )
        .header("x-request-id", "rid-1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let text = forged.text().await.unwrap();
    assert!(
        !text.contains("secret") && text.len() < 100,
        "no internals in {text}"
    );
    assert_eq!(inbox(&r).await, (0, 0));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let r = start().await;
    let secret = r.sandbox.config().mp_webhook_secret.clone();
    let url = format!("{}{MP_PATH}?data.id=1&type=payment", r.host.listener_url);
    let resp = r
        .http
        .post(&url)
        .header("x-signature", sign(&secret, "1", "rid", "1742505638"))
        .header("x-request-id", "rid")
        .body(vec![b' '; 300 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(inbox(&r).await, (0, 0));
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_400() {
    let r = start().await;
    let secret = r.sandbox.config().mp_webhook_secret.clone();
    let url = format!("{}{MP_PATH}?data.id=1&type=payment", r.host.listener_url);
    let resp = r
        .http
        .post(&url)
        .header("x-signature", sign(&secret, "1", "rid", "1742505638"))
        .header("x-request-id", "rid")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(inbox(&r).await, (0, 0));
}

#[tokio::test]
async fn an_unsigned_or_forged_ghl_delivery_is_401_and_stores_nothing() {
    let r = start().await;
    let url = format!(
        "{}/api/appointments/webhooks/ghl/appointments/",
        r.host.listener_url
    );
    let body = r#"{"type":"AppointmentUpdate","webhookId":"w1","appointment":{"id":"x"}}"#;
    let unsigned = r.http.post(&url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let na = r
        .http
        .post(&url)
        .header("x-ghl-signature", "N/A")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(na.status(), 401, "N/A is no signature");
    let forged = r
        .http
        .post(&url)
        .header("x-ghl-signature", "c2lnbmF0dXJl")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(inbox(&r).await, (0, 0));
}

#[tokio::test]
async fn a_ghl_cancel_reaches_the_booking_and_expires_its_unpaid_link() {
    let mut r = start().await;
    let view = r
        .host
        .desk
        .create_booking(booking("k-cancel", 14))
        .await
        .unwrap();
    let charge_id = view.charge.unwrap().id;
    let ghl_id = view.ghl_id.unwrap();
    let sandbox = &r.sandbox;
    let c = sandbox.config();
    let client = ghl::Client::new(ghl::ClientConfig::new(
        sandbox.ghl_base_url(),
        c.ghl_access_token.clone().into(),
    ))
    .unwrap();
    client.cancel_appointment(&ghl_id).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        r.host.desk.drain_inbox().await.unwrap();
        r.host.desk.drain_outbox().await.unwrap();
        let charge = r.host.desk.charge(&charge_id).await.unwrap();
        if charge.status == desk::ChargeStatus::Cancelled {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let sandbox = &r.sandbox;
            let deliveries: Vec<String> = sandbox
                .ghl_deliveries()
                .iter()
                .map(|d| format!("{d:?}"))
                .collect();
            let b = r
                .host
                .desk
                .store()
                .booking_by_ghl_id(&ghl_id)
                .await
                .unwrap();
            panic!(
                "charge still {:?}; inbox {:?}; booking {:?}; deliveries {:#?}",
                charge.status,
                inbox(&r).await,
                b.map(|b| (b.status, b.ghl_date_updated)),
                deliveries
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let booking = r
        .host
        .desk
        .store()
        .booking_by_ghl_id(&ghl_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(booking.status, "cancelled");
    // The link can no longer be paid.
    let charge = r.host.desk.charge(&charge_id).await.unwrap();
    let paid = r
        .sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await;
    assert!(paid.is_err(), "an expired link refuses payment");
    let _ = r.events.try_recv();
}

#[tokio::test]
async fn a_paid_link_turns_the_charge_paid_through_the_listener() {
    let mut r = start_mp_only().await;
    let view = r
        .host
        .desk
        .create_booking(booking("k-paid", 10))
        .await
        .unwrap();
    let charge = r.host.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let sandbox = &r.sandbox;
    let outcome = sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.delivery_status,
        Some(200),
        "stored, then answered 200"
    );
    wait_for_status(&mut r, &charge.id, "paid").await;
    let paid = r.host.desk.charge(&charge.id).await.unwrap();
    assert_eq!(paid.status, desk::ChargeStatus::Paid);
    // The delivery is marked processed right after the charge is written.
    for _ in 0..100 {
        if inbox(&r).await == (1, 1) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("delivery not marked processed: {:?}", inbox(&r).await);
}

#[tokio::test]
async fn a_replayed_delivery_is_stored_once_and_changes_nothing() {
    let mut r = start_mp_only().await;
    let view = r
        .host
        .desk
        .create_booking(booking("k-replay", 11))
        .await
        .unwrap();
    let charge = r.host.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let sandbox = &r.sandbox;
    sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    wait_for_status(&mut r, &charge.id, "paid").await;
    let paid = r.host.desk.charge(&charge.id).await.unwrap();

    let sent = r.sandbox.deliveries().pop().unwrap();
    let target = sent.delivered_to.clone().unwrap();
    for _ in 0..3 {
        let mut replay = r.http.post(&target).body(sent.body.clone());
        for (k, v) in &sent.headers {
            replay = replay.header(k, v);
        }
        assert_eq!(replay.send().await.unwrap().status(), 200);
    }
    r.host.desk.drain_inbox().await.unwrap();
    assert_eq!(inbox(&r).await, (1, 1), "the same delivery is stored once");
    let after = r.host.desk.charge(&charge.id).await.unwrap();
    assert_eq!(after.version, paid.version, "nothing changed");
}

#[tokio::test]
async fn a_legacy_ipn_is_accepted_when_switched_on_and_only_triggers_a_reread() {
    let mut r = start_with(&[("MP_ACCEPT_IPN", "1")]).await;
    r.sandbox.set_ghl_webhook_url(None);
    let view = r
        .host
        .desk
        .create_booking(booking("k-ipn", 12))
        .await
        .unwrap();
    let charge = r.host.desk.charge(&view.charge.unwrap().id).await.unwrap();
    let sandbox = &r.sandbox;
    // Pay with no delivery reaching us: the tunnel is replaced by a dead end first.
    sandbox.add_tunnel(support::PUBLIC_URL, "http://127.0.0.1:9");
    let paid = sandbox
        .pay_preference(
            charge.preference_id.as_deref().unwrap(),
            PayRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(paid.delivery_status, None);
    let url = format!(
        "{}{MP_PATH}?topic=payment&id={}",
        r.host.listener_url, paid.payment_id
    );
    // Sent again and again within a minute, dressed up with extra parameters: one
    // delivery, stored as the rebuilt query only, so one re-read.
    for extra in ["", "&x=1", "&x=2&y=3", "&topic=merchant_order"] {
        let resp = r.http.post(format!("{url}{extra}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{extra}");
    }
    wait_for_status(&mut r, &charge.id, "paid").await;
    assert_eq!(inbox(&r).await.0, 1);
    assert_eq!(r.host.counters.ipn_ignored(), 0);
}

/// Refusals are charged to their client; a verified delivery is never refused by the limit,
/// so junk sent through the same tunnel or proxy address cannot push it into 429.
#[tokio::test]
async fn only_refusals_are_charged_and_a_signed_delivery_still_gets_through() {
    let r = start_mp_only().await;
    let secret = r.sandbox.config().mp_webhook_secret.clone();
    let app = server::listener::router(server::listener::ListenerState {
        desk: r.host.desk.clone(),
        mp_webhook_secret: Some(secret.clone().into()),
        rate_limit: server::rate_limit::RateLimit {
            burst: 3.0,
            per_second: 0.01,
        },
        ghl_keys: Arc::new(ghl::webhook::WebhookKeys::empty()),
        accept_ipn: false,
        trusted_proxies: Vec::new(),
        counters: Arc::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve::serve(
        listener,
        app,
        server::serve::ServeLimits::default(),
        Arc::default(),
    ));
    // Health checks and other answers that refuse nothing cost nothing.
    for _ in 0..10 {
        let resp = r.http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let resp = r
            .http
            .post(format!("{base}{MP_PATH}"))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 429, 429]);

    let (rid, ts) = ("rid-after-junk", chrono::Utc::now().timestamp().to_string());
    let resp = r
        .http
        .post(format!("{base}{MP_PATH}?data.id=123456&type=payment"))
        .header("x-signature", sign(&secret, "123456", rid, &ts))
        .header("x-request-id", rid)
        .body(r#"{"type":"payment","data":{"id":"123456"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "a verified delivery is never rate limited"
    );
}
