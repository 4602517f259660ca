//! Everything a bad input could change, read as text after every case.

use super::*;
use crate::hub::Hub;
use sandbox::seed;
use serde_json::Value;

impl Hub {
    pub async fn snapshot(&self) -> Snapshot {
        let store = self.host.desk.store();
        let bookings = store.recent_bookings(1_000_000).await.unwrap();
        let charges = store.recent_charges(1_000_000).await.unwrap();
        let mut payments = Vec::new();
        let mut audit = Vec::new();
        for b in &bookings {
            for a in store.audit_of("booking", &b.id).await.unwrap() {
                audit.push(format!("{a:?}"));
            }
        }
        for c in &charges {
            for p in store.payments_of_charge(&c.id).await.unwrap() {
                payments.push(format!("{p:?}"));
            }
            for a in store.audit_of("charge", &c.id).await.unwrap() {
                audit.push(format!("{a:?}"));
            }
        }
        let outbox = store
            .pending_outbox(1_000_000)
            .await
            .unwrap()
            .iter()
            .map(|o| format!("{o:?}"))
            .collect();
        let inbox = store.inbox_counts().await.unwrap();

        let ghl_requests = self
            .sandbox
            .ghl_requests()
            .into_iter()
            .filter(|r| !r.path.contains(PROBE))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        let appointments = self
            .provider_json(
                format!(
                    "{}/calendars/events?locationId={}&groupId={}&startTime=0&endTime=4102444800000&{PROBE}",
                    self.sandbox.ghl_base_url(),
                    self.location_id,
                    seed::CALENDAR_GROUP_ID
                ),
                &self.ghl_token,
            )
            .await;
        let preferences = self
            .provider_json(
                format!(
                    "{}/checkout/preferences/search?limit=1000",
                    self.sandbox.mp_base_url()
                ),
                &self.mp_token,
            )
            .await;
        let mp_payments = self
            .provider_json(
                format!(
                    "{}/v1/payments/search?limit=1000",
                    self.sandbox.mp_base_url()
                ),
                &self.mp_token,
            )
            .await;
        Snapshot {
            bookings: bookings.iter().map(|b| format!("{b:?}")).collect(),
            charges: charges.iter().map(|c| format!("{c:?}")).collect(),
            payments,
            audit,
            outbox,
            inbox,
            ghl_requests,
            ghl_appointments: appointments,
            ghl_messages: self.sandbox.ghl_messages().len(),
            ghl_deliveries: self.sandbox.ghl_deliveries().len(),
            mp_preferences: preferences,
            mp_payments,
            mp_deliveries: self.sandbox.deliveries().len(),
        }
    }

    pub async fn provider_json(&self, url: String, token: &str) -> Value {
        let resp = self
            .http
            .get(&url)
            .bearer_auth(token)
            .header("Version", "2021-04-15")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "snapshot read {url}");
        resp.json().await.unwrap()
    }
}

/// Everything a bad input could change, as text.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub bookings: Vec<String>,
    pub charges: Vec<String>,
    pub payments: Vec<String>,
    pub audit: Vec<String>,
    pub outbox: Vec<String>,
    /// (rows, processed rows) of `webhook_inbox`.
    pub inbox: (i64, i64),
    /// The requests the app made to GHL (the test's own reads excluded).
    pub ghl_requests: Vec<String>,
    pub ghl_appointments: Value,
    pub ghl_messages: usize,
    pub ghl_deliveries: usize,
    pub mp_preferences: Value,
    pub mp_payments: Value,
    pub mp_deliveries: usize,
}

impl Snapshot {
    /// What differs, field by field. `lookups` tolerates new GHL requests (but not a change
    /// of GHL's state).
    pub fn differences(&self, after: &Snapshot, lookups: bool) -> Vec<String> {
        let mut out = Vec::new();
        let mut list = |name: &str, a: &Vec<String>, b: &Vec<String>| {
            if a != b {
                let changed = b
                    .iter()
                    .find(|x| !a.contains(x))
                    .or_else(|| a.iter().find(|x| !b.contains(x)))
                    .map(|x| preview(x.as_bytes()))
                    .unwrap_or_default();
                out.push(format!(
                    "{name} changed: {} rows → {} rows; e.g. {changed}",
                    a.len(),
                    b.len()
                ));
            }
        };
        list("bookings", &self.bookings, &after.bookings);
        list("charges", &self.charges, &after.charges);
        list("payments", &self.payments, &after.payments);
        list("audit_log", &self.audit, &after.audit);
        list("outbox (pending)", &self.outbox, &after.outbox);
        if !lookups {
            list("GHL requests", &self.ghl_requests, &after.ghl_requests);
        }
        if self.inbox != after.inbox {
            out.push(format!(
                "webhook_inbox (rows, processed) changed: {:?} → {:?}",
                self.inbox, after.inbox
            ));
        }
        let mut value = |name: &str, a: &Value, b: &Value| {
            if a != b {
                out.push(format!("{name} changed"));
            }
        };
        value(
            "GHL appointments",
            &self.ghl_appointments,
            &after.ghl_appointments,
        );
        value(
            "MP preferences",
            &self.mp_preferences,
            &after.mp_preferences,
        );
        value("MP payments", &self.mp_payments, &after.mp_payments);
        for (name, a, b) in [
            ("GHL messages", self.ghl_messages, after.ghl_messages),
            (
                "GHL webhook attempts",
                self.ghl_deliveries,
                after.ghl_deliveries,
            ),
            (
                "MP webhook attempts",
                self.mp_deliveries,
                after.mp_deliveries,
            ),
        ] {
            if a != b {
                out.push(format!("{name} changed: {a} → {b}"));
            }
        }
        out
    }
}

pub fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}
