//! GHL appointment webhooks over real loopback HTTP: echoes of API writes, the documented
//! body, signatures verified here independently (ed25519-dalek, rsa) against the exported
//! public PEMs and the exact bytes received, signature modes, the 429-only retry policy and
//! the `ghl.webhooks` faults.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use common::{Fixture, Hook, Seen, send};
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use reqwest::Method;
use sandbox::seed::{CONSULTA_GENERAL_CALENDAR_ID, ODONTOLOGIA_CALENDAR_ID};
use sandbox::{
    Fault, FaultKind, GhlSignatureMode, SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM,
    SANDBOX_GHL_RSA_PUBLIC_KEY_PEM,
};
use serde_json::json;

const PUBLIC: &str = "https://clinica-demo.ngrok.app";

/// A sandbox whose GHL webhooks reach `hook` through a fake tunnel.
async fn setup() -> (Fixture, Hook) {
    let fx = Fixture::start().await;
    let hook = Hook::start().await;
    fx.sandbox.add_tunnel(PUBLIC, &hook.base);
    fx.sandbox
        .set_ghl_webhook_url(Some(&format!("{PUBLIC}/hooks/ghl")));
    // 10 provider minutes become 1 ms.
    fx.sandbox.set_webhook_minute(Duration::from_micros(100));
    (fx, hook)
}

/// Verifies `X-GHL-Signature` as a client would: base64, 64 bytes, Ed25519 over the raw body.
fn ed25519_ok(body: &[u8], signature: &str) -> bool {
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM)
        .expect("exported Ed25519 key parses");
    let Ok(bytes) = BASE64.decode(signature) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
        return false;
    };
    bytes.len() == 64 && key.verify_strict(body, &sig).is_ok()
}

/// Verifies `X-WH-Signature`: base64, RSASSA-PKCS1-v1_5 / SHA-256 over the raw body.
fn rsa_ok(body: &[u8], signature: &str) -> bool {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    let key = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::from_public_key_pem(
        SANDBOX_GHL_RSA_PUBLIC_KEY_PEM,
    )
    .expect("exported RSA key parses");
    let Ok(bytes) = BASE64.decode(signature) else {
        return false;
    };
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    bytes.len() == 512 && key.verify(body, &sig).is_ok()
}

fn both_signatures_verify(seen: &Seen) -> bool {
    let ghl = seen.header("x-ghl-signature").unwrap_or_default();
    let wh = seen.header("x-wh-signature").unwrap_or_default();
    ed25519_ok(&seen.body, &ghl) && rsa_ok(&seen.body, &wh)
}

/// Books the `n`-th free slot of "Consulta general"; returns the appointment id.
async fn book(fx: &Fixture, n: usize) -> String {
    let slots = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 7).await;
    let (status, body) = fx.book(CONSULTA_GENERAL_CALENDAR_ID, &slots[n]).await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

async fn cancel(fx: &Fixture, id: &str) {
    let (status, body) = send(
        fx.ghl(Method::PUT, &format!("/calendars/events/appointments/{id}"))
            .json(&json!({"appointmentStatus": "cancelled"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Asserts that `keys` appear in this order as keys of the raw JSON text.
fn assert_key_order(text: &str, keys: &[&str]) {
    let mut last = 0;
    for key in keys {
        let at = text[last..]
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} missing or out of order in {text}"));
        last += at + 1;
    }
}

const APPOINTMENT_KEYS: [&str; 15] = [
    "id",
    "address",
    "title",
    "calendarId",
    "contactId",
    "groupId",
    "appointmentStatus",
    "assignedUserId",
    "users",
    "notes",
    "source",
    "startTime",
    "endTime",
    "dateAdded",
    "dateUpdated",
];

#[tokio::test]
async fn api_writes_echo_signed_create_update_and_delete_webhooks() {
    let (fx, hook) = setup().await;
    let id = book(&fx, 0).await;
    cancel(&fx, &id).await;
    let (status, body) = send(
        fx.ghl(Method::DELETE, &format!("/calendars/events/{id}"))
            .json(&json!({})),
    )
    .await;
    assert_eq!((status, body), (201, json!({"succeeded": true})));

    let seen = hook.wait(3).await;
    assert_eq!(seen.len(), 3);
    let kinds: Vec<String> = seen
        .iter()
        .map(|s| s.json()["type"].as_str().expect("type").to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "AppointmentCreate",
            "AppointmentUpdate",
            "AppointmentDelete"
        ]
    );
    for s in &seen {
        assert_eq!(s.target, "/hooks/ghl");
        assert_eq!(
            s.header("content-type").as_deref(),
            Some("application/json")
        );
        assert!(
            both_signatures_verify(s),
            "signatures verify over the raw bytes"
        );
        let text = std::str::from_utf8(&s.body).expect("utf-8");
        assert_key_order(
            text,
            &[
                "type",
                "locationId",
                "timestamp",
                "webhookId",
                "appointment",
            ],
        );
        assert_key_order(text, &APPOINTMENT_KEYS);
        let v = s.json();
        assert_eq!(v["locationId"], fx.location_id());
        assert_eq!(v["appointment"]["id"], id.as_str());
        assert_eq!(v["appointment"]["calendarId"], CONSULTA_GENERAL_CALENDAR_ID);
        assert!(v["appointment"]["users"].is_array());
        let ts = v["timestamp"].as_str().expect("timestamp");
        assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
        let at: DateTime<Utc> = ts.parse().expect("ISO-8601");
        assert!((Utc::now() - at).num_seconds().abs() < 30);
        assert_eq!(v["webhookId"].as_str().map(str::len), Some(36));
    }
    assert_eq!(
        seen[1].json()["appointment"]["appointmentStatus"],
        "cancelled"
    );
    let ids: std::collections::HashSet<_> =
        seen.iter().map(|s| s.json()["webhookId"].clone()).collect();
    assert_eq!(ids.len(), 3, "every event has its own webhookId");

    // The record holds exactly the bytes sent.
    let recorded = fx
        .sandbox
        .wait_for_ghl_deliveries(3, common::DEADLINE)
        .await;
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].body.as_bytes(), &seen[0].body[..]);
    assert_eq!(recorded[2].event_type, "AppointmentDelete");
    assert_eq!(recorded[0].status, Some(200));
}

#[tokio::test]
async fn rescheduling_sends_an_update_with_the_new_times() {
    let (fx, hook) = setup().await;
    let id = book(&fx, 0).await;
    let slots = fx.free_slots(CONSULTA_GENERAL_CALENDAR_ID, 7).await;
    let (status, _) = send(
        fx.ghl(Method::PUT, &format!("/calendars/events/appointments/{id}"))
            .json(&json!({"startTime": slots[3]})),
    )
    .await;
    assert_eq!(status, 200);
    let seen = hook.wait(2).await;
    assert_eq!(seen[1].json()["type"], "AppointmentUpdate");
    assert_eq!(
        seen[1].json()["appointment"]["startTime"],
        slots[3].as_str()
    );
}

#[tokio::test]
async fn no_webhook_url_means_no_deliveries() {
    let fx = Fixture::start().await;
    let id = {
        let slots = fx.free_slots(ODONTOLOGIA_CALENDAR_ID, 7).await;
        fx.book(ODONTOLOGIA_CALENDAR_ID, &slots[0]).await.1["id"].clone()
    };
    assert!(id.is_string());
    // Nothing is queued, held or scheduled: the sandbox's own record, not a pause.
    fx.idle().await;
    assert!(fx.sandbox.ghl_deliveries().is_empty());

    // The same write with a URL set is delivered, so the check above is not vacuous.
    let hook = Hook::start().await;
    fx.sandbox
        .set_ghl_webhook_url(Some(&format!("{}/hooks/ghl", hook.base)));
    let slots = fx.free_slots(ODONTOLOGIA_CALENDAR_ID, 7).await;
    assert_eq!(fx.book(ODONTOLOGIA_CALENDAR_ID, &slots[0]).await.0, 200);
    let seen = hook.settle(&fx, 1).await;
    assert_eq!(seen[0].json()["type"], "AppointmentCreate");
    assert_eq!(fx.sandbox.ghl_deliveries().len(), 1);
}

#[tokio::test]
async fn signature_modes_send_the_documented_headers() {
    let (fx, hook) = setup().await;
    let modes = [
        GhlSignatureMode::Ed25519Only,
        GhlSignatureMode::RsaOnly,
        GhlSignatureMode::NotApplicable,
    ];
    for (n, mode) in modes.into_iter().enumerate() {
        fx.sandbox.set_ghl_signature_mode(mode);
        book(&fx, n).await;
        hook.wait(n + 1).await;
    }
    let seen = hook.seen();
    // Ed25519 only (post-sunset).
    assert!(ed25519_ok(
        &seen[0].body,
        &seen[0].header("x-ghl-signature").expect("ed25519 header")
    ));
    assert_eq!(seen[0].header("x-wh-signature"), None);
    // Legacy only.
    assert_eq!(seen[1].header("x-ghl-signature"), None);
    assert!(rsa_ok(
        &seen[1].body,
        &seen[1].header("x-wh-signature").expect("rsa header")
    ));
    // `N/A` plus a valid RSA signature.
    assert_eq!(seen[2].header("x-ghl-signature").as_deref(), Some("N/A"));
    assert!(rsa_ok(
        &seen[2].body,
        &seen[2].header("x-wh-signature").expect("rsa header")
    ));
}

#[tokio::test]
async fn tampered_body_and_wrong_key_fail_verification_against_the_exported_keys() {
    let (fx, hook) = setup().await;
    fx.sandbox
        .set_ghl_signature_mode(GhlSignatureMode::TamperedBody);
    book(&fx, 0).await;
    fx.sandbox
        .set_ghl_signature_mode(GhlSignatureMode::WrongKey);
    book(&fx, 1).await;
    fx.sandbox.set_ghl_signature_mode(GhlSignatureMode::Both);
    book(&fx, 2).await;
    let seen = hook.wait(3).await;
    for s in &seen[..2] {
        let ghl = s.header("x-ghl-signature").expect("present");
        let wh = s.header("x-wh-signature").expect("present");
        assert!(!ed25519_ok(&s.body, &ghl));
        assert!(!rsa_ok(&s.body, &wh));
        assert_eq!(BASE64.decode(&ghl).expect("base64").len(), 64);
        assert_eq!(BASE64.decode(&wh).expect("base64").len(), 512);
    }
    // The tampered body is still JSON, just not what was signed.
    assert_eq!(seen[0].json()["type"], "AppointmentCreate");
    assert!(both_signatures_verify(&seen[2]));
}

#[tokio::test]
async fn a_429_answer_is_retried_with_the_same_bytes_until_a_non_429() {
    let (fx, hook) = setup().await;
    hook.answer_with(&[429, 429]);
    book(&fx, 0).await;
    hook.wait(3).await;
    let seen = hook.settle(&fx, 3).await;
    assert!(seen.iter().all(|s| s.body == seen[0].body));
    assert!(seen.iter().all(both_signatures_verify));
    let attempts: Vec<(u32, Option<u16>)> = fx
        .sandbox
        .ghl_deliveries()
        .iter()
        .map(|d| (d.attempt, d.status))
        .collect();
    assert_eq!(attempts, [(0, Some(429)), (1, Some(429)), (2, Some(200))]);
}

#[tokio::test]
async fn a_429_forever_gets_six_retries_then_the_event_is_lost() {
    let (fx, hook) = setup().await;
    hook.answer_with(&[429; 10]);
    book(&fx, 0).await;
    hook.wait(7).await;
    hook.settle(&fx, 7).await;
    assert_eq!(
        fx.sandbox.ghl_deliveries().last().map(|d| d.attempt),
        Some(6)
    );
}

#[tokio::test]
async fn a_500_or_404_answer_is_final() {
    let (fx, hook) = setup().await;
    hook.answer_with(&[500, 404]);
    let id = book(&fx, 0).await;
    cancel(&fx, &id).await;
    hook.wait(2).await;
    let seen = hook.settle(&fx, 2).await;
    assert_eq!(seen[0].json()["type"], "AppointmentCreate");
    assert_eq!(seen[1].json()["type"], "AppointmentUpdate");
}

#[tokio::test]
async fn duplicate_and_drop_faults() {
    let (fx, hook) = setup().await;
    fx.sandbox
        .inject(Fault::new("ghl.webhooks", FaultKind::Duplicate).once());
    let id = book(&fx, 0).await;
    hook.wait(2).await;
    fx.sandbox
        .inject(Fault::new("ghl.webhooks", FaultKind::Drop).once());
    cancel(&fx, &id).await;
    let seen = hook.settle(&fx, 2).await;
    assert_eq!(seen[0].body, seen[1].body, "same bytes, same webhookId");
    let recorded = fx.sandbox.ghl_deliveries();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[2].event_type, "AppointmentUpdate");
    assert_eq!(recorded[2].error.as_deref(), Some("dropped by fault"));
    assert_eq!(recorded[2].faults, ["drop"]);
    assert!(fx.sandbox.faults().is_empty(), "once-faults are used up");
}

#[tokio::test]
async fn out_of_order_fault_delivers_the_update_before_the_create() {
    let (fx, hook) = setup().await;
    fx.sandbox
        .inject(Fault::new("ghl.webhooks", FaultKind::OutOfOrder).once());
    let id = book(&fx, 0).await;
    cancel(&fx, &id).await;
    let seen = hook.wait(2).await;
    let kinds: Vec<_> = seen.iter().map(|s| s.json()["type"].clone()).collect();
    assert_eq!(
        kinds,
        [json!("AppointmentUpdate"), json!("AppointmentCreate")]
    );
}

#[tokio::test]
async fn delay_fault_delivers_later() {
    let (fx, hook) = setup().await;
    fx.sandbox
        .inject(Fault::new("ghl.webhooks", FaultKind::Delay { ms: 400 }).once());
    let written = std::time::Instant::now();
    book(&fx, 0).await;
    assert_eq!(hook.wait(1).await.len(), 1);
    // Measured, not guessed: it cannot have arrived before the delay ran out after the write.
    assert!(
        written.elapsed() >= Duration::from_millis(400),
        "delivered after {:?}",
        written.elapsed()
    );
    let seen = hook.settle(&fx, 1).await;
    assert_eq!(seen[0].json()["type"], "AppointmentCreate");
    assert_eq!(fx.sandbox.ghl_deliveries()[0].faults, ["delay"]);
}

#[tokio::test]
async fn body_faults_reshape_the_body_and_still_sign_it() {
    let (fx, hook) = setup().await;
    let inject = |kind| fx.sandbox.inject(Fault::new("ghl.webhooks", kind).once());
    inject(FaultKind::StaleTimestamp { secs: 3 * 3600 });
    let a = book(&fx, 0).await;
    hook.wait(1).await;
    inject(FaultKind::DataEnvelope);
    book(&fx, 1).await;
    hook.wait(2).await;
    inject(FaultKind::WrongType);
    cancel(&fx, &a).await;
    hook.wait(3).await;
    inject(FaultKind::MissingOptionalFields);
    book(&fx, 2).await;
    hook.wait(4).await;
    inject(FaultKind::UnknownId);
    book(&fx, 3).await;
    let seen = hook.wait(5).await;
    let recorded = fx
        .sandbox
        .wait_for_ghl_deliveries(5, common::DEADLINE)
        .await;
    assert!(seen.iter().all(both_signatures_verify));

    let stale: DateTime<Utc> = seen[0].json()["timestamp"]
        .as_str()
        .expect("timestamp")
        .parse()
        .expect("ISO");
    assert!((Utc::now() - stale).num_minutes() >= 179);

    let enveloped = seen[1].json();
    assert!(enveloped.get("appointment").is_none());
    assert_eq!(
        enveloped["data"]["calendarId"],
        CONSULTA_GENERAL_CALENDAR_ID
    );
    assert_eq!(enveloped["type"], "AppointmentCreate");

    let wrong = seen[2].json();
    assert_eq!(wrong["type"], "AppointmentCreate");
    assert_eq!(wrong["appointment"]["appointmentStatus"], "cancelled");
    assert_eq!(recorded[2].event_type, "AppointmentUpdate");

    let sparse = seen[3].json();
    for key in [
        "address",
        "notes",
        "groupId",
        "users",
        "source",
        "title",
        "dateAdded",
    ] {
        assert!(sparse["appointment"].get(key).is_none(), "{key} left out");
    }
    assert!(sparse["appointment"]["dateUpdated"].is_string());

    let unknown = seen[4].json();
    let real = &recorded[4].appointment_id;
    assert_ne!(unknown["appointment"]["id"].as_str(), Some(real.as_str()));
}

#[tokio::test]
async fn control_routes_set_the_webhook_url_and_signature_mode() {
    let fx = Fixture::start().await;
    let hook = Hook::start().await;
    let (status, settings) = send(fx.control(Method::POST, "/settings").json(&json!({
        "ghl_webhook_url": format!("{}/hooks/ghl?clinic=1", hook.base),
        "ghl_signature_mode": "ed25519_only",
    })))
    .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["ghl_signature_mode"], "ed25519_only");
    book(&fx, 0).await;
    let seen = hook.wait(1).await;
    assert_eq!(seen[0].target, "/hooks/ghl?clinic=1");
    assert_eq!(seen[0].header("x-wh-signature"), None);
    let (_, listed) = send(fx.control(Method::GET, "/ghl/deliveries")).await;
    assert_eq!(listed["deliveries"].as_array().map(Vec::len), Some(1));
    // `null` stops deliveries.
    let (status, _) = send(
        fx.control(Method::POST, "/settings")
            .json(&json!({"ghl_webhook_url": null})),
    )
    .await;
    assert_eq!(status, 200);
    book(&fx, 1).await;
    hook.settle(&fx, 1).await;
}
