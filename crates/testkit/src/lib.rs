//! What the test suites share, so each suite says only what it tests:
//!
//! | item | for |
//! | --- | --- |
//! | [`on_both_databases!`], [`Db`] (feature `db`) | one test body run on a fresh SQLite file and a fresh MariaDB schema |
//! | [`mp_signature`] | Mercado Pago's `x-signature`, computed independently of the client and the sandbox |
//! | [`RecordingServer`], [`Reply`], [`Seen`] (feature `server`, on by default) | a loopback server that records each request and answers from the test's script |
//!
//! Test code only: no crate depends on it outside `[dev-dependencies]`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[cfg(feature = "db")]
mod db;
#[cfg(feature = "db")]
pub use db::Db;

#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub use server::{Log, RecordingServer, Reply, RequestBody, Seen};

/// MP's `x-signature` header for `data_id`, `request_id` and `ts`: `ts=<ts>,v1=<hex>`, the
/// HMAC-SHA256 under `secret` of the manifest `id:<data_id>;request-id:<request_id>;ts:<ts>;`.
pub fn mp_signature(secret: &str, data_id: &str, request_id: &str, ts: &str) -> String {
    let manifest = format!("id:{data_id};request-id:{request_id};ts:{ts};");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(manifest.as_bytes());
    format!("ts={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
}
