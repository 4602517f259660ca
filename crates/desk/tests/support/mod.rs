//! What the desk's test suites share: the booking every test starts from, Lima times on the
//! sandbox's Consulta general grid, and outbox rows made due.
#![allow(dead_code)] // each suite uses its own part

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use desk::{CreateBooking, Store};
use sandbox::seed;

/// Tomorrow at `hh:mm` in Lima, on the Consulta general grid.
pub fn tomorrow_at(hh: u32, mm: u32) -> DateTime<Utc> {
    let tz = chrono_tz::America::Lima;
    let day = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    tz.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hh, mm, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
}

/// Rosa's 80.00 PEN consultation tomorrow at `hh`:00-`hh`:30, with idempotency key `key`.
pub fn request(key: &str, hh: u32) -> CreateBooking {
    CreateBooking {
        idempotency_key: key.into(),
        calendar_id: seed::CONSULTA_GENERAL_CALENDAR_ID.into(),
        patient_name: "Rosa Huamán".into(),
        patient_phone: Some("+51 987 654 321".into()),
        contact_id: None,
        starts_at: tomorrow_at(hh, 0),
        ends_at: tomorrow_at(hh, 30),
        title: None,
        amount: "80.00".into(),
        description: "Consulta".into(),
        source: "desk".into(),
    }
}

/// Makes every unfinished outbox row due now, as if its backoff had run out (keeping its
/// error); returns how many rows were waiting.
pub async fn outbox_due_now(store: &dyn Store) -> usize {
    let now = Utc::now();
    let mut moved = 0;
    for item in store.pending_outbox(1_000).await.unwrap() {
        if item.next_attempt_at > now {
            let error = item.last_error.clone().unwrap_or_default();
            store
                .fail_outbox(&item.id, &error, now - Duration::seconds(1))
                .await
                .unwrap();
            moved += 1;
        }
    }
    moved
}
