//! GHL appointment webhooks (ghl.md §8): AppointmentCreate / AppointmentUpdate /
//! AppointmentDelete for every write, echoes of API writes included, signed over the exact
//! bytes sent, retried only on a 429 answer, and bent by the `ghl.webhooks` faults.
//!
//! Writes queue events while still holding the world lock; one worker task delivers them in
//! that order. Retries (after a 429) run on their own tasks, so a slow retry never holds up
//! later events. The signing is written from §8.3 alone; nothing is shared with the client.

use std::sync::{OnceLock, Weak};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::Appointment;
use super::keys;
use crate::clock::{ghl_stamp, ghl_time, utc_millis};
use crate::faults::{FaultKind, take_webhook};
use crate::state::{App, Shared, WebhookWork, ghl_id};

/// GHL retries a 429 answer up to 6 times…
const MAX_RETRIES: u32 = 6;
/// …10 provider minutes apart, plus jitter of up to 2 provider minutes.
const RETRY_MINUTES: f64 = 10.0;
const JITTER_MINUTES: f64 = 2.0;
/// How long an out-of-order event waits for a successor before going out anyway.
const HOLD_LIMIT: Duration = Duration::from_secs(1);
/// How long the sandbox waits for the receiver (GHL's own timeout is undocumented).
const RECEIVER_TIMEOUT: Duration = Duration::from_secs(22);

/// Which signature headers deliveries carry (ghl.md §8.3, §10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GhlSignatureMode {
    /// `X-GHL-Signature` (Ed25519) and `X-WH-Signature` (RSA-SHA256), both valid.
    #[default]
    Both,
    /// Only `X-GHL-Signature` (after the legacy sunset).
    Ed25519Only,
    /// Only the legacy `X-WH-Signature`.
    RsaOnly,
    /// `X-GHL-Signature: N/A` and a valid `X-WH-Signature`.
    NotApplicable,
    /// Both headers valid for the original body, but the body is altered after signing.
    TamperedBody,
    /// Both headers present, signed with other keys than the exported public ones.
    WrongKey,
}

/// An appointment write, as queued for delivery.
#[derive(Clone, Debug)]
pub(crate) struct GhlEvent {
    /// `AppointmentCreate`, `AppointmentUpdate` or `AppointmentDelete`.
    pub kind: &'static str,
    /// The appointment right after the write (right before it, for a delete).
    pub appointment: Appointment,
    /// When the write happened (the sandbox clock).
    pub at: DateTime<Utc>,
}

impl GhlEvent {
    pub fn created(appointment: &Appointment, at: DateTime<Utc>) -> Self {
        Self::new("AppointmentCreate", appointment, at)
    }

    pub fn updated(appointment: &Appointment, at: DateTime<Utc>) -> Self {
        Self::new("AppointmentUpdate", appointment, at)
    }

    pub fn deleted(appointment: &Appointment, at: DateTime<Utc>) -> Self {
        Self::new("AppointmentDelete", appointment, at)
    }

    fn new(kind: &'static str, appointment: &Appointment, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            appointment: appointment.clone(),
            at,
        }
    }
}

/// One GHL webhook delivery attempt, as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct GhlDelivery {
    /// Sequence number, from 1, in attempt order.
    pub seq: u64,
    /// What really happened (`AppointmentCreate`, …), even when the body says otherwise.
    pub event_type: String,
    /// The body's `webhookId` (the same on duplicates and retries).
    pub webhook_id: String,
    /// The appointment the event is about (the body may name another with `unknown_id`).
    pub appointment_id: String,
    /// The configured webhook URL.
    pub url: String,
    /// Where it was really sent after the tunnel rewrite; `None` when it was not sent.
    pub delivered_to: Option<String>,
    /// Request headers sent, in order.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes sent (UTF-8).
    pub body: String,
    /// HTTP status answered; `None` when no answer came or nothing was sent.
    pub status: Option<u16>,
    /// Why there is no status, when there is none.
    pub error: Option<String>,
    /// 0 for the first attempt, 1–6 for the retries after a 429.
    pub attempt: u32,
    /// The faults applied to this event (`drop`, `duplicate`, …), by name.
    pub faults: Vec<String>,
    /// When the attempt started (the sandbox clock).
    pub attempted_at: DateTime<Utc>,
}

impl GhlDelivery {
    /// A header's value, looked up case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The appointment object of the body, in the documented field order. `None` fields are
/// left out (the `missing_optional_fields` fault).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppointmentPayload {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    calendar_id: String,
    contact_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
    appointment_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    assigned_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    start_time: String,
    end_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_added: Option<String>,
    date_updated: String,
}

/// The body: `appointment` at top level (event pages) or under `data` (integration guide).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    location_id: String,
    timestamp: String,
    webhook_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    appointment: Option<AppointmentPayload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<AppointmentPayload>,
}

/// A delivery ready to send: bytes signed, headers built.
#[derive(Clone, Debug)]
struct Outgoing {
    event_type: String,
    webhook_id: String,
    appointment_id: String,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
    faults: Vec<String>,
}

/// What to do with a prepared event.
enum Plan {
    Send { duplicate: bool },
    Drop,
    Delay(Duration),
    Hold { duplicate: bool },
}

/// The fault's name as recorded (`stale_timestamp`, …).
fn fault_name(kind: &FaultKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"))
}

/// Builds the body and headers for one event under the faults that apply to it.
fn prepare(app: &App, event: &GhlEvent, url: String) -> (Outgoing, Plan) {
    let faults = take_webhook(app, "ghl.webhooks");
    let has = |f: &dyn Fn(&FaultKind) -> bool| faults.iter().any(f);
    let tz = app.tz;
    let a = &event.appointment;
    let full = !has(&|k| matches!(k, FaultKind::MissingOptionalFields));
    let keep = |value: String| full.then_some(value);
    let payload = AppointmentPayload {
        id: if has(&|k| matches!(k, FaultKind::UnknownId)) {
            ghl_id()
        } else {
            a.id.clone()
        },
        address: keep(a.address.clone()),
        title: keep(a.title.clone()),
        calendar_id: a.calendar_id.clone(),
        contact_id: a.contact_id.clone(),
        group_id: keep(a.group_id.clone()),
        appointment_status: a.status.clone(),
        assigned_user_id: keep(a.assigned_user_id.clone()),
        users: full.then(|| vec![a.assigned_user_id.clone()]),
        notes: keep(a.notes.clone()),
        source: keep("third_party".to_owned()),
        start_time: ghl_time(a.start, tz),
        end_time: ghl_time(a.end, tz),
        date_added: keep(ghl_stamp(a.date_added, tz)),
        date_updated: ghl_stamp(a.date_updated, tz),
    };
    let stale = faults.iter().find_map(|k| match k {
        FaultKind::StaleTimestamp { secs } => Some(*secs),
        _ => None,
    });
    let timestamp = event.at - chrono::Duration::seconds(stale.unwrap_or(0) as i64);
    let wrong_type = has(&|k| matches!(k, FaultKind::WrongType));
    let enveloped = has(&|k| matches!(k, FaultKind::DataEnvelope));
    let webhook_id = uuid::Uuid::new_v4().to_string();
    let (appointment, data) = if enveloped {
        (None, Some(payload))
    } else {
        (Some(payload), None)
    };
    let envelope = Envelope {
        kind: if wrong_type {
            "AppointmentCreate".to_owned()
        } else {
            event.kind.to_owned()
        },
        location_id: a.location_id.clone(),
        timestamp: utc_millis(timestamp),
        webhook_id: webhook_id.clone(),
        appointment,
        data,
    };
    let body = serde_json::to_string(&envelope).unwrap_or_default();
    let mode = app.settings().ghl_signature_mode;
    let (headers, body) = sign(mode, body);
    let duplicate = has(&|k| matches!(k, FaultKind::Duplicate));
    let plan = if has(&|k| matches!(k, FaultKind::Drop)) {
        Plan::Drop
    } else if let Some(ms) = faults.iter().find_map(|k| match k {
        FaultKind::Delay { ms } => Some(*ms),
        _ => None,
    }) {
        Plan::Delay(Duration::from_millis(ms))
    } else if has(&|k| matches!(k, FaultKind::OutOfOrder)) {
        Plan::Hold { duplicate }
    } else {
        Plan::Send { duplicate }
    };
    let outgoing = Outgoing {
        event_type: event.kind.to_owned(),
        webhook_id,
        appointment_id: a.id.clone(),
        url,
        headers,
        body,
        faults: faults.iter().map(fault_name).collect(),
    };
    (outgoing, plan)
}

/// The parsed signing keys, loaded once.
struct Keys {
    ed25519: ed25519_dalek::SigningKey,
    rsa: rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256>,
    wrong_ed25519: ed25519_dalek::SigningKey,
    wrong_rsa: rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256>,
}

fn keys() -> Option<&'static Keys> {
    static KEYS: OnceLock<Option<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ed = |pem: &str| ed25519_dalek::SigningKey::from_pkcs8_pem(pem).ok();
        let rsa_key = |pem: &str| {
            rsa::PrivateKey::from_pkcs8_pem(pem)
                .ok()
                .map(rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new)
        };
        let loaded = Some(Keys {
            ed25519: ed(keys::ED25519_PRIVATE_KEY_PEM)?,
            rsa: rsa_key(keys::RSA_PRIVATE_KEY_PEM)?,
            wrong_ed25519: ed(keys::WRONG_ED25519_PRIVATE_KEY_PEM)?,
            wrong_rsa: rsa_key(keys::WRONG_RSA_PRIVATE_KEY_PEM)?,
        });
        if loaded.is_none() {
            tracing::error!("embedded GHL webhook keys do not parse; deliveries go unsigned");
        }
        loaded
    })
    .as_ref()
}

/// Signs `body` per `mode`; returns the headers and the body to send (altered only in the
/// tampered mode, after signing).
fn sign(mode: GhlSignatureMode, body: String) -> (Vec<(String, String)>, String) {
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    let Some(k) = keys() else {
        return (headers, body);
    };
    let (ed, rsa_key) = match mode {
        GhlSignatureMode::WrongKey => (&k.wrong_ed25519, &k.wrong_rsa),
        _ => (&k.ed25519, &k.rsa),
    };
    let bytes = body.as_bytes();
    let ed_sig = || BASE64.encode(ed25519_dalek::Signer::sign(ed, bytes).to_bytes());
    let rsa_sig = || BASE64.encode(rsa_key.sign(bytes).to_vec());
    let (ghl, wh) = match mode {
        GhlSignatureMode::Both | GhlSignatureMode::TamperedBody | GhlSignatureMode::WrongKey => {
            (Some(ed_sig()), Some(rsa_sig()))
        }
        GhlSignatureMode::Ed25519Only => (Some(ed_sig()), None),
        GhlSignatureMode::RsaOnly => (None, Some(rsa_sig())),
        GhlSignatureMode::NotApplicable => (Some("N/A".to_owned()), Some(rsa_sig())),
    };
    if let Some(v) = ghl {
        headers.push(("X-GHL-Signature".to_owned(), v));
    }
    if let Some(v) = wh {
        headers.push(("X-WH-Signature".to_owned(), v));
    }
    let body = if mode == GhlSignatureMode::TamperedBody {
        tamper(body)
    } else {
        body
    };
    (headers, body)
}

/// Alters a signed body the way an attacker would: a changed status, else an extra space.
fn tamper(body: String) -> String {
    for status in [
        "\"appointmentStatus\":\"confirmed\"",
        "\"appointmentStatus\":\"new\"",
    ] {
        if body.contains(status) {
            return body.replacen(status, "\"appointmentStatus\":\"cancelled\"", 1);
        }
    }
    if body.contains("\"appointmentStatus\":\"cancelled\"") {
        return body.replacen(
            "\"appointmentStatus\":\"cancelled\"",
            "\"appointmentStatus\":\"confirmed\"",
            1,
        );
    }
    format!("{body} ")
}

/// The worker: delivers queued events in order until the sandbox is gone.
/// Each event comes with its [`WebhookWork`] guard, which lives until its last attempt.
pub(crate) async fn worker(
    app: Weak<Shared>,
    mut events: mpsc::UnboundedReceiver<(GhlEvent, WebhookWork)>,
) {
    let mut held: Option<(Outgoing, bool, WebhookWork)> = None;
    loop {
        let next = if held.is_some() {
            match tokio::time::timeout(HOLD_LIMIT, events.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    if let (Some(app), Some((out, dup, work))) = (app.upgrade(), held.take()) {
                        send_event(&app, out, dup, work).await;
                    }
                    continue;
                }
            }
        } else {
            events.recv().await
        };
        let Some((event, work)) = next else { break };
        let Some(app) = app.upgrade() else { break };
        let Some(url) = app.settings().ghl_webhook_url.clone() else {
            continue;
        };
        let (outgoing, plan) = prepare(&app, &event, url);
        match plan {
            Plan::Drop => {
                record(
                    &app,
                    &outgoing,
                    None,
                    None,
                    Some("dropped by fault".into()),
                    0,
                );
                drop(work);
            }
            Plan::Delay(wait) => {
                let app = app.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    send_event(&app, outgoing, false, work).await;
                });
            }
            Plan::Hold { duplicate } => {
                if let Some((previous, dup, previous_work)) = held.take() {
                    send_event(&app, previous, dup, previous_work).await;
                }
                held = Some((outgoing, duplicate, work));
                continue;
            }
            Plan::Send { duplicate } => send_event(&app, outgoing, duplicate, work).await,
        }
        if let Some((previous, dup, previous_work)) = held.take() {
            send_event(&app, previous, dup, previous_work).await;
        }
    }
}

/// First attempt (twice for a duplicate); a 429 starts the retry task.
/// `work` is released after the last attempt (after the retries, when there are any).
async fn send_event(app: &App, outgoing: Outgoing, duplicate: bool, work: WebhookWork) {
    let status = attempt(app, &outgoing, 0).await;
    if duplicate {
        attempt(app, &outgoing, 0).await;
    }
    if status == Some(429) {
        let app = app.clone();
        tokio::spawn(async move {
            retry(&app, &outgoing).await;
            drop(work);
        });
    }
}

/// GHL's retry policy: only after a 429, up to 6 more times, 10 min + jitter apart.
async fn retry(app: &App, outgoing: &Outgoing) {
    for n in 1..=MAX_RETRIES {
        let jitter = f64::from(uuid::Uuid::new_v4().as_u128() as u16) / f64::from(u16::MAX);
        let wait = app
            .settings()
            .provider_minutes(RETRY_MINUTES + JITTER_MINUTES * jitter);
        tokio::time::sleep(wait).await;
        if attempt(app, outgoing, n).await != Some(429) {
            break;
        }
    }
}

/// Sends once through the tunnels and records the attempt; returns the status answered.
async fn attempt(app: &App, outgoing: &Outgoing, n: u32) -> Option<u16> {
    let target = match crate::tunnel::route(app, &outgoing.url) {
        Ok(target) => target,
        Err(e) => {
            record(app, outgoing, None, None, Some(e), n);
            return None;
        }
    };
    let mut request = app
        .http
        .post(&target)
        .timeout(RECEIVER_TIMEOUT)
        .body(outgoing.body.clone());
    for (name, value) in &outgoing.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let (status, error) = match request.send().await {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(e) if e.is_timeout() => (None, Some("timed out".to_owned())),
        Err(e) => (None, Some(format!("connection failed: {e}"))),
    };
    tracing::info!(
        event = %outgoing.event_type,
        webhook_id = %outgoing.webhook_id,
        attempt = n,
        status = ?status,
        error = ?error,
        "ghl webhook delivery"
    );
    record(app, outgoing, Some(target), status, error, n);
    status
}

fn record(
    app: &App,
    outgoing: &Outgoing,
    delivered_to: Option<String>,
    status: Option<u16>,
    error: Option<String>,
    attempt: u32,
) {
    let now = app.now();
    let mut world = app.world();
    let seq = world.ghl_deliveries.len() as u64 + 1;
    world.ghl_deliveries.push(GhlDelivery {
        seq,
        event_type: outgoing.event_type.clone(),
        webhook_id: outgoing.webhook_id.clone(),
        appointment_id: outgoing.appointment_id.clone(),
        url: outgoing.url.clone(),
        delivered_to,
        headers: outgoing.headers.clone(),
        body: outgoing.body.clone(),
        status,
        error,
        attempt,
        faults: outgoing.faults.clone(),
        attempted_at: now,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_keys_parse() {
        assert!(keys().is_some());
    }

    #[test]
    fn modes_choose_the_documented_headers() {
        let names = |mode| {
            sign(mode, "{}".to_owned())
                .0
                .into_iter()
                .map(|(k, v)| (k, v.len()))
                .collect::<Vec<_>>()
        };
        // 64-byte Ed25519 and 512-byte RSA-4096 signatures, base64.
        assert_eq!(
            names(GhlSignatureMode::Both),
            vec![
                ("Content-Type".to_owned(), 16),
                ("X-GHL-Signature".to_owned(), 88),
                ("X-WH-Signature".to_owned(), 684)
            ]
        );
        assert_eq!(names(GhlSignatureMode::NotApplicable)[1].1, 3);
        assert_eq!(names(GhlSignatureMode::RsaOnly).len(), 2);
    }
}
