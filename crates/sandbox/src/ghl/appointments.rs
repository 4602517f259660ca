//! Appointments: create, get, update/cancel (`/calendars/events/appointments…`), delete
//! (`DELETE /calendars/events/{eventId}`) and the events list (`GET /calendars/events`).
//!
//! Create and update re-check the slot (calendars.rs) and insert under one world lock, so of
//! several identical concurrent creates exactly one wins and the rest get GHL's 400 "slot no
//! longer available". Every write queues its webhook (webhooks.rs) under that same lock.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::calendars::{SlotCheck, validate_slot};
use super::webhooks::GhlEvent;
use super::{GhlError, check_location, object_body, opt_bool, opt_str, req_str};
use crate::clock::{ghl_stamp, ghl_time, parse_offset_time};
use crate::state::{App, ghl_id};

/// The statuses a caller may write (ghl.md §3.7).
const WRITABLE_STATUSES: [&str; 6] = [
    "new",
    "confirmed",
    "cancelled",
    "showed",
    "noshow",
    "invalid",
];
const MEETING_LOCATION_TYPES: [&str; 7] = [
    "custom", "zoom", "gmeet", "phone", "address", "ms_teams", "google",
];

/// An appointment as stored; times are UTC and rendered in the location's zone.
#[derive(Clone, Debug)]
pub(crate) struct Appointment {
    pub id: String,
    pub calendar_id: String,
    pub location_id: String,
    pub contact_id: String,
    pub group_id: String,
    pub title: String,
    pub status: String,
    pub assigned_user_id: String,
    pub address: String,
    pub meeting_location_type: String,
    pub description: String,
    pub notes: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub rrule: Option<String>,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
}

impl Appointment {
    /// Cancelled (and invalid) appointments free their slot.
    pub fn blocks_slots(&self) -> bool {
        !matches!(self.status.as_str(), "cancelled" | "invalid")
    }

    /// The create/update response: unwrapped, without `dateAdded`/`dateUpdated` (§3.3).
    fn write_json(&self, tz: chrono_tz::Tz) -> Value {
        let mut body = json!({
            "id": self.id,
            "calendarId": self.calendar_id,
            "locationId": self.location_id,
            "contactId": self.contact_id,
            "startTime": ghl_time(self.start, tz),
            "endTime": ghl_time(self.end, tz),
            "title": self.title,
            "meetingLocationType": self.meeting_location_type,
            "appointmentStatus": self.status,
            "assignedUserId": self.assigned_user_id,
            "address": self.address,
            "isRecurring": self.rrule.is_some(),
        });
        if let (Some(rrule), Some(map)) = (&self.rrule, body.as_object_mut()) {
            map.insert("rrule".into(), Value::String(rrule.clone()));
        }
        body
    }

    /// The CalendarEvent DTO (§3.6), with `dateAdded`/`dateUpdated`.
    pub fn event_json(&self, tz: chrono_tz::Tz) -> Value {
        let mut body = json!({
            "id": self.id,
            "title": self.title,
            "calendarId": self.calendar_id,
            "locationId": self.location_id,
            "contactId": self.contact_id,
            "groupId": self.group_id,
            "appointmentStatus": self.status,
            "assignedUserId": self.assigned_user_id,
            "users": [self.assigned_user_id],
            "address": self.address,
            "notes": self.notes,
            "description": self.description,
            "startTime": ghl_time(self.start, tz),
            "endTime": ghl_time(self.end, tz),
            "dateAdded": ghl_stamp(self.date_added, tz),
            "dateUpdated": ghl_stamp(self.date_updated, tz),
            "isRecurring": self.rrule.is_some(),
            "assignedResources": [],
            "createdBy": { "userId": Value::Null, "source": "third_party" },
        });
        if let (Some(rrule), Some(map)) = (&self.rrule, body.as_object_mut()) {
            map.insert("rrule".into(), Value::String(rrule.clone()));
        }
        body
    }
}

/// Fields common to create and update, read leniently and type-checked.
struct Writable {
    title: Option<String>,
    status: Option<String>,
    assigned_user_id: Option<String>,
    address: Option<String>,
    meeting_location_type: Option<String>,
    description: Option<String>,
    end_time: Option<String>,
    rrule: Option<String>,
    ignore_free_slot_validation: bool,
    ignore_date_range: bool,
}

fn writable(body: &Map<String, Value>, problems: &mut Vec<String>) -> Writable {
    let status = opt_str(body, "appointmentStatus", problems);
    if let Some(s) = &status
        && !WRITABLE_STATUSES.contains(&s.as_str())
    {
        problems.push(format!(
            "appointmentStatus must be one of the following values: {}",
            WRITABLE_STATUSES.join(", ")
        ));
    }
    let meeting_location_type = opt_str(body, "meetingLocationType", problems);
    if let Some(t) = &meeting_location_type
        && !MEETING_LOCATION_TYPES.contains(&t.as_str())
    {
        problems.push(format!(
            "meetingLocationType must be one of the following values: {}",
            MEETING_LOCATION_TYPES.join(", ")
        ));
    }
    let w = Writable {
        title: opt_str(body, "title", problems),
        status,
        assigned_user_id: opt_str(body, "assignedUserId", problems),
        address: opt_str(body, "address", problems),
        meeting_location_type,
        description: opt_str(body, "description", problems),
        end_time: opt_str(body, "endTime", problems),
        rrule: opt_str(body, "rrule", problems),
        ignore_free_slot_validation: opt_bool(body, "ignoreFreeSlotValidation", problems),
        ignore_date_range: opt_bool(body, "ignoreDateRange", problems),
    };
    // Accepted and not acted on yet; type-checked so a wrong type still fails like GHL.
    opt_bool(body, "toNotify", problems);
    opt_bool(body, "overrideLocationConfig", problems);
    opt_str(body, "meetingLocationId", problems);
    w
}

/// Parses an `endTime`, which needs an offset like every appointment time.
fn parse_end(text: &str) -> Result<DateTime<Utc>, GhlError> {
    parse_offset_time(text)
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            GhlError::Unprocessable(vec!["endTime must be a valid ISO 8601 date string".into()])
        })
}

/// A start time without slot validation: any ISO-8601 time with an offset.
fn parse_start_unchecked(text: &str) -> Result<DateTime<Utc>, GhlError> {
    parse_offset_time(text)
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            GhlError::Unprocessable(vec![
                "startTime must be a valid ISO 8601 date string".into(),
            ])
        })
}

/// `POST /calendars/events/appointments` → 200 with the unwrapped appointment.
pub(crate) async fn create_appointment(
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<Value>, GhlError> {
    let body = object_body(&body)?;
    let mut problems = Vec::new();
    let calendar_id = req_str(&body, "calendarId", &mut problems);
    let location_id = req_str(&body, "locationId", &mut problems);
    let contact_id = req_str(&body, "contactId", &mut problems);
    let start_time = req_str(&body, "startTime", &mut problems);
    let fields = writable(&body, &mut problems);
    let (Some(calendar_id), Some(location_id), Some(contact_id), Some(start_time)) =
        (calendar_id, location_id, contact_id, start_time)
    else {
        return Err(GhlError::Unprocessable(problems));
    };
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    check_location(&app, &location_id)?;
    let end = fields.end_time.as_deref().map(parse_end).transpose()?;

    let now = app.now();
    let tz = app.tz;
    // One guard from the slot check to the insert: concurrent identical creates serialise here.
    let mut world = app.world();
    let calendar = world
        .ghl
        .calendar(&calendar_id)
        .ok_or_else(|| GhlError::BadRequest("Calendar not found".into()))?
        .clone();
    let contact_name = world
        .ghl
        .contact(&contact_id)
        .map(|c| c.display_name())
        .ok_or_else(|| GhlError::BadRequest("Contact not found".into()))?;
    let start = if fields.ignore_free_slot_validation {
        parse_start_unchecked(&start_time)?
    } else {
        validate_slot(
            &calendar,
            &start_time,
            &SlotCheck {
                tz,
                now,
                appointments: &world.ghl.appointments,
                except: None,
                ignore_date_range: fields.ignore_date_range,
            },
        )?
    };
    let end = end.unwrap_or(start + calendar.duration());
    if end <= start {
        return Err(GhlError::BadRequest(
            "endTime must be after startTime".into(),
        ));
    }
    let default_status = if calendar.auto_confirm {
        "confirmed"
    } else {
        "new"
    };
    let appointment = Appointment {
        id: ghl_id(),
        calendar_id: calendar.id.clone(),
        location_id,
        contact_id,
        group_id: calendar.group_id.clone(),
        title: fields.title.unwrap_or(contact_name),
        status: fields.status.unwrap_or_else(|| default_status.to_owned()),
        assigned_user_id: fields
            .assigned_user_id
            .or_else(|| calendar.team_members.first().cloned())
            .unwrap_or_default(),
        address: fields.address.unwrap_or_default(),
        meeting_location_type: fields
            .meeting_location_type
            .unwrap_or_else(|| "custom".to_owned()),
        description: fields.description.unwrap_or_default(),
        notes: String::new(),
        start,
        end,
        rrule: fields.rrule.filter(|_| fields.ignore_free_slot_validation),
        date_added: now,
        date_updated: now,
    };
    let response = appointment.write_json(tz);
    tracing::debug!(appointment_id = %appointment.id, calendar_id = %calendar.id, "ghl appointment created");
    app.queue_ghl_event(GhlEvent::created(&appointment, now));
    world.ghl.appointments.push(appointment);
    Ok(Json(response))
}

fn event_not_found() -> GhlError {
    GhlError::NotFound("Event not found".into())
}

/// `GET /calendars/events/appointments/{eventId}` → `{"event": CalendarEvent}`.
pub(crate) async fn get_appointment(
    State(app): State<App>,
    Path(event_id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let world = app.world();
    let event = world
        .ghl
        .appointments
        .iter()
        .find(|a| a.id == event_id)
        .ok_or_else(event_not_found)?;
    Ok(Json(json!({ "event": event.event_json(app.tz) })))
}

/// `PUT /calendars/events/appointments/{eventId}`: partial update; the slot is re-validated
/// when the time or calendar changes. 200 with the create shape.
pub(crate) async fn update_appointment(
    State(app): State<App>,
    Path(event_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, GhlError> {
    let body = object_body(&body)?;
    let mut problems = Vec::new();
    let calendar_id = opt_str(&body, "calendarId", &mut problems);
    let start_time = opt_str(&body, "startTime", &mut problems);
    let fields = writable(&body, &mut problems);
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    let end = fields.end_time.as_deref().map(parse_end).transpose()?;
    let now = app.now();
    let tz = app.tz;

    let mut world = app.world();
    let current = world
        .ghl
        .appointments
        .iter()
        .find(|a| a.id == event_id)
        .ok_or_else(event_not_found)?
        .clone();
    let calendar = world
        .ghl
        .calendar(calendar_id.as_deref().unwrap_or(&current.calendar_id))
        .ok_or_else(|| GhlError::BadRequest("Calendar not found".into()))?
        .clone();

    let new_start = match &start_time {
        None => current.start,
        Some(text) => parse_start_unchecked(text)?,
    };
    let moved = new_start != current.start || calendar.id != current.calendar_id;
    if moved && !fields.ignore_free_slot_validation {
        let text = start_time
            .clone()
            .unwrap_or_else(|| ghl_time(current.start, tz));
        validate_slot(
            &calendar,
            &text,
            &SlotCheck {
                tz,
                now,
                appointments: &world.ghl.appointments,
                except: Some(&current.id),
                ignore_date_range: fields.ignore_date_range,
            },
        )?;
    }
    let new_end = match end {
        Some(end) => end,
        None if moved => new_start + (current.end - current.start).max(Duration::minutes(1)),
        None => current.end,
    };
    if new_end <= new_start {
        return Err(GhlError::BadRequest(
            "endTime must be after startTime".into(),
        ));
    }

    let Some(stored) = world.ghl.appointments.iter_mut().find(|a| a.id == event_id) else {
        return Err(event_not_found());
    };
    stored.calendar_id = calendar.id.clone();
    stored.group_id = calendar.group_id.clone();
    stored.start = new_start;
    stored.end = new_end;
    if let Some(v) = fields.title {
        stored.title = v;
    }
    if let Some(v) = fields.status {
        stored.status = v;
    }
    if let Some(v) = fields.assigned_user_id {
        stored.assigned_user_id = v;
    }
    if let Some(v) = fields.address {
        stored.address = v;
    }
    if let Some(v) = fields.meeting_location_type {
        stored.meeting_location_type = v;
    }
    if let Some(v) = fields.description {
        stored.description = v;
    }
    if fields.ignore_free_slot_validation
        && let Some(v) = fields.rrule
    {
        stored.rrule = Some(v);
    }
    // Keep dateUpdated strictly increasing so "newer than stored" comparisons hold.
    stored.date_updated = now.max(stored.date_updated + Duration::milliseconds(1));
    app.queue_ghl_event(GhlEvent::updated(stored, now));
    Ok(Json(stored.write_json(tz)))
}

/// `DELETE /calendars/events/{eventId}` with body `{}` → 201 `{"succeeded": true}`, then an
/// AppointmentDelete webhook. The record is gone afterwards (GET answers 404).
pub(crate) async fn delete_appointment(
    State(app): State<App>,
    Path(event_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), GhlError> {
    // The spec marks the body required with an empty schema: any JSON object (or none).
    object_body(&body)?;
    let now = app.now();
    let mut world = app.world();
    let index = world
        .ghl
        .appointments
        .iter()
        .position(|a| a.id == event_id)
        .ok_or_else(event_not_found)?;
    let mut removed = world.ghl.appointments.remove(index);
    removed.date_updated = now.max(removed.date_updated + Duration::milliseconds(1));
    app.queue_ghl_event(GhlEvent::deleted(&removed, now));
    tracing::debug!(appointment_id = %removed.id, "ghl appointment deleted");
    Ok((StatusCode::CREATED, Json(json!({ "succeeded": true }))))
}

/// `GET /calendars/events?locationId=&startTime=<ms>&endTime=<ms>&calendarId=|userId=|groupId=`
/// → `{"events": [CalendarEvent]}` for events overlapping the window, by start time.
pub(crate) async fn list_events(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GhlError> {
    let mut problems = Vec::new();
    let location_id = query.get("locationId").filter(|s| !s.is_empty());
    if location_id.is_none() {
        problems.push("locationId should not be empty".into());
    }
    let window_start = ms_string(&query, "startTime", &mut problems);
    let window_end = ms_string(&query, "endTime", &mut problems);
    let (Some(location_id), Some(window_start), Some(window_end)) =
        (location_id, window_start, window_end)
    else {
        return Err(GhlError::Unprocessable(problems));
    };
    check_location(&app, location_id)?;
    let non_empty = |key: &str| query.get(key).filter(|s| !s.is_empty()).cloned();
    let (calendar_id, user_id, group_id) = (
        non_empty("calendarId"),
        non_empty("userId"),
        non_empty("groupId"),
    );
    if calendar_id.is_none() && user_id.is_none() && group_id.is_none() {
        return Err(GhlError::BadRequest(
            "Either calendarId, userId or groupId is required".into(),
        ));
    }
    let world = app.world();
    let mut events: Vec<&Appointment> = world
        .ghl
        .appointments
        .iter()
        .filter(|a| calendar_id.as_ref().is_none_or(|c| &a.calendar_id == c))
        .filter(|a| user_id.as_ref().is_none_or(|u| &a.assigned_user_id == u))
        .filter(|a| group_id.as_ref().is_none_or(|g| &a.group_id == g))
        .filter(|a| a.start < window_end && a.end > window_start)
        .collect();
    events.sort_by_key(|a| (a.start, a.date_added));
    let events: Vec<Value> = events.into_iter().map(|a| a.event_json(app.tz)).collect();
    Ok(Json(json!({ "events": events })))
}

/// Reads an epoch-milliseconds bound sent as a string.
fn ms_string(
    query: &HashMap<String, String>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<DateTime<Utc>> {
    let parsed = query
        .get(key)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis);
    if parsed.is_none() {
        problems.push(format!("{key} should not be empty"));
        problems.push(format!(
            "{key} must be a number string (epoch milliseconds)"
        ));
    }
    parsed
}
