//! Fuzzes what an MP notification request brings in: the query string, the body and the two
//! signature headers. Nothing may panic, and a signature made over exactly the received
//! `data.id` and `x-request-id` must verify.
//!
//! Input layout: `query \0 body \0 x-signature \0 x-request-id` (missing parts are absent).

#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use mercadopago::webhook::{Notification, QueryParams, manifest, verify_signature};
use sha2::Sha256;

const SECRET: &[u8] = b"e3b1c9f0a7d54b2e8c6f1a9d3b7e5c20";
const TS: &str = "1742505638";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == 0);
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();
    let x_signature = parts.next().map(String::from_utf8_lossy);
    let x_request_id = parts.next().map(String::from_utf8_lossy);

    if let Some(n) = Notification::parse(&query, body) {
        let _ = (n.topic(), n.resource_id(), n.payment_id());
    }

    let params = QueryParams::parse(&query);
    let data_id = params.get("data.id");
    let verdict = verify_signature(
        SECRET,
        x_signature.as_deref(),
        x_request_id.as_deref(),
        data_id,
    );
    if let Ok(ok) = verdict {
        assert!(ok.ts.bytes().all(|b| b.is_ascii_digit()));
        let _ = ok.signed_at();
    }

    // What a correct sender would sign for these exact inputs must verify.
    let rid = x_request_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let signed = manifest(data_id, rid, TS);
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(SECRET) else {
        return;
    };
    mac.update(signed.as_bytes());
    let header = format!("ts={TS},v1={}", hex::encode(mac.finalize().into_bytes()));
    assert!(
        verify_signature(SECRET, Some(&header), x_request_id.as_deref(), data_id).is_ok(),
        "a correct signature was refused: {signed:?}"
    );
});
