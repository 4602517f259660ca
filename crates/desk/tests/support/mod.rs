//! What the desk's test suites share: the clinic and clients on the sandbox, the booking
//! every test starts from, Lima times on the sandbox's Consulta general grid, and outbox rows
//! made due.
#![allow(dead_code)] // each suite uses its own part

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use desk::money::Currency;
use desk::{ClinicConfig, CreateBooking, Store};
use sandbox::{Sandbox, seed};
use secrecy::SecretString;

/// The sandbox's clinic in Lima, charging PEN, with no public URL: payments are found by
/// re-reading (or handed to the inbox by the test, as the listener would).
pub fn lima_clinic(sandbox: &Sandbox) -> ClinicConfig {
    let c = sandbox.config();
    ClinicConfig {
        location_id: c.location_id.clone(),
        clinic_name: c.location_name.clone(),
        timezone: chrono_tz::America::Lima,
        currency: Currency::Pen,
        public_webhook_url: None,
        link_ttl: std::time::Duration::from_secs(3600),
        after_payment: desk::config::AfterPayment::default(),
        unpaid_hold: None,
        retention: None,
    }
}

/// The GHL client's settings for the sandbox.
pub fn ghl_config(sandbox: &Sandbox) -> ghl::ClientConfig {
    ghl::ClientConfig::new(
        sandbox.ghl_base_url(),
        SecretString::from(sandbox.config().ghl_access_token.clone()),
    )
}

/// The MP client's settings for the sandbox.
pub fn mp_config(sandbox: &Sandbox) -> mercadopago::ClientConfig {
    mercadopago::ClientConfig::new(
        sandbox.mp_base_url(),
        SecretString::from(sandbox.config().mp_access_token.clone()),
    )
}

pub fn ghl_client(sandbox: &Sandbox) -> ghl::Client {
    ghl::Client::new(ghl_config(sandbox)).unwrap()
}

pub fn mp_client(sandbox: &Sandbox) -> mercadopago::Client {
    mercadopago::Client::new(mp_config(sandbox)).unwrap()
}

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
