//! The clinic's settings the domain needs, already validated.

use crate::money::Currency;
use std::time::Duration;

/// MP's webhook path on our listener, kept from the seed so existing settings keep working.
pub const MP_WEBHOOK_PATH: &str = "/api/payments/webhooks/mp/";
/// GHL's webhook path on our listener, kept from the seed.
pub const GHL_WEBHOOK_PATH: &str = "/api/appointments/webhooks/ghl/appointments/";

/// Who the clinic is and how it charges.
#[derive(Debug, Clone)]
pub struct ClinicConfig {
    /// GHL location id (`GHL_LOCATION_ID`).
    pub location_id: String,
    pub clinic_name: String,
    /// The location's zone: times are shown and sent to GHL in it.
    pub timezone: chrono_tz::Tz,
    pub currency: Currency,
    /// Public https base (`PUBLIC_WEBHOOK_URL`), e.g. an ngrok URL; `None` means no webhooks
    /// reach us and payments are found by polling.
    pub public_webhook_url: Option<String>,
    /// How long a payment link stays payable.
    pub link_ttl: Duration,
    /// What happens in the providers once a charge is paid.
    pub after_payment: AfterPayment,
    /// Unpaid hold: a booking whose charge is still unpaid this long after it was made is
    /// cancelled in GHL and its link expired (`UNPAID_HOLD_MINUTES`); `None` keeps it.
    pub unpaid_hold: Option<Duration>,
    /// Retention (`RETENTION_DAYS`): processed webhook deliveries are deleted, and payments'
    /// raw provider JSON emptied, this long after; `None` keeps everything.
    pub retention: Option<Duration>,
}

/// Side effects of a paid charge, each switchable (DESIGN §4, "A payment arrives").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterPayment {
    /// Expire the MP link so it cannot be paid twice.
    pub expire_link: bool,
    /// Set the GHL appointment to confirmed.
    pub confirm_appointment: bool,
    /// Tag added to the GHL contact; `None` adds none. The seed used `pago_confirmado`.
    pub contact_tag: Option<String>,
    /// Add a note with the amount and MP's payment id to the GHL contact.
    pub contact_note: bool,
}

impl Default for AfterPayment {
    fn default() -> Self {
        Self {
            expire_link: true,
            confirm_appointment: true,
            contact_tag: Some("pago_confirmado".into()),
            contact_note: true,
        }
    }
}

impl ClinicConfig {
    /// The `notification_url` MP should call: public base + the seed's path, Webhooks only.
    pub fn mp_notification_url(&self) -> Option<String> {
        self.public_webhook_url.as_ref().map(|base| {
            format!(
                "{}{}?source_news=webhooks",
                base.trim_end_matches('/'),
                MP_WEBHOOK_PATH
            )
        })
    }
}
