//! What the local-server suites share: testkit's recording loopback server, seen through the
//! `(base URL, log)` pair these suites were written against, and a PIT client for it.

#![allow(dead_code)]

use ghl::{Client, ClientConfig};
use secrecy::SecretString;
pub use testkit::{Log, Reply, Seen};

/// Serves `answer` on `127.0.0.1:0`; `answer` gets the request and its 0-based index.
pub async fn recording<F>(answer: F) -> (String, Log)
where
    F: Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
{
    let server = testkit::RecordingServer::start(answer).await;
    (server.url().to_owned(), server.log())
}

pub fn seen(log: &Log) -> Vec<Seen> {
    log.lock().expect("log").clone()
}

/// A PIT client for `base` with `config` tweaks.
pub fn pit_client(base: &str, tweak: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = ClientConfig::new(base, SecretString::from("pit-test-token".to_owned()));
    tweak(&mut config);
    Client::new(config).expect("client builds")
}
