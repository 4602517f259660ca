//! OAuth token handling (ghl.md §2.2) against a loopback server playing both GHL's
//! `/oauth/token` and an API endpoint: rotation saved before use, single flight, proactive
//! refresh, one retry on 401, and a consumed refresh token leading to re-authorisation.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use common::{Reply, Seen, recording, seen};
use ghl::{
    Client, ClientConfig, Error, MemoryTokenStore, OAuthConfig, OAuthTokens, TokenStore,
    TokenStoreError,
};
use secrecy::{ExposeSecret, SecretString};

const LOCATION_BODY: &str = r#"{"location":{"id":"Loc1","timezone":"America/Lima"}}"#;

fn tokens(access: &str, refresh: &str, expires_in: chrono::Duration) -> OAuthTokens {
    OAuthTokens::new(
        SecretString::from(access.to_owned()),
        SecretString::from(refresh.to_owned()),
        Utc::now() + expires_in,
    )
}

fn oauth_client(base: &str, store: Arc<dyn TokenStore>, margin: Duration) -> Client {
    let mut app = OAuthConfig::new(
        "client-id-1",
        SecretString::from("client-secret-1".to_owned()),
        store,
    );
    app.refresh_margin = margin;
    Client::new(ClientConfig::oauth(base, app)).expect("client builds")
}

fn form(seen: &Seen) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&seen.body)
        .into_owned()
        .collect()
}

fn form_value(seen: &Seen, key: &str) -> Option<String> {
    form(seen)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn token_reply(n: usize) -> Reply {
    Reply::json(
        200,
        format!(
            r#"{{"access_token":"access-{n}","token_type":"Bearer","expires_in":86399,"refresh_token":"refresh-{n}","scope":"calendars.readonly","userType":"Location","locationId":"Loc1","companyId":"Co1","userId":"Usr1"}}"#
        ),
    )
}

fn token_calls(log: &common::Log) -> Vec<Seen> {
    seen(log)
        .into_iter()
        .filter(|s| s.path == "/oauth/token")
        .collect()
}

fn api_calls(log: &common::Log) -> Vec<Seen> {
    seen(log)
        .into_iter()
        .filter(|s| s.path != "/oauth/token")
        .collect()
}

#[tokio::test]
async fn expiring_token_is_refreshed_and_the_rotation_saved_before_use() {
    let store = Arc::new(MemoryTokenStore::new(Some(tokens(
        "access-1",
        "refresh-1",
        chrono::Duration::seconds(60),
    ))));
    let saved_before_use = Arc::new(AtomicBool::new(false));
    let (store_seen, flag) = (store.clone(), saved_before_use.clone());
    let (base, log) = recording(move |s, _| {
        if s.path == "/oauth/token" {
            return token_reply(2);
        }
        if s.bearer() == Some("access-2") {
            let stored = store_seen.current().expect("stored");
            flag.store(
                stored.refresh_token.expose_secret() == "refresh-2"
                    && stored.access_token.expose_secret() == "access-2",
                Ordering::SeqCst,
            );
            return Reply::json(200, LOCATION_BODY);
        }
        Reply::json(401, r#"{"statusCode":401,"message":"Invalid token"}"#)
    })
    .await;
    // 60 s left is inside the default 5-minute margin.
    let client = oauth_client(&base, store.clone(), Duration::from_secs(300));
    client.get_location("Loc1").await.expect("location");

    assert!(
        saved_before_use.load(Ordering::SeqCst),
        "store held the new pair before use"
    );
    let token = token_calls(&log);
    assert_eq!(token.len(), 1);
    let t = &token[0];
    assert_eq!(t.method, "POST");
    assert_eq!(
        t.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        t.header("version"),
        None,
        "no Version header on /oauth/token"
    );
    assert_eq!(
        form_value(t, "grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(form_value(t, "refresh_token").as_deref(), Some("refresh-1"));
    assert_eq!(form_value(t, "client_id").as_deref(), Some("client-id-1"));
    assert_eq!(
        form_value(t, "client_secret").as_deref(),
        Some("client-secret-1")
    );
    assert_eq!(form_value(t, "user_type").as_deref(), Some("Location"));
    let api = api_calls(&log);
    assert_eq!(api.len(), 1, "the stale token was never sent");
    assert_eq!(api[0].bearer(), Some("access-2"));

    let stored = store.current().expect("stored");
    assert_eq!(stored.location_id.as_deref(), Some("Loc1"));
    assert!(stored.expires_at > Utc::now() + chrono::Duration::hours(23));
}

#[tokio::test]
async fn ten_concurrent_callers_share_one_refresh() {
    let store = Arc::new(MemoryTokenStore::new(Some(tokens(
        "access-1",
        "refresh-1",
        chrono::Duration::seconds(-5),
    ))));
    let (base, log) = recording(|s, _| {
        if s.path == "/oauth/token" {
            return token_reply(2).after(Duration::from_millis(200));
        }
        if s.bearer() == Some("access-2") {
            Reply::json(200, LOCATION_BODY)
        } else {
            Reply::json(401, r#"{"statusCode":401,"message":"Invalid token"}"#)
        }
    })
    .await;
    let client = oauth_client(&base, store, Duration::from_secs(300));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.get_location("Loc1").await }));
    }
    for t in tasks {
        t.await.expect("task").expect("location");
    }
    assert_eq!(token_calls(&log).len(), 1, "exactly one /oauth/token call");
    assert_eq!(api_calls(&log).len(), 10);
}

#[tokio::test]
async fn tokens_with_time_left_are_not_refreshed_and_the_margin_is_configurable() {
    let store = Arc::new(MemoryTokenStore::new(Some(tokens(
        "access-1",
        "refresh-1",
        chrono::Duration::seconds(60),
    ))));
    let (base, log) = recording(|s, _| {
        if s.path == "/oauth/token" {
            token_reply(2)
        } else {
            Reply::json(200, LOCATION_BODY)
        }
    })
    .await;
    // A 30-second margin (GHL's SDK value) leaves 60 s alone.
    let client = oauth_client(&base, store, Duration::from_secs(30));
    client.get_location("Loc1").await.expect("location");
    assert!(token_calls(&log).is_empty());
    assert_eq!(api_calls(&log)[0].bearer(), Some("access-1"));
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_once() {
    let store = Arc::new(MemoryTokenStore::new(Some(tokens(
        "access-1",
        "refresh-1",
        chrono::Duration::hours(20),
    ))));
    let (base, log) = recording(|s, _| {
        if s.path == "/oauth/token" {
            return token_reply(2);
        }
        match (s.bearer(), s.path.as_str()) {
            (Some("access-2"), "/locations/Loc1") => Reply::json(200, LOCATION_BODY),
            _ => Reply::json(401, r#"{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}"#),
        }
    })
    .await;
    let client = oauth_client(&base, store.clone(), Duration::from_secs(300));
    // Revoked early (e.g. reinstalled elsewhere): one refresh, one retry, success.
    client
        .get_location("Loc1")
        .await
        .expect("retried with the new token");
    assert_eq!(token_calls(&log).len(), 1);
    let api = api_calls(&log);
    assert_eq!(api.len(), 2);
    assert_eq!(api[0].bearer(), Some("access-1"));
    assert_eq!(api[1].bearer(), Some("access-2"));
    assert_eq!(
        store
            .current()
            .expect("stored")
            .refresh_token
            .expose_secret(),
        "refresh-2"
    );

    // A 401 that survives the refresh (e.g. a missing scope) is returned, not looped on.
    let err = client
        .list_calendars("Loc1")
        .await
        .expect_err("still 401 after one refresh");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_eq!(token_calls(&log).len(), 2, "one refresh for this call");
    assert_eq!(api_calls(&log).len(), 4, "two attempts for this call");
}

#[tokio::test]
async fn reusing_a_consumed_refresh_token_requires_reauthorisation() {
    let used: Arc<Mutex<HashSet<String>>> = Arc::default();
    let issued = Arc::new(AtomicUsize::new(1));
    let (used_seen, issued_seen) = (used.clone(), issued.clone());
    let (base, log) = recording(move |s, _| {
        if s.path != "/oauth/token" {
            return Reply::json(200, LOCATION_BODY);
        }
        let refresh = form_value(s, "refresh_token").unwrap_or_default();
        if !used_seen.lock().expect("used").insert(refresh) {
            return Reply::json(
                400,
                r#"{"error":"invalid_grant","error_description":"Invalid refresh token"}"#,
            );
        }
        token_reply(issued_seen.fetch_add(1, Ordering::SeqCst) + 1)
    })
    .await;
    let expired = || tokens("access-1", "refresh-1", chrono::Duration::seconds(-1));

    // Process A refreshes and rotates.
    let store_a = Arc::new(MemoryTokenStore::new(Some(expired())));
    oauth_client(&base, store_a.clone(), Duration::from_secs(300))
        .get_location("Loc1")
        .await
        .expect("first refresh works");

    // Process B still holds the consumed pair (a stale copy of the store).
    let store_b = Arc::new(MemoryTokenStore::new(Some(expired())));
    let err = oauth_client(&base, store_b.clone(), Duration::from_secs(300))
        .get_location("Loc1")
        .await
        .expect_err("consumed refresh token");
    match &err {
        Error::ReauthorizationRequired { message, .. } => {
            assert_eq!(message.as_deref(), Some("Invalid refresh token"));
        }
        other => panic!("expected ReauthorizationRequired, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains("refresh-1"));
    assert_eq!(api_calls(&log).len(), 1, "B never called the API");
    assert_eq!(
        store_b
            .current()
            .expect("kept")
            .refresh_token
            .expose_secret(),
        "refresh-1",
        "nothing was saved for B"
    );
}

#[tokio::test]
async fn suspended_location_on_refresh_is_reauthorisation_with_ghls_words() {
    let (base, _log) = recording(|s, _| {
        if s.path == "/oauth/token" {
            Reply::json(
                400,
                r#"{"statusCode":400,"message":"Location is not active","traceId":"t-oauth"}"#,
            )
        } else {
            Reply::json(200, LOCATION_BODY)
        }
    })
    .await;
    let store = Arc::new(MemoryTokenStore::new(Some(tokens(
        "access-1",
        "refresh-1",
        chrono::Duration::seconds(1),
    ))));
    let err = oauth_client(&base, store, Duration::from_secs(300))
        .get_location("Loc1")
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::ReauthorizationRequired { message: Some(m), trace_id: Some(t) } if m == "Location is not active" && t == "t-oauth"),
        "{err:?}"
    );
}

#[tokio::test]
async fn no_stored_tokens_means_reauthorisation_without_any_call() {
    let (base, log) = recording(|_, _| Reply::json(200, LOCATION_BODY)).await;
    let err = oauth_client(
        &base,
        Arc::new(MemoryTokenStore::default()),
        Duration::from_secs(300),
    )
    .get_location("Loc1")
    .await
    .expect_err("nothing stored");
    assert!(
        matches!(err, Error::ReauthorizationRequired { .. }),
        "{err:?}"
    );
    assert!(seen(&log).is_empty());
}

/// A store whose saves fail, as a locked keychain would.
struct FailingStore(MemoryTokenStore);

impl TokenStore for FailingStore {
    fn load(&self) -> Result<Option<OAuthTokens>, TokenStoreError> {
        self.0.load()
    }
    fn save(&self, _: &OAuthTokens) -> Result<(), TokenStoreError> {
        Err(TokenStoreError("keychain is locked".into()))
    }
}

#[tokio::test]
async fn a_rotation_that_cannot_be_saved_is_not_used() {
    let (base, log) = recording(|s, _| {
        if s.path == "/oauth/token" {
            token_reply(2)
        } else {
            Reply::json(200, LOCATION_BODY)
        }
    })
    .await;
    let store = Arc::new(FailingStore(MemoryTokenStore::new(Some(tokens(
        "access-1",
        "refresh-1",
        chrono::Duration::seconds(1),
    )))));
    let err = oauth_client(&base, store, Duration::from_secs(300))
        .get_location("Loc1")
        .await
        .expect_err("save failed");
    assert!(
        matches!(&err, Error::TokenStore(m) if m == "keychain is locked"),
        "{err:?}"
    );
    assert!(
        api_calls(&log).is_empty(),
        "the unsaved access token was not used"
    );
}

#[tokio::test]
async fn authorization_code_exchange_stores_the_first_pair() {
    let (base, log) = recording(|_, _| token_reply(1)).await;
    let store = Arc::new(MemoryTokenStore::default());
    let client = oauth_client(&base, store.clone(), Duration::from_secs(300));
    let first = client
        .exchange_authorization_code("code-123", Some("https://desk.example/callback"))
        .await
        .expect("exchanged");
    assert_eq!(first.company_id.as_deref(), Some("Co1"));
    assert_eq!(
        store.current().expect("saved").access_token.expose_secret(),
        "access-1"
    );
    let t = &seen(&log)[0];
    assert_eq!(
        form_value(t, "grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(form_value(t, "code").as_deref(), Some("code-123"));
    assert_eq!(
        form_value(t, "redirect_uri").as_deref(),
        Some("https://desk.example/callback")
    );

    let pit = Client::new(ClientConfig::new(
        &base,
        SecretString::from("pit".to_owned()),
    ))
    .expect("client");
    assert!(matches!(
        pit.exchange_authorization_code("c", None).await,
        Err(Error::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn tokens_and_secrets_never_show_in_debug_output() {
    let t = tokens(
        "access-secret-x",
        "refresh-secret-y",
        chrono::Duration::hours(1),
    );
    let shown = format!("{t:?}");
    assert!(
        !shown.contains("access-secret-x") && !shown.contains("refresh-secret-y"),
        "{shown}"
    );
    let app = OAuthConfig::new(
        "client-id-1",
        SecretString::from("client-secret-z".to_owned()),
        Arc::new(MemoryTokenStore::new(Some(t))),
    );
    let config = ClientConfig::oauth("http://127.0.0.1:9", app);
    let shown = format!("{config:?}");
    assert!(!shown.contains("client-secret-z"), "{shown}");
    let pit = ClientConfig::new(
        "http://127.0.0.1:9",
        SecretString::from("pit-abc".to_owned()),
    );
    assert!(!format!("{pit:?}").contains("pit-abc"));
}

#[tokio::test]
async fn a_pit_client_does_not_retry_a_401() {
    let (base, log) =
        recording(|_, _| Reply::json(401, r#"{"statusCode":401,"message":"Invalid token"}"#)).await;
    let err = common::pit_client(&base, |_| {})
        .get_location("Loc1")
        .await
        .expect_err("401");
    assert!(matches!(err, Error::Unauthorized { .. }));
    assert_eq!(seen(&log).len(), 1);
}
