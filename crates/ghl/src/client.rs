//! HTTP calls to GHL with the per-family `Version` header (§1.1) and GHL's errors mapped
//! to [`Error`]. The token is held as a secret and never printed.

use crate::error::Error;
use crate::types::*;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// GHL's production API.
pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";

/// `Version` for calendars and conversations.
const V_CALENDARS: &str = "2021-04-15";
/// `Version` for contacts and locations.
const V_CONTACTS: &str = "2021-07-28";

/// The message GHL sends when slot validation fails (§3.4).
const SLOT_TAKEN_MESSAGE: &str = "no longer available";

/// Where and how to call GHL.
#[derive(Clone)]
pub struct ClientConfig {
    /// `GHL_BASE_URL`; the sandbox's `/ghl` base in demo mode and tests.
    pub base_url: String,
    /// `GHL_ACCESS_TOKEN`: a Private Integration Token or an OAuth access token.
    pub access_token: SecretString,
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, access_token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            access_token,
            timeout: Duration::from_secs(20),
        }
    }
}

/// A GHL API client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ghl::Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mostrador/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok(Self {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            token: config.access_token,
        })
    }

    /// `GET /locations/{id}`: name and IANA time zone of the clinic.
    pub async fn get_location(&self, location_id: &str) -> Result<Location, Error> {
        let path = format!("/locations/{}", segment(location_id)?);
        let env: LocationEnvelope = self.send(Method::GET, &path, V_CONTACTS, None).await?;
        Ok(env.location)
    }

    /// `GET /calendars/?locationId=`.
    pub async fn list_calendars(&self, location_id: &str) -> Result<Vec<Calendar>, Error> {
        let path = format!("/calendars/?{}", query(&[("locationId", location_id)]));
        let env: CalendarsEnvelope = self.send(Method::GET, &path, V_CALENDARS, None).await?;
        Ok(env.calendars)
    }

    /// `POST /calendars/events/appointments` with slot validation on.
    pub async fn create_appointment(&self, new: &NewAppointment) -> Result<Appointment, Error> {
        if new.ignore_free_slot_validation {
            return Err(Error::InvalidRequest(
                "slot validation must stay on: it prevents double bookings".into(),
            ));
        }
        let body = serde_json::to_vec(new).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.send(
            Method::POST,
            "/calendars/events/appointments",
            V_CALENDARS,
            Some(body),
        )
        .await
    }

    /// `GET /calendars/events/appointments/{id}` → the event with `dateAdded`/`dateUpdated`.
    pub async fn get_appointment(&self, event_id: &str) -> Result<Appointment, Error> {
        let path = format!("/calendars/events/appointments/{}", segment(event_id)?);
        let env: EventEnvelope = self.send(Method::GET, &path, V_CALENDARS, None).await?;
        Ok(env.event)
    }

    /// `POST /contacts/upsert`: finds the patient by phone/email or creates them.
    pub async fn upsert_contact(&self, contact: &ContactUpsert) -> Result<UpsertedContact, Error> {
        let body = serde_json::to_vec(contact).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.send(Method::POST, "/contacts/upsert", V_CONTACTS, Some(body))
            .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        version: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, Error> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .bearer_auth(self.token.expose_secret())
            .header("Version", version)
            .header("Accept", "application/json");
        if let Some(body) = body {
            req = req.header("Content-Type", "application/json").body(body);
        }
        let resp = req.send().await.map_err(Error::from_reqwest)?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(Error::from_reqwest)?;
        let log_path = path.split('?').next().unwrap_or(path);
        tracing::debug!(%method, path = log_path, status = status.as_u16(), "ghl call");
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()));
        }
        Err(map_error(status, &bytes, retry_after))
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    secs.or_else(|| {
        headers
            .get("x-ratelimit-interval-milliseconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    })
}

fn map_error(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let trace_id = parsed.trace_id.clone();
    let messages = parsed.messages();
    match status.as_u16() {
        400 | 422
            if messages
                .iter()
                .any(|m| m.to_ascii_lowercase().contains(SLOT_TAKEN_MESSAGE)) =>
        {
            Error::SlotTaken { trace_id }
        }
        401 => Error::Unauthorized { trace_id },
        403 => Error::Forbidden {
            message: messages.join("; "),
            trace_id,
        },
        404 => Error::NotFound { trace_id },
        429 => Error::RateLimited { retry_after },
        s @ (400..=499) => Error::Rejected {
            status: s,
            messages,
            trace_id,
        },
        s => Error::Unavailable {
            status: s,
            trace_id,
        },
    }
}

/// Ids are opaque but never contain path or query characters.
fn segment(id: &str) -> Result<&str, Error> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::InvalidRequest("malformed id".into()));
    }
    Ok(id)
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Formats a UTC instant as GHL renders slots: ISO-8601 with the location's offset and no
/// fractional seconds (`2026-11-28T10:00:00-05:00`), so it matches a free slot byte for byte.
pub fn format_slot_time<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}
