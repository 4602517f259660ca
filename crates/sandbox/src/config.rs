//! The sandbox's configuration: which credentials it accepts, which secret it signs Mercado
//! Pago webhooks with, and the one GHL location (with its time zone) it serves.

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
}

/// Token the demo configuration accepts for GHL (shaped like a Private Integration Token).
pub const DEMO_GHL_ACCESS_TOKEN: &str = "pit-d3m0c11n-1c4d-4e0a-9d3m-000000000001";
/// Token the demo configuration accepts for MP (shaped like a production `APP_USR-` token:
/// `APP_USR-<client_id>-<MMddHH>-<hash>-<user_id>`).
pub const DEMO_MP_ACCESS_TOKEN: &str =
    "APP_USR-4679935697572392-112801-5f2e0c1d8b7a69584736251403f2e1d0-1273205088";
/// Location id of the demo configuration.
pub const DEMO_LOCATION_ID: &str = "demo-location-0001";

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
