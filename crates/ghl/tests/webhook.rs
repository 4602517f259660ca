//! Golden tests for GHL webhook verification and parsing (ghl.md §8): signatures made in the
//! test with its own Ed25519 key and a fixed RSA test key, and the doc's example payloads
//! copied from `shared/providers/vectors/examples/` into `tests/vectors/`.

use std::path::Path;

use ed25519_dalek::pkcs8::EncodePublicKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ghl::webhook::{
    GHL_ED25519_PUBLIC_KEY_PEM, GHL_RSA_PUBLIC_KEY_PEM, KeyError, ParseError, encode_signature,
};
use ghl::{SignatureError, SignatureScheme, WebhookEvent, WebhookKeys, WebhookKind};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use sha2::Sha256;

const RSA_PRIVATE_PEM: &str = include_str!("fixtures/webhook_test_rsa_private.pem");
const RSA_PUBLIC_PEM: &str = include_str!("fixtures/webhook_test_rsa_public.pem");

const BODY: &[u8] = br#"{"type":"AppointmentUpdate","locationId":"0007BWpSzSwfiuSl0tR2","timestamp":"2025-01-28T14:35:00.000Z","webhookId":"1a533f85-1f1e-4886-891e-ee0cf4666e90","appointment":{"id":"0TkCdp9PfvLeWKYRRvIz","appointmentStatus":"cancelled","startTime":"2023-09-25T16:00:00+05:30"}}"#;

fn ed_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7_u8; 32])
}

fn other_ed_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[9_u8; 32])
}

fn ed_public_pem(key: &ed25519_dalek::SigningKey) -> String {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("pem")
}

fn ed_sign(key: &ed25519_dalek::SigningKey, body: &[u8]) -> String {
    use ed25519_dalek::Signer as _;
    encode_signature(&key.sign(body).to_bytes())
}

fn rsa_sign(body: &[u8]) -> String {
    let private = rsa::PrivateKey::from_pkcs8_pem(RSA_PRIVATE_PEM).expect("test RSA key");
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(private);
    encode_signature(&signer.sign(body).to_vec())
}

/// The test's keys only (as the sandbox configures its own pairs).
fn test_keys() -> WebhookKeys {
    WebhookKeys::from_pems(&format!("{}{}", ed_public_pem(&ed_key()), RSA_PUBLIC_PEM))
        .expect("test keys load")
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.insert(*name, HeaderValue::from_str(value).expect("header value"));
    }
    h
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[test]
fn ghl_published_keys_load_as_one_ed25519_and_one_rsa() {
    let keys = WebhookKeys::ghl_defaults().expect("GHL's PEMs parse");
    assert_eq!(keys.counts(), (1, 1));
    let ed = WebhookKeys::from_pems(GHL_ED25519_PUBLIC_KEY_PEM).expect("ed25519");
    assert_eq!(ed.counts(), (1, 0));
    let rsa = WebhookKeys::from_pems(GHL_RSA_PUBLIC_KEY_PEM).expect("rsa");
    assert_eq!(rsa.counts(), (0, 1));
}

#[test]
fn concatenated_pems_are_told_apart_by_parsing() {
    let text = format!(
        "# rotated keys\n{}\n\n{}{}",
        RSA_PUBLIC_PEM,
        ed_public_pem(&ed_key()),
        ed_public_pem(&other_ed_key())
    );
    let keys = WebhookKeys::ghl_defaults()
        .expect("defaults")
        .with_pems(&text)
        .expect("extra keys");
    assert_eq!(keys.counts(), (3, 2));
}

#[test]
fn garbage_pem_is_refused_with_its_index() {
    let bad = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    let err = WebhookKeys::from_pems(&format!("{GHL_ED25519_PUBLIC_KEY_PEM}{bad}"))
        .expect_err("not a key");
    assert_eq!(err, KeyError::Unsupported { index: 1 });
    assert_eq!(
        WebhookKeys::from_pems("no pem here").expect_err("empty"),
        KeyError::NoPem
    );
}

#[test]
fn env_keys_are_added_to_the_defaults() {
    // Only this test touches the variable.
    // SAFETY: no other thread of this test binary reads or writes GHL_WEBHOOK_PUBLIC_KEYS.
    unsafe { std::env::set_var(ghl::webhook::PUBLIC_KEYS_ENV, ed_public_pem(&ed_key())) };
    let keys = WebhookKeys::from_env().expect("env keys");
    unsafe { std::env::remove_var(ghl::webhook::PUBLIC_KEYS_ENV) };
    assert_eq!(keys.counts(), (2, 1));
    let sig = ed_sign(&ed_key(), BODY);
    assert_eq!(
        keys.verify_signatures(Some(&sig), None, BODY),
        Ok(SignatureScheme::Ed25519)
    );
}

// ---------------------------------------------------------------------------------------------
// Verification order (§8.3)
// ---------------------------------------------------------------------------------------------

#[test]
fn ed25519_signature_over_the_raw_body_is_accepted() {
    let h = headers(&[("X-GHL-Signature", &ed_sign(&ed_key(), BODY))]);
    assert_eq!(test_keys().verify(&h, BODY), Ok(SignatureScheme::Ed25519));
}

#[test]
fn header_names_match_case_insensitively_in_pairs() {
    let sig = ed_sign(&ed_key(), BODY);
    let pairs = [
        ("content-type", "application/json"),
        ("X-Ghl-SIGNATURE", sig.as_str()),
    ];
    assert_eq!(
        test_keys().verify_pairs(pairs, BODY),
        Ok(SignatureScheme::Ed25519)
    );
    let rsa = rsa_sign(BODY);
    let pairs = [("x-wh-signature", rsa.as_str())];
    assert_eq!(
        test_keys().verify_pairs(pairs, BODY),
        Ok(SignatureScheme::RsaSha256)
    );
}

#[test]
fn tampered_body_is_rejected() {
    let sig = ed_sign(&ed_key(), BODY);
    let tampered = String::from_utf8_lossy(BODY).replace("cancelled", "confirmed");
    let h = headers(&[("x-ghl-signature", &sig)]);
    assert_eq!(
        test_keys().verify(&h, tampered.as_bytes()),
        Err(SignatureError::Mismatch(SignatureScheme::Ed25519))
    );
    // Re-serialising the same JSON (as GHL's TS SDK does) changes the bytes: also rejected.
    let reserialised = serde_json::to_vec_pretty(
        &serde_json::from_slice::<serde_json::Value>(BODY).expect("json"),
    )
    .expect("json");
    assert!(test_keys().verify(&h, &reserialised).is_err());
}

#[test]
fn not_available_ed25519_header_falls_back_to_rsa() {
    for placeholder in ["N/A", "", "  "] {
        let h = headers(&[
            ("x-ghl-signature", placeholder),
            ("x-wh-signature", &rsa_sign(BODY)),
        ]);
        assert_eq!(
            test_keys().verify(&h, BODY),
            Ok(SignatureScheme::RsaSha256),
            "{placeholder:?}"
        );
    }
}

#[test]
fn rsa_alone_is_accepted_and_tampering_rejected() {
    let h = headers(&[("x-wh-signature", &rsa_sign(BODY))]);
    assert_eq!(test_keys().verify(&h, BODY), Ok(SignatureScheme::RsaSha256));
    assert_eq!(
        test_keys().verify(&h, b"{}"),
        Err(SignatureError::Mismatch(SignatureScheme::RsaSha256))
    );
}

#[test]
fn bad_ed25519_with_valid_rsa_is_rejected_without_fallback() {
    let wrong_key = ed_sign(&other_ed_key(), BODY);
    let h = headers(&[
        ("x-ghl-signature", &wrong_key),
        ("x-wh-signature", &rsa_sign(BODY)),
    ]);
    assert_eq!(
        test_keys().verify(&h, BODY),
        Err(SignatureError::Mismatch(SignatureScheme::Ed25519))
    );
    // A malformed Ed25519 header does not fall back either.
    let h = headers(&[
        ("x-ghl-signature", "not base64!"),
        ("x-wh-signature", &rsa_sign(BODY)),
    ]);
    assert_eq!(
        test_keys().verify(&h, BODY),
        Err(SignatureError::Malformed(SignatureScheme::Ed25519))
    );
}

#[test]
fn ed25519_signature_of_the_wrong_length_is_malformed() {
    let short = encode_signature(&[1_u8; 63]);
    assert_eq!(
        test_keys().verify_signatures(Some(&short), None, BODY),
        Err(SignatureError::Malformed(SignatureScheme::Ed25519))
    );
}

#[test]
fn missing_signatures_are_rejected() {
    assert_eq!(
        test_keys().verify(&HeaderMap::new(), BODY),
        Err(SignatureError::Missing)
    );
    let h = headers(&[("x-ghl-signature", "N/A"), ("x-wh-signature", "N/A")]);
    assert_eq!(test_keys().verify(&h, BODY), Err(SignatureError::Missing));
}

#[test]
fn test_signatures_fail_against_ghl_production_keys() {
    let keys = WebhookKeys::ghl_defaults().expect("defaults");
    let h = headers(&[("x-ghl-signature", &ed_sign(&ed_key(), BODY))]);
    assert_eq!(
        keys.verify(&h, BODY),
        Err(SignatureError::Mismatch(SignatureScheme::Ed25519))
    );
    let h = headers(&[("x-wh-signature", &rsa_sign(BODY))]);
    // A 2048-bit signature against GHL's 4096-bit key never verifies.
    assert!(keys.verify(&h, BODY).is_err());
}

#[test]
fn signature_of_an_algorithm_without_keys_is_rejected() {
    let only_rsa = WebhookKeys::from_pems(RSA_PUBLIC_PEM).expect("rsa");
    let h = headers(&[
        ("x-ghl-signature", &ed_sign(&ed_key(), BODY)),
        ("x-wh-signature", &rsa_sign(BODY)),
    ]);
    assert_eq!(
        only_rsa.verify(&h, BODY),
        Err(SignatureError::NoKey(SignatureScheme::Ed25519))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_byte_change_fails_verification(index in 0..BODY.len(), delta in 1_u8..=255) {
        let keys = test_keys();
        let ed = ed_sign(&ed_key(), BODY);
        let mut changed = BODY.to_vec();
        changed[index] = changed[index].wrapping_add(delta);
        prop_assert!(keys.verify_signatures(Some(&ed), None, &changed).is_err());
        prop_assert!(keys.verify_signatures(Some(&ed), None, BODY).is_ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn any_single_byte_change_fails_rsa_verification(index in 0..BODY.len(), delta in 1_u8..=255) {
        let keys = test_keys();
        let rsa = rsa_sign(BODY);
        let mut changed = BODY.to_vec();
        changed[index] = changed[index].wrapping_add(delta);
        prop_assert!(keys.verify_signatures(None, Some(&rsa), &changed).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing (§8.2)
// ---------------------------------------------------------------------------------------------

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(name),
    )
    .expect("vector file")
}

#[test]
fn doc_examples_parse_despite_the_wrong_type_and_missing_envelope_fields() {
    for name in [
        "ghl_AppointmentCreate__official_doc_example.json",
        "ghl_AppointmentUpdate__official_doc_example.json",
        "ghl_AppointmentDelete__official_doc_example.json",
    ] {
        let event = WebhookEvent::parse(&vector(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The doc bug: every example says AppointmentCreate; we dispatch on what the body says.
        assert_eq!(event.kind, WebhookKind::AppointmentCreate, "{name}");
        assert_eq!(event.location_id.as_deref(), Some("0007BWpSzSwfiuSl0tR2"));
        assert_eq!(event.timestamp, None, "{name}");
        assert_eq!(event.webhook_id, None, "{name}");
        assert_eq!(event.timestamp_utc(), None);
        let a = event.appointment.expect("appointment");
        assert_eq!(a.id.as_deref(), Some("0007BWpSzSwfiuSl0tR2"));
        assert_eq!(a.calendar_id.as_deref(), Some("BqTwX8QFwXzpegMve9EQ"));
        assert_eq!(a.contact_id.as_deref(), Some("9NkT25Vor1v4aQatFsv2"));
        assert_eq!(a.appointment_status.as_deref(), Some("confirmed"));
        assert_eq!(a.users, ["YlWd2wuCAZQzh2cH1fVZ", "9NkT25Vor1v4aQatFsv2"]);
        assert_eq!(a.source.as_deref(), Some("booking_widget"));
        assert_eq!(a.start_time.as_deref(), Some("2023-09-25T16:00:00+05:30"));
        assert_eq!(a.date_updated.as_deref(), Some("2023-09-25T16:00:00+05:30"));
    }
}

#[test]
fn flat_shape_with_envelope_fields_parses_and_dispatches_on_type() {
    let event = WebhookEvent::parse(BODY).expect("parses");
    assert_eq!(event.kind, WebhookKind::AppointmentUpdate);
    assert_eq!(
        event.webhook_id.as_deref(),
        Some("1a533f85-1f1e-4886-891e-ee0cf4666e90")
    );
    assert_eq!(
        event.timestamp_utc().map(|t| t.to_rfc3339()),
        Some("2025-01-28T14:35:00+00:00".to_owned())
    );
    let a = event.appointment.expect("appointment");
    assert_eq!(a.appointment_status.as_deref(), Some("cancelled"));
    assert_eq!(a.title, None, "absent fields are None");
}

#[test]
fn data_envelope_shapes_parse() {
    let wrapped = br#"{"type":"AppointmentDelete","timestamp":"2025-01-28T14:35:00.000Z","webhookId":"w-1","data":{"locationId":"Loc1","appointment":{"id":"Evt1","calendarId":"Cal1"}}}"#;
    let event = WebhookEvent::parse(wrapped).expect("parses");
    assert_eq!(event.kind, WebhookKind::AppointmentDelete);
    assert_eq!(event.location_id.as_deref(), Some("Loc1"));
    assert_eq!(event.webhook_id.as_deref(), Some("w-1"));
    assert_eq!(
        event.appointment.and_then(|a| a.id).as_deref(),
        Some("Evt1")
    );

    let direct = br#"{"type":"AppointmentCreate","webhookId":"w-2","data":{"id":"Evt2","locationId":"Loc2","calendarId":"Cal1","startTime":"2026-12-01T10:00:00-05:00"}}"#;
    let event = WebhookEvent::parse(direct).expect("parses");
    assert_eq!(event.kind, WebhookKind::AppointmentCreate);
    assert_eq!(event.location_id.as_deref(), Some("Loc2"));
    let a = event.appointment.expect("data is the appointment");
    assert_eq!(a.id.as_deref(), Some("Evt2"));
    assert_eq!(a.start_time.as_deref(), Some("2026-12-01T10:00:00-05:00"));
}

#[test]
fn other_types_and_odd_fields_are_tolerated() {
    let event = WebhookEvent::parse(br#"{"type":"ContactCreate","id":"x"}"#).expect("parses");
    assert_eq!(
        event.kind,
        WebhookKind::Unknown(Some("ContactCreate".into()))
    );
    assert_eq!(event.appointment, None);

    let event = WebhookEvent::parse(br#"{}"#).expect("empty object");
    assert_eq!(event.kind, WebhookKind::Unknown(None));

    let odd = br#"{"type":"AppointmentUpdate","locationId":5,"appointment":{"id":12,"users":"u","title":null}}"#;
    let event = WebhookEvent::parse(odd).expect("wrong types read as absent");
    assert_eq!(event.location_id, None);
    let a = event.appointment.expect("appointment");
    assert_eq!(a.id, None);
    assert!(a.users.is_empty());
}

#[test]
fn non_objects_are_parse_errors() {
    assert_eq!(WebhookEvent::parse(b"not json"), Err(ParseError::NotJson));
    assert_eq!(WebhookEvent::parse(b"[1,2]"), Err(ParseError::NotAnObject));
    assert_eq!(WebhookEvent::parse(b""), Err(ParseError::NotJson));
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = WebhookEvent::parse(&bytes);
        let _ = test_keys().verify_signatures(Some("AAAA"), Some("AAAA"), &bytes);
    }
}

#[test]
fn staleness_uses_the_timestamp_and_spares_events_without_one() {
    let event = WebhookEvent::parse(BODY).expect("parses");
    let at = event.timestamp_utc().expect("timestamp");
    let window = ghl::webhook::REPLAY_WINDOW;
    assert!(!event.is_stale(at + chrono::Duration::minutes(70), window));
    assert!(event.is_stale(at + chrono::Duration::minutes(76), window));
    let undated = WebhookEvent::parse(br#"{"type":"AppointmentCreate"}"#).expect("parses");
    assert!(!undated.is_stale(at, window));
}
