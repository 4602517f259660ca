//! The fake GoHighLevel API v2 (shared/providers/ghl.md), mounted under `/ghl`.
//!
//! This module owns what every GHL route has in common: bearer auth with GHL's exact 401
//! body, the `Version` header (read leniently, recorded), the five `X-RateLimit-*` headers on
//! every response, and GHL's error shapes with a `traceId`. The submodules own one resource
//! family each.

pub(crate) mod appointments;
pub(crate) mod calendars;
pub(crate) mod contacts;
pub(crate) mod locations;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::SandboxConfig;
use crate::state::{App, trace_id};

pub(crate) use appointments::Appointment;
pub(crate) use calendars::Calendar;
pub(crate) use contacts::Contact;

/// GHL's documented limit: 100 requests per 10 s per location…
const BURST_MAX: u32 = 100;
const BURST_WINDOW: Duration = Duration::from_secs(10);
/// …and 200,000 per day.
const DAILY_MAX: u32 = 200_000;

/// The GHL part of the world: one location and what lives in it.
pub(crate) struct GhlWorld {
    pub location: locations::Location,
    pub calendars: Vec<Calendar>,
    pub appointments: Vec<Appointment>,
    pub contacts: Vec<Contact>,
}

impl GhlWorld {
    /// The seed data (see [`crate::seed`]).
    pub fn seeded(config: &SandboxConfig, now: DateTime<Utc>) -> Self {
        Self {
            location: locations::Location::from_config(config),
            calendars: crate::seed::calendars(&config.location_id),
            appointments: Vec::new(),
            contacts: crate::seed::contacts(&config.location_id, now),
        }
    }

    pub fn calendar(&self, id: &str) -> Option<&Calendar> {
        self.calendars.iter().find(|c| c.id == id)
    }

    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.id == id)
    }

    pub fn contact_mut(&mut self, id: &str) -> Option<&mut Contact> {
        self.contacts.iter_mut().find(|c| c.id == id)
    }
}

/// One request as the GHL side saw it, kept so tests can check what a client sent.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query below `/ghl`, as received.
    pub path: String,
    /// The `Version` header, if any (not enforced yet: real strictness is unconfirmed).
    pub version: Option<String>,
    /// Whether the bearer token was accepted.
    pub authorized: bool,
}

/// Request counters behind the `X-RateLimit-*` headers. Limits are reported, not enforced
/// yet (429s come with fault injection).
#[derive(Default)]
pub(crate) struct RateWindow {
    recent: VecDeque<Instant>,
    day: Option<chrono::NaiveDate>,
    today: u32,
}

impl RateWindow {
    /// Counts one request and returns (burst remaining, daily remaining).
    fn hit(&mut self, now: Instant, date: chrono::NaiveDate) -> (u32, u32) {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= BURST_WINDOW)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        if self.day != Some(date) {
            self.day = Some(date);
            self.today = 0;
        }
        self.today = self.today.saturating_add(1);
        let in_window = u32::try_from(self.recent.len()).unwrap_or(u32::MAX);
        (
            BURST_MAX.saturating_sub(in_window),
            DAILY_MAX.saturating_sub(self.today),
        )
    }
}

/// The GHL router (mounted under `/ghl` by the caller).
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/locations/{location_id}", get(locations::get_location))
        .route("/calendars/", get(calendars::list_calendars))
        .route("/calendars", get(calendars::list_calendars))
        .route("/calendars/events", get(appointments::list_events))
        .route(
            "/calendars/events/appointments",
            post(appointments::create_appointment),
        )
        .route(
            "/calendars/events/appointments/{event_id}",
            get(appointments::get_appointment).put(appointments::update_appointment),
        )
        .route("/calendars/{calendar_id}", get(calendars::get_calendar))
        .route(
            "/calendars/{calendar_id}/free-slots",
            get(calendars::free_slots),
        )
        .route("/contacts/upsert", post(contacts::upsert_contact))
        .route("/contacts/{contact_id}", get(contacts::get_contact))
        .route(
            "/contacts/{contact_id}/tags",
            post(contacts::add_tags).delete(contacts::remove_tags),
        )
        .route(
            "/contacts/{contact_id}/notes",
            post(contacts::add_note).get(contacts::list_notes),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        .with_state(app)
}

async fn not_found() -> GhlError {
    GhlError::NotFound("Cannot find the requested resource".into())
}

/// Auth, `Version` recording and rate-limit headers, in front of every GHL route.
async fn gate(State(app): State<App>, req: Request, next: Next) -> Response {
    let authorized =
        bearer(req.headers()).is_some_and(|token| token == app.config.ghl_access_token);
    let version = req
        .headers()
        .get("version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().to_string();
    let date = app.now().date_naive();
    let (remaining, daily_remaining) = {
        let mut world = app.world();
        world.ghl_requests.push(RecordedRequest {
            method,
            path,
            version,
            authorized,
        });
        world.ghl_rate.hit(Instant::now(), date)
    };
    let mut response = if authorized {
        next.run(req).await
    } else {
        GhlError::Unauthorized.into_response()
    };
    let headers = response.headers_mut();
    let pairs = [
        ("x-ratelimit-limit-daily", DAILY_MAX.to_string()),
        ("x-ratelimit-daily-remaining", daily_remaining.to_string()),
        (
            "x-ratelimit-interval-milliseconds",
            BURST_WINDOW.as_millis().to_string(),
        ),
        ("x-ratelimit-max", BURST_MAX.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A GHL error, rendered in the shapes of ghl.md §6.
#[derive(Debug)]
pub(crate) enum GhlError {
    /// 400 with a string message.
    BadRequest(String),
    /// 401, GHL's exact body.
    Unauthorized,
    /// 403 "The token does not have access to this location".
    ForbiddenLocation,
    /// 404 with a string message.
    NotFound(String),
    /// 422 with a message array.
    Unprocessable(Vec<String>),
    /// 400 "The slot you have selected is no longer available."
    SlotUnavailable,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Message {
    One(String),
    Many(Vec<String>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    status_code: u16,
    message: Message,
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
}

impl IntoResponse for GhlError {
    fn into_response(self) -> Response {
        let (status, message, error, traced) = match self {
            GhlError::BadRequest(m) => (400, Message::One(m), "Bad Request", true),
            GhlError::SlotUnavailable => (
                400,
                Message::One("The slot you have selected is no longer available.".into()),
                "Bad Request",
                true,
            ),
            // ghl.md §6 gives the 401 body exactly, without a traceId.
            GhlError::Unauthorized => (
                401,
                Message::One("Invalid token: access token is invalid".into()),
                "Unauthorized",
                false,
            ),
            GhlError::ForbiddenLocation => (
                403,
                Message::One("The token does not have access to this location".into()),
                "Forbidden",
                true,
            ),
            GhlError::NotFound(m) => (404, Message::One(m), "Not Found", true),
            GhlError::Unprocessable(ms) => (422, Message::Many(ms), "Unprocessable Entity", true),
        };
        let body = ErrorBody {
            status_code: status,
            message,
            error,
            trace_id: traced.then(trace_id),
        };
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        (code, axum::Json(body)).into_response()
    }
}

/// Parses a JSON object body; an empty body counts as `{}`.
pub(crate) fn object_body(bytes: &Bytes) -> Result<Map<String, Value>, GhlError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(GhlError::BadRequest(
            "Request body must be a JSON object".into(),
        )),
        Err(e) => Err(GhlError::BadRequest(format!(
            "Unexpected token in JSON: {e}"
        ))),
    }
}

/// A string field: `Ok(None)` when absent or null, a 422 message when of another type.
pub(crate) fn opt_str(
    body: &Map<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.push(format!("{key} must be a string"));
            None
        }
    }
}

/// A required non-empty string field; pushes GHL-style 422 messages when missing.
pub(crate) fn req_str(
    body: &Map<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match opt_str(body, key, problems) {
        Some(s) if !s.trim().is_empty() => Some(s),
        Some(_) => {
            problems.push(format!("{key} should not be empty"));
            None
        }
        None => {
            if body.get(key).is_none_or(|v| v.is_null()) {
                problems.push(format!("{key} should not be empty"));
                problems.push(format!("{key} must be a string"));
            }
            None
        }
    }
}

/// A boolean field: absent or null is `false`; another type is a 422 message.
pub(crate) fn opt_bool(body: &Map<String, Value>, key: &str, problems: &mut Vec<String>) -> bool {
    match body.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.push(format!("{key} must be a boolean value"));
            false
        }
    }
}

/// Checks that `location_id` is the sandbox's location (403 otherwise, as GHL does for a
/// token without access to it).
pub(crate) fn check_location(app: &App, location_id: &str) -> Result<(), GhlError> {
    if location_id == app.config.location_id {
        Ok(())
    } else {
        Err(GhlError::ForbiddenLocation)
    }
}
