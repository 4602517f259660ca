//! Reliability of the hub under a burst of signed MP deliveries, on SQLite and MySQL:
//! the hub is killed with SIGKILL in the middle and restarted; every delivery that got a 200
//! is stored once and processed, replays are suppressed, and each charge is paid once.

use desk::Store;
use desk::model::ChargeStatus;
use desk::store::SqlStore;
use sandbox::{PayRequest, Sandbox, SandboxConfig, seed};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use testkit::Db;

mod support;
use support::{free_port, sign, start_hub};

const TOKEN: &str = "reliability-token-0123456789abcdefghij";
const DELIVERIES: usize = 2000;
const CHARGES: usize = 10;
const KILL_AFTER: usize = 800;

fn slot(n: usize) -> (String, String) {
    use chrono::{Duration, NaiveTime, TimeZone, Utc};
    let tz = chrono_tz::America::Lima;
    let day = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    let start = NaiveTime::from_hms_opt(8, 0, 0).unwrap() + Duration::minutes(30 * n as i64);
    let at = |t: NaiveTime| {
        tz.from_local_datetime(&day.and_time(t))
            .unwrap()
            .with_timezone(&Utc)
            .to_rfc3339()
    };
    (at(start), at(start + Duration::minutes(30)))
}

async fn burst_with_a_kill(database_url: String, store: SqlStore) {
    let sandbox = Sandbox::start(SandboxConfig::demo()).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let ports = (free_port(), free_port());
    let mut hub = start_hub(&sandbox, &database_url, data.path(), ports, TOKEN).await;
    let http = reqwest::Client::new();

    // Ten booked and paid charges; their webhooks never arrive (no tunnel): the burst below
    // is what tells the hub.
    let mut payments = Vec::new();
    let mut charge_ids = Vec::new();
    for n in 0..CHARGES {
        let (start, end) = slot(n);
        let body = json!({
            "calendarId": seed::CONSULTA_GENERAL_CALENDAR_ID,
            "contactId": seed::CONTACT_IDS[n % seed::CONTACT_IDS.len()],
            "startTime": start, "endTime": end, "payment_amount": "80.00"
        });
        let created: Value = http
            .post(format!("{}/api/appointments/create/", hub.api))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let pref = created["payment_preference_id"]
            .as_str()
            .unwrap()
            .to_string();
        payments.push(
            sandbox
                .pay_preference(&pref, PayRequest::default())
                .await
                .unwrap()
                .payment_id,
        );
    }
    let listed: Value = http
        .get(format!("{}/api/payments/", hub.api))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for c in listed.as_array().unwrap() {
        charge_ids.push(c["id"].as_str().unwrap().to_string());
    }
    assert_eq!(charge_ids.len(), CHARGES);

    // The burst: 2,000 distinct signed deliveries, every tenth sent twice (an MP replay),
    // eight at a time; the hub is SIGKILLed after 800 acknowledgements and restarted.
    let secret = sandbox.config().mp_webhook_secret.clone();
    let acked = Arc::new(AtomicUsize::new(0));
    let replays_acked = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let ts = chrono::Utc::now().timestamp().to_string();
    let send = |hub_url: String| {
        let (acked, replays_acked, refused, next) = (
            acked.clone(),
            replays_acked.clone(),
            refused.clone(),
            next.clone(),
        );
        let (secret, ts, payments, http) =
            (secret.clone(), ts.clone(), payments.clone(), http.clone());
        async move {
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let (acked, replays_acked, refused, next) = (
                    acked.clone(),
                    replays_acked.clone(),
                    refused.clone(),
                    next.clone(),
                );
                let (secret, ts, payments, http, hub_url) = (
                    secret.clone(),
                    ts.clone(),
                    payments.clone(),
                    http.clone(),
                    hub_url.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= DELIVERIES {
                            return;
                        }
                        let pid = payments[i % payments.len()].to_string();
                        let rid = format!("00000000-0000-4000-8000-{i:012}");
                        let url = format!(
                            "{hub_url}/api/payments/webhooks/mp/?source_news=webhooks&data.id={pid}&type=payment"
                        );
                        let times = if i % 10 == 0 { 2 } else { 1 };
                        for attempt in 0..times {
                            // A 429 (the listener's per-client limit) or no answer (the hub is
                            // down) is handled as MP does: the same delivery again, later.
                            let mut answer = None;
                            for _ in 0..1000 {
                                let resp = http
                                    .post(&url)
                                    .header("x-signature", sign(&secret, &pid, &rid, &ts))
                                    .header("x-request-id", &rid)
                                    .body(format!(r#"{{"type":"payment","action":"payment.updated","data":{{"id":"{pid}"}}}}"#))
                                    .timeout(Duration::from_secs(10))
                                    .send()
                                    .await;
                                match resp {
                                    Ok(r) if r.status() == 429 => {
                                        tokio::time::sleep(Duration::from_millis(20)).await;
                                    }
                                    Ok(r) => {
                                        answer = Some(r.status().as_u16());
                                        break;
                                    }
                                    Err(_) => {
                                        refused.fetch_add(1, Ordering::SeqCst);
                                        tokio::time::sleep(Duration::from_millis(20)).await;
                                    }
                                }
                            }
                            match answer {
                                Some(200) if attempt == 0 => {
                                    acked.fetch_add(1, Ordering::SeqCst);
                                }
                                Some(200) => {
                                    replays_acked.fetch_add(1, Ordering::SeqCst);
                                }
                                other => panic!("delivery {i} answered {other:?}"),
                            }
                        }
                        if i == KILL_AFTER {
                            // Leave room for the killer to act while requests are in flight.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    };

    let started = std::time::Instant::now();
    let burst = tokio::spawn(send(hub.listener.clone()));
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(!burst.is_finished(), "the burst ended early");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    hub.child.kill().unwrap(); // SIGKILL: no shutdown, no flush, requests in flight.
    hub.child.wait().unwrap();
    let acked_before_kill = acked.load(Ordering::SeqCst);
    // The senders keep retrying, as MP does, until the hub is back on the same address.
    let mut hub = start_hub(&sandbox, &database_url, data.path(), ports, TOKEN).await;
    burst.await.unwrap();
    let burst_took = started.elapsed();
    let acked = acked.load(Ordering::SeqCst);
    // On MySQL the deliveries the killed hub had leased wait out their lease (60 s from the
    // kill), so the wait must outlast it by a wide margin; it ends as soon as all are done.
    let (mut stored, mut processed) = (0, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while std::time::Instant::now() < deadline {
        (stored, processed) = store.inbox_counts().await.unwrap();
        if processed == stored {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_took = started.elapsed();
    let _ = hub.child.kill();
    let _ = hub.child.wait();

    eprintln!(
        "reliability: burst acknowledged in {:.1} s, everything processed after {:.1} s",
        burst_took.as_secs_f64(),
        all_took.as_secs_f64()
    );
    eprintln!(
        "reliability: sent {DELIVERIES} distinct deliveries (+{} replays), acknowledged {acked} \
         ({acked_before_kill} before the SIGKILL), refused while down {}, stored {stored}, \
         processed {processed}, replays acknowledged but not stored again {}",
        DELIVERIES / 10,
        refused.load(Ordering::SeqCst),
        replays_acked.load(Ordering::SeqCst),
    );
    assert_eq!(
        acked, DELIVERIES,
        "every delivery was acknowledged in the end"
    );
    assert_eq!(
        stored as usize, DELIVERIES,
        "each delivery stored exactly once"
    );
    assert_eq!(processed, stored, "every stored delivery was processed");
    for charge_id in &charge_ids {
        let charge = store.charge(charge_id).await.unwrap().unwrap();
        assert_eq!(charge.status, ChargeStatus::Paid, "{charge_id}");
        assert_eq!(store.payments_of_charge(charge_id).await.unwrap().len(), 1);
        let paid_lines = store
            .audit_of("charge", charge_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.action == "charge.paid")
            .count();
        assert_eq!(paid_lines, 1, "paid once: {charge_id}");
    }
}

testkit::on_both_databases!(hub_killed_mid_burst_loses_and_doubles_nothing);

async fn hub_killed_mid_burst_loses_and_doubles_nothing(db: Db) {
    let db = db.open().await;
    burst_with_a_kill(db.url.clone(), db.store.clone()).await;
}
