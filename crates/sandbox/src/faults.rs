//! Fault injection for both providers: what a test asks to go wrong, and the middleware that
//! makes API routes misbehave. Webhook faults are stored here too and read by the delivery
//! code of each provider (`ghl/webhooks.rs`, `mp/webhooks.rs`).
//!
//! A [`Fault`] names a route by a stable string and says what happens and how many times
//! (`times` absent = every time). Patterns: an exact name, `ghl.*` / `mp.*` (a prefix ending
//! in `.*`), or `*`. The first matching API fault applies to a request; every matching webhook
//! fault applies to an event.
//!
//! Route names:
//! - GHL API: `ghl.oauth.token`, `ghl.locations.get`, `ghl.calendars.list`,
//!   `ghl.calendars.get`, `ghl.free_slots`, `ghl.events.list`, `ghl.appointments.create`,
//!   `ghl.appointments.get`, `ghl.appointments.update`, `ghl.appointments.delete`,
//!   `ghl.contacts.create`, `ghl.contacts.get`, `ghl.contacts.update`, `ghl.contacts.upsert`,
//!   `ghl.contacts.search`, `ghl.contacts.duplicate`, `ghl.contacts.tags.add`,
//!   `ghl.contacts.tags.remove`, `ghl.contacts.notes.create`, `ghl.contacts.notes.list`,
//!   `ghl.messages.send` (and `ghl.unknown` for unrouted paths).
//! - MP API: `mp.preferences.create`, `mp.preferences.get`, `mp.preferences.update`,
//!   `mp.preferences.search`, `mp.payments.get`, `mp.payments.search`, `mp.payments.update`,
//!   `mp.refunds.create`, `mp.refunds.list`, `mp.refunds.get`, `mp.merchant_orders.get`,
//!   `mp.merchant_orders.search` (and `mp.unknown`).
//! - Webhook streams: `ghl.webhooks`, `mp.webhooks`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::state::{App, trace_id};

/// One thing to go wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// A route name (see the module docs), `ghl.*`, `mp.*` or `*`.
    pub route: String,
    /// What happens.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many times it happens; `None` (absent in JSON) = every time until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

impl Fault {
    /// A fault that applies every time until cleared.
    pub fn new(route: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            route: route.into(),
            kind,
            times: None,
        }
    }

    /// Limits it to the next `n` matching requests or events.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Limits it to the next matching request or event.
    pub fn once(self) -> Self {
        self.times(1)
    }
}

/// What goes wrong. JSON: `{"route": …, "kind": "status", "status": 503, "times": 2}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    // ---- API routes ----
    /// The request waits `ms` before being handled.
    Latency { ms: u64 },
    /// Answer `status` without handling the request, in the provider's error shape. A 429
    /// carries the provider's headers: GHL's five `X-RateLimit-*` (remaining 0), MP's
    /// `Retry-After` (`retry_after_secs`, default 1). GHL sends `Retry-After` only when
    /// `retry_after_secs` is given (whether GHL sends it is unconfirmed).
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// The request IS handled (its write happens), then the response is held `ms`
    /// (default 300,000: longer than any client timeout). Models "timed out after the write".
    Hang {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
    },
    /// The request is handled and the first half of its body is sent: invalid JSON.
    TruncatedBody,
    /// A proxy's HTML error page instead of JSON, with `status` (default 502).
    HtmlBody {
        #[serde(default = "default_html_status")]
        status: u16,
    },

    // ---- webhook streams (`ghl.webhooks`, `mp.webhooks`) ----
    /// The event is never delivered (recorded with error "dropped by fault").
    Drop,
    /// The same request is sent twice: same bytes, same `webhookId` / `x-request-id`.
    Duplicate,
    /// The event is delivered `ms` later (real milliseconds, not scaled).
    Delay { ms: u64 },
    /// GHL: the event is held and delivered right after the next event of the stream (or
    /// after 1 s without one), e.g. Update before Create. MP: a `payment.updated` is sent
    /// before the `payment.created`.
    OutOfOrder,
    /// The timestamp is `secs` old: GHL `timestamp`, MP `ts` (signature still valid).
    StaleTimestamp { secs: u64 },
    /// GHL: the generic envelope `{type, locationId, timestamp, webhookId, data:{…}}`.
    DataEnvelope,
    /// GHL: `type` says `AppointmentCreate` whatever happened (the doc examples' bug).
    WrongType,
    /// Optional fields left out. GHL: `address`, `notes`, `groupId`, `users`, `source`,
    /// `title`, `assignedUserId`, `dateAdded`. MP: `live_mode`, `user_id`, `api_version`,
    /// `date_created`.
    MissingOptionalFields,
    /// The notification names an id that does not exist (GHL `appointment.id`, MP `data.id`),
    /// correctly signed.
    UnknownId,
    /// MP: an IPN copy (`?topic=payment&id=N`) even when the URL asks for webhooks only.
    BothFormats,
    /// MP: `x-signature` made with another secret.
    WrongSecret,
    /// MP: no `x-request-id` header (the manifest drops that pair; still valid).
    NoRequestId,
    /// MP: a 13-digit millisecond `ts` (still valid).
    MillisTs,
    /// MP: the body is altered after signing (still verifies: MP does not sign the body).
    TamperedBody,
}

fn default_html_status() -> u16 {
    502
}

impl FaultKind {
    /// True for the kinds that act on API requests rather than webhook deliveries.
    pub fn is_api(&self) -> bool {
        matches!(
            self,
            FaultKind::Latency { .. }
                | FaultKind::Status { .. }
                | FaultKind::Hang { .. }
                | FaultKind::TruncatedBody
                | FaultKind::HtmlBody { .. }
        )
    }
}

/// A stored fault and how many uses it has left.
#[derive(Clone, Debug)]
pub(crate) struct ActiveFault {
    pub fault: Fault,
}

fn route_matches(pattern: &str, name: &str) -> bool {
    pattern == "*"
        || pattern == name
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| prefix.ends_with('.') && name.starts_with(prefix))
}

/// Uses up one application of every matching fault of the given category and returns them.
fn take(app: &App, name: &str, api: bool, first_only: bool) -> Vec<FaultKind> {
    let mut faults = app.faults();
    let mut taken = Vec::new();
    for active in faults.iter_mut() {
        if active.fault.kind.is_api() != api || !route_matches(&active.fault.route, name) {
            continue;
        }
        if let Some(n) = active.fault.times.as_mut() {
            if *n == 0 {
                continue;
            }
            *n -= 1;
        }
        taken.push(active.fault.kind.clone());
        if first_only {
            break;
        }
    }
    faults.retain(|a| a.fault.times != Some(0));
    taken
}

/// The webhook faults that apply to the next event of `stream` (`ghl.webhooks`/`mp.webhooks`).
pub(crate) fn take_webhook(app: &App, stream: &str) -> Vec<FaultKind> {
    take(app, stream, false, false)
}

/// Stores a fault.
pub(crate) fn inject(app: &App, fault: Fault) {
    app.faults().push(ActiveFault { fault });
}

/// Which provider a request belongs to, for naming routes and shaping error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    Ghl,
    Mp,
}

/// The stable name of a route, from its method and path (below `/ghl` or `/mp`).
pub(crate) fn route_name(provider: Provider, method: &Method, path: &str) -> &'static str {
    let path = path
        .strip_prefix("/ghl")
        .or_else(|| path.strip_prefix("/mp"))
        .unwrap_or(path);
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    let m = method.as_str();
    match provider {
        Provider::Ghl => match (m, segments.as_slice()) {
            ("POST", ["oauth", "token"]) => "ghl.oauth.token",
            ("GET", ["locations", _]) => "ghl.locations.get",
            ("GET", ["calendars"]) => "ghl.calendars.list",
            ("GET", ["calendars", "events"]) => "ghl.events.list",
            ("POST", ["calendars", "events", "appointments"]) => "ghl.appointments.create",
            ("GET", ["calendars", "events", "appointments", _]) => "ghl.appointments.get",
            ("PUT", ["calendars", "events", "appointments", _]) => "ghl.appointments.update",
            ("DELETE", ["calendars", "events", _]) => "ghl.appointments.delete",
            ("GET", ["calendars", _]) => "ghl.calendars.get",
            ("GET", ["calendars", _, "free-slots"]) => "ghl.free_slots",
            ("POST", ["contacts"]) => "ghl.contacts.create",
            ("POST", ["contacts", "upsert"]) => "ghl.contacts.upsert",
            ("POST", ["contacts", "search"]) => "ghl.contacts.search",
            ("GET", ["contacts", "search", "duplicate"]) => "ghl.contacts.duplicate",
            ("GET", ["contacts", _]) => "ghl.contacts.get",
            ("PUT", ["contacts", _]) => "ghl.contacts.update",
            ("POST", ["contacts", _, "tags"]) => "ghl.contacts.tags.add",
            ("DELETE", ["contacts", _, "tags"]) => "ghl.contacts.tags.remove",
            ("POST", ["contacts", _, "notes"]) => "ghl.contacts.notes.create",
            ("GET", ["contacts", _, "notes"]) => "ghl.contacts.notes.list",
            ("POST", ["conversations", "messages"]) => "ghl.messages.send",
            _ => "ghl.unknown",
        },
        Provider::Mp => match (m, segments.as_slice()) {
            ("POST", ["checkout", "preferences"]) => "mp.preferences.create",
            ("GET", ["checkout", "preferences", "search"]) => "mp.preferences.search",
            ("GET", ["checkout", "preferences", _]) => "mp.preferences.get",
            ("PUT", ["checkout", "preferences", _]) => "mp.preferences.update",
            ("GET", ["v1", "payments", "search"]) => "mp.payments.search",
            ("GET", ["v1", "payments", _]) => "mp.payments.get",
            ("PUT", ["v1", "payments", _]) => "mp.payments.update",
            ("POST", ["v1", "payments", _, "refunds"]) => "mp.refunds.create",
            ("GET", ["v1", "payments", _, "refunds"]) => "mp.refunds.list",
            ("GET", ["v1", "payments", _, "refunds", _]) => "mp.refunds.get",
            ("GET", ["merchant_orders", "search"]) => "mp.merchant_orders.search",
            ("GET", ["merchant_orders", _]) => "mp.merchant_orders.get",
            _ => "mp.unknown",
        },
    }
}

/// Middleware for GHL API routes.
pub(crate) async fn ghl_api_faults(State(app): State<App>, req: Request, next: Next) -> Response {
    apply(app, Provider::Ghl, req, next).await
}

/// Middleware for MP API routes.
pub(crate) async fn mp_api_faults(State(app): State<App>, req: Request, next: Next) -> Response {
    apply(app, Provider::Mp, req, next).await
}

async fn apply(app: App, provider: Provider, req: Request, next: Next) -> Response {
    let name = route_name(provider, req.method(), req.uri().path());
    let Some(kind) = take(&app, name, true, true).into_iter().next() else {
        return next.run(req).await;
    };
    tracing::info!(route = name, fault = ?kind, "injected fault");
    match kind {
        FaultKind::Latency { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        FaultKind::Status {
            status,
            retry_after_secs,
        } => status_response(provider, status, retry_after_secs),
        FaultKind::Hang { ms } => {
            let response = next.run(req).await;
            tokio::time::sleep(Duration::from_millis(ms.unwrap_or(300_000))).await;
            response
        }
        FaultKind::TruncatedBody => {
            let response = next.run(req).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(half))
        }
        FaultKind::HtmlBody { status } => html_response(status),
        // Webhook kinds never reach here (`take` filters by category).
        _ => next.run(req).await,
    }
}

/// An injected status in the provider's error shape.
fn status_response(provider: Provider, status: u16, retry_after_secs: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = code.canonical_reason().unwrap_or("Error");
    let mut response = match provider {
        Provider::Ghl => {
            let message = if status == 429 {
                "Too many requests"
            } else {
                reason
            };
            (
                code,
                axum::Json(json!({
                    "statusCode": status,
                    "message": message,
                    "error": reason,
                    "traceId": trace_id(),
                })),
            )
                .into_response()
        }
        Provider::Mp => {
            let key = reason.to_ascii_lowercase().replace([' ', '-'], "_");
            (
                code,
                axum::Json(json!({
                    "message": reason,
                    "error": key,
                    "status": status,
                    "cause": [],
                })),
            )
                .into_response()
        }
    };
    let retry_after = match (provider, status) {
        (Provider::Mp, 429) => Some(retry_after_secs.unwrap_or(1)),
        _ => retry_after_secs,
    };
    if let Some(secs) = retry_after
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn html_response(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let title = format!(
        "{} {}",
        code.as_u16(),
        code.canonical_reason().unwrap_or("Error")
    );
    let html = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    (
        code,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_prefix_and_all() {
        assert!(route_matches("mp.payments.get", "mp.payments.get"));
        assert!(route_matches("mp.*", "mp.payments.get"));
        assert!(route_matches("*", "ghl.free_slots"));
        assert!(!route_matches("mp.*", "ghl.free_slots"));
        assert!(!route_matches("mp.pay*", "mp.payments.get"));
    }

    #[test]
    fn routes_have_stable_names() {
        let name = |p, m: Method, path| route_name(p, &m, path);
        assert_eq!(
            name(Provider::Ghl, Method::GET, "/calendars/"),
            "ghl.calendars.list"
        );
        assert_eq!(
            name(Provider::Ghl, Method::GET, "/calendars/abc/free-slots"),
            "ghl.free_slots"
        );
        assert_eq!(
            name(Provider::Ghl, Method::DELETE, "/calendars/events/abc"),
            "ghl.appointments.delete"
        );
        assert_eq!(
            name(Provider::Mp, Method::POST, "/v1/payments/17/refunds"),
            "mp.refunds.create"
        );
        assert_eq!(
            name(Provider::Mp, Method::GET, "/mp/v1/payments/search"),
            "mp.payments.search"
        );
    }

    #[test]
    fn faults_read_from_flat_json() {
        let f: Fault = serde_json::from_str(
            r#"{"route":"mp.payments.get","kind":"status","status":503,"times":2}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            f,
            Fault::new(
                "mp.payments.get",
                FaultKind::Status {
                    status: 503,
                    retry_after_secs: None
                }
            )
            .times(2)
        );
        let html: Fault = serde_json::from_str(r#"{"route":"*","kind":"html_body"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(html.kind, FaultKind::HtmlBody { status: 502 });
    }
}
