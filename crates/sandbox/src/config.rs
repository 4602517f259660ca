//! The sandbox's configuration: which credentials it accepts, which secret it signs Mercado
//! Pago webhooks with, the one GHL location (with its time zone) it serves, and the starting
//! values of the behaviour switches tests can also flip at run time (rate limits, `Version`
//! strictness, token lifetime, webhook URL and retry timing).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a [`crate::Sandbox`] accepts and how it presents itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The only bearer token the GHL routes accept; any other gets GHL's 401 body.
    pub ghl_access_token: String,
    /// The only bearer token the MP routes accept; any other (or none) gets MP's 401 body.
    pub mp_access_token: String,
    /// The "secret signature" MP webhooks are signed with (`x-signature`).
    pub mp_webhook_secret: String,
    /// The id of the single GHL location (sub-account) the sandbox holds.
    pub location_id: String,
    /// The location's display name.
    pub location_name: String,
    /// The location's IANA time zone, e.g. `America/Lima`; slots and dates render in it.
    pub timezone: String,
    /// Where GHL appointment webhooks go (ghl.md §8); `None` sends none. https URLs go
    /// through the registered tunnels like MP's. Changeable with `Sandbox::set_ghl_webhook_url`.
    pub ghl_webhook_url: Option<String>,
    /// The Marketplace app's `client_id` that `POST /oauth/token` accepts.
    pub ghl_oauth_client_id: String,
    /// The Marketplace app's `client_secret` that `POST /oauth/token` accepts.
    pub ghl_oauth_client_secret: String,
    /// Lifetime of OAuth access tokens (`expires_in`); GHL's is 86,399 s.
    pub ghl_access_token_lifetime: Duration,
    /// GHL's per-location rate limits (ghl.md §7), enforced with 429.
    pub ghl_rate_limit: GhlRateLimit,
    /// When true, a GHL API call without its family's `Version` value gets 400 (real
    /// strictness is unconfirmed, so the default is lenient).
    pub ghl_version_strict: bool,
    /// How long one provider minute lasts for webhook retry schedules (GHL's 10 min, MP's
    /// 15 min / +5 min / …). 60 s is real time; tests use a few milliseconds or less.
    pub webhook_minute: Duration,
    /// MP's retry schedule after a non-200/201 answer or a timeout (mercadopago.md §9.5).
    pub mp_retry_schedule: MpRetrySchedule,
    /// How long MP waits for the receiver (`X-Socket-Timeout`); 22 s at MP.
    pub mp_webhook_timeout: Duration,
}

/// GHL rate limits: `burst_max` requests per `burst_window`, `daily_max` per UTC day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GhlRateLimit {
    /// Requests allowed per window (`X-RateLimit-Max`); 100 at GHL.
    pub burst_max: u32,
    /// The window (`X-RateLimit-Interval-Milliseconds`); 10 s at GHL.
    #[serde(with = "millis")]
    pub burst_window: Duration,
    /// Requests allowed per day (`X-RateLimit-Limit-Daily`); 200,000 at GHL.
    pub daily_max: u32,
}

impl Default for GhlRateLimit {
    /// GHL's documented Marketplace limits: 100 / 10 s and 200,000 / day.
    fn default() -> Self {
        Self {
            burst_max: 100,
            burst_window: Duration::from_secs(10),
            daily_max: 200_000,
        }
    }
}

/// Which of MP's two documented retry schedules to follow (mercadopago.md §9.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MpRetrySchedule {
    /// Current docs: every 15 min, growing after the 3rd attempt (15, 15, 15, 30, 60, 120,
    /// 240, 480 min: 8 retries).
    #[default]
    FifteenMinutes,
    /// The older page: +5 min, +45 min, +6 h, +2 days, +4 days (5 retries).
    Legacy,
    /// No retries at all.
    Off,
}

impl MpRetrySchedule {
    /// The waits before retry 1, 2, …, in provider minutes.
    pub fn minutes(self) -> &'static [u64] {
        match self {
            MpRetrySchedule::FifteenMinutes => &[15, 15, 15, 30, 60, 120, 240, 480],
            MpRetrySchedule::Legacy => &[5, 45, 360, 2_880, 5_760],
            MpRetrySchedule::Off => &[],
        }
    }
}

/// Serde helper: a `Duration` as whole milliseconds.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Token the demo configuration accepts for GHL (shaped like a Private Integration Token).
pub const DEMO_GHL_ACCESS_TOKEN: &str = "pit-d3m0c11n-1c4d-4e0a-9d3m-000000000001";
/// Token the demo configuration accepts for MP (shaped like a production `APP_USR-` token:
/// `APP_USR-<client_id>-<MMddHH>-<hash>-<user_id>`).
pub const DEMO_MP_ACCESS_TOKEN: &str =
    "APP_USR-4679935697572392-112801-5f2e0c1d8b7a69584736251403f2e1d0-1273205088";
/// Location id of the demo configuration.
pub const DEMO_LOCATION_ID: &str = "demo-location-0001";
/// GHL Marketplace app `client_id` of the demo configuration (shaped like GHL's).
pub const DEMO_GHL_OAUTH_CLIENT_ID: &str = "66a0d3m0c11n1c4d00000001-lx0demo1";
/// GHL Marketplace app `client_secret` of the demo configuration.
pub const DEMO_GHL_OAUTH_CLIENT_SECRET: &str = "d3m0-5ecr3t-0000-4e0a-9d3m-000000000001";

impl SandboxConfig {
    /// The demo-mode configuration: fixed demo tokens, location `demo-location-0001`
    /// "Clínica Demo" in America/Lima, and a fresh random 32-hex webhook secret.
    pub fn demo() -> Self {
        Self {
            ghl_access_token: DEMO_GHL_ACCESS_TOKEN.to_owned(),
            mp_access_token: DEMO_MP_ACCESS_TOKEN.to_owned(),
            mp_webhook_secret: uuid::Uuid::new_v4().simple().to_string(),
            location_id: DEMO_LOCATION_ID.to_owned(),
            location_name: "Clínica Demo".to_owned(),
            timezone: "America/Lima".to_owned(),
            ghl_webhook_url: None,
            ghl_oauth_client_id: DEMO_GHL_OAUTH_CLIENT_ID.to_owned(),
            ghl_oauth_client_secret: DEMO_GHL_OAUTH_CLIENT_SECRET.to_owned(),
            ghl_access_token_lifetime: Duration::from_secs(86_399),
            ghl_rate_limit: GhlRateLimit::default(),
            ghl_version_strict: false,
            webhook_minute: Duration::from_secs(60),
            mp_retry_schedule: MpRetrySchedule::default(),
            mp_webhook_timeout: Duration::from_millis(22_000),
        }
    }

    /// The seller (`collector_id`) and application (`client_id`) ids MP reports for this token.
    ///
    /// A production-shaped token `APP_USR-<client_id>-<MMddHH>-<hash>-<user_id>` (or `TEST-…`)
    /// yields its own ids, as at MP; any other token falls back to fixed ids.
    pub fn mp_account(&self) -> (i64, String) {
        let parts: Vec<&str> = self.mp_access_token.split('-').collect();
        if parts.len() == 5
            && matches!(parts[0], "APP_USR" | "TEST")
            && let (Ok(user_id), true) = (
                parts[4].parse::<i64>(),
                parts[1].chars().all(|c| c.is_ascii_digit()) && !parts[1].is_empty(),
            )
        {
            return (user_id, parts[1].to_owned());
        }
        (1_273_205_088, "4679935697572392".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_secret_is_32_hex() {
        let c = SandboxConfig::demo();
        assert_eq!(c.mp_webhook_secret.len(), 32);
        assert!(c.mp_webhook_secret.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn mp_account_comes_from_a_production_shaped_token() {
        let c = SandboxConfig::demo();
        assert_eq!(
            c.mp_account(),
            (1_273_205_088, "4679935697572392".to_owned())
        );
        let other = SandboxConfig {
            mp_access_token: "TEST-111-112801-abc-222".into(),
            ..c
        };
        assert_eq!(other.mp_account(), (222, "111".to_owned()));
    }
}
