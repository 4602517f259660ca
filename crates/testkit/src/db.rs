//! Each test on both databases: [`Db`] names one, [`on_both_databases!`](crate::on_both_databases)
//! runs a scenario once per [`Db`].

use desk::testing::TestDb;

/// One of the two databases every store-touching test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// A fresh SQLite file in a temporary folder.
    Sqlite,
    /// A fresh schema on the test MariaDB/MySQL server (`MOSTRADOR_TEST_MYSQL_URL`).
    Mariadb,
}

impl Db {
    /// A fresh database of this kind, removed when the returned [`TestDb`] is dropped.
    pub async fn open(self) -> TestDb {
        match self {
            Db::Sqlite => desk::testing::sqlite().await,
            Db::Mariadb => desk::testing::mysql().await,
        }
    }

    /// `sqlite` or `mariadb`, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Mariadb => "mariadb",
        }
    }
}

/// Runs each scenario on a fresh SQLite file and on a fresh MariaDB schema, as the tests
/// `sqlite::<name>` and `mysql::<name>` on a multi-thread runtime.
///
/// A test is `name` (runs `async fn name(..)`) or `name => scenario`; attributes such as
/// `#[ignore]` carry over to both tests. The scenario receives the [`Db`]; after
/// `given setup;` it receives `setup(db).await` instead (a suite's world built on it).
///
/// ```ignore
/// testkit::on_both_databases!(given world; a_booking_opens_a_link, a_retry_books_once);
/// testkit::on_both_databases!(a_late_rejection_changes_nothing => late_rejection);
/// ```
#[macro_export]
macro_rules! on_both_databases {
    (given $setup:ident; $( $(#[$attr:meta])* $name:ident $(=> $scenario:ident)? ),* $(,)?) => {
        $crate::on_both_databases!(@tests sqlite Sqlite (given $setup) $( $(#[$attr])* $name $(=> $scenario)? ),*);
        $crate::on_both_databases!(@tests mysql Mariadb (given $setup) $( $(#[$attr])* $name $(=> $scenario)? ),*);
    };
    ($( $(#[$attr:meta])* $name:ident $(=> $scenario:ident)? ),* $(,)?) => {
        $crate::on_both_databases!(@tests sqlite Sqlite () $( $(#[$attr])* $name $(=> $scenario)? ),*);
        $crate::on_both_databases!(@tests mysql Mariadb () $( $(#[$attr])* $name $(=> $scenario)? ),*);
    };
    (@tests $module:ident $db:ident $given:tt $( $(#[$attr:meta])* $name:ident $(=> $scenario:ident)? ),*) => {
        mod $module {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    $crate::on_both_databases!(@run $given $db $name $($scenario)?);
                }
            )*
        }
    };
    (@run () $db:ident $name:ident) => {
        super::$name($crate::Db::$db).await
    };
    (@run () $db:ident $name:ident $scenario:ident) => {
        super::$scenario($crate::Db::$db).await
    };
    (@run (given $setup:ident) $db:ident $name:ident) => {
        super::$name(super::$setup($crate::Db::$db).await).await
    };
    (@run (given $setup:ident) $db:ident $name:ident $scenario:ident) => {
        super::$scenario(super::$setup($crate::Db::$db).await).await
    };
}
