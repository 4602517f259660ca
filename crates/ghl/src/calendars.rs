//! Location, calendar, free-slot and appointment endpoints (ghl.md §3), as [`Client`] methods.
//!
//! Time formats differ per endpoint (§1.2) and are handled here: free-slots takes epoch-ms
//! numbers, the events list epoch-ms strings, appointments ISO-8601 strings echoed exactly.

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Method;
use serde_json::Value;

use crate::client::{Client, Replay, V_CALENDARS, V_CONTACTS, json_body, query, segment};
use crate::error::Error;
use crate::types::*;

/// GHL refuses free-slot ranges longer than this (§3.2).
const MAX_FREE_SLOTS_SPAN_DAYS: i64 = 31;

impl Client {
    /// `GET /locations/{id}`: name and IANA time zone of the clinic.
    pub async fn get_location(&self, location_id: &str) -> Result<Location, Error> {
        let path = format!("/locations/{}", segment(location_id)?);
        let env: LocationEnvelope = self
            .send(Method::GET, &path, V_CONTACTS, None, Replay::Safe)
            .await?;
        Ok(env.location)
    }

    /// `GET /calendars/?locationId=`.
    pub async fn list_calendars(&self, location_id: &str) -> Result<Vec<Calendar>, Error> {
        let path = format!("/calendars/?{}", query(&[("locationId", location_id)]));
        let env: CalendarsEnvelope = self
            .send(Method::GET, &path, V_CALENDARS, None, Replay::Safe)
            .await?;
        Ok(env.calendars)
    }

    /// `GET /calendars/{id}`.
    pub async fn get_calendar(&self, calendar_id: &str) -> Result<Calendar, Error> {
        let path = format!("/calendars/{}", segment(calendar_id)?);
        let env: CalendarEnvelope = self
            .send(Method::GET, &path, V_CALENDARS, None, Replay::Safe)
            .await?;
        Ok(env.calendar)
    }

    /// `GET /calendars/{id}/free-slots`. Ranges over 31 days become several calls whose
    /// answers are merged; only date keys are read (`traceId` and placeholders such as
    /// `_dates_` are skipped), and slots are kept as the exact strings GHL rendered.
    ///
    /// What GHL answers to a longer range is (unconfirmed); splitting avoids finding out.
    pub async fn free_slots(
        &self,
        calendar_id: &str,
        q: &FreeSlotsQuery,
    ) -> Result<FreeSlots, Error> {
        let calendar_id = segment(calendar_id)?;
        if q.end < q.start {
            return Err(Error::InvalidRequest(
                "free-slots end is before start".into(),
            ));
        }
        let mut merged = FreeSlots::default();
        for (from, to) in free_slot_windows(q.start, q.end) {
            let start = from.timestamp_millis().to_string();
            let end = to.timestamp_millis().to_string();
            let mut pairs = vec![("startDate", start.as_str()), ("endDate", end.as_str())];
            if let Some(tz) = &q.timezone {
                pairs.push(("timezone", tz));
            }
            if let Some(user) = &q.user_id {
                pairs.push(("userId", user));
            }
            let path = format!("/calendars/{calendar_id}/free-slots?{}", query(&pairs));
            let body: Value = self
                .send(Method::GET, &path, V_CALENDARS, None, Replay::Safe)
                .await?;
            merge_free_slots(&mut merged, &body)?;
        }
        Ok(merged)
    }

    /// `POST /calendars/events/appointments` with slot validation on. Not retried on 429 or
    /// timeout: GHL has no idempotency keys, so after a timeout list the slot's events
    /// ([`Client::list_events`]) before sending it again.
    pub async fn create_appointment(&self, new: &NewAppointment) -> Result<Appointment, Error> {
        if new.ignore_free_slot_validation {
            return Err(Error::InvalidRequest(
                "slot validation must stay on: it prevents double bookings".into(),
            ));
        }
        self.send(
            Method::POST,
            "/calendars/events/appointments",
            V_CALENDARS,
            Some(json_body(new)?),
            Replay::Unsafe,
        )
        .await
    }

    /// `GET /calendars/events/appointments/{id}` → the event with `dateAdded`/`dateUpdated`.
    pub async fn get_appointment(&self, event_id: &str) -> Result<Appointment, Error> {
        let path = format!("/calendars/events/appointments/{}", segment(event_id)?);
        let env: EventEnvelope = self
            .send(Method::GET, &path, V_CALENDARS, None, Replay::Safe)
            .await?;
        Ok(env.event)
    }

    /// `PUT /calendars/events/appointments/{id}`: reschedule or edit; absent fields stay.
    /// A new time is slot-validated by GHL ([`Error::SlotTaken`]).
    pub async fn update_appointment(
        &self,
        event_id: &str,
        update: &AppointmentUpdate,
    ) -> Result<Appointment, Error> {
        let path = format!("/calendars/events/appointments/{}", segment(event_id)?);
        self.send(
            Method::PUT,
            &path,
            V_CALENDARS,
            Some(json_body(update)?),
            Replay::Safe,
        )
        .await
    }

    /// Cancels but keeps the record: `PUT …/appointments/{id}` `{"appointmentStatus":"cancelled"}`.
    pub async fn cancel_appointment(&self, event_id: &str) -> Result<Appointment, Error> {
        let update = AppointmentUpdate {
            appointment_status: Some(AppointmentStatus::Cancelled),
            ..AppointmentUpdate::default()
        };
        self.update_appointment(event_id, &update).await
    }

    /// `DELETE /calendars/events/{id}` with the JSON body `{}` GHL's spec requires; any 2xx
    /// is success (GHL documents 201 `{"succeeded":true}`).
    pub async fn delete_appointment(&self, event_id: &str) -> Result<(), Error> {
        let path = format!("/calendars/events/{}", segment(event_id)?);
        self.execute(
            Method::DELETE,
            &path,
            V_CALENDARS,
            Some(b"{}".to_vec()),
            Replay::Safe,
        )
        .await?;
        Ok(())
    }

    /// `GET /calendars/events`: appointments between two instants for one calendar, user or
    /// group (GHL requires one; refused here before sending otherwise). No pagination is
    /// documented.
    pub async fn list_events(&self, q: &EventsQuery) -> Result<Vec<Appointment>, Error> {
        if q.calendar_id.is_none() && q.user_id.is_none() && q.group_id.is_none() {
            return Err(Error::InvalidRequest(
                "listing events needs a calendarId, userId or groupId".into(),
            ));
        }
        let start = q.start.timestamp_millis().to_string();
        let end = q.end.timestamp_millis().to_string();
        let mut pairs = vec![
            ("locationId", q.location_id.as_str()),
            ("startTime", start.as_str()),
            ("endTime", end.as_str()),
        ];
        for (key, value) in [
            ("calendarId", &q.calendar_id),
            ("userId", &q.user_id),
            ("groupId", &q.group_id),
        ] {
            if let Some(v) = value {
                pairs.push((key, v));
            }
        }
        let path = format!("/calendars/events?{}", query(&pairs));
        let env: EventsEnvelope = self
            .send(Method::GET, &path, V_CALENDARS, None, Replay::Safe)
            .await?;
        Ok(env.events)
    }
}

/// Consecutive windows of at most 31 days covering `[start, end]`, none overlapping.
pub(crate) fn free_slot_windows(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let span = chrono::Duration::days(MAX_FREE_SLOTS_SPAN_DAYS);
    let mut windows = Vec::new();
    let mut from = start;
    loop {
        let to = (from + span).min(end);
        windows.push((from, to));
        if to >= end {
            return windows;
        }
        from = to + chrono::Duration::milliseconds(1);
    }
}

/// Adds one free-slots answer to `merged`, skipping keys that are not `YYYY-MM-DD` dates and
/// slots already seen (a day cut by two windows appears in both answers).
fn merge_free_slots(merged: &mut FreeSlots, body: &Value) -> Result<(), Error> {
    let Value::Object(map) = body else {
        return Err(Error::Decode("free-slots answer is not an object".into()));
    };
    for (key, value) in map {
        if key == "traceId" {
            if let Some(t) = value.as_str() {
                merged.trace_ids.push(t.to_owned());
            }
            continue;
        }
        let Some(date) = parse_date_key(key) else {
            continue;
        };
        let slots = value
            .get("slots")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str))
            .into_iter()
            .flatten();
        let day = merged.days.entry(date).or_default();
        for slot in slots {
            if !day.iter().any(|s| s == slot) {
                day.push(slot.to_owned());
            }
        }
    }
    Ok(())
}

fn parse_date_key(key: &str) -> Option<NaiveDate> {
    if key.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(key, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn forty_five_days_split_into_two_windows_of_at_most_31_days() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 1, 5, 0, 0)
            .single()
            .expect("date");
        let end = start + chrono::Duration::days(45);
        let w = free_slot_windows(start, end);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, start);
        assert_eq!(w[1].1, end);
        assert!(w[0].1 < w[1].0, "windows don't overlap");
        for (a, b) in &w {
            assert!(*b - *a <= chrono::Duration::days(31));
        }
    }

    #[test]
    fn exactly_31_days_is_one_window() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 1, 5, 0, 0)
            .single()
            .expect("date");
        assert_eq!(
            free_slot_windows(start, start + chrono::Duration::days(31)).len(),
            1
        );
    }

    #[test]
    fn free_slots_keep_only_date_keys_and_exact_strings() {
        let mut merged = FreeSlots::default();
        let body = serde_json::json!({
            "_dates_": {"slots": ["nope"]},
            "2024-10-28": {"slots": ["2024-10-28T10:00:00-05:00", "2024-10-28T11:00:00-05:00"]},
            "2024-13-01": {"slots": ["bad date"]},
            "traceId": "t-1"
        });
        merge_free_slots(&mut merged, &body).expect("object");
        assert_eq!(merged.days.len(), 1);
        assert_eq!(
            merged.all().collect::<Vec<_>>(),
            ["2024-10-28T10:00:00-05:00", "2024-10-28T11:00:00-05:00"]
        );
        assert_eq!(merged.trace_ids, ["t-1"]);
    }
}
