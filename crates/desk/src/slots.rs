//! The free-slot picker: a calendar's free times on one local day, read from GHL's
//! free-slots (which leaves out taken times) in the clinic's zone, each as UTC instants one
//! slot length long plus its local labels. Booking one of them sends GHL the very string it
//! offered, as slot validation requires.

use crate::desk::Desk;
use crate::error::DeskError;
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

/// A time a calendar can still be booked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FreeSlot {
    #[serde(serialize_with = "utc_text")]
    pub starts_at: DateTime<Utc>,
    /// The start plus the calendar's slot length.
    #[serde(serialize_with = "utc_text")]
    pub ends_at: DateTime<Utc>,
    /// `HH:MM` in the clinic's zone.
    pub local_start: String,
    pub local_end: String,
}

/// Instants as storage and every view write them: `2026-11-28T15:00:00.000Z`.
fn utc_text<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::to_db(*t))
}

impl Desk {
    /// The free slots of `calendar_id` on the local day `day` (`YYYY-MM-DD`), earliest first.
    /// `VALIDATION` on `calendarId` for a calendar the clinic does not have, on `day` for a
    /// malformed day.
    pub async fn free_slots(
        &self,
        calendar_id: &str,
        day: &str,
    ) -> Result<Vec<FreeSlot>, DeskError> {
        // The day first: a malformed one is refused without asking GHL for calendars.
        let tz = self.clinic.timezone;
        let (from, until) = crate::time::local_day(tz, day)?;
        let calendar = self
            .calendars()
            .await?
            .into_iter()
            .find(|c| c.id == calendar_id)
            .ok_or_else(|| DeskError::validation("calendarId", "unknown calendar"))?;
        let length = chrono::Duration::minutes(i64::from(calendar.slot_minutes.max(1)));
        let mut starts = self
            .scheduler
            .free_slot_starts(
                &calendar.id,
                from,
                until - chrono::Duration::milliseconds(1),
                tz.name(),
            )
            .await?;
        // GHL keys slots by date; the day is ours to bound, in the clinic's zone.
        starts.retain(|s| *s >= from && *s < until);
        starts.sort_unstable();
        starts.dedup();
        let label = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
        Ok(starts
            .into_iter()
            .map(|s| FreeSlot {
                starts_at: s,
                ends_at: s + length,
                local_start: label(s),
                local_end: label(s + length),
            })
            .collect())
    }
}
