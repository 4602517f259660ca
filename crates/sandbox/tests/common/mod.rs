//! Shared test fixture: a sandbox on a free loopback port and a raw reqwest client that talks
//! to it with hand-written JSON (never the client crates).

#![allow(dead_code)]

use chrono::Utc;
use reqwest::{Method, RequestBuilder};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

/// How long a wait for something that must happen may take before the test fails. Only a
/// broken (or badly stalled) run ever gets near it.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

pub struct Fixture {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
}

impl Fixture {
    pub async fn start() -> Self {
        let sandbox = Sandbox::start(SandboxConfig::demo())
            .await
            .expect("sandbox starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client builds");
        Self { sandbox, http }
    }

    /// A GHL request with the accepted token and the per-family `Version`.
    pub fn ghl(&self, method: Method, path: &str) -> RequestBuilder {
        let version = if path.starts_with("/calendars") {
            "2021-04-15"
        } else {
            "2021-07-28"
        };
        self.http
            .request(method, format!("{}{}", self.sandbox.ghl_base_url(), path))
            .bearer_auth(&self.sandbox.config().ghl_access_token)
            .header("Version", version)
            .header("Accept", "application/json")
    }

    /// An MP request with the accepted token.
    pub fn mp(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.sandbox.mp_base_url(), path))
            .bearer_auth(&self.sandbox.config().mp_access_token)
    }

    /// A control-route request.
    pub fn control(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(
            method,
            format!("{}/__control{}", self.sandbox.base_url(), path),
        )
    }

    /// Waits until the sandbox reports no webhook work in progress (nothing queued, held,
    /// delayed or scheduled for retry); panics after [`DEADLINE`].
    pub async fn idle(&self) {
        assert!(
            self.sandbox.wait_for_webhooks_idle(DEADLINE).await,
            "the sandbox still had {} webhook deliveries in progress after {DEADLINE:?}",
            self.sandbox.pending_webhooks()
        );
    }

    pub fn location_id(&self) -> String {
        self.sandbox.config().location_id.clone()
    }

    /// Free slots of `calendar_id` from now to `days` ahead, in the location's zone, in order.
    pub async fn free_slots(&self, calendar_id: &str, days: i64) -> Vec<String> {
        let start = Utc::now().timestamp_millis();
        let end = start + days * 86_400_000;
        let (status, body) = send(self.ghl(
            Method::GET,
            &format!(
                "/calendars/{calendar_id}/free-slots?startDate={start}&endDate={end}&timezone=America/Lima"
            ),
        ))
        .await;
        assert_eq!(status, 200, "{body}");
        let mut slots: Vec<String> = body
            .as_object()
            .expect("object")
            .iter()
            .filter(|(k, _)| *k != "traceId")
            .flat_map(|(_, v)| v["slots"].as_array().cloned().unwrap_or_default())
            .map(|s| s.as_str().expect("slot string").to_owned())
            .collect();
        slots.sort();
        slots
    }

    /// Creates an appointment on `slot` for the first seeded contact; returns (status, body).
    pub async fn book(&self, calendar_id: &str, slot: &str) -> (u16, Value) {
        send(
            self.ghl(Method::POST, "/calendars/events/appointments")
                .json(&serde_json::json!({
                    "calendarId": calendar_id,
                    "locationId": self.location_id(),
                    "contactId": sandbox::seed::CONTACT_IDS[0],
                    "startTime": slot,
                    "title": "Consulta",
                })),
        )
        .await
    }
}

/// Sends and returns (status, JSON body or Null).
pub async fn send(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request reaches the sandbox");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body reads");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends and returns (status, raw body text), for exact-number checks.
pub async fn send_text(request: RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("request reaches the sandbox");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body reads"))
}

/// One request a [`Hook`] received: path and query, headers, exact body bytes.
#[derive(Clone, Debug)]
pub struct Seen {
    pub target: String,
    pub headers: axum::http::HeaderMap,
    pub body: axum::body::Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_owned())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

type Script = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>;

/// A stand-in for the app's webhook listener on 127.0.0.1:0: records every POST on any path
/// and answers with scripted statuses (200 once the script runs out).
#[derive(Clone)]
pub struct Hook {
    pub base: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    script: Script,
}

impl Hook {
    pub async fn start() -> Hook {
        use axum::extract::State;
        type HookState = (std::sync::Arc<std::sync::Mutex<Vec<Seen>>>, Script);
        async fn hook(
            State((seen, script)): State<HookState>,
            uri: axum::http::Uri,
            headers: axum::http::HeaderMap,
            body: axum::body::Bytes,
        ) -> axum::http::StatusCode {
            let target = uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            seen.lock().expect("lock").push(Seen {
                target,
                headers,
                body,
            });
            let status = script.lock().expect("lock").pop_front().unwrap_or(200);
            axum::http::StatusCode::from_u16(status).expect("status")
        }
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let script: Script = Default::default();
        let app = axum::Router::new()
            .fallback(axum::routing::post(hook))
            .with_state((seen.clone(), script.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hook {
            base: format!("http://{addr}"),
            seen,
            script,
        }
    }

    /// The next answers, in order.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.script
            .lock()
            .expect("lock")
            .extend(statuses.iter().copied());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Waits for at least `n` requests and returns them all; panics with what arrived if
    /// they do not come within [`DEADLINE`] (generous: it only bounds a broken run).
    pub async fn wait(&self, n: usize) -> Vec<Seen> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "waited {DEADLINE:?} for {n} webhook requests, got {}: {:?}",
                    seen.len(),
                    seen.iter().map(|s| &s.target).collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Asserts that exactly `n` requests arrived and no more are coming: waits until the
    /// sandbox has no webhook work left (queued, held, delayed or retrying events; its own
    /// record, not a pause), then counts.
    pub async fn settle(&self, fx: &Fixture, n: usize) -> Vec<Seen> {
        fx.idle().await;
        let seen = self.seen();
        assert_eq!(
            seen.len(),
            n,
            "unexpected extra or missing deliveries: {:?}",
            seen.iter().map(|s| &s.target).collect::<Vec<_>>()
        );
        seen
    }
}
