//! Mercado Pago notifications (mercadopago.md §9): the signed Webhooks request, the unsigned
//! IPN copy, MP's retry schedule, the `mp.webhooks` faults, and the record of every attempt.
//!
//! A `notification_url` gets both formats unless its query says `source_news=webhooks` (only
//! Webhooks) or `source_news=ipn` (only IPN). Any answer but 200/201, or none within the
//! timeout, schedules retries on the configured schedule with `X-Retry` counting up; each
//! retry is signed afresh (new `ts`) with the same `x-request-id` and body.
//!
//! The signing code here is written from §9.3 alone and shares nothing with the client crate,
//! so that a misreading on either side fails a test instead of being mirrored.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::clock::mp_date;
use crate::faults::{FaultKind, take_webhook};
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

/// One delivery attempt, as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Sequence number, from 1, in attempt order.
    pub seq: u64,
    /// `webhook` (signed, `data.id`/`type` query) or `ipn` (unsigned, `topic`/`id` query).
    pub format: String,
    /// Topic (`payment`).
    pub topic: String,
    /// `payment.created`, `payment.updated`, …
    pub action: String,
    /// The resource id sent (`data.id`, or `id` for IPN).
    pub data_id: String,
    /// The URL MP calls: the `notification_url` with its parameters appended.
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
    /// `X-Retry` value of this attempt (0 first, then 1, 2, …).
    pub retry: u32,
    /// The faults applied to this notification, by name.
    pub faults: Vec<String>,
    /// When the attempt started (the sandbox clock).
    pub attempted_at: DateTime<Utc>,
}

impl Delivery {
    /// A header's value, looked up case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The notification URL with parameters appended to whatever query it has.
fn with_query(notification_url: &str, pairs: &[(&str, &str)]) -> Result<String, String> {
    let mut url =
        url::Url::parse(notification_url).map_err(|e| format!("bad notification_url: {e}"))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    Ok(url.into())
}

/// `source_news` of the notification URL, if any.
fn source_news(notification_url: &str) -> Option<String> {
    url::Url::parse(notification_url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "source_news")
            .map(|(_, v)| v.into_owned())
    })
}

/// How `ts` is written.
#[derive(Clone, Copy, Debug)]
enum TsStyle {
    Seconds,
    Millis,
}

/// A notification ready to send; headers that depend on the attempt are added per attempt.
#[derive(Clone, Debug)]
struct Outgoing {
    format: &'static str,
    action: String,
    data_id: String,
    /// Full URL (parameters appended), or the error building it.
    url: Result<String, String>,
    body: String,
    /// Signed deliveries only: secret, the `data.id` signed, `x-request-id` (if sent).
    signing: Option<Signing>,
    ts_style: TsStyle,
    stale_secs: u64,
    faults: Vec<String>,
}

#[derive(Clone, Debug)]
struct Signing {
    secret: String,
    request_id: Option<String>,
}

fn has(faults: &[FaultKind], f: impl Fn(&FaultKind) -> bool) -> bool {
    faults.iter().any(f)
}

fn fault_name(kind: &FaultKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"))
}

/// Notifies `notification_url` that payment `payment_id` had `action`, in the formats it
/// asks for, under the `mp.webhooks` faults. Returns the status the Webhooks-format first
/// attempt got (`None` without one: failed, dropped, delayed, or IPN only).
pub(crate) async fn notify_payment(
    app: &App,
    notification_url: &str,
    payment_id: i64,
    action: &str,
) -> Option<u16> {
    let _work = app.webhook_work();
    let faults = take_webhook(app, "mp.webhooks");
    let news = source_news(notification_url);
    let want_webhook = news.as_deref() != Some("ipn");
    let want_ipn = news.as_deref() != Some("webhooks")
        || has(&faults, |k| matches!(k, FaultKind::BothFormats));
    let data_id = if has(&faults, |k| matches!(k, FaultKind::UnknownId)) {
        // Far above every id the sandbox hands out.
        "99999999999999".to_owned()
    } else {
        payment_id.to_string()
    };
    let mut status = None;
    if want_webhook {
        if action == "payment.created" && has(&faults, |k| matches!(k, FaultKind::OutOfOrder)) {
            let early = webhook(app, notification_url, &data_id, "payment.updated", &faults);
            dispatch(app, early, &[]).await;
        }
        let out = webhook(app, notification_url, &data_id, action, &faults);
        status = dispatch(app, out, &faults).await;
    }
    if want_ipn {
        let out = ipn(app, notification_url, &data_id, action, &faults);
        dispatch(app, out, &faults).await;
    }
    status
}

/// The Webhooks format (§9.2): `?data.id=&type=payment`, signed.
fn webhook(
    app: &App,
    notification_url: &str,
    data_id: &str,
    action: &str,
    faults: &[FaultKind],
) -> Outgoing {
    let now = app.now();
    let (notification_id, user_id) = {
        let mut world = app.world();
        (world.mp.new_notification_id(), world.mp.collector_id)
    };
    let mut body = serde_json::Map::new();
    body.insert("id".into(), notification_id.into());
    let full = !has(faults, |k| matches!(k, FaultKind::MissingOptionalFields));
    if full {
        body.insert("live_mode".into(), false.into());
    }
    body.insert("type".into(), "payment".into());
    if full {
        body.insert("date_created".into(), mp_date(now, app.tz).into());
        body.insert("user_id".into(), user_id.into());
        body.insert("api_version".into(), "v1".into());
    }
    body.insert("action".into(), action.into());
    let body_id = if has(faults, |k| matches!(k, FaultKind::TamperedBody)) {
        // The body is not signed: a forged body id still verifies (§9.2).
        format!("1{data_id}")
    } else {
        data_id.to_owned()
    };
    body.insert("data".into(), serde_json::json!({ "id": body_id }));
    let body = ordered_body(&body);
    let secret = if has(faults, |k| matches!(k, FaultKind::WrongSecret)) {
        format!("wrong-{}", app.config.mp_webhook_secret)
    } else {
        app.config.mp_webhook_secret.clone()
    };
    let request_id = (!has(faults, |k| matches!(k, FaultKind::NoRequestId)))
        .then(|| uuid::Uuid::new_v4().to_string());
    Outgoing {
        format: "webhook",
        action: action.to_owned(),
        data_id: data_id.to_owned(),
        url: with_query(
            notification_url,
            &[("data.id", data_id), ("type", "payment")],
        ),
        body,
        signing: Some(Signing { secret, request_id }),
        ts_style: if has(faults, |k| matches!(k, FaultKind::MillisTs)) {
            TsStyle::Millis
        } else {
            TsStyle::Seconds
        },
        stale_secs: faults
            .iter()
            .find_map(|k| match k {
                FaultKind::StaleTimestamp { secs } => Some(*secs),
                _ => None,
            })
            .unwrap_or(0),
        faults: faults.iter().map(fault_name).collect(),
    }
}

/// Serialises the body in MP's documented key order (§9.2), whatever the map's order.
fn ordered_body(map: &serde_json::Map<String, serde_json::Value>) -> String {
    const ORDER: [&str; 8] = [
        "id",
        "live_mode",
        "type",
        "date_created",
        "user_id",
        "api_version",
        "action",
        "data",
    ];
    let parts: Vec<String> = ORDER
        .iter()
        .filter_map(|k| {
            map.get(*k)
                .map(|v| format!("{}:{}", serde_json::Value::from(*k), v))
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// The IPN format (§9.1): `?topic=payment&id=N`, unsigned.
fn ipn(
    app: &App,
    notification_url: &str,
    data_id: &str,
    action: &str,
    faults: &[FaultKind],
) -> Outgoing {
    let resource = format!("{}/mp/v1/payments/{data_id}", app.base_url);
    Outgoing {
        format: "ipn",
        action: action.to_owned(),
        data_id: data_id.to_owned(),
        url: with_query(notification_url, &[("topic", "payment"), ("id", data_id)]),
        body: serde_json::json!({ "resource": resource, "topic": "payment" }).to_string(),
        signing: None,
        ts_style: TsStyle::Seconds,
        stale_secs: 0,
        faults: faults.iter().map(fault_name).collect(),
    }
}

/// Applies drop / delay / duplicate, then sends the first attempt (and schedules retries).
async fn dispatch(app: &App, out: Outgoing, faults: &[FaultKind]) -> Option<u16> {
    if has(faults, |k| matches!(k, FaultKind::Drop)) {
        record(
            app,
            &out,
            0,
            Vec::new(),
            None,
            None,
            Some("dropped by fault".into()),
        );
        return None;
    }
    let duplicate = has(faults, |k| matches!(k, FaultKind::Duplicate));
    if let Some(ms) = faults.iter().find_map(|k| match k {
        FaultKind::Delay { ms } => Some(*ms),
        _ => None,
    }) {
        let app = app.clone();
        let work = app.webhook_work();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            first_attempt(&app, out, duplicate).await;
            drop(work);
        });
        return None;
    }
    first_attempt(app, out, duplicate).await
}

fn delivered(status: Option<u16>) -> bool {
    matches!(status, Some(200 | 201))
}

async fn first_attempt(app: &App, out: Outgoing, duplicate: bool) -> Option<u16> {
    let headers = headers(app, &out, 0);
    let status = attempt(app, &out, 0, headers.clone()).await;
    if duplicate {
        attempt(app, &out, 0, headers).await;
    }
    if !delivered(status) {
        let app = app.clone();
        let work = app.webhook_work();
        tokio::spawn(async move {
            retry(&app, &out).await;
            drop(work);
        });
    }
    status
}

/// MP's retry schedule, scaled; stops at the first 200/201.
async fn retry(app: &App, out: &Outgoing) {
    let schedule = app.settings().mp_retry_schedule;
    for (n, minutes) in (1u32..).zip(schedule.minutes().iter()) {
        let wait = app.settings().provider_minutes(*minutes as f64);
        tokio::time::sleep(wait).await;
        let headers = headers(app, out, n);
        if delivered(attempt(app, out, n, headers).await) {
            break;
        }
    }
}

/// The request headers of attempt `n`: signed afresh for Webhooks.
fn headers(app: &App, out: &Outgoing, n: u32) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if let Some(signing) = &out.signing {
        let at = app.now() - chrono::Duration::seconds(out.stale_secs as i64);
        let ts = match out.ts_style {
            TsStyle::Seconds => at.timestamp().to_string(),
            TsStyle::Millis => at.timestamp_millis().to_string(),
        };
        headers.push((
            "x-signature".to_owned(),
            x_signature(
                &signing.secret,
                Some(&out.data_id),
                signing.request_id.as_deref(),
                &ts,
            ),
        ));
        if let Some(rid) = &signing.request_id {
            headers.push(("x-request-id".to_owned(), rid.clone()));
        }
    }
    let timeout = app.settings().mp_webhook_timeout;
    headers.push(("X-Retry".to_owned(), n.to_string()));
    headers.push((
        "X-Socket-Timeout".to_owned(),
        timeout.as_millis().to_string(),
    ));
    headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    headers.push(("User-Agent".to_owned(), "restclient-node/4.0.0".to_owned()));
    headers
}

/// Sends once through the tunnels and records the attempt.
async fn attempt(app: &App, out: &Outgoing, n: u32, headers: Vec<(String, String)>) -> Option<u16> {
    let target = out
        .url
        .clone()
        .and_then(|url| crate::tunnel::route(app, &url));
    let target = match target {
        Ok(t) => t,
        Err(e) => {
            record(app, out, n, headers, None, None, Some(e));
            return None;
        }
    };
    let timeout = app.settings().mp_webhook_timeout;
    let mut request = app.http.post(&target).timeout(timeout);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let (status, error) = match request.body(out.body.clone()).send().await {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(e) if e.is_timeout() => (
            None,
            Some(format!("timed out after {} ms", timeout.as_millis())),
        ),
        Err(e) => (None, Some(format!("connection failed: {e}"))),
    };
    tracing::info!(
        format = out.format,
        data_id = %out.data_id,
        action = %out.action,
        retry = n,
        status = ?status,
        error = ?error,
        "mp notification delivery"
    );
    record(app, out, n, headers, Some(target), status, error);
    status
}

fn record(
    app: &App,
    out: &Outgoing,
    retry: u32,
    headers: Vec<(String, String)>,
    delivered_to: Option<String>,
    status: Option<u16>,
    error: Option<String>,
) {
    let now = app.now();
    let mut world = app.world();
    let seq = world.deliveries.len() as u64 + 1;
    world.deliveries.push(Delivery {
        seq,
        format: out.format.to_owned(),
        topic: "payment".to_owned(),
        action: out.action.clone(),
        data_id: out.data_id.clone(),
        url: out.url.clone().unwrap_or_else(|_| String::new()),
        delivered_to,
        headers,
        body: out.body.clone(),
        status,
        error,
        retry,
        faults: out.faults.clone(),
        attempted_at: now,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_webhook_query_to_an_existing_query() {
        let url = with_query(
            "https://x.example/hooks/mp?source_news=webhooks",
            &[("data.id", "42"), ("type", "payment")],
        );
        assert_eq!(
            url.as_deref(),
            Ok("https://x.example/hooks/mp?source_news=webhooks&data.id=42&type=payment")
        );
    }

    #[test]
    fn body_keeps_the_documented_key_order() {
        let mut m = serde_json::Map::new();
        m.insert("data".into(), serde_json::json!({"id": "1"}));
        m.insert("id".into(), 5.into());
        m.insert("type".into(), "payment".into());
        assert_eq!(
            ordered_body(&m),
            r#"{"id":5,"type":"payment","data":{"id":"1"}}"#
        );
    }
}
