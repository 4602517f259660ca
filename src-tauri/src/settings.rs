//! How the app decides what to run: real credentials (environment first, then the OS
//! keychain, under the seed's names) or, when any is missing, demo mode.

use desk::money::Currency;
use desk::secrets::SecretStore;
use secrecy::SecretString;
use server::HostConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// What the app will start.
pub enum Mode {
    Demo { listen_addr: SocketAddr },
    Clinic(Box<HostConfig>),
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn secret(name: &str, keychain: &dyn SecretStore) -> Option<SecretString> {
    if let Some(v) = env(name) {
        return Some(SecretString::from(v));
    }
    match keychain.get(name) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "keychain unavailable; using demo mode unless configured by environment");
            None
        }
    }
}

/// Reads the settings. `MOSTRADOR_DEMO=1` forces demo mode.
pub fn resolve(data_dir: PathBuf, keychain: &dyn SecretStore) -> Result<Mode, String> {
    let listen = |default: &str| -> Result<SocketAddr, String> {
        let text = env("LISTEN_ADDR").unwrap_or_else(|| default.to_string());
        SocketAddr::from_str(&text).map_err(|_| format!("LISTEN_ADDR is not an address: {text}"))
    };
    let forced_demo = env("MOSTRADOR_DEMO").is_some_and(|v| v != "0");
    let ghl = secret("GHL_ACCESS_TOKEN", keychain);
    let mp = secret("MP_ACCESS_TOKEN", keychain);
    let location = env("GHL_LOCATION_ID");
    let (Some(ghl), Some(mp), Some(location), false) = (ghl, mp, location, forced_demo) else {
        return Ok(Mode::Demo {
            listen_addr: listen("127.0.0.1:0")?,
        });
    };
    let currency = match env("CLINIC_CURRENCY") {
        Some(c) => Currency::from_str(&c)?,
        None => Currency::Pen,
    };
    let timezone = match env("CLINIC_TIMEZONE") {
        Some(tz) => Some(
            chrono_tz::Tz::from_str(&tz)
                .map_err(|_| format!("CLINIC_TIMEZONE is unknown: {tz}"))?,
        ),
        None => None,
    };
    Ok(Mode::Clinic(Box::new(HostConfig {
        database_url: env("DATABASE_URL"),
        data_dir,
        listen_addr: listen("127.0.0.1:8787")?,
        ghl_base_url: env("GHL_BASE_URL").unwrap_or_else(|| ghl::DEFAULT_BASE_URL.into()),
        ghl_access_token: ghl,
        ghl_location_id: location,
        mp_base_url: env("MP_BASE_URL").unwrap_or_else(|| mercadopago::DEFAULT_BASE_URL.into()),
        mp_access_token: mp,
        mp_webhook_secret: secret("MP_WEBHOOK_SECRET", keychain),
        public_webhook_url: env("PUBLIC_WEBHOOK_URL"),
        currency,
        timezone,
        link_ttl: Duration::from_secs(24 * 3600),
        reconcile_every: match env("RECONCILE_INTERVAL_SECS") {
            Some(v) => Duration::from_secs(v.parse::<u64>().ok().filter(|s| *s >= 10).ok_or_else(
                || format!("RECONCILE_INTERVAL_SECS must be a number of seconds ≥ 10: {v}"),
            )?),
            None => server::host::DEFAULT_RECONCILE_EVERY,
        },
    })))
}
