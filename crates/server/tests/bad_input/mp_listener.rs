//! The MP listener: signatures, then bodies behind a valid signature.

use super::*;
use serde_json::json;

pub fn mp_url(data_id: &str) -> String {
    format!("{MP_PATH}?source_news=webhooks&data.id={data_id}&type=payment")
}

pub fn mp_body(data_id: &str) -> String {
    json!({"type": "payment", "action": "payment.updated", "data": {"id": data_id}}).to_string()
}

pub fn mp_signature_cases(hub: &Hub) -> Vec<Case> {
    let secret = &hub.secret;
    let sig = |id: &str, rid: &str, ts: &str| sign(secret, id, rid, ts);
    let signed = |name: &str, id: &str, signature: String, rid: &str| {
        Case::hook(format!("MP: {name}"), "POST", mp_url(id))
            .header("x-signature", signature)
            .header("x-request-id", rid)
            .json(mp_body(id))
            .expect(401)
    };
    let (r, ts) = (rid(), now_secs());
    let stale_ts = "1000000000"; // 2001
    let stale_v1 =
        sandbox::sign_manifest(secret, &sandbox::manifest(Some("111"), Some(&r), stale_ts));
    vec![
        Case::hook("MP: no x-signature", "POST", mp_url("111"))
            .header("x-request-id", rid())
            .json(mp_body("111"))
            .expect(401),
        signed("empty x-signature", "111", String::new(), &rid()),
        signed("x-signature not ts=,v1=", "111", "garbage".into(), &rid()),
        signed(
            "x-signature with empty parts",
            "111",
            "ts=,v1=".into(),
            &rid(),
        ),
        signed(
            "v1 not hex",
            "111",
            format!("ts={ts},v1={}", "zz".repeat(32)),
            &rid(),
        ),
        signed(
            "v1 too short",
            "111",
            format!("ts={ts},v1={}", "ab".repeat(16)),
            &rid(),
        ),
        signed("v1 missing", "111", format!("ts={ts}"), &rid()),
        signed(
            "signed with another secret",
            "111",
            sign("not-the-secret", "111", &r, &ts),
            &r,
        ),
        signed(
            "the secret itself as v1",
            "111",
            format!("ts={ts},v1={secret}"),
            &rid(),
        ),
        signed(
            "valid signature replayed with another data.id",
            "222",
            sig("111", &r, &ts),
            &r,
        ),
        signed(
            "valid signature with another x-request-id",
            "111",
            sig("111", &r, &ts),
            &rid(),
        ),
        Case::hook(
            "MP: valid signature, x-request-id removed",
            "POST",
            mp_url("111"),
        )
        .header("x-signature", sig("111", &r, &ts))
        .json(mp_body("111"))
        .expect(401),
        Case::hook(
            "MP: valid signature, data.id removed from the query",
            "POST",
            format!("{MP_PATH}?source_news=webhooks&type=payment"),
        )
        .header("x-signature", sig("111", &r, &ts))
        .header("x-request-id", &r)
        .json(mp_body("111"))
        .expect(401),
        signed(
            "stale signature with its ts refreshed",
            "111",
            format!("ts={ts},v1={stale_v1}"),
            &r,
        ),
        signed(
            "stale signature replayed with another data.id",
            "333",
            format!("ts={stale_ts},v1={stale_v1}"),
            &r,
        ),
        signed(
            "x-signature with non-ASCII bytes",
            "111",
            String::from_utf8_lossy(b"ts=1,v1=\xc3\xbf").into_owned(),
            &rid(),
        ),
        Case::hook("MP: x-signature as raw 0xFF bytes", "POST", mp_url("111"))
            .header("x-signature", b"ts=1,v1=\xff\xfe")
            .header("x-request-id", rid())
            .json(mp_body("111"))
            .expect(401),
        signed(
            "forged, SQL in data.id",
            "1%27%3B%20DROP%20TABLE%20bookings%3B%20--",
            sig("1", &r, &ts),
            &r,
        ),
        signed(
            "forged, unicode in data.id",
            "%E2%80%AE%F0%9F%92%A5%00",
            sig("1", &r, &ts),
            &r,
        ),
        Case::hook(
            "MP: unknown type, unsigned",
            "POST",
            format!("{MP_PATH}?data.id=1&type=subscription_preapproval"),
        )
        .json(json!({"type": "subscription_preapproval", "data": {"id": "1"}}).to_string())
        .expect(401),
        Case::hook(
            "MP: IPN query with a bogus x-signature",
            "POST",
            format!("{MP_PATH}?topic=payment&id=123"),
        )
        .header("x-signature", "N/A")
        .expect(401),
        Case::hook("MP: no query, no signature", "POST", MP_PATH)
            .json(mp_body("111"))
            .expect(401),
        Case::hook(
            "MP: body names a payment, query and signature absent",
            "POST",
            MP_PATH,
        )
        .json(json!({"topic": "payment", "resource": "/v1/payments/1"}).to_string())
        .expect(401),
    ]
}

pub fn mp_body_cases(hub: &Hub) -> Vec<Case> {
    let mut cases = Vec::new();
    let signed = |name: String| {
        let (r, ts) = (rid(), now_secs());
        Case::hook(name, "POST", mp_url("444"))
            .header("x-signature", sign(&hub.secret, "444", &r, &ts))
            .header("x-request-id", r)
    };
    for (what, body) in malformed_json() {
        if body.is_empty() {
            continue; // an empty body is allowed: MP's body is only a trigger
        }
        cases.push(
            signed(format!("MP: valid signature, {what}"))
                .json(body)
                .expect(400),
        );
    }
    for (what, content_type, body) in wrong_formats() {
        cases.push(
            signed(format!("MP: valid signature, {what} body"))
                .header("content-type", content_type)
                .body(body)
                .expect(400),
        );
    }
    cases
}
