//! Refunds (§6) against local servers: the sandbox has no refund routes yet.

use super::*;
use mercadopago::RefundRefusal;

const REFUND_EXAMPLE: &str = r#"{"id":1622029222,"payment_id":7186040733,"amount":1.5,"source":{"name":"Test Test","id":"7186040733","type":"collector"},"date_created":"2024-02-05T15:35:49.000-04:00","refund_mode":"standard","adjustment_amount":0,"status":"approved","reason":null}"#;

/// Answers every refund POST with the §6 example, recording what was sent; lists and reads
/// answer with the same example.
async fn refund_server() -> (String, Log) {
    let server = RecordingServer::start(|s, _| {
        let segments: Vec<&str> = s.path.split('/').collect();
        match (s.method.as_str(), segments.as_slice()) {
            ("POST", ["", "v1", "payments", _, "refunds"]) => Reply::new(201, REFUND_EXAMPLE),
            ("GET", ["", "v1", "payments", _, "refunds"]) => {
                Reply::new(200, format!("[{REFUND_EXAMPLE},{REFUND_EXAMPLE}]"))
            }
            ("GET", ["", "v1", "payments", _, "refunds", _]) => Reply::new(200, REFUND_EXAMPLE),
            _ => Reply::new(404, ""),
        }
    })
    .await;
    (server.url().to_owned(), server.log())
}

#[tokio::test]
async fn full_and_partial_refunds_send_the_documented_bodies_and_our_key() {
    let (base, seen) = refund_server().await;
    let client = canned_client(&base);
    let full = client
        .refund_payment(7_186_040_733, "refund-01J8ZK0001")
        .await
        .expect("201");
    assert_eq!(full.id, 1_622_029_222);
    assert_eq!(full.payment_id, Some(7_186_040_733));
    assert_eq!(full.amount, dec("1.5"));
    assert_eq!(full.adjustment_amount, Some(dec("0")));
    assert_eq!(full.status.as_deref(), Some("approved"));
    assert_eq!(full.refund_mode.as_deref(), Some("standard"));
    let source = full.source.as_ref().expect("source");
    assert_eq!(source.id.as_deref(), Some("7186040733"));
    assert_eq!(source.kind.as_deref(), Some("collector"));
    assert_eq!(full.reason, None);
    assert_eq!(
        serde_json::from_str::<Value>(&full.raw).expect("raw"),
        serde_json::from_str::<Value>(REFUND_EXAMPLE).expect("example")
    );

    client
        .refund_partial(7_186_040_733, dec("5.50"), "refund-01J8ZK0002")
        .await
        .expect("201");
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/v1/payments/7186040733/refunds");
    assert_eq!(seen[0].body.as_ref(), b"{}");
    assert_eq!(
        header(&seen[0], "x-idempotency-key"),
        Some("refund-01J8ZK0001")
    );
    assert_eq!(
        std::str::from_utf8(&seen[1].body).expect("utf8"),
        r#"{"amount":5.5}"#
    );
    assert_eq!(
        header(&seen[1], "x-idempotency-key"),
        Some("refund-01J8ZK0002")
    );
}

#[tokio::test]
async fn refunds_are_listed_and_read_back() {
    let (base, _) = refund_server().await;
    let client = canned_client(&base);
    let all = client.list_refunds(7_186_040_733).await.expect("list");
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .all(|r| r.amount == dec("1.5") && !r.raw.is_empty())
    );
    let one = client
        .get_refund(7_186_040_733, 1_622_029_222)
        .await
        .expect("one");
    assert_eq!(one.id, 1_622_029_222);
}

#[tokio::test]
async fn bad_refund_requests_are_refused_before_sending() {
    let (base, seen) = refund_server().await;
    let client = canned_client(&base);
    for key in ["", "has space", &"k".repeat(65)] {
        let err = client
            .refund_payment(7_186_040_733, key)
            .await
            .expect_err("bad key");
        assert!(matches!(err, Error::InvalidRequest(_)), "{key:?}: {err:?}");
    }
    for amount in ["0", "-1", "1.005"] {
        let err = client
            .refund_partial(7_186_040_733, dec(amount), "refund-1")
            .await
            .expect_err("bad amount");
        assert!(matches!(err, Error::InvalidRequest(_)), "{amount}: {err:?}");
    }
    let err = client
        .refund_payment(0, "refund-1")
        .await
        .expect_err("id 0");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(seen.lock().expect("log").is_empty());
}

/// The error body a refund POST gets for a payment id (each id provokes one answer).
fn refund_error(payment_id: i64) -> (u16, &'static str) {
    match payment_id {
        1 => (
            400,
            r#"{"message":"Header-X-Idempotency-Key-can't-be-null","error":"bad_request","status":400,"cause":[{"code":4292,"description":"Header-X-Idempotency-Key-can't-be-null"}]}"#,
        ),
        2 => (
            400,
            r#"{"message":"Invalid payment status","error":"bad_request","status":400,"cause":[{"code":"4293","description":"invalid status"}]}"#,
        ),
        3 => (
            400,
            r#"{"message":"Action not allowed","error":"bad_request","status":400,"cause":[{"code":2063,"message":"The action requested is not valid for the current payment state"}]}"#,
        ),
        4 => (
            400,
            r#"{"message":"Payment already refunded","error":"bad_request","status":400,"cause":[{"code":"4296"}]}"#,
        ),
        5 => (
            400,
            r#"{"message":"too old","error":"bad_request","status":400,"cause":[{"code":2024,"description":"Payment too old to be refunded"}]}"#,
        ),
        6 => (
            400,
            r#"{"message":"too old","status":400,"errors":[{"code":"15016","message":"Payment too old"}]}"#,
        ),
        7 => (
            400,
            r#"{"message":"amount","error":"bad_request","status":400,"cause":[{"code":4040,"description":"amount must be positive"}]}"#,
        ),
        8 => (
            400,
            r#"{"message":"amount","error":"bad_request","status":400,"details":[{"code":4041,"detail":"amount must be numeric"}]}"#,
        ),
        9 => (
            404,
            r#"{"message":"Payment not found","error":"not_found","status":404,"cause":[{"code":2000,"description":"Payment not found"}]}"#,
        ),
        10 => (
            404,
            r#"{"message":"Refund not found","error":"not_found","status":404,"cause":[{"code":"2032"}]}"#,
        ),
        11 => (
            400,
            r#"{"message":"partial refund not supported","error":"bad_request","status":400,"cause":[{"code":3024}]}"#,
        ),
        // Over-refund: the code is undocumented, so it stays a Rejected with the code kept.
        12 => (
            400,
            r#"{"message":"amount exceeds the available","error":"bad_request","status":"400","cause":[{"code":"4294","description":"amount exceeds"}]}"#,
        ),
        _ => (
            401,
            r#"{"message":"invalid token","error":"unauthorized","status":401,"cause":[{"code":401}]}"#,
        ),
    }
}

#[tokio::test]
async fn refund_error_causes_map_to_typed_errors_or_keep_their_code() {
    let server = RecordingServer::start(|s, _| {
        let id = s
            .path
            .strip_prefix("/v1/payments/")
            .and_then(|rest| rest.strip_suffix("/refunds"))
            .and_then(|id| id.parse::<i64>().ok());
        match (s.method.as_str(), id) {
            ("POST", Some(id)) => {
                let (status, body) = refund_error(id);
                Reply::json(status, body)
            }
            _ => Reply::new(404, ""),
        }
    })
    .await;
    let client = canned_client(server.url());
    let refusals = [
        (1, RefundRefusal::MissingIdempotencyKey, "4292"),
        (2, RefundRefusal::InvalidPaymentState, "4293"),
        (3, RefundRefusal::InvalidPaymentState, "2063"),
        (4, RefundRefusal::AlreadyRefunded, "4296"),
        (5, RefundRefusal::TooOld, "2024"),
        (6, RefundRefusal::TooOld, "15016"),
        (7, RefundRefusal::InvalidAmount, "4040"),
        (8, RefundRefusal::InvalidAmount, "4041"),
        (11, RefundRefusal::PartialNotSupported, "3024"),
    ];
    for (id, want, want_code) in refusals {
        let err = client
            .refund_partial(id, dec("1"), "refund-x")
            .await
            .expect_err("refused");
        match &err {
            Error::RefundRefused {
                refusal,
                code,
                status,
                ..
            } => {
                assert_eq!(*refusal, want, "payment {id}");
                assert_eq!(code, want_code, "payment {id}");
                assert_eq!(*status, 400);
            }
            other => panic!("payment {id}: expected RefundRefused, got {other:?}"),
        }
        assert_eq!(err.cause_code(), Some(want_code));
        assert!(!err.is_retryable());
    }
    for id in [9, 10] {
        let err = client
            .refund_payment(id, "refund-x")
            .await
            .expect_err("404");
        assert!(matches!(err, Error::NotFound(_)), "payment {id}: {err:?}");
    }
    let err = client
        .refund_payment(12, "refund-x")
        .await
        .expect_err("over-refund");
    match &err {
        Error::Rejected {
            code,
            message,
            causes,
            ..
        } => {
            assert_eq!(code.as_deref(), Some("4294"));
            assert_eq!(message, "amount exceeds the available");
            assert_eq!(causes.len(), 1);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    let err = client
        .refund_payment(99, "refund-x")
        .await
        .expect_err("401");
    assert!(matches!(err, Error::Unauthorized), "{err:?}");
}
