//! The hub under test: started on the sandbox, seeded, sent each case, waited on until quiet.

use super::*;
use crate::compat::valid_create;
use crate::ed25519;
use crate::support::InProcess;
use desk::events::NoEvents;
use reqwest::header::HeaderValue;
use sandbox::{Fault, FaultKind, GhlRateLimit, Sandbox, seed};
use serde_json::{Value, json};
use server::Host;
use server::compat::{CompatState, router};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A delivery as sent: path with query, headers, body.
#[derive(Clone)]
pub struct Sent {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Sent {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} header in the captured delivery"))
    }
}

pub struct Hub {
    pub host: Host,
    pub sandbox: Sandbox,
    pub listener: String,
    pub compat: String,
    pub http: reqwest::Client,
    pub secret: String,
    pub ghl_token: String,
    pub mp_token: String,
    pub location_id: String,
    pub signer: ed25519::Signer,
    /// The seeded appointment (GHL id), booked through the compat API with an open link.
    pub ghl_id: String,
    /// Deliveries stored during set-up, for the replay cases.
    pub stored_mp: Sent,
    pub stored_ghl: Sent,
    pub _db: desk::testing::TestDb,
    pub _dir: tempfile::TempDir,
}

impl Hub {
    pub async fn start(db: desk::testing::TestDb) -> Hub {
        let signer = ed25519::Signer::from_seed([0x5a; 32]);
        // The test's own GHL key is trusted next to the sandbox's, like any extra GHL key.
        let ghl_keys = format!(
            "{}\n{}\n{}",
            sandbox::SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM,
            sandbox::SANDBOX_GHL_RSA_PUBLIC_KEY_PEM,
            signer.public_pem()
        );
        let InProcess { host, sandbox, dir } = InProcess::start(
            Some(&db.url),
            Arc::new(NoEvents),
            &[
                ("RECONCILE_INTERVAL_SECS", "86400"),
                ("GHL_WEBHOOK_PUBLIC_KEYS", &ghl_keys),
            ],
        )
        .await;
        // The snapshots read GHL's appointments after every case.
        sandbox.set_ghl_rate_limit(GhlRateLimit {
            burst_max: 1_000_000,
            burst_window: Duration::from_secs(10),
            daily_max: u32::MAX,
        });
        let c = sandbox.config().clone();

        let api = router(CompatState {
            desk: host.desk.clone(),
            token: TOKEN.to_string().into(),
        });
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let compat = format!("http://{}", socket.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(socket, api).await });

        let mut hub = Hub {
            listener: host.listener_url.clone(),
            host,
            compat,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            secret: c.mp_webhook_secret.clone(),
            ghl_token: c.ghl_access_token.clone(),
            mp_token: c.mp_access_token.clone(),
            location_id: c.location_id.clone(),
            signer,
            ghl_id: String::new(),
            stored_mp: Sent {
                path: String::new(),
                headers: Vec::new(),
                body: String::new(),
            },
            stored_ghl: Sent {
                path: String::new(),
                headers: Vec::new(),
                body: String::new(),
            },
            sandbox,
            _db: db,
            _dir: dir,
        };
        hub.seed().await;
        hub
    }

    /// One booking with an open link, made through the compat API; GHL's signed echo of it
    /// (captured, then handed to the listener); a signed MP delivery; a delivery signed with
    /// the test's own GHL key. Each one is checked to be accepted, so the refusals in the
    /// corpus are not a listener that refuses everything.
    pub async fn seed(&mut self) {
        // GHL's echo of the create is recorded but not sent, so it cannot race the create.
        self.sandbox
            .inject(Fault::new("ghl.webhooks", FaultKind::Drop).once());
        let mut body = valid_create();
        body["startTime"] = json!(lima(1, 9, 0));
        body["endTime"] = json!(lima(1, 9, 30));
        body["contactId"] = json!(seed::CONTACT_IDS[1]);
        let resp = self
            .http
            .post(format!("{}/api/appointments/create/", self.compat))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "seed booking");
        let created: Value = resp.json().await.unwrap();
        self.ghl_id = created["ghl_id"].as_str().unwrap().to_string();

        let echo = self
            .sandbox
            .wait_for_ghl_deliveries(1, Duration::from_secs(10))
            .await
            .into_iter()
            .find(|d| d.appointment_id == self.ghl_id)
            .expect("GHL's echo of the seeded booking");
        self.stored_ghl = Sent {
            path: GHL_PATH.into(),
            headers: echo.headers.clone(),
            body: echo.body.clone(),
        };
        let mut deliver = self
            .http
            .post(format!("{}{GHL_PATH}", self.listener))
            .body(echo.body.clone());
        for (k, v) in &echo.headers {
            deliver = deliver.header(k, v);
        }
        assert_eq!(deliver.send().await.unwrap().status(), 200, "GHL echo");

        // A topic the worker acknowledges and ignores, so processing finishes at once.
        let (r, ts) = (rid(), now_secs());
        let path = format!("{MP_PATH}?source_news=webhooks&data.id=9000000001&type=merchant_order");
        self.stored_mp = Sent {
            path: path.clone(),
            headers: vec![
                (
                    "x-signature".into(),
                    sign(&self.secret, "9000000001", &r, &ts),
                ),
                ("x-request-id".into(), r),
            ],
            body: json!({"type": "merchant_order", "data": {"id": "9000000001"}}).to_string(),
        };
        let mut mp = self
            .http
            .post(format!("{}{path}", self.listener))
            .body(self.stored_mp.body.clone());
        for (k, v) in &self.stored_mp.headers {
            mp = mp.header(k, v);
        }
        assert_eq!(mp.send().await.unwrap().status(), 200, "signed MP delivery");

        let control = json!({
            "type": "ContactCreate",
            "locationId": self.location_id,
            "timestamp": iso(chrono::Utc::now()),
            "webhookId": uuid::Uuid::new_v4().to_string(),
        })
        .to_string();
        let resp = self
            .http
            .post(format!("{}{GHL_PATH}", self.listener))
            .header(
                "x-ghl-signature",
                b64(&self.signer.sign(control.as_bytes())),
            )
            .body(control)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "the test's own GHL key is trusted");

        // Wait for the workers to finish with all three, so the corpus starts from rest.
        let store = self.host.desk.store().clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let counts = store.inbox_counts().await.unwrap();
            let outbox = store.pending_outbox(100).await.unwrap();
            if counts == (3, 3) && outbox.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "set-up did not settle: inbox {counts:?}, outbox {outbox:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        self.host.shutdown().await;
        self.sandbox.shutdown().await;
    }

    /// Waits until nothing is in flight: the sandbox has no webhook left to send (GHL's
    /// echoes, MP's notifications), every stored delivery is processed, and no owed side
    /// effect is due. A wrong case that started work is then seen in the next snapshot,
    /// deterministically; a correct one returns at once.
    pub async fn quiet(&self) {
        let store = self.host.desk.store().clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let idle = self.sandbox.pending_webhooks() == 0;
            let (stored, processed) = store.inbox_counts().await.unwrap();
            let due = store
                .pending_outbox(100)
                .await
                .unwrap()
                .iter()
                .any(|item| item.next_attempt_at <= chrono::Utc::now());
            if idle && stored == processed && !due {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never quiet: {} webhooks pending, inbox {stored}/{processed}, outbox due {due}",
                self.sandbox.pending_webhooks()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The listener answers `/healthz` with 200.
    pub async fn healthy(&self) -> bool {
        let url = format!("{}/healthz", self.listener);
        matches!(self.http.get(url).send().await, Ok(r) if r.status() == 200)
    }

    pub async fn send(&self, case: &Case) -> (u16, Vec<u8>) {
        let base = match case.target {
            Target::Listener => &self.listener,
            Target::Compat => &self.compat,
        };
        match &case.payload {
            Payload::Raw(bytes) => return raw_exchange(base, bytes.clone()).await,
            Payload::Declared(length) => {
                let head = format!("Content-Length: {length}\r\nExpect: 100-continue\r\n");
                return raw_exchange(base, raw_head(case, &head)).await;
            }
            Payload::Chunked(body) => {
                let mut request = raw_head(case, "Transfer-Encoding: chunked\r\n");
                for chunk in body.chunks(16 * 1024) {
                    request.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
                    request.extend(chunk);
                    request.extend(b"\r\n");
                }
                request.extend(b"0\r\n\r\n");
                return raw_exchange(base, request).await;
            }
            Payload::Empty | Payload::Bytes(_) => {}
        }
        let big = matches!(&case.payload, Payload::Bytes(b) if b.len() > COMPAT_LIMIT);
        // The listener's per-client limit is not what is tested here: wait it out.
        for _ in 0..50 {
            let mut req = self
                .http
                .request(case.method.clone(), format!("{base}{}", case.path));
            for (k, v) in &case.headers {
                req = req.header(k.as_str(), HeaderValue::from_bytes(v).unwrap());
            }
            if let Payload::Bytes(b) = &case.payload {
                req = req.body(b.clone());
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    let rate_limited = status == 429
                        && matches!(case.target, Target::Listener)
                        && String::from_utf8_lossy(&body).contains("too many");
                    if !rate_limited {
                        return (status, body);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                // The server refused and closed while a big body was still on its way. No
                // answer reached us, so there is no body to check for leaks (the client's own
                // error text names the URL, which is not the server's doing).
                Err(e) if big && !e.is_timeout() => return (CLOSED_EARLY, Vec::new()),
                Err(e) => return (0, format!("transport error: {e}").into_bytes()),
            }
        }
        (429, b"rate limited throughout".to_vec())
    }

    /// Problems with an answer's body: internal text, a credential, or a large echo.
    pub fn leaks(&self, body: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(body);
        let mut found = Vec::new();
        for needle in LEAKS {
            if text.contains(needle) {
                found.push(format!("answer contains {needle:?}"));
            }
        }
        for (what, secret) in [
            ("the compat token", TOKEN),
            ("the MP webhook secret", &self.secret),
            ("the MP access token", &self.mp_token),
            ("the GHL access token", &self.ghl_token),
        ] {
            if text.contains(secret) {
                found.push(format!("answer contains {what}"));
            }
        }
        if body.len() > 2048 {
            found.push(format!("answer is {} bytes long", body.len()));
        }
        found
    }
}

/// Writes `request` to `base` (`http://host:port`) over a raw socket while reading the answer,
/// so an early answer (413 before the body is read) is not lost; returns (status, body).
/// A connection the server ended with no answer (a reset while the client was still
/// sending) is [`CLOSED_EARLY`]; no answer within 20 s is status 0.
pub async fn raw_exchange(base: &str, request: Vec<u8>) -> (u16, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        let _ = wr.flush().await;
        wr
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut answer)).await;
    writer.abort();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(match read {
            Err(_) => 0,
            Ok(_) => CLOSED_EARLY,
        });
    let body = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| answer[at + 4..].to_vec())
        .unwrap_or_else(|| answer.clone());
    (status, body)
}

/// A raw request head for `case`: its method, path and headers, plus `extra` header lines.
fn raw_head(case: &Case, extra: &str) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}",
        case.method, case.path
    )
    .into_bytes();
    for (k, v) in &case.headers {
        head.extend(k.as_bytes());
        head.extend(b": ");
        head.extend(v);
        head.extend(b"\r\n");
    }
    head.extend(b"\r\n");
    head
}
