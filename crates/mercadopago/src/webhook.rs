//! Verifying and reading MP notifications (§9). Only `data.id`, `x-request-id` and `ts` are
//! signed; the body is not, so a notification is only ever a reason to re-read the payment.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Why a notification's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing x-signature header")]
    MissingHeader,
    #[error("x-signature has no ts or no v1")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
}

/// A signature that checked out: the signed `ts`, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub ts: String,
}

impl VerifiedSignature {
    /// The signing time. MP sends seconds or milliseconds (§9.3 step 6): above 10^11 is ms.
    pub fn signed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let n: i64 = self.ts.parse().ok()?;
        if n > 100_000_000_000 {
            chrono::DateTime::from_timestamp_millis(n)
        } else {
            chrono::DateTime::from_timestamp(n, 0)
        }
    }
}

/// Checks `x-signature` (§9.3). `data_id` must come from the URL query string, never the body.
/// The id is tried as received, then lowercased when it has uppercase letters (unconfirmed
/// casing rule, §9.3 step 5). The comparison is constant-time. Freshness is not judged here:
/// retries may carry old `ts` values (§9.3 step 7).
pub fn verify_signature(
    secret: &[u8],
    x_signature: Option<&str>,
    x_request_id: Option<&str>,
    data_id: Option<&str>,
) -> Result<VerifiedSignature, SignatureError> {
    let header = x_signature
        .filter(|h| !h.trim().is_empty())
        .ok_or(SignatureError::MissingHeader)?;
    let (ts, v1) = parse_signature_header(header).ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(v1).map_err(|_| SignatureError::Mismatch)?;
    let request_id = x_request_id.map(str::trim).filter(|s| !s.is_empty());
    let data_id = data_id.filter(|s| !s.is_empty());

    let lowered = data_id
        .filter(|id| id.chars().any(|c| c.is_ascii_uppercase()))
        .map(|id| id.to_ascii_lowercase());
    let candidates = std::iter::once(data_id).chain(lowered.as_deref().map(Some));
    for id in candidates {
        let manifest = manifest(id, request_id, ts);
        let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
        mac.update(manifest.as_bytes());
        let computed = mac.finalize().into_bytes();
        if computed.len() == expected.len() && bool::from(computed.ct_eq(&expected)) {
            return Ok(VerifiedSignature { ts: ts.to_string() });
        }
    }
    Err(SignatureError::Mismatch)
}

/// `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, absent parts dropped.
pub fn manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut m = String::with_capacity(96);
    if let Some(id) = data_id {
        m.push_str("id:");
        m.push_str(id);
        m.push(';');
    }
    if let Some(rid) = request_id {
        m.push_str("request-id:");
        m.push_str(rid);
        m.push(';');
    }
    m.push_str("ts:");
    m.push_str(ts);
    m.push(';');
    m
}

/// Splits `ts=…,v1=…`: parts on `,`, key and value on the first `=`, trimmed, keys compared
/// case-insensitively, unknown keys ignored.
fn parse_signature_header(header: &str) -> Option<(&str, &str)> {
    let mut ts = None;
    let mut v1 = None;
    for part in header.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("ts") {
            ts = Some(v);
        } else if k.eq_ignore_ascii_case("v1") {
            v1 = Some(v);
        }
    }
    let ts = ts.filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))?;
    let v1 = v1.filter(|v| !v.is_empty())?;
    Some((ts, v1))
}

/// What a notification asks us to look at, from its query string and body (§9.1, §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Webhooks format: `type` + `data.id`, signed.
    Webhook {
        topic: String,
        resource_id: String,
        action: Option<String>,
    },
    /// Legacy IPN: `topic` + `id`. IPN carries no signature (its signing is undocumented,
    /// §9.1), so anyone can send one: it may only trigger a re-read of the resource from the
    /// API (`GET /v1/payments/{id}`, `GET /merchant_orders/{id}`), never change state itself.
    Ipn { topic: String, resource_id: String },
}

impl Notification {
    /// The topic (`payment`, `merchant_order`, …).
    pub fn topic(&self) -> &str {
        match self {
            Notification::Webhook { topic, .. } | Notification::Ipn { topic, .. } => topic,
        }
    }

    /// The id of the resource to re-read.
    pub fn resource_id(&self) -> &str {
        match self {
            Notification::Webhook { resource_id, .. } | Notification::Ipn { resource_id, .. } => {
                resource_id
            }
        }
    }

    /// Whether this is the unsigned IPN format (see [`Notification::Ipn`]).
    pub fn is_ipn(&self) -> bool {
        matches!(self, Notification::Ipn { .. })
    }

    /// The payment id, when this notification is about a payment.
    pub fn payment_id(&self) -> Option<i64> {
        (self.topic() == "payment")
            .then(|| self.resource_id().parse().ok())
            .flatten()
    }

    /// Reads a notification. Query parameters win over body fields (MP appends its own to the
    /// URL we gave it); `None` when neither format is recognisable.
    pub fn parse(query: &str, body: &[u8]) -> Option<Notification> {
        let q = QueryParams::parse(query);
        let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let body_str = |ptr: &str| -> Option<String> {
            match body.pointer(ptr)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let data_id = q
            .get("data.id")
            .map(str::to_string)
            .or_else(|| body_str("/data/id"));
        let kind = q
            .get("type")
            .map(str::to_string)
            .or_else(|| body_str("/type"));
        if let (Some(topic), Some(resource_id)) = (kind, data_id) {
            return Some(Notification::Webhook {
                topic,
                resource_id,
                action: body_str("/action"),
            });
        }
        let topic = q
            .get("topic")
            .map(str::to_string)
            .or_else(|| body_str("/topic"))?;
        let id = q.get("id").map(str::to_string).or_else(|| {
            body_str("/resource").and_then(|r| r.rsplit('/').next().map(str::to_string))
        })?;
        Some(Notification::Ipn {
            topic,
            resource_id: id,
        })
    }
}

/// Decoded query parameters, first value wins.
#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        let q = query.strip_prefix('?').unwrap_or(query);
        Self(
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_A: &[u8] = b"e3b1c9f0a7d54b2e8c6f1a9d3b7e5c20";
    const RID: &str = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";

    #[test]
    fn vector_a_all_parts_verifies() {
        let sig =
            "ts=1742505638,v1=f7aab95c87ed70278995db603c6afaf9a712b945ca82490c630e4ab0c7db2c1a";
        let ok = verify_signature(SECRET_A, Some(sig), Some(RID), Some("1319863412")).unwrap();
        assert_eq!(ok.ts, "1742505638");
        assert_eq!(
            manifest(Some("1319863412"), Some(RID), "1742505638"),
            "id:1319863412;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1742505638;"
        );
    }

    #[test]
    fn vector_c_without_request_id_verifies() {
        let sig =
            "ts=1742505638,v1=b35987e6ac8d8698bcca47f6a4b781cef96c6fcb1c36a0575030e196dc688dee";
        assert!(verify_signature(SECRET_A, Some(sig), None, Some("1319863412")).is_ok());
    }

    #[test]
    fn vector_d_without_data_id_verifies() {
        let sig =
            "ts=1742505638,v1=f74285e871588936f54598bc4028438f571ab196673cdc68b55d40e490a3080d";
        assert!(verify_signature(SECRET_A, Some(sig), Some(RID), None).is_ok());
    }

    #[test]
    fn vector_b_raw_and_lowercased_order_ids_verify() {
        let secret = b"your_secret_key_here";
        let rid = "2066ca19-c6f1-498a-be75-1923005edd06";
        for v1 in [
            "fb15ae6472eb449173c556793205d77787d58f384d183bb5bc3b724c27bd103c",
            "633f91233312dd391ec75fa0bea539cfc2d6c4918873305b84a96cc1c58db71c",
        ] {
            let sig = format!("ts=1742505638683,v1={v1}");
            assert!(
                verify_signature(
                    secret,
                    Some(&sig),
                    Some(rid),
                    Some("ORD01JQ4S4KY8HWQ6NA5PXB65B3D3")
                )
                .is_ok()
            );
        }
    }

    #[test]
    fn wrong_secret_missing_header_and_malformed_header_are_refused() {
        let sig =
            "ts=1742505638,v1=f7aab95c87ed70278995db603c6afaf9a712b945ca82490c630e4ab0c7db2c1a";
        assert_eq!(
            verify_signature(b"other", Some(sig), Some(RID), Some("1319863412")),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(SECRET_A, None, Some(RID), Some("1319863412")),
            Err(SignatureError::MissingHeader)
        );
        assert_eq!(
            verify_signature(SECRET_A, Some("v1=abc"), Some(RID), Some("1")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(SECRET_A, Some("ts=12,v1=zz"), Some(RID), Some("1")),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn signed_at_reads_seconds_and_milliseconds() {
        let s = VerifiedSignature {
            ts: "1742505638".into(),
        };
        let ms = VerifiedSignature {
            ts: "1742505638683".into(),
        };
        assert_eq!(s.signed_at().unwrap().timestamp(), 1742505638);
        assert_eq!(ms.signed_at().unwrap().timestamp(), 1742505638);
    }

    #[test]
    fn webhook_format_is_read_from_query_before_body() {
        let n = Notification::parse(
            "source_news=webhooks&data.id=123&type=payment",
            br#"{"type":"payment","action":"payment.created","data":{"id":"999"}}"#,
        )
        .unwrap();
        assert_eq!(n.payment_id(), Some(123));
        assert!(
            matches!(n, Notification::Webhook { action: Some(ref a), .. } if a == "payment.created")
        );
    }

    #[test]
    fn ipn_format_is_recognised() {
        let n = Notification::parse("topic=payment&id=456", b"").unwrap();
        assert_eq!(
            n,
            Notification::Ipn {
                topic: "payment".into(),
                resource_id: "456".into()
            }
        );
        let n = Notification::parse(
            "",
            br#"{"resource":"https://api.mercadopago.com/v1/payments/77","topic":"payment"}"#,
        )
        .unwrap();
        assert_eq!(n.payment_id(), Some(77));
    }

    #[test]
    fn header_keys_are_case_insensitive_and_values_split_on_the_first_equals() {
        let sig = " TS = 1742505638 , V1=f7aab95c87ed70278995db603c6afaf9a712b945ca82490c630e4ab0c7db2c1a,v2=a=b";
        assert!(verify_signature(SECRET_A, Some(sig), Some(RID), Some("1319863412")).is_ok());
        assert_eq!(
            verify_signature(SECRET_A, Some("ts=17425x5638,v1=00"), Some(RID), Some("1")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(SECRET_A, Some("   "), Some(RID), Some("1")),
            Err(SignatureError::MissingHeader)
        );
    }

    #[test]
    fn ipn_merchant_order_and_numeric_body_ids_are_read() {
        let n = Notification::parse(
            "",
            br#"{"resource":"https://api.mercadolibre.com/merchant_orders/8734927834","topic":"merchant_order"}"#,
        )
        .unwrap();
        assert!(n.is_ipn());
        assert_eq!(n.topic(), "merchant_order");
        assert_eq!(n.resource_id(), "8734927834");
        assert_eq!(n.payment_id(), None);
        // A body-only webhook whose data.id is a number, and a percent-encoded query.
        let n = Notification::parse("", br#"{"type":"payment","data":{"id":1319863412}}"#).unwrap();
        assert!(!n.is_ipn());
        assert_eq!(n.payment_id(), Some(1_319_863_412));
        let n = Notification::parse("?data%2Eid=42&type=payment", b"").unwrap();
        assert_eq!(n.payment_id(), Some(42));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for (q, b) in [
            ("data.id=&type=", &b"{}"[..]),
            ("topic=payment&id=", b"\xff\xfe"),
            ("%%%&&==", b"[]"),
            ("type=payment", br#"{"data":{"id":null}}"#),
            ("", br#"{"resource":"","topic":"payment"}"#),
        ] {
            let _ = Notification::parse(q, b);
        }
        let _ = verify_signature(b"", Some("ts=,v1="), Some(""), Some(""));
        let _ = verify_signature(b"k", Some(",,,="), None, None);
    }

    #[test]
    fn unrelated_requests_are_not_notifications() {
        assert!(Notification::parse("foo=bar", b"not json").is_none());
        let n = Notification::parse("data.id=ORD1&type=order", b"{}").unwrap();
        assert_eq!(n.payment_id(), None);
    }
}
