//! A recording loopback server for tests that need answers the sandbox cannot give: it
//! keeps every request (method, path, query, headers, body, arrival time) and answers with
//! whatever the test's closure returns.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use ghl::{Client, ClientConfig};
use secrecy::SecretString;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The query as decoded pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    pub fn query_value(&self, key: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// Serves `answer` on `127.0.0.1:0`; `answer` gets the request and its 0-based index.
pub async fn recording<F>(answer: F) -> (String, Log)
where
    F: Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
{
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let shared = log.clone();
    let router = Router::new().fallback(move |req: Request| {
        let log = shared.clone();
        let answer = answer.clone();
        async move {
            let at = Instant::now();
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .expect("body")
                .to_vec();
            let seen = Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().map(str::to_owned),
                headers: parts.headers,
                body,
                at,
            };
            let index = {
                let mut log = log.lock().expect("log");
                log.push(seen.clone());
                log.len() - 1
            };
            let reply = answer(&seen, index);
            if !reply.delay.is_zero() {
                tokio::time::sleep(reply.delay).await;
            }
            let mut response = Response::new(Body::from(reply.body));
            *response.status_mut() = StatusCode::from_u16(reply.status).expect("status");
            for (name, value) in reply.headers {
                response.headers_mut().insert(
                    HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                    HeaderValue::from_str(&value).expect("header value"),
                );
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), log)
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
