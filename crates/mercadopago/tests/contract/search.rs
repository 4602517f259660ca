//! Payment search paging (sandbox and a local pager) and merchant orders (local server: the
//! sandbox has no merchant-order routes yet).

use super::*;
use mercadopago::MerchantOrderQuery;

#[tokio::test]
async fn search_all_payments_follows_the_sandbox_pages() {
    let sandbox = start_sandbox().await;
    let mut config = ClientConfig::new(
        sandbox.mp_base_url(),
        SecretString::from(sandbox.config().mp_access_token.clone()),
    );
    config.search_page_limit = 2;
    let client = Client::new(config).expect("client");
    let created = client
        .create_preference(&preference("visit-0301", "80", "PEN"), "charge-0301")
        .await
        .expect("created");
    let mut paid = Vec::new();
    for status in ["rejected", "rejected", "rejected", "rejected", "approved"] {
        let outcome = sandbox
            .pay_preference(
                &created.id,
                PayRequest {
                    status: status.to_owned(),
                    ..PayRequest::default()
                },
            )
            .await
            .expect("attempt");
        paid.push(outcome.payment_id);
    }

    let page = client
        .search_payments_page("visit-0301", 2, 2)
        .await
        .expect("page");
    assert_eq!(page.paging.total, 5);
    assert_eq!(page.paging.offset, 2);
    assert_eq!(page.results.len(), 2);

    let all = client
        .search_all_payments("visit-0301")
        .await
        .expect("all pages");
    assert_eq!(all.paging.total, 5);
    let mut ids: Vec<i64> = all.results.iter().map(|p| p.id).collect();
    assert_eq!(ids[0], paid[4], "newest first");
    ids.sort_unstable();
    paid.sort_unstable();
    assert_eq!(ids, paid);
}

/// Serves `count` payments of one reference, newest first, honouring `limit`/`offset`, and
/// claiming `claimed_total` in `paging.total`. Returns the base URL and the offsets asked for.
async fn pager(count: i64, claimed_total: i64) -> (String, Arc<Mutex<Vec<String>>>) {
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = asked.clone();
    let server = RecordingServer::start(move |s, _| {
        if s.path != "/v1/payments/search" {
            return Reply::new(404, "");
        }
        let get = |k: &str| s.query_value(k).and_then(|v| v.parse::<i64>().ok());
        let limit = get("limit").unwrap_or(30);
        let offset = get("offset").unwrap_or(0);
        log.lock().expect("log").push(format!("{offset}+{limit}"));
        let results: Vec<Value> = (offset..(offset + limit).min(count))
            .map(|i| {
                json!({"id": 90_000_000_000_i64 - i, "status": "rejected",
                       "transaction_amount": 80, "currency_id": "PEN",
                       "external_reference": "visit-0302"})
            })
            .collect();
        Reply::json(
            200,
            json!({
                "paging": {"total": claimed_total, "limit": limit, "offset": offset},
                "results": results
            })
            .to_string(),
        )
    })
    .await;
    (server.url().to_owned(), asked)
}

fn paging_client(base: &str, limit: u32, max_pages: u32) -> Client {
    let mut config = fast_config(base);
    config.search_page_limit = limit;
    config.search_max_pages = max_pages;
    Client::new(config).expect("client")
}

#[tokio::test]
async fn paging_is_followed_until_the_total() {
    let (base, asked) = pager(7, 7).await;
    let all = paging_client(&base, 3, 20)
        .search_all_payments("visit-0302")
        .await
        .expect("all");
    assert_eq!(all.results.len(), 7);
    assert_eq!(all.paging.total, 7);
    assert!(all.results.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(*asked.lock().expect("log"), ["0+3", "3+3", "6+3"]);
}

#[tokio::test]
async fn paging_stops_at_an_empty_page_and_at_the_page_bound() {
    // MP claims more than it serves: stop at the first empty page.
    let (base, asked) = pager(4, 100).await;
    let all = paging_client(&base, 3, 20)
        .search_all_payments("visit-0302")
        .await
        .expect("all");
    assert_eq!(all.results.len(), 4);
    assert_eq!(all.paging.total, 100);
    assert_eq!(asked.lock().expect("log").len(), 3);

    // The bound: two pages of three out of ten, and total still says ten.
    let (base, asked) = pager(10, 10).await;
    let some = paging_client(&base, 3, 2)
        .search_all_payments("visit-0302")
        .await
        .expect("bounded");
    assert_eq!(some.results.len(), 6);
    assert_eq!(some.paging.total, 10);
    assert_eq!(asked.lock().expect("log").len(), 2);
}

#[tokio::test]
async fn search_page_sends_reference_sort_limit_and_offset() {
    let (base, seen) = recording_server().await;
    let _ = canned_client(&base)
        .search_payments_page("visit 0303/ñ", 5, 10)
        .await;
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen[0].path, "/v1/payments/search");
    let q: Vec<(String, String)> = seen[0].query_pairs();
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("external_reference"), Some("visit 0303/ñ"));
    assert_eq!(get("sort"), Some("date_created"));
    assert_eq!(get("criteria"), Some("desc"));
    assert_eq!(get("limit"), Some("5"));
    assert_eq!(get("offset"), Some("10"));
}

const ORDER: &str = r#"{"id":8734927834,"preference_id":"1273205088-6da17b39-3bf4-4307-9124-4381c56372e0","external_reference":"visit-0304","status":"closed","order_status":"paid","total_amount":80.5,"paid_amount":80.5,"refunded_amount":0,"site_id":"MPE","is_test":false,"payments":[{"id":17014025134,"transaction_amount":80.5,"total_paid_amount":80.5,"status":"approved","status_detail":"accredited","currency_id":"PEN","date_approved":"2024-01-26T08:20:00.000-04:00"}],"items":[{"id":"CONS-1","title":"Consulta","quantity":1,"unit_price":80.5,"currency_id":"PEN"}]}"#;

#[tokio::test]
async fn merchant_orders_are_read_and_searched() {
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = asked.clone();
    let server = RecordingServer::start(move |s, _| {
        if s.path == "/merchant_orders/search" {
            log.lock()
                .expect("log")
                .push(s.query.clone().unwrap_or_default());
            Reply::new(
                200,
                format!(r#"{{"elements":[{ORDER}],"next_offset":1,"total":1}}"#),
            )
        } else if s.path == "/merchant_orders/8734927834" {
            Reply::new(200, ORDER)
        } else {
            Reply::new(
                404,
                r#"{"message":"not found","error":"not_found","status":404,"cause":[]}"#,
            )
        }
    })
    .await;
    let client = canned_client(server.url());
    let order = client
        .get_merchant_order(8_734_927_834)
        .await
        .expect("order");
    assert_eq!(order.order_status.as_deref(), Some("paid"));
    assert_eq!(order.paid_amount, Some(dec("80.5")));
    assert_eq!(order.refunded_amount, Some(dec("0")));
    assert_eq!(order.payments.len(), 1);
    assert_eq!(order.payments[0].id, 17_014_025_134);
    assert_eq!(order.payments[0].status.as_deref(), Some("approved"));
    assert_eq!(
        order.preference_id.as_deref(),
        Some("1273205088-6da17b39-3bf4-4307-9124-4381c56372e0")
    );
    assert!(!order.raw.is_empty());

    let found = client
        .search_merchant_orders(&MerchantOrderQuery {
            preference_id: Some("1273205088-6da17b39-3bf4-4307-9124-4381c56372e0".to_owned()),
            ..MerchantOrderQuery::default()
        })
        .await
        .expect("search");
    assert_eq!(found.total, 1);
    assert_eq!(found.elements[0].id, 8_734_927_834);
    assert_eq!(
        *asked.lock().expect("log"),
        ["preference_id=1273205088-6da17b39-3bf4-4307-9124-4381c56372e0"]
    );
    let err = client.get_merchant_order(1).await.expect_err("404");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}
