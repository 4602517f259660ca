//! How instants are written to storage: UTC, fixed width, millisecond precision, so that
//! text order is time order in both SQLite and MySQL.

use chrono::{DateTime, SecondsFormat, Utc};

/// `2026-11-28T15:00:00.000Z`.
pub fn to_db(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads what [`to_db`] wrote.
pub fn from_db(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// An instant a caller sent as RFC 3339 text (any offset); `VALIDATION` on `field`
/// otherwise.
pub fn parse_instant(field: &str, text: &str) -> Result<DateTime<Utc>, crate::error::DeskError> {
    from_db(text.trim())
        .ok_or_else(|| crate::error::DeskError::validation(field, "the time must be RFC 3339"))
}

/// The UTC bounds `[start, next day's start)` of the local day `day` (`YYYY-MM-DD`) in `tz`;
/// `VALIDATION` on `day` for a malformed or impossible day.
pub fn local_day(
    tz: chrono_tz::Tz,
    day: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>), crate::error::DeskError> {
    use chrono::{NaiveDate, NaiveTime, TimeZone};
    let invalid = |why: &str| crate::error::DeskError::validation("day", why.to_string());
    let date = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .map_err(|_| invalid("the day must be YYYY-MM-DD"))?;
    let start_of = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| invalid("that day does not exist locally"))
    };
    let next = date.succ_opt().ok_or_else(|| invalid("day out of range"))?;
    Ok((start_of(date)?, start_of(next)?))
}

/// The current instant, truncated to what storage keeps.
pub fn now() -> DateTime<Utc> {
    let n = Utc::now();
    DateTime::from_timestamp_millis(n.timestamp_millis()).unwrap_or(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_times_round_trip_and_sort_as_text() {
        let a = DateTime::from_timestamp_millis(1_764_000_000_123).unwrap();
        let b = DateTime::from_timestamp_millis(1_764_000_000_124).unwrap();
        assert_eq!(from_db(&to_db(a)), Some(a));
        assert!(to_db(a) < to_db(b));
        assert_eq!(to_db(a).len(), 24);
    }
}
