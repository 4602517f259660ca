//! Calendars and their free slots: `GET /calendars/`, `GET /calendars/{id}`,
//! `GET /calendars/{id}/free-slots`, and the slot rules appointment writes are checked against.
//!
//! A slot exists when it lies on the calendar's grid (open hours of its weekday, stepping by
//! `slotInterval`, the whole `slotDuration` inside the opening), is in the future, and fewer
//! than `appoinmentPerSlot` live appointments overlap it. Open hours are the location's local
//! time; slots are rendered in the requested `timezone`.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::{Appointment, GhlError, check_location};
use crate::clock::{ghl_time, parse_offset_time};
use crate::state::{App, trace_id};

/// GHL's documented maximum for `endDate − startDate`.
const MAX_RANGE_DAYS: i64 = 31;

/// One opening rule: these weekdays (0 = Sunday), these local hour ranges.
#[derive(Clone, Debug)]
pub(crate) struct OpenHours {
    pub days_of_week: Vec<u32>,
    /// `(open, close)` as minutes after local midnight.
    pub ranges: Vec<(u32, u32)>,
}

/// A calendar as stored.
#[derive(Clone, Debug)]
pub(crate) struct Calendar {
    pub id: String,
    pub location_id: String,
    pub group_id: String,
    pub name: String,
    pub description: String,
    pub team_members: Vec<String>,
    pub slot_duration_mins: i64,
    pub slot_interval_mins: i64,
    pub appointments_per_slot: usize,
    pub open_hours: Vec<OpenHours>,
    pub auto_confirm: bool,
    pub is_active: bool,
}

impl Calendar {
    pub fn duration(&self) -> Duration {
        Duration::minutes(self.slot_duration_mins)
    }

    /// The calendar in GHL's Calendar DTO shape (ghl.md §3.1).
    pub fn to_json(&self) -> Value {
        let team: Vec<Value> = self
            .team_members
            .iter()
            .enumerate()
            .map(|(i, user)| {
                json!({
                    "userId": user,
                    "priority": 0.5,
                    "meetingLocationType": "custom",
                    "meetingLocation": "",
                    "isPrimary": i == 0,
                })
            })
            .collect();
        let open_hours: Vec<Value> = self
            .open_hours
            .iter()
            .map(|rule| {
                let hours: Vec<Value> = rule
                    .ranges
                    .iter()
                    .map(|(open, close)| {
                        json!({
                            "openHour": open / 60, "openMinute": open % 60,
                            "closeHour": close / 60, "closeMinute": close % 60,
                        })
                    })
                    .collect();
                json!({ "daysOfTheWeek": rule.days_of_week, "hours": hours })
            })
            .collect();
        json!({
            "id": self.id,
            "locationId": self.location_id,
            "groupId": self.group_id,
            "name": self.name,
            "description": self.description,
            "slug": self.name.to_lowercase().replace(' ', "-"),
            "widgetSlug": self.name.to_lowercase().replace(' ', "-"),
            "calendarType": "round_robin",
            "widgetType": "classic",
            "eventType": "RoundRobin_OptimizeForAvailability",
            "eventTitle": "{{contact.name}}",
            "eventColor": "#039be5",
            "teamMembers": team,
            "locationConfigurations": [
                { "kind": "custom", "location": "Consultorio", "meetingId": "default" }
            ],
            "slotDuration": self.slot_duration_mins,
            "slotDurationUnit": "mins",
            "slotInterval": self.slot_interval_mins,
            "slotIntervalUnit": "mins",
            "slotBuffer": 0,
            "slotBufferUnit": "mins",
            "preBuffer": 0,
            "preBufferUnit": "mins",
            "appoinmentPerSlot": self.appointments_per_slot,
            "appoinmentPerDay": 0,
            "allowBookingAfter": 0,
            "allowBookingAfterUnit": "hours",
            "allowBookingFor": 0,
            "allowBookingForUnit": "days",
            "openHours": open_hours,
            "enableRecurring": false,
            "recurring": {},
            "availabilities": [],
            "availabilityType": 0,
            "autoConfirm": self.auto_confirm,
            "allowReschedule": true,
            "allowCancellation": true,
            "shouldAssignContactToTeamMember": false,
            "shouldSkipAssigningContactForExisting": false,
            "notes": "",
            "isActive": self.is_active,
        })
    }

    /// Start instants of the grid slots on local date `day` (open hours are local to `tz`).
    pub fn grid_on(&self, day: NaiveDate, tz: Tz) -> Vec<DateTime<Utc>> {
        let weekday = day.weekday().num_days_from_sunday();
        let step = self.slot_interval_mins.max(1);
        let mut starts = Vec::new();
        for rule in self
            .open_hours
            .iter()
            .filter(|r| r.days_of_week.contains(&weekday))
        {
            for &(open, close) in &rule.ranges {
                let (open, close) = (i64::from(open), i64::from(close));
                let mut minute = open;
                while minute + self.slot_duration_mins <= close {
                    let local = day
                        .and_hms_opt(0, 0, 0)
                        .map(|m| m + Duration::minutes(minute));
                    if let Some(at) = local.and_then(|l| tz.from_local_datetime(&l).earliest()) {
                        starts.push(at.with_timezone(&Utc));
                    }
                    minute += step;
                }
            }
        }
        starts.sort();
        starts.dedup();
        starts
    }

    /// Whether `start` is on the grid (right weekday, open hours, interval).
    pub fn on_grid(&self, start: DateTime<Utc>, tz: Tz) -> bool {
        let day = start.with_timezone(&tz).date_naive();
        self.grid_on(day, tz).contains(&start)
    }

    /// Whether fewer than `appoinmentPerSlot` live appointments overlap the slot at `start`.
    pub fn has_room(
        &self,
        start: DateTime<Utc>,
        appointments: &[Appointment],
        except: Option<&str>,
    ) -> bool {
        let end = start + self.duration();
        let taken = appointments
            .iter()
            .filter(|a| a.calendar_id == self.id && a.blocks_slots())
            .filter(|a| except != Some(a.id.as_str()))
            .filter(|a| a.start < end && a.end > start)
            .count();
        taken < self.appointments_per_slot
    }
}

/// What a slot check needs to know besides the calendar.
pub(crate) struct SlotCheck<'a> {
    pub tz: Tz,
    pub now: DateTime<Utc>,
    pub appointments: &'a [Appointment],
    /// The appointment being rescheduled: it does not block its own new slot.
    pub except: Option<&'a str>,
    /// `ignoreDateRange`: skips the "in the future" check.
    pub ignore_date_range: bool,
}

/// Validates an appointment `startTime` the way GHL does with slot validation on: it must be
/// byte-identical to a free slot as free-slots renders it in the location's time zone, in the
/// future, on the grid, and not taken. Returns the instant.
pub(crate) fn validate_slot(
    calendar: &Calendar,
    start_time: &str,
    check: &SlotCheck<'_>,
) -> Result<DateTime<Utc>, GhlError> {
    let parsed = parse_offset_time(start_time).ok_or_else(|| {
        GhlError::Unprocessable(vec![
            "startTime must be a valid ISO 8601 date string".into(),
        ])
    })?;
    let start = parsed.with_timezone(&Utc);
    // A UTC-normalised or otherwise re-formatted slot is a different string: rejected.
    if ghl_time(start, check.tz) != start_time {
        return Err(GhlError::SlotUnavailable);
    }
    if !check.ignore_date_range && start <= check.now {
        return Err(GhlError::SlotUnavailable);
    }
    if !calendar.on_grid(start, check.tz) {
        return Err(GhlError::SlotUnavailable);
    }
    if !calendar.has_room(start, check.appointments, check.except) {
        return Err(GhlError::SlotUnavailable);
    }
    Ok(start)
}

/// `GET /calendars/?locationId=` → `{"calendars": [Calendar]}`.
pub(crate) async fn list_calendars(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GhlError> {
    let Some(location_id) = query.get("locationId").filter(|s| !s.is_empty()) else {
        return Err(GhlError::Unprocessable(vec![
            "locationId should not be empty".into(),
            "locationId must be a string".into(),
        ]));
    };
    check_location(&app, location_id)?;
    let group = query.get("groupId");
    let world = app.world();
    let calendars: Vec<Value> = world
        .ghl
        .calendars
        .iter()
        .filter(|c| group.is_none_or(|g| &c.group_id == g))
        .map(Calendar::to_json)
        .collect();
    Ok(Json(json!({ "calendars": calendars })))
}

/// `GET /calendars/{calendarId}` → `{"calendar": Calendar}`.
pub(crate) async fn get_calendar(
    State(app): State<App>,
    Path(calendar_id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let world = app.world();
    let calendar = world
        .ghl
        .calendar(&calendar_id)
        .ok_or_else(|| GhlError::NotFound("Calendar not found".into()))?;
    Ok(Json(json!({ "calendar": calendar.to_json() })))
}

/// `GET /calendars/{calendarId}/free-slots?startDate=<ms>&endDate=<ms>&timezone=`.
///
/// Answers a map keyed by local date (`YYYY-MM-DD` in `timezone`, default the location's)
/// with the free slot starts of that date, plus a top-level `traceId`.
pub(crate) async fn free_slots(
    State(app): State<App>,
    Path(calendar_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GhlError> {
    let mut problems = Vec::new();
    let start_ms = epoch_ms(&query, "startDate", &mut problems);
    let end_ms = epoch_ms(&query, "endDate", &mut problems);
    let (Some(start), Some(end)) = (start_ms, end_ms) else {
        return Err(GhlError::Unprocessable(problems));
    };
    if end < start {
        return Err(GhlError::BadRequest(
            "endDate must be greater than startDate".into(),
        ));
    }
    if end - start > Duration::days(MAX_RANGE_DAYS) {
        return Err(GhlError::BadRequest(format!(
            "The date range cannot be more than {MAX_RANGE_DAYS} days"
        )));
    }
    let render_tz: Tz = match query.get("timezone").filter(|s| !s.is_empty()) {
        None => app.tz,
        Some(name) => name
            .parse()
            .map_err(|_| GhlError::BadRequest(format!("Invalid timezone: {name}")))?,
    };
    let user_filter: Option<Vec<String>> =
        query.get("userId").map(|u| vec![u.clone()]).or_else(|| {
            query
                .get("userIds")
                .map(|u| u.split(',').map(str::to_owned).collect())
        });

    let now = app.now();
    let world = app.world();
    let calendar = world
        .ghl
        .calendar(&calendar_id)
        .ok_or_else(|| GhlError::NotFound("Calendar not found".into()))?;
    let serves_user = user_filter
        .as_ref()
        .is_none_or(|users| users.iter().any(|u| calendar.team_members.contains(u)));

    let mut by_date: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if serves_user {
        let first = start.with_timezone(&app.tz).date_naive() - Duration::days(1);
        let last = end.with_timezone(&app.tz).date_naive() + Duration::days(1);
        let mut day = first;
        while day <= last {
            for slot in calendar.grid_on(day, app.tz) {
                if slot < start || slot > end || slot <= now {
                    continue;
                }
                if !calendar.has_room(slot, &world.ghl.appointments, None) {
                    continue;
                }
                let local = slot.with_timezone(&render_tz);
                by_date
                    .entry(local.format("%Y-%m-%d").to_string())
                    .or_default()
                    .push(ghl_time(slot, render_tz));
            }
            day += Duration::days(1);
        }
    }

    let mut body = Map::new();
    for (date, slots) in by_date {
        body.insert(date, json!({ "slots": slots }));
    }
    body.insert("traceId".into(), Value::String(trace_id()));
    Ok(Json(Value::Object(body)))
}

/// Reads a required epoch-milliseconds query parameter.
fn epoch_ms(
    query: &HashMap<String, String>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<DateTime<Utc>> {
    match query.get(key).map(|v| v.trim()) {
        None | Some("") => {
            problems.push(format!("{key} should not be empty"));
            problems.push(format!(
                "{key} must be a number conforming to the specified constraints"
            ));
            None
        }
        Some(text) => match text
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
        {
            Some(at) => Some(at),
            None => {
                problems.push(format!(
                    "{key} must be a number conforming to the specified constraints"
                ));
                None
            }
        },
    }
}
