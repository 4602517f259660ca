//! Test support shared by the crates' test suites: a fresh SQLite file or a fresh MySQL
//! schema per test. MySQL is `MOSTRADOR_TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306`); the test command starts a server when none answers, so
//! an unreachable server fails the test instead of skipping it.

use crate::store::SqlStore;
use sqlx::Executor;
use std::path::PathBuf;

/// Keeps a test database alive; dropping it removes the files (SQLite). MySQL schemas are
/// named `mostrador_t_<ulid>` and are dropped at the start of later runs when stale.
pub struct TestDb {
    pub store: SqlStore,
    _dir: Option<tempfile::TempDir>,
    pub url: String,
}

/// A fresh SQLite file in a temporary folder.
pub async fn sqlite() -> TestDb {
    sqlite_migrated(None).await
}

/// A fresh SQLite file migrated only up to `version`, as an older Mostrador left it.
pub async fn sqlite_at_version(version: i64) -> TestDb {
    sqlite_migrated(Some(version)).await
}

async fn sqlite_migrated(up_to: Option<i64>) -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("test.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = match up_to {
        None => SqlStore::open_sqlite(&path).await,
        Some(version) => SqlStore::connect_at_version(&url, version).await,
    }
    .expect("open sqlite");
    TestDb {
        store,
        url,
        _dir: Some(dir),
    }
}

/// The MySQL server tests use.
pub fn mysql_base_url() -> String {
    std::env::var("MOSTRADOR_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
        .trim_end_matches('/')
        .to_string()
}

/// A fresh schema on the test MySQL/MariaDB server.
pub async fn mysql() -> TestDb {
    mysql_migrated(None).await
}

/// A fresh MySQL/MariaDB schema migrated only up to `version`, as an older Mostrador left it.
pub async fn mysql_at_version(version: i64) -> TestDb {
    mysql_migrated(Some(version)).await
}

async fn mysql_migrated(up_to: Option<i64>) -> TestDb {
    sqlx::any::install_default_drivers();
    let base = mysql_base_url();
    let name = format!(
        "mostrador_t_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&format!("{base}/mysql"))
        .await
        .unwrap_or_else(|e| panic!("MySQL test server not reachable at {base}: {e}"));
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )))
        .await
        .expect("create test schema");
    let url = format!("{base}/{name}");
    let store = match up_to {
        None => SqlStore::connect(&url).await,
        Some(version) => SqlStore::connect_at_version(&url, version).await,
    }
    .expect("open mysql");
    TestDb {
        store,
        url,
        _dir: None,
    }
}
