//! Refunds and merchant orders against the sandbox: full and partial refunds with a stable
//! idempotency key, the refusals MP documents, and the merchant order of a paid link.

use super::*;
use mercadopago::MerchantOrderQuery;
use mercadopago::error::RefundRefusal;

async fn paid(sandbox: &Sandbox, client: &Client, reference: &str) -> i64 {
    let created = client
        .create_preference(&preference(reference, "80", "PEN"), reference)
        .await
        .expect("created");
    sandbox
        .pay_preference(&created.id, PayRequest::default())
        .await
        .expect("paid")
        .payment_id
}

#[tokio::test]
async fn a_partial_then_the_rest_refunds_the_payment_and_the_same_key_refunds_once() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let payment = paid(&sandbox, &client, "visit-r1").await;

    let first = client
        .refund_partial(payment, dec("30.00"), "refund-r1-a")
        .await
        .expect("partial refund");
    let again = client
        .refund_partial(payment, dec("30.00"), "refund-r1-a")
        .await
        .expect("same key");
    assert_eq!(first.id, again.id, "the same key returns the same refund");
    assert_eq!(first.amount, dec("30"));
    let p = client.get_payment(payment).await.expect("payment");
    assert_eq!(
        p.status, "approved",
        "a partial refund keeps the payment approved"
    );
    assert_eq!(p.transaction_amount_refunded, Some(dec("30")));

    client
        .refund_payment(payment, "refund-r1-b")
        .await
        .expect("the rest");
    let p = client.get_payment(payment).await.expect("payment");
    assert_eq!(p.status, "refunded");
    assert_eq!(p.transaction_amount_refunded, Some(dec("80")));
    assert_eq!(client.list_refunds(payment).await.expect("list").len(), 2);

    let refused = client
        .refund_payment(payment, "refund-r1-c")
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::RefundRefused {
                refusal: RefundRefusal::AlreadyRefunded | RefundRefusal::InvalidPaymentState,
                ..
            }
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn refunds_of_unknown_or_unpaid_payments_are_typed_refusals() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let missing = client.refund_payment(999_999_999_999, "refund-r2-a").await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");

    let created = client
        .create_preference(&preference("visit-r2", "80", "PEN"), "visit-r2")
        .await
        .expect("created");
    let pending = sandbox
        .pay_preference(
            &created.id,
            PayRequest {
                status: "pending".to_owned(),
                ..PayRequest::default()
            },
        )
        .await
        .expect("pending")
        .payment_id;
    let refused = client
        .refund_payment(pending, "refund-r2-b")
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::RefundRefused {
                refusal: RefundRefusal::InvalidPaymentState,
                ..
            }
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_paid_link_has_its_merchant_order() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let payment = paid(&sandbox, &client, "visit-r3").await;
    let p = client.get_payment(payment).await.expect("payment");
    let order_id = p
        .order
        .as_ref()
        .and_then(|o| o.id.as_ref())
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .expect("payment names its merchant order");
    let order = client.get_merchant_order(order_id).await.expect("order");
    assert_eq!(order.external_reference.as_deref(), Some("visit-r3"));
    let found = client
        .search_merchant_orders(&MerchantOrderQuery {
            external_reference: Some("visit-r3".into()),
            ..MerchantOrderQuery::default()
        })
        .await
        .expect("search");
    assert!(found.elements.iter().any(|o| o.id == order_id));
}
