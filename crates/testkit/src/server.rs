//! A recording loopback server for client suites that need answers the sandbox cannot give: it
//! keeps every request (method, path, query, headers, body, arrival time) and answers with
//! whatever the test's closure returns, after an optional delay.
//!
//! It knows nothing of any provider: the `ghl` and `mercadopago` suites script their own
//! answers, so neither client reads another's idea of the API through this module.

use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;

/// Every request a [`RecordingServer`] saw, in arrival order.
pub type Log = Arc<Mutex<Vec<Seen>>>;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The HTTP method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The raw query, if the URL had one.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body, whole.
    pub body: RequestBody,
    /// When the handler got the request (before reading its body).
    pub at: Instant,
}

impl Seen {
    /// The header `name` as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON; panics when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The query as decoded pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    /// The first decoded value of the query parameter `key`.
    pub fn query_value(&self, key: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The token of an `Authorization: Bearer …` header.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
    }
}

/// A request body: reads as `&[u8]` and compares with byte-string literals (`b"{}"`).
#[derive(Clone, PartialEq, Eq)]
pub struct RequestBody(Vec<u8>);

impl Deref for RequestBody {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

// Only `[u8]`, so `body.as_ref() == b"…"` has one reading.
impl AsRef<[u8]> for RequestBody {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for RequestBody {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.0 == other[..]
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies are JSON or forms in these suites: text reads better in a failed assertion.
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers, in order; a later one replaces an earlier one of the same name.
    pub headers: Vec<(String, String)>,
    /// The body, as sent.
    pub body: String,
    /// How long to wait before answering (the request is recorded at once).
    pub delay: Duration,
}

impl Reply {
    /// `status` with `body` and no headers.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with `body` as `application/json`.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, body).header("content-type", "application/json")
    }

    /// Adds the header `name: value`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answers only after `delay`: a hung server for a client with a shorter timeout.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A loopback server on `127.0.0.1:0` that records each request and answers it from a closure.
/// It serves until the test's runtime shuts down.
#[derive(Debug, Clone)]
pub struct RecordingServer {
    url: String,
    log: Log,
}

impl RecordingServer {
    /// Serves `answer`, which gets each request and its 0-based arrival index.
    pub async fn start<F>(answer: F) -> Self
    where
        F: Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    {
        let log: Log = Arc::default();
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
                    method: parts.method,
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers,
                    body: RequestBody(body),
                    at,
                };
                let index = {
                    let mut log = log.lock().expect("log");
                    log.push(seen.clone());
                    log.len() - 1
                };
                respond(answer(&seen, index)).await
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url: format!("http://{addr}"),
            log,
        }
    }

    /// A server answering every request with the same status, headers and body.
    pub async fn canned(status: u16, headers: &[(&str, &str)], body: &str) -> Self {
        let reply = headers
            .iter()
            .fold(Reply::new(status, body), |r, (name, value)| {
                r.header(name, value)
            });
        Self::start(move |_, _| reply.clone()).await
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The shared log, for suites that keep it apart from the server.
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// A copy of every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().expect("log").clone()
    }
}

async fn respond(reply: Reply) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends `request` over a fresh connection and returns the whole raw response.
    async fn raw(url: &str, request: &str) -> String {
        let addr = url.strip_prefix("http://").expect("http URL");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    }

    #[tokio::test]
    async fn records_each_request_and_answers_from_the_script_by_index() {
        let server = RecordingServer::start(|seen, i| {
            Reply::json(201 + i as u16, format!(r#"{{"path":"{}"}}"#, seen.path))
                .header("x-index", &i.to_string())
        })
        .await;
        let first = raw(
            server.url(),
            "POST /a?b=1&c=d%20e HTTP/1.1\r\nhost: x\r\nauthorization: Bearer tok\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
        )
        .await;
        let second = raw(
            server.url(),
            "GET /z HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(first.starts_with("HTTP/1.1 201"), "{first}");
        assert!(first.contains("x-index: 0"), "{first}");
        assert!(first.ends_with(r#"{"path":"/a"}"#), "{first}");
        assert!(second.starts_with("HTTP/1.1 202"), "{second}");

        let seen = server.requests();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].method, Method::POST);
        assert_eq!(seen[0].path, "/a");
        assert_eq!(seen[0].query_value("c").as_deref(), Some("d e"));
        assert_eq!(seen[0].bearer(), Some("tok"));
        assert_eq!(seen[0].body, b"{}");
        assert_eq!(seen[0].json(), serde_json::json!({}));
        assert_eq!(seen[1].query, None);
        assert!(seen[1].at >= seen[0].at);
    }

    #[tokio::test]
    async fn a_delayed_reply_is_recorded_at_once() {
        let server =
            RecordingServer::start(|_, _| Reply::new(200, "late").after(Duration::from_secs(30)))
                .await;
        let url = server.url().to_owned();
        let pending = tokio::spawn(async move {
            raw(
                &url,
                "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            )
            .await
        });
        // Waits on the condition, not a guessed time: recorded long before the 30 s reply.
        let recorded = async {
            while server.requests().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), recorded)
            .await
            .expect("recorded");
        assert!(!pending.is_finished(), "the reply waits for its delay");
        pending.abort();
    }
}
