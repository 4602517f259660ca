//! Time rendering in the providers' formats. Times are stored as UTC instants and rendered on
//! the way out, each provider in its own documented format.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use chrono_tz::Tz;

/// GHL slot / appointment time: `2026-11-28T10:00:00-05:00` (no fraction, offset of `tz`).
pub(crate) fn ghl_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// GHL record stamps (`dateAdded`, `dateUpdated` of events): millis and the location's offset.
pub(crate) fn ghl_stamp(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// GHL contact stamps: ISO-8601 UTC with millis (`2025-01-28T14:35:00.000Z`).
pub(crate) fn utc_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// MP dates: ISO-8601 with millis and offset (`2024-01-10T09:30:00.000-05:00`).
pub(crate) fn mp_date(at: DateTime<Utc>, tz: Tz) -> String {
    ghl_stamp(at, tz)
}

/// Parses an ISO-8601 / RFC 3339 time that carries an offset (`Z` counts as one).
pub(crate) fn parse_offset_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn renders_lima_times_in_each_provider_format() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 28, 15, 0, 0)
            .single()
            .unwrap_or_default();
        let lima: Tz = chrono_tz::America::Lima;
        assert_eq!(ghl_time(at, lima), "2026-11-28T10:00:00-05:00");
        assert_eq!(ghl_stamp(at, lima), "2026-11-28T10:00:00.000-05:00");
        assert_eq!(mp_date(at, lima), "2026-11-28T10:00:00.000-05:00");
        assert_eq!(utc_millis(at), "2026-11-28T15:00:00.000Z");
    }
}
