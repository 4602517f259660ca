//! The GHL listener: signatures, then bodies behind a valid signature.

use super::*;
use sandbox::seed;
use serde_json::{Value, json};

pub fn ghl_event(hub: &Hub, kind: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    json!({
        "type": kind,
        "locationId": hub.location_id,
        "timestamp": iso(at),
        "webhookId": uuid::Uuid::new_v4().to_string(),
        "appointment": {
            "id": hub.ghl_id,
            "calendarId": seed::CONSULTA_GENERAL_CALENDAR_ID,
            "appointmentStatus": "cancelled",
            "startTime": lima(1, 9, 0),
            "endTime": lima(1, 9, 30),
            "dateUpdated": iso(at),
        }
    })
    .to_string()
}

pub fn ghl_signature_cases(hub: &Hub) -> Vec<Case> {
    let now = chrono::Utc::now();
    // Every forged body below would cancel or delete the seeded appointment if accepted.
    let cancel = ghl_event(hub, "AppointmentDelete", now);
    let stored = &hub.stored_ghl;
    let ed = stored.header("x-ghl-signature");
    let wh = stored.header("x-wh-signature");
    let tampered = stored.body.replacen(
        "\"appointmentStatus\":\"",
        "\"appointmentStatus\":\"cancelled\",\"x\":\"",
        1,
    );
    assert_ne!(tampered, stored.body);
    let mut raw = base64_decode(&ed).expect("the sandbox's X-GHL-Signature is base64");
    assert_eq!(raw.len(), 64);
    raw[10] ^= 0x01;
    let flipped = b64(&raw);
    let other_key = ed25519::Signer::from_seed([0x33; 32]);
    let mine = hub.signer.sign(cancel.as_bytes());
    let case = |name: &str| Case::hook(format!("GHL: {name}"), "POST", GHL_PATH).expect(401);
    vec![
        case("no signature headers").json(cancel.clone()),
        case("X-GHL-Signature N/A only")
            .header("x-ghl-signature", "N/A")
            .json(cancel.clone()),
        case("both headers N/A")
            .header("x-ghl-signature", "N/A")
            .header("x-wh-signature", "n/a")
            .json(cancel.clone()),
        case("empty X-GHL-Signature")
            .header("x-ghl-signature", "")
            .json(cancel.clone()),
        case("X-GHL-Signature not base64")
            .header("x-ghl-signature", "!!!not base64!!!")
            .json(cancel.clone()),
        case("X-GHL-Signature of 63 bytes")
            .header("x-ghl-signature", b64(&[7u8; 63]))
            .json(cancel.clone()),
        case("X-GHL-Signature of 65 bytes")
            .header("x-ghl-signature", b64(&[7u8; 65]))
            .json(cancel.clone()),
        case("X-GHL-Signature of 64 zero bytes")
            .header("x-ghl-signature", b64(&[0u8; 64]))
            .json(cancel.clone()),
        case("X-GHL-Signature with raw 0xFF bytes")
            .header("x-ghl-signature", b"\xff\xfe")
            .json(cancel.clone()),
        case("X-WH-Signature garbage only")
            .header("x-wh-signature", b64(&[1u8; 512]))
            .json(cancel.clone()),
        case("the sandbox's valid signatures over another body")
            .header("x-ghl-signature", &ed)
            .header("x-wh-signature", &wh)
            .json(tampered.clone()),
        case("the sandbox's valid RSA signature alone over another body")
            .header("x-wh-signature", &wh)
            .json(tampered.clone()),
        case("a bad Ed25519 signature does not fall back to a valid RSA one")
            .header("x-ghl-signature", &flipped)
            .header("x-wh-signature", &wh)
            .json(stored.body.clone()),
        case("the sandbox's Ed25519 signature with one bit flipped")
            .header("x-ghl-signature", &flipped)
            .json(stored.body.clone()),
        case("signed by a key nobody configured")
            .header("x-ghl-signature", b64(&other_key.sign(cancel.as_bytes())))
            .json(cancel.clone()),
        case("a valid signature over the body without its trailing newline")
            .header("x-ghl-signature", b64(&mine))
            .json(format!("{cancel}\n")),
        case("a valid signature over the body, re-serialised")
            .header("x-ghl-signature", b64(&mine))
            .json(
                serde_json::to_string_pretty(&serde_json::from_str::<Value>(&cancel).unwrap())
                    .unwrap(),
            ),
        case("unknown event type, unsigned").json(ghl_event(hub, "InvoicePaid", now)),
        case("SQL in the body, unsigned").json(
            json!({"type": SQL_DROP, "webhookId": SQL_OR, "appointment": {"id": SQL_DROP}})
                .to_string(),
        ),
        case("unicode in the body, unsigned").json(
            json!({"type": "AppointmentUpdate", "webhookId": UNICODE, "appointment": {"id": UNICODE}})
                .to_string()
                .replace("evil", "\\ud800evil"),
        ),
        case("malformed JSON, unsigned").json("{not json"),
    ]
}

pub fn ghl_body_cases(hub: &Hub) -> Vec<Case> {
    let signed = |name: String, body: Vec<u8>| {
        Case::hook(name, "POST", GHL_PATH)
            .header("x-ghl-signature", b64(&hub.signer.sign(&body)))
            .json(body)
            .expect(400)
    };
    let mut cases = Vec::new();
    for (what, body) in malformed_json() {
        cases.push(signed(format!("GHL: valid signature, {what}"), body));
    }
    for (what, body) in not_objects() {
        cases.push(signed(
            format!("GHL: valid signature, {what}"),
            body.to_vec(),
        ));
    }
    cases.push(signed(
        "GHL: valid signature, a lone surrogate escaped in JSON".into(),
        br#"{"type":"AppointmentUpdate","webhookId":"\ud800","appointment":{"id":"x"}}"#.to_vec(),
    ));
    cases.push(signed(
        "GHL: valid signature, 40,000 levels of nesting (under 256 KiB)".into(),
        nested(40_000),
    ));
    for (what, content_type, body) in wrong_formats() {
        cases.push(
            Case::hook(
                format!("GHL: valid signature, {what} body"),
                "POST",
                GHL_PATH,
            )
            .header("x-ghl-signature", b64(&hub.signer.sign(&body)))
            .header("content-type", content_type)
            .body(body)
            .expect(400),
        );
    }
    cases
}
