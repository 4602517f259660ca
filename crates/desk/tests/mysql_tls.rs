//! Encryption in transit to MySQL: sqlx is built with rustls, and `ssl-mode=REQUIRED` (what
//! `server::config` adds for a database on another host) is enforced, never quietly
//! downgraded to clear text.

use desk::Store;
use desk::store::SqlStore;

#[tokio::test]
async fn ssl_mode_required_is_enforced_against_the_test_server() {
    sqlx::any::install_default_drivers();
    let base = desk::testing::mysql_base_url();
    let db = desk::testing::mysql().await;
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    let have_ssl: String = sqlx::query_scalar("SELECT @@have_ssl")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    let required = format!("{}?ssl-mode=REQUIRED", db.url);
    match have_ssl.as_str() {
        // A server with TLS: the connection is encrypted.
        "YES" => {
            let store = SqlStore::connect(&required).await.unwrap_or_else(|e| {
                panic!("TLS connection to {base} failed: {e}");
            });
            store.ping().await.unwrap();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&required)
                .await
                .unwrap();
            let cipher: (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert!(!cipher.1.is_empty(), "the session is not encrypted");
        }
        // A server without TLS: REQUIRED refuses to connect instead of sending in clear,
        // while the same URL without it connects (so the refusal is about TLS).
        _ => {
            let refused = SqlStore::connect(&required).await;
            assert!(refused.is_err(), "ssl-mode=REQUIRED connected without TLS");
            SqlStore::connect(&db.url)
                .await
                .unwrap()
                .ping()
                .await
                .unwrap();
        }
    }
}
