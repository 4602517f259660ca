//! The client against the sandbox's newer features: contacts create/lookup/search, delete,
//! messages, OAuth (code exchange, expiry, rotation, reuse, suspension), signed appointment
//! webhooks in every signature mode, the sandbox's rate-limit headers, and strict `Version`
//! checking. The sandbox was written independently from the same document, so agreement here
//! is evidence both read ghl.md the same way.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, Utc};
use chrono_tz::America::Lima;
use common::{Reply, recording};
use ghl::client::format_slot_time;
use ghl::{
    Client, ClientConfig, ContactSearch, DuplicateKey, Error, MemoryTokenStore, NewAppointment,
    NewContact, OAuthConfig, OutboundMessage, SignatureError, SignatureScheme, TokenStore,
    WebhookEvent, WebhookKeys, WebhookKind,
};
use sandbox::{
    DEMO_GHL_OAUTH_CLIENT_ID, DEMO_GHL_OAUTH_CLIENT_SECRET, GhlRateLimit, GhlSignatureMode,
    SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM, SANDBOX_GHL_RSA_PUBLIC_KEY_PEM, Sandbox, SandboxConfig,
    seed,
};
use secrecy::{ExposeSecret, SecretString};

async fn start() -> (Sandbox, Client) {
    let sandbox = Sandbox::start(SandboxConfig::demo())
        .await
        .expect("sandbox starts on loopback");
    let client = Client::new(ClientConfig::new(
        sandbox.ghl_base_url(),
        SecretString::from(sandbox.config().ghl_access_token.clone()),
    ))
    .expect("client builds");
    (sandbox, client)
}

fn location(sandbox: &Sandbox) -> String {
    sandbox.config().location_id.clone()
}

/// A booking at `hour`:00 tomorrow in Lima on "Consulta general".
fn booking_at(sandbox: &Sandbox, hour: u32) -> NewAppointment {
    let today = Utc::now().with_timezone(&Lima).date_naive();
    let day = today.checked_add_days(Days::new(1)).expect("tomorrow");
    let start: DateTime<_> = day
        .and_hms_opt(hour, 0, 0)
        .expect("hour")
        .and_local_timezone(Lima)
        .single()
        .expect("one offset");
    NewAppointment {
        calendar_id: seed::CONSULTA_GENERAL_CALENDAR_ID.to_owned(),
        location_id: location(sandbox),
        contact_id: seed::CONTACT_IDS[2].to_owned(),
        start_time: format_slot_time(&start),
        end_time: format_slot_time(&(start + chrono::Duration::minutes(30))),
        title: Some("Consulta general - Ana Torres".to_owned()),
        appointment_status: "confirmed".to_owned(),
        assigned_user_id: Some(seed::CONSULTA_GENERAL_USER_ID.to_owned()),
        ignore_free_slot_validation: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Contacts, delete, messages
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn duplicate_create_hands_back_the_existing_contact_id() {
    let (sandbox, client) = start().await;
    let (first, last, phone, _) = seed::CONTACTS[0];
    let err = client
        .create_contact(&NewContact {
            location_id: location(&sandbox),
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            phone: Some(phone.into()),
            ..NewContact::default()
        })
        .await
        .expect_err("the location disallows duplicates");
    match err {
        Error::DuplicateContact {
            contact_id,
            matching_field,
            ..
        } => {
            assert_eq!(contact_id, seed::CONTACT_IDS[0]);
            assert_eq!(matching_field.as_deref(), Some("phone"));
        }
        other => panic!("expected DuplicateContact, got {other:?}"),
    }

    let created = client
        .create_contact(&NewContact {
            location_id: location(&sandbox),
            first_name: Some("Rosa".into()),
            phone: Some("+51944556677".into()),
            ..NewContact::default()
        })
        .await
        .expect("a new phone creates");
    assert_eq!(created.phone.as_deref(), Some("+51944556677"));
}

#[tokio::test]
async fn duplicate_lookup_finds_by_phone_and_email_and_misses_with_none() {
    let (sandbox, client) = start().await;
    let (_, _, phone, email) = seed::CONTACTS[1];
    let by_phone = client
        .find_duplicate_contact(&location(&sandbox), &DuplicateKey::Phone(phone.into()))
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(by_phone.id, seed::CONTACT_IDS[1]);
    let by_email = client
        .find_duplicate_contact(&location(&sandbox), &DuplicateKey::Email(email.into()))
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(by_email.id, seed::CONTACT_IDS[1]);
    let none = client
        .find_duplicate_contact(
            &location(&sandbox),
            &DuplicateKey::Phone("+51900000000".into()),
        )
        .await
        .expect("lookup");
    assert_eq!(none, None);
}

#[tokio::test]
async fn search_finds_a_seeded_contact_by_query() {
    let (sandbox, client) = start().await;
    let result = client
        .search_contacts(&ContactSearch {
            location_id: location(&sandbox),
            page_limit: 20,
            page: Some(1),
            query: Some("Quispe".into()),
            ..ContactSearch::default()
        })
        .await
        .expect("search");
    assert!(
        result.contacts.iter().any(|c| c.id == seed::CONTACT_IDS[1]),
        "{result:?}"
    );
}

#[tokio::test]
async fn deleted_appointment_is_gone() {
    let (sandbox, client) = start().await;
    let created = client
        .create_appointment(&booking_at(&sandbox, 9))
        .await
        .expect("booked");
    client
        .delete_appointment(&created.id)
        .await
        .expect("deleted");
    let err = client.get_appointment(&created.id).await.expect_err("gone");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    // The slot is free again.
    client
        .create_appointment(&booking_at(&sandbox, 9))
        .await
        .expect("rebooked");
}

#[tokio::test]
async fn messages_reach_the_contact_with_the_minimal_body() {
    let (sandbox, client) = start().await;
    let sent = client
        .send_message(&OutboundMessage::sms(
            seed::CONTACT_IDS[0],
            "Su cita es mañana",
        ))
        .await
        .expect("sent");
    assert!(sent.message_id.is_some());
    let messages = sandbox.ghl_messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, "SMS");
    assert_eq!(messages[0].contact_id, seed::CONTACT_IDS[0]);
    assert_eq!(messages[0].message.as_deref(), Some("Su cita es mañana"));
}

// ---------------------------------------------------------------------------------------------
// Version strictness and rate-limit headers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_family_passes_strict_version_checking() {
    let (sandbox, client) = start().await;
    sandbox.set_ghl_version_strict(true);
    let loc = location(&sandbox);
    client.get_location(&loc).await.expect("location");
    client.list_calendars(&loc).await.expect("calendars");
    client
        .get_calendar(seed::CONSULTA_GENERAL_CALENDAR_ID)
        .await
        .expect("calendar");
    let created = client
        .create_appointment(&booking_at(&sandbox, 11))
        .await
        .expect("create");
    client
        .cancel_appointment(&created.id)
        .await
        .expect("cancel");
    client
        .delete_appointment(&created.id)
        .await
        .expect("delete");
    client
        .get_contact(seed::CONTACT_IDS[0])
        .await
        .expect("contact");
    client
        .search_contacts(&ContactSearch {
            location_id: loc.clone(),
            page_limit: 5,
            ..ContactSearch::default()
        })
        .await
        .expect("search");
    client
        .send_message(&OutboundMessage::sms(seed::CONTACT_IDS[0], "Hola"))
        .await
        .expect("message");
}

#[tokio::test]
async fn a_tight_sandbox_limit_is_followed_without_errors() {
    let (sandbox, client) = start().await;
    sandbox.set_ghl_rate_limit(GhlRateLimit {
        burst_max: 4,
        burst_window: Duration::from_millis(300),
        daily_max: 200_000,
    });
    let loc = location(&sandbox);
    let started = std::time::Instant::now();
    for _ in 0..10 {
        client.get_location(&loc).await.expect("never rate limited");
    }
    // 10 calls at 4 per 300 ms need at least two full windows.
    assert!(
        started.elapsed() >= Duration::from_millis(550),
        "{:?}",
        started.elapsed()
    );
    // Room for a slow machine over the ~0.6 s needed; waiting a default 10 s window would not fit.
    assert!(started.elapsed() < Duration::from_secs(8));
}

// ---------------------------------------------------------------------------------------------
// OAuth
// ---------------------------------------------------------------------------------------------

fn oauth_client(sandbox: &Sandbox, store: Arc<MemoryTokenStore>) -> Client {
    Client::new(ClientConfig::oauth(
        sandbox.ghl_base_url(),
        OAuthConfig::new(
            DEMO_GHL_OAUTH_CLIENT_ID,
            SecretString::from(DEMO_GHL_OAUTH_CLIENT_SECRET.to_owned()),
            store,
        ),
    ))
    .expect("client builds")
}

#[tokio::test]
async fn oauth_install_expiry_rotation_and_reuse_against_the_sandbox() {
    let (sandbox, _) = start().await;
    sandbox.set_ghl_version_strict(true);
    let store = Arc::new(MemoryTokenStore::default());
    let client = oauth_client(&sandbox, store.clone());
    let code = sandbox.issue_ghl_oauth_code();
    let first = client
        .exchange_authorization_code(&code, None)
        .await
        .expect("code exchanged");
    client
        .get_location(&location(&sandbox))
        .await
        .expect("the OAuth token works");

    // The sandbox clock jumps past the access token's life: 401, refresh, retry.
    let stale_copy = store.current().expect("stored");
    sandbox.advance_clock(Duration::from_secs(25 * 3600));
    client
        .list_calendars(&location(&sandbox))
        .await
        .expect("recovered through one refresh");
    let rotated = store.current().expect("stored");
    assert_ne!(
        rotated.refresh_token.expose_secret(),
        first.refresh_token.expose_secret(),
        "the refresh token rotated"
    );

    // Past GHL's 30-second window, the consumed refresh token is refused.
    sandbox.advance_clock(Duration::from_secs(60));
    let mut expired = stale_copy;
    expired.expires_at = Utc::now() - chrono::Duration::seconds(1);
    let stale = oauth_client(&sandbox, Arc::new(MemoryTokenStore::new(Some(expired))));
    let err = stale
        .get_location(&location(&sandbox))
        .await
        .expect_err("consumed refresh token");
    assert!(
        matches!(err, Error::ReauthorizationRequired { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn suspended_location_turns_refresh_into_reauthorisation() {
    let (sandbox, _) = start().await;
    let store = Arc::new(MemoryTokenStore::default());
    let client = oauth_client(&sandbox, store.clone());
    client
        .exchange_authorization_code(&sandbox.issue_ghl_oauth_code(), None)
        .await
        .expect("code exchanged");
    let mut due = store.current().expect("stored");
    due.expires_at = Utc::now();
    store.save(&due).expect("saved");
    sandbox.set_ghl_location_suspended(true);
    let fresh_client = oauth_client(&sandbox, store);
    let err = fresh_client
        .get_location(&location(&sandbox))
        .await
        .expect_err("suspended");
    assert!(
        matches!(&err, Error::ReauthorizationRequired { message: Some(m), .. } if m.contains("Location is not active")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Webhooks signed by the sandbox
// ---------------------------------------------------------------------------------------------

fn sandbox_keys() -> WebhookKeys {
    WebhookKeys::from_pems(&format!(
        "{SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM}\n{SANDBOX_GHL_RSA_PUBLIC_KEY_PEM}"
    ))
    .expect("the sandbox's public keys load")
}

#[tokio::test]
async fn sandbox_webhooks_verify_per_signature_mode_and_parse() {
    let (sandbox, client) = start().await;
    let (receiver, _log) = recording(|_, _| Reply::json(200, "{}")).await;
    sandbox.set_ghl_webhook_url(Some(&format!("{receiver}/ghl/webhook")));
    let keys = sandbox_keys();
    let cases = [
        (GhlSignatureMode::Both, Ok(SignatureScheme::Ed25519)),
        (GhlSignatureMode::Ed25519Only, Ok(SignatureScheme::Ed25519)),
        (GhlSignatureMode::RsaOnly, Ok(SignatureScheme::RsaSha256)),
        (
            GhlSignatureMode::NotApplicable,
            Ok(SignatureScheme::RsaSha256),
        ),
        (
            GhlSignatureMode::TamperedBody,
            Err(SignatureError::Mismatch(SignatureScheme::Ed25519)),
        ),
        (
            GhlSignatureMode::WrongKey,
            Err(SignatureError::Mismatch(SignatureScheme::Ed25519)),
        ),
    ];
    for (i, (mode, expected)) in cases.into_iter().enumerate() {
        sandbox.set_ghl_signature_mode(mode);
        let created = client
            .create_appointment(&booking_at(&sandbox, 8 + i as u32))
            .await
            .expect("booked");
        let deliveries = sandbox
            .wait_for_ghl_deliveries(i + 1, Duration::from_secs(20))
            .await;
        assert!(
            deliveries.len() > i,
            "{mode:?}: {} deliveries",
            deliveries.len()
        );
        let delivery = deliveries
            .iter()
            .find(|d| d.appointment_id == created.id)
            .unwrap_or_else(|| panic!("{mode:?}: a delivery for {}", created.id));
        let pairs = delivery
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(
            keys.verify_pairs(pairs, delivery.body.as_bytes()),
            expected,
            "{mode:?}"
        );
        let event = WebhookEvent::parse(delivery.body.as_bytes()).expect("parses");
        if expected.is_ok() {
            assert_eq!(event.kind, WebhookKind::AppointmentCreate, "{mode:?}");
            assert_eq!(
                event.webhook_id.as_deref(),
                Some(delivery.webhook_id.as_str())
            );
            assert_eq!(
                event.location_id.as_deref(),
                Some(location(&sandbox).as_str())
            );
            assert!(event.timestamp_utc().is_some(), "{mode:?}");
            let a = event.appointment.expect("appointment");
            assert_eq!(a.id.as_deref(), Some(created.id.as_str()));
        }
    }
    // GHL's production keys never accept the sandbox's signatures.
    let production = WebhookKeys::ghl_defaults().expect("defaults");
    let d = &sandbox.ghl_deliveries()[0];
    let pairs = d.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    assert!(production.verify_pairs(pairs, d.body.as_bytes()).is_err());
}
