//! The fake GoHighLevel API v2 (shared/providers/ghl.md), mounted under `/ghl`.
//!
//! This module owns what every GHL route has in common: bearer auth (the PIT or an OAuth
//! access token) with GHL's exact 401 body, the `Version` header (recorded; enforced per
//! family when strictness is on), the per-location rate limits with the five `X-RateLimit-*`
//! headers on every response and 429 beyond them, and GHL's error shapes with a `traceId`.
//! The submodules own one resource family each; `POST /oauth/token` sits outside the gate.

pub(crate) mod appointments;
pub(crate) mod calendars;
pub(crate) mod contacts;
pub(crate) mod keys;
pub(crate) mod locations;
pub(crate) mod messages;
pub(crate) mod oauth;
pub(crate) mod webhooks;

use std::collections::{HashMap, VecDeque};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::GhlRateLimit;
use crate::state::{App, trace_id};
use crate::{SandboxConfig, faults};

pub(crate) use appointments::Appointment;
pub(crate) use calendars::Calendar;
pub(crate) use contacts::Contact;

/// The GHL part of the world: one location and what lives in it.
pub(crate) struct GhlWorld {
    pub location: locations::Location,
    pub calendars: Vec<Calendar>,
    pub appointments: Vec<Appointment>,
    pub contacts: Vec<Contact>,
    pub oauth: oauth::OAuthStore,
    pub messages: Vec<messages::SentMessage>,
    /// Contact id → its conversation id.
    pub conversations: HashMap<String, String>,
}

impl GhlWorld {
    /// The seed data (see [`crate::seed`]).
    pub fn seeded(config: &SandboxConfig, now: DateTime<Utc>) -> Self {
        Self {
            location: locations::Location::from_config(config),
            calendars: crate::seed::calendars(&config.location_id),
            appointments: Vec::new(),
            contacts: crate::seed::contacts(&config.location_id, now),
            oauth: oauth::OAuthStore::default(),
            messages: Vec::new(),
            conversations: HashMap::new(),
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

/// Request counters behind the `X-RateLimit-*` headers and the 429s. Only accepted requests
/// count; the clock is the sandbox's, so `advance_clock` can jump past a window.
#[derive(Default)]
pub(crate) struct RateWindow {
    recent: VecDeque<DateTime<Utc>>,
    day: Option<chrono::NaiveDate>,
    today: u32,
}

/// The numbers a response reports.
#[derive(Clone, Copy)]
struct RateState {
    limit: GhlRateLimit,
    remaining: u32,
    daily_remaining: u32,
}

impl RateWindow {
    /// Counts one request if the limits allow it: `Ok` with the state after counting, `Err`
    /// (429) with the state when over a limit.
    fn hit(&mut self, now: DateTime<Utc>, limit: GhlRateLimit) -> Result<RateState, RateState> {
        let window =
            chrono::Duration::from_std(limit.burst_window).unwrap_or(chrono::Duration::seconds(10));
        while self.recent.front().is_some_and(|t| now - *t >= window) {
            self.recent.pop_front();
        }
        let date = now.date_naive();
        if self.day != Some(date) {
            self.day = Some(date);
            self.today = 0;
        }
        let in_window = u32::try_from(self.recent.len()).unwrap_or(u32::MAX);
        let state = |in_window: u32, today: u32| RateState {
            limit,
            remaining: limit.burst_max.saturating_sub(in_window),
            daily_remaining: limit.daily_max.saturating_sub(today),
        };
        if in_window >= limit.burst_max || self.today >= limit.daily_max {
            return Err(state(in_window, self.today));
        }
        self.recent.push_back(now);
        self.today = self.today.saturating_add(1);
        Ok(state(in_window + 1, self.today))
    }

    /// The state without counting (for refused requests).
    fn peek(&self, now: DateTime<Utc>, limit: GhlRateLimit) -> RateState {
        let window =
            chrono::Duration::from_std(limit.burst_window).unwrap_or(chrono::Duration::seconds(10));
        let in_window = self.recent.iter().filter(|t| now - **t < window).count();
        let today = if self.day == Some(now.date_naive()) {
            self.today
        } else {
            0
        };
        RateState {
            limit,
            remaining: limit
                .burst_max
                .saturating_sub(u32::try_from(in_window).unwrap_or(u32::MAX)),
            daily_remaining: limit.daily_max.saturating_sub(today),
        }
    }
}

/// The `Version` each API family expects (ghl.md §1.1).
fn expected_version(path: &str) -> Option<&'static str> {
    if path.starts_with("/calendars") || path.starts_with("/conversations") {
        Some("2021-04-15")
    } else if path.starts_with("/contacts") || path.starts_with("/locations") {
        Some("2021-07-28")
    } else {
        None
    }
}

/// The GHL router (mounted under `/ghl` by the caller).
pub(crate) fn router(app: App) -> Router {
    let api = Router::new()
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
        .route(
            "/calendars/events/{event_id}",
            delete(appointments::delete_appointment),
        )
        .route("/calendars/{calendar_id}", get(calendars::get_calendar))
        .route(
            "/calendars/{calendar_id}/free-slots",
            get(calendars::free_slots),
        )
        .route("/contacts/", post(contacts::create_contact))
        .route("/contacts", post(contacts::create_contact))
        .route("/contacts/upsert", post(contacts::upsert_contact))
        .route("/contacts/search", post(contacts::search_contacts))
        .route("/contacts/search/duplicate", get(contacts::find_duplicate))
        .route(
            "/contacts/{contact_id}",
            get(contacts::get_contact).put(contacts::update_contact),
        )
        .route(
            "/contacts/{contact_id}/tags",
            post(contacts::add_tags).delete(contacts::remove_tags),
        )
        .route(
            "/contacts/{contact_id}/notes",
            post(contacts::add_note).get(contacts::list_notes),
        )
        .route("/conversations/messages", post(messages::send_message))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            faults::ghl_api_faults,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), gate));
    // The token endpoint takes no bearer token and no `Version` (ghl.md §2.2).
    let oauth = Router::new()
        .route("/oauth/token", post(oauth::token))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            faults::ghl_api_faults,
        ));
    oauth.merge(api).with_state(app)
}

async fn not_found() -> GhlError {
    GhlError::NotFound("Cannot find the requested resource".into())
}

/// Auth, `Version` recording (and checking when strict), rate limiting and the rate-limit
/// headers, in front of every GHL API route.
async fn gate(State(app): State<App>, req: Request, next: Next) -> Response {
    let now = app.now();
    let (limit, strict) = {
        let s = app.settings();
        (s.rate_limit, s.version_strict)
    };
    let token = bearer(req.headers()).map(str::to_owned);
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
    let (authorized, rate) = {
        let mut world = app.world();
        let authorized = token
            .as_deref()
            .is_some_and(|t| t == app.config.ghl_access_token || world.ghl.oauth.accepts(t, now));
        world.ghl_requests.push(RecordedRequest {
            method,
            path: path.clone(),
            version: version.clone(),
            authorized,
        });
        let rate = if authorized {
            world.ghl_rate.hit(now, limit)
        } else {
            Err(world.ghl_rate.peek(now, limit))
        };
        (authorized, rate)
    };
    let expected = expected_version(req.uri().path());
    let (mut response, state) = match rate {
        _ if !authorized => (
            GhlError::Unauthorized.into_response(),
            rate.unwrap_or_else(|s| s),
        ),
        Err(state) => (GhlError::TooManyRequests.into_response(), state),
        Ok(state) => match expected {
            Some(want) if strict && version.as_deref() != Some(want) => (
                GhlError::BadRequest(format!(
                    "Version header is missing or invalid: this API expects Version: {want}"
                ))
                .into_response(),
                state,
            ),
            _ => (next.run(req).await, state),
        },
    };
    let remaining = if response.status() == StatusCode::TOO_MANY_REQUESTS {
        0
    } else {
        state.remaining
    };
    let headers = response.headers_mut();
    let pairs = [
        ("x-ratelimit-limit-daily", state.limit.daily_max.to_string()),
        (
            "x-ratelimit-daily-remaining",
            state.daily_remaining.to_string(),
        ),
        (
            "x-ratelimit-interval-milliseconds",
            state.limit.burst_window.as_millis().to_string(),
        ),
        ("x-ratelimit-max", state.limit.burst_max.to_string()),
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
    /// 401 with another message (OAuth client credentials).
    Unauthenticated(String),
    /// 429 beyond the rate limits.
    TooManyRequests,
    /// 403 "The token does not have access to this location".
    ForbiddenLocation,
    /// 404 with a string message.
    NotFound(String),
    /// 422 with a message array.
    Unprocessable(Vec<String>),
    /// 400 "The slot you have selected is no longer available."
    SlotUnavailable,
    /// 400 "This location does not allow duplicated contacts." with `meta`.
    DuplicateContact {
        contact_id: String,
        matching_field: &'static str,
        contact_name: String,
    },
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
    meta: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
}

impl IntoResponse for GhlError {
    fn into_response(self) -> Response {
        let meta = match &self {
            GhlError::DuplicateContact {
                contact_id,
                matching_field,
                contact_name,
            } => Some(serde_json::json!({
                "contactId": contact_id,
                "matchingField": matching_field,
                "contactName": contact_name,
            })),
            _ => None,
        };
        let (status, message, error, traced) = match self {
            GhlError::DuplicateContact { .. } => (
                400,
                Message::One("This location does not allow duplicated contacts.".into()),
                "Bad Request",
                true,
            ),
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
            GhlError::Unauthenticated(m) => (401, Message::One(m), "Unauthorized", true),
            GhlError::TooManyRequests => (
                429,
                Message::One("Too many requests".into()),
                "Too Many Requests",
                true,
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
            meta,
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
