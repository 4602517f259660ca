//! Mercado Pago webhook delivery (mercadopago.md §9): the signed `x-signature`, the Webhooks
//! request format, fake tunnels, and the record of every delivery attempt.
//!
//! The signing code here is written from §9.3 alone and shares nothing with the client crate,
//! so that a misreading on either side fails a test instead of being mirrored.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::clock::mp_date;
use crate::state::App;

/// How long MP waits for an answer (`X-Socket-Timeout`).
pub const SOCKET_TIMEOUT: Duration = Duration::from_millis(22_000);

/// The signed manifest: `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, where an absent
/// `data.id` or `x-request-id` drops its whole `key:value;` pair (§9.3 step 3).
pub fn manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut out = String::new();
    if let Some(id) = data_id {
        out.push_str(&format!("id:{id};"));
    }
    if let Some(rid) = request_id {
        out.push_str(&format!("request-id:{rid};"));
    }
    out.push_str(&format!("ts:{ts};"));
    out
}

/// `v1` = lowercase hex HMAC-SHA256 of `manifest` keyed with the secret's UTF-8 bytes.
pub fn sign_manifest(secret: &str, manifest: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(manifest.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The whole `x-signature` header value: `ts=<ts>,v1=<hex>`.
pub fn x_signature(
    secret: &str,
    data_id: Option<&str>,
    request_id: Option<&str>,
    ts: &str,
) -> String {
    let v1 = sign_manifest(secret, &manifest(data_id, request_id, ts));
    format!("ts={ts},v1={v1}")
}

/// A registered fake tunnel: `public_base` (https) forwards to `local_base` (loopback http).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    /// The public URL prefix, as MP would call it.
    pub public_base: String,
    /// Where the sandbox really delivers.
    pub local_base: String,
}

impl Tunnel {
    pub(crate) fn new(public_base: &str, local_base: &str) -> Self {
        Self {
            public_base: public_base.trim_end_matches('/').to_owned(),
            local_base: local_base.trim_end_matches('/').to_owned(),
        }
    }

    /// The forwarded URL, when `url` starts with this tunnel's public base at a boundary.
    fn forward(&self, url: &str) -> Option<String> {
        let rest = url.strip_prefix(&self.public_base)?;
        (rest.is_empty() || rest.starts_with(['/', '?', '#']))
            .then(|| format!("{}{}", self.local_base, rest))
    }
}

/// One delivery attempt, as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Sequence number, from 1, in attempt order.
    pub seq: u64,
    /// Topic (`payment`).
    pub topic: String,
    /// `payment.created`, `payment.updated`, …
    pub action: String,
    /// The resource id sent as `data.id`.
    pub data_id: String,
    /// The URL MP calls: the `notification_url` with `data.id` and `type` appended.
    pub url: String,
    /// Where it was really sent after the tunnel rewrite; `None` when it could not be sent.
    pub delivered_to: Option<String>,
    /// Request headers sent, in order.
    pub headers: Vec<(String, String)>,
    /// Request body sent.
    pub body: String,
    /// HTTP status answered; `None` when no answer came (no tunnel, refused, timeout).
    pub status: Option<u16>,
    /// Why there is no status, when there is none.
    pub error: Option<String>,
    /// `X-Retry` value of this attempt.
    pub retry: u32,
    /// When the attempt started.
    pub attempted_at: DateTime<Utc>,
}

/// The notification URL with MP's query parameters appended to whatever query it has.
fn with_webhook_query(
    notification_url: &str,
    data_id: &str,
    topic: &str,
) -> Result<String, String> {
    let mut url =
        url::Url::parse(notification_url).map_err(|e| format!("bad notification_url: {e}"))?;
    url.query_pairs_mut()
        .append_pair("data.id", data_id)
        .append_pair("type", topic);
    Ok(url.into())
}

/// Applies the tunnels; refuses https without a tunnel and anything outside loopback.
fn route(app: &App, url: &str) -> Result<String, String> {
    let forwarded = {
        let tunnels = app.tunnels();
        tunnels
            .iter()
            .filter_map(|t| t.forward(url).map(|f| (t.public_base.len(), f)))
            .max_by_key(|(len, _)| *len)
            .map(|(_, f)| f)
    };
    let target = match forwarded {
        Some(f) => f,
        None if url.starts_with("https://") => {
            return Err("no tunnel registered for this https notification_url".into());
        }
        None => url.to_owned(),
    };
    let parsed = url::Url::parse(&target).map_err(|e| format!("bad delivery URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback {
        // The sandbox only ever talks to this machine.
        return Err("refusing to deliver outside loopback".into());
    }
    Ok(target)
}

/// Delivers one Webhooks-format payment notification (§9.2) and records the attempt.
pub(crate) async fn deliver_payment(
    app: &App,
    notification_url: &str,
    payment_id: i64,
    action: &str,
) -> Delivery {
    let data_id = payment_id.to_string();
    let now = app.now();
    let (notification_id, user_id) = {
        let mut world = app.world();
        (world.mp.new_notification_id(), world.mp.collector_id)
    };
    let ts = now.timestamp().to_string();
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({
        "id": notification_id,
        "live_mode": false,
        "type": "payment",
        "date_created": mp_date(now, app.tz),
        "user_id": user_id,
        "api_version": "v1",
        "action": action,
        "data": { "id": data_id },
    })
    .to_string();
    let headers = vec![
        (
            "x-signature".to_owned(),
            x_signature(
                &app.config.mp_webhook_secret,
                Some(&data_id),
                Some(&request_id),
                &ts,
            ),
        ),
        ("x-request-id".to_owned(), request_id),
        ("X-Retry".to_owned(), "0".to_owned()),
        (
            "X-Socket-Timeout".to_owned(),
            SOCKET_TIMEOUT.as_millis().to_string(),
        ),
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("User-Agent".to_owned(), "restclient-node/4.0.0".to_owned()),
    ];
    let mut delivery = Delivery {
        seq: 0,
        topic: "payment".into(),
        action: action.into(),
        data_id: data_id.clone(),
        url: notification_url.to_owned(),
        delivered_to: None,
        headers,
        body,
        status: None,
        error: None,
        retry: 0,
        attempted_at: now,
    };
    match with_webhook_query(notification_url, &data_id, "payment") {
        Err(e) => delivery.error = Some(e),
        Ok(url) => {
            delivery.url = url.clone();
            match route(app, &url) {
                Err(e) => delivery.error = Some(e),
                Ok(target) => {
                    delivery.delivered_to = Some(target.clone());
                    send(app, &target, &mut delivery).await;
                }
            }
        }
    }
    tracing::info!(
        payment_id,
        action,
        status = ?delivery.status,
        error = ?delivery.error,
        "mp webhook delivery"
    );
    let mut world = app.world();
    delivery.seq = world.deliveries.len() as u64 + 1;
    world.deliveries.push(delivery.clone());
    delivery
}

async fn send(app: &App, target: &str, delivery: &mut Delivery) {
    let mut request = app.http.post(target).timeout(SOCKET_TIMEOUT);
    for (name, value) in &delivery.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    match request.body(delivery.body.clone()).send().await {
        Ok(response) => delivery.status = Some(response.status().as_u16()),
        Err(e) if e.is_timeout() => delivery.error = Some("timed out after 22 s".into()),
        Err(e) => delivery.error = Some(format!("connection failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_webhook_query_to_an_existing_query() {
        let url = with_webhook_query(
            "https://x.example/hooks/mp?source_news=webhooks",
            "42",
            "payment",
        );
        assert_eq!(
            url.as_deref(),
            Ok("https://x.example/hooks/mp?source_news=webhooks&data.id=42&type=payment")
        );
    }

    #[test]
    fn tunnel_forwards_only_at_a_path_boundary() {
        let t = Tunnel::new("https://abc.ngrok.app/", "http://127.0.0.1:9000");
        assert_eq!(
            t.forward("https://abc.ngrok.app/hooks?x=1").as_deref(),
            Some("http://127.0.0.1:9000/hooks?x=1")
        );
        assert_eq!(t.forward("https://abc.ngrok.app.evil.example/hooks"), None);
    }
}
