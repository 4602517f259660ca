//! Retries against local servers that misbehave on purpose: 429 with `Retry-After`, 5xx, 423,
//! timeouts, and a create whose answer is lost (the look-before-re-create path of §3).

use super::*;

/// What a scripted server does with each request, in order; the last step repeats.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Answer with this status and an MP error body (and `Retry-After` when set).
    Fail(u16, Option<&'static str>),
    /// Answer 2xx with the success body.
    Succeed,
}

/// A server running `steps` for every request; returns the base URL and the request log.
async fn scripted(steps: Vec<Step>, success_status: u16, success_body: Value) -> (String, Log) {
    let server = RecordingServer::start(move |_, n| match steps[n.min(steps.len() - 1)] {
        Step::Fail(status, retry_after) => {
            let reply = Reply::json(
                status,
                json!({"message": "try later", "error": "error", "status": status, "cause": []})
                    .to_string(),
            );
            match retry_after {
                Some(wait) => reply.header("retry-after", wait),
                None => reply,
            }
        }
        Step::Succeed => Reply::json(success_status, success_body.to_string()),
    })
    .await;
    (server.url().to_owned(), server.log())
}

fn preference_body() -> Value {
    json!({
        "id": "1273205088-6da17b39-3bf4-4307-9124-4381c56372e0",
        "init_point": "https://www.mercadopago.com.pe/checkout/v1/redirect?pref_id=1273205088-6da17b39-3bf4-4307-9124-4381c56372e0",
        "external_reference": "visit-0201"
    })
}

fn refund_body() -> Value {
    json!({"id": 1622029222_i64, "payment_id": 7186040733_i64, "amount": 1.5, "status": "approved"})
}

fn keys(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| header(s, "x-idempotency-key").unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn rate_limited_create_waits_retry_after_and_reuses_the_key() {
    let (base, seen) = scripted(
        vec![Step::Fail(429, Some("1")), Step::Succeed],
        201,
        preference_body(),
    )
    .await;
    let mut config = fast_config(&base);
    config.retry.max_delay = Duration::from_secs(2);
    let client = Client::new(config).expect("client");
    let started = Instant::now();
    let created = client
        .create_preference(&preference("visit-0201", "80", "PEN"), "charge-0201")
        .await
        .expect("second attempt succeeds");
    assert!(created.id.starts_with("1273205088-"));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2, "a 429 was not processed: no search needed");
    assert!(seen.iter().all(|s| s.method == Method::POST));
    assert_eq!(keys(&seen), ["charge-0201", "charge-0201"]);
}

#[tokio::test]
async fn refund_retried_after_503_twice_keeps_the_same_key() {
    let (base, seen) = scripted(
        vec![Step::Fail(503, None), Step::Fail(503, None), Step::Succeed],
        201,
        refund_body(),
    )
    .await;
    let refund = canned_client(&base)
        .refund_payment(7_186_040_733, "refund-01J8ZK")
        .await
        .expect("third attempt succeeds");
    assert_eq!(refund.id, 1_622_029_222);
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(keys(&seen), ["refund-01J8ZK"; 3]);
    assert!(seen.iter().all(|s| s.body.as_ref() == b"{}"));
}

#[tokio::test]
async fn get_payment_retries_503_twice_then_succeeds() {
    let (base, seen) = scripted(
        vec![Step::Fail(503, None), Step::Fail(502, None), Step::Succeed],
        200,
        json!({"id": 17014025134_i64, "status": "approved", "transaction_amount": 12.34, "currency_id": "PEN"}),
    )
    .await;
    let payment = canned_client(&base)
        .get_payment(17_014_025_134)
        .await
        .expect("third attempt succeeds");
    assert_eq!(payment.transaction_amount, dec("12.34"));
    assert_eq!(seen.lock().expect("log").len(), 3);
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_the_configured_attempts() {
    let (base, seen) = scripted(vec![Step::Fail(500, None)], 200, json!({})).await;
    let err = canned_client(&base)
        .get_payment(1)
        .await
        .expect_err("always 500");
    assert!(matches!(err, Error::Unavailable { status: 500 }), "{err:?}");
    assert_eq!(seen.lock().expect("log").len(), 3);
}

#[tokio::test]
async fn locked_key_423_is_retried_but_conflict_409_is_not() {
    let (base, seen) = scripted(
        vec![Step::Fail(423, None), Step::Succeed],
        201,
        refund_body(),
    )
    .await;
    canned_client(&base)
        .refund_payment(7_186_040_733, "refund-1")
        .await
        .expect("retried after 423");
    assert_eq!(keys(&seen.lock().expect("log")), ["refund-1", "refund-1"]);

    let (base, seen) = scripted(vec![Step::Fail(409, None)], 201, refund_body()).await;
    let err = canned_client(&base)
        .refund_payment(7_186_040_733, "refund-2")
        .await
        .expect_err("409");
    assert!(
        matches!(err, Error::Conflict { status: 409, .. }),
        "{err:?}"
    );
    assert_eq!(seen.lock().expect("log").len(), 1);
}

#[tokio::test]
async fn timed_out_reads_are_retried() {
    let server =
        RecordingServer::start(|_, _| Reply::new(200, "too late").after(Duration::from_secs(30)))
            .await;
    let mut config = fast_config(server.url());
    config.timeout = Duration::from_millis(200);
    let err = Client::new(config)
        .expect("client")
        .get_payment(1)
        .await
        .expect_err("never answers");
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert_eq!(server.requests().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Look before re-creating (§3: preference de-duplication by key is unconfirmed)
// ---------------------------------------------------------------------------------------------

/// A tiny MP preference store whose first `lost_answers` creates are carried out but never
/// answered in time (or answered 502), like a create whose response is lost.
#[derive(Default)]
struct LossyPreferences {
    created: Vec<Value>,
    posts: Vec<String>,
    searches: Vec<String>,
    lost_answers: u32,
    lost_with_502: bool,
    /// When set, a lost create is not carried out (MP failed before storing it).
    lost_before_storing: bool,
    /// When set, the search answers a 200 that is not JSON.
    search_broken: bool,
}

async fn lossy_server(state: Arc<Mutex<LossyPreferences>>) -> String {
    let server = RecordingServer::start(move |seen, _| {
        let mut s = state.lock().expect("state");
        match (seen.method.as_str(), seen.path.as_str()) {
            ("POST", "/checkout/preferences") => {
                let request = seen.json();
                s.posts
                    .push(seen.header("x-idempotency-key").unwrap_or("").to_owned());
                let lost = s.lost_answers > 0;
                if lost {
                    s.lost_answers -= 1;
                }
                let n = s.created.len();
                let pref = json!({
                    "id": format!("1273205088-00000000-0000-4000-8000-{n:012}"),
                    "init_point": format!("https://www.mercadopago.com.pe/checkout/v1/redirect?pref_id={n}"),
                    "external_reference": request["external_reference"],
                    "expires": request["expires"],
                    "expiration_date_to": request["expiration_date_to"],
                    "items": request["items"],
                    "date_created": format_date(Utc::now()),
                });
                let store = !(lost && s.lost_before_storing);
                if store {
                    s.created.push(pref.clone());
                }
                if lost && s.lost_with_502 {
                    return Reply::json(502, json!({"message": "bad gateway"}).to_string());
                }
                let reply = Reply::json(201, if store { pref } else { Value::Null }.to_string());
                if lost {
                    // Never answered in the client's time (it gives up after 2 s).
                    reply.after(Duration::from_secs(30))
                } else {
                    reply
                }
            }
            ("GET", "/checkout/preferences/search") => {
                let reference = seen.query_value("external_reference").unwrap_or_default();
                s.searches.push(seen.query.clone().unwrap_or_default());
                if s.search_broken {
                    return Reply::json(200, json!("<html>maintenance</html>").to_string());
                }
                // Search elements are summaries: no init_point, items as titles.
                let elements: Vec<Value> = s
                    .created
                    .iter()
                    .filter(|p| p["external_reference"] == json!(reference))
                    .map(|p| json!({
                        "id": p["id"],
                        "external_reference": p["external_reference"],
                        "date_created": p["date_created"],
                        "expires": p["expires"],
                        "expiration_date_to": p["expiration_date_to"],
                        "items": ["Consulta general"],
                    }))
                    .collect();
                Reply::json(
                    200,
                    json!({"elements": elements, "next_offset": elements.len(), "total": elements.len()})
                        .to_string(),
                )
            }
            ("GET", path) => {
                let id = path.strip_prefix("/checkout/preferences/").unwrap_or("");
                match s.created.iter().find(|p| p["id"] == json!(id)) {
                    Some(p) => Reply::json(200, p.to_string()),
                    None => Reply::json(
                        404,
                        json!({"message": "not found", "error": "invalid_id", "status": 404, "cause": []})
                            .to_string(),
                    ),
                }
            }
            _ => Reply::new(405, ""),
        }
    })
    .await;
    server.url().to_owned()
}

fn lossy_client(base: &str) -> Client {
    // fast_config's 2 s: a loaded machine answers the live requests in time, only the 30 s
    // hang times out (a 300 ms timeout could also cut short a search or a re-create).
    Client::new(fast_config(base)).expect("client")
}

#[tokio::test]
async fn timed_out_create_returns_the_preference_it_made_instead_of_a_second_one() {
    let state = Arc::new(Mutex::new(LossyPreferences {
        lost_answers: 1,
        ..LossyPreferences::default()
    }));
    let base = lossy_server(state.clone()).await;
    let request = preference("visit-0202", "80", "PEN");
    let found = lossy_client(&base)
        .create_preference(&request, "charge-0202")
        .await
        .expect("the lost create is found");
    let s = state.lock().expect("state");
    assert_eq!(s.created.len(), 1, "exactly one preference created");
    assert_eq!(found.id, s.created[0]["id"].as_str().expect("id"));
    assert!(
        found.init_point.contains("pref_id=0"),
        "{}",
        found.init_point
    );
    assert_eq!(s.posts, ["charge-0202"], "no second create");
    assert_eq!(s.searches.len(), 1);
    assert!(
        s.searches[0].contains("external_reference=visit-0202"),
        "{}",
        s.searches[0]
    );
}

#[tokio::test]
async fn create_answered_502_after_storing_is_found_not_repeated() {
    let state = Arc::new(Mutex::new(LossyPreferences {
        lost_answers: 1,
        lost_with_502: true,
        ..LossyPreferences::default()
    }));
    let base = lossy_server(state.clone()).await;
    let found = lossy_client(&base)
        .create_preference(&preference("visit-0203", "80", "PEN"), "charge-0203")
        .await
        .expect("found");
    let s = state.lock().expect("state");
    assert_eq!(s.created.len(), 1);
    assert_eq!(found.id, s.created[0]["id"].as_str().expect("id"));
    assert_eq!(s.posts.len(), 1);
}

#[tokio::test]
async fn timed_out_create_that_stored_nothing_is_created_once_with_the_same_key() {
    let state = Arc::new(Mutex::new(LossyPreferences {
        lost_answers: 1,
        lost_before_storing: true,
        ..LossyPreferences::default()
    }));
    let base = lossy_server(state.clone()).await;
    let created = lossy_client(&base)
        .create_preference(&preference("visit-0204", "80", "PEN"), "charge-0204")
        .await
        .expect("created on the second attempt");
    let s = state.lock().expect("state");
    assert_eq!(s.created.len(), 1, "exactly one preference created");
    assert_eq!(created.id, s.created[0]["id"].as_str().expect("id"));
    assert_eq!(s.posts, ["charge-0204", "charge-0204"]);
    assert_eq!(s.searches.len(), 1, "looked once before re-creating");
}

#[tokio::test]
async fn an_older_link_for_the_same_reference_is_not_mistaken_for_the_lost_create() {
    let state = Arc::new(Mutex::new(LossyPreferences::default()));
    let base = lossy_server(state.clone()).await;
    let client = lossy_client(&base);
    // An earlier link of the same visit, with another window.
    let mut old = preference("visit-0205", "80", "PEN");
    old.expiration_date_to = Some(format_date(Utc::now() + chrono::Duration::minutes(10)));
    client
        .create_preference(&old, "charge-0205-a")
        .await
        .expect("old link");
    state.lock().expect("state").lost_answers = 1;
    state.lock().expect("state").lost_before_storing = true;
    let new = preference("visit-0205", "80", "PEN");
    let created = client
        .create_preference(&new, "charge-0205-b")
        .await
        .expect("new link");
    let s = state.lock().expect("state");
    assert_eq!(s.created.len(), 2);
    assert_eq!(created.id, s.created[1]["id"].as_str().expect("id"));
}

#[tokio::test]
async fn an_unreadable_search_does_not_block_the_re_create() {
    let state = Arc::new(Mutex::new(LossyPreferences {
        lost_answers: 1,
        lost_before_storing: true,
        search_broken: true,
        ..LossyPreferences::default()
    }));
    let base = lossy_server(state.clone()).await;
    lossy_client(&base)
        .create_preference(&preference("visit-0206", "80", "PEN"), "charge-0206")
        .await
        .expect("created with the same key");
    let s = state.lock().expect("state");
    assert_eq!(s.created.len(), 1);
    assert_eq!(s.posts, ["charge-0206", "charge-0206"]);
}
