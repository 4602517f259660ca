//! Reading a clinic's settings under the seed service's names, for both hosts: the hub reads
//! the environment (and a `.env`), the desktop app the environment and then the OS keychain
//! for secrets. A missing required setting is one clear error naming it.

use crate::host::{DEFAULT_RECONCILE_EVERY, HostConfig};
use desk::money::Currency;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Why settings could not be read. Never contains a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required setting {0}")]
    Missing(&'static str),
    #[error("setting {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where settings come from: plain values and secrets, by name.
pub trait Settings {
    fn value(&self, name: &str) -> Option<String>;
    fn secret(&self, name: &str) -> Option<SecretString>;
}

/// The process environment.
pub struct Env;

impl Settings for Env {
    fn value(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    fn secret(&self, name: &str) -> Option<SecretString> {
        self.value(name).map(SecretString::from)
    }
}

fn parse<T: FromStr>(s: &dyn Settings, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match s.value(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }),
    }
}

/// An on/off setting, on by default: `1`/`true`/`on` or `0`/`false`/`off`.
fn switch(s: &dyn Settings, name: &'static str) -> Result<bool, ConfigError> {
    match s.value(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(true),
        Some(v) if matches!(v.as_str(), "1" | "true" | "on" | "yes") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "off" | "no") => Ok(false),
        Some(_) => Err(ConfigError::Invalid {
            name,
            reason: "use 1 or 0".into(),
        }),
    }
}

/// `DATABASE_URL`, or a MySQL URL built from the seed's `DB_*` names when only those are set.
pub fn database_url(s: &dyn Settings) -> Option<String> {
    if let Some(url) = s.value("DATABASE_URL") {
        return Some(url);
    }
    let name = s.value("DB_NAME")?;
    let user = s.value("DB_USER").unwrap_or_else(|| "root".into());
    let password = s
        .value("DB_PASSWORD")
        .map(|p| format!(":{}", encode(&p)))
        .unwrap_or_default();
    let host = s.value("DB_HOST").unwrap_or_else(|| "127.0.0.1".into());
    let port = s.value("DB_PORT").unwrap_or_else(|| "3306".into());
    Some(format!(
        "mysql://{}{password}@{host}:{port}/{name}",
        encode(&user)
    ))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A clinic's host settings. `default_listen` is `LISTEN_ADDR`'s default.
pub fn host_config(
    s: &dyn Settings,
    data_dir: PathBuf,
    default_listen: &str,
) -> Result<HostConfig, ConfigError> {
    let required = |name: &'static str| s.value(name).ok_or(ConfigError::Missing(name));
    let required_secret = |name: &'static str| s.secret(name).ok_or(ConfigError::Missing(name));
    let listen_text = s
        .value("LISTEN_ADDR")
        .unwrap_or_else(|| default_listen.to_string());
    let listen_addr = SocketAddr::from_str(&listen_text).map_err(|e| ConfigError::Invalid {
        name: "LISTEN_ADDR",
        reason: e.to_string(),
    })?;
    let timezone = match s.value("CLINIC_TIMEZONE") {
        Some(tz) => Some(
            chrono_tz::Tz::from_str(&tz).map_err(|_| ConfigError::Invalid {
                name: "CLINIC_TIMEZONE",
                reason: format!("unknown IANA time zone {tz}"),
            })?,
        ),
        None => None,
    };
    let public_webhook_url = s.value("PUBLIC_WEBHOOK_URL");
    if let Some(url) = &public_webhook_url
        && !url.starts_with("https://")
    {
        return Err(ConfigError::Invalid {
            name: "PUBLIC_WEBHOOK_URL",
            reason: "Mercado Pago only calls https URLs".into(),
        });
    }
    let reconcile_secs: u64 = parse(
        s,
        "RECONCILE_INTERVAL_SECS",
        DEFAULT_RECONCILE_EVERY.as_secs(),
    )?;
    if reconcile_secs < 10 {
        return Err(ConfigError::Invalid {
            name: "RECONCILE_INTERVAL_SECS",
            reason: "at least 10 seconds".into(),
        });
    }
    let hold_minutes: u64 = parse(s, "UNPAID_HOLD_MINUTES", 0)?;
    if hold_minutes > 7 * 24 * 60 {
        return Err(ConfigError::Invalid {
            name: "UNPAID_HOLD_MINUTES",
            reason: "at most 10080 (a week); 0 turns the hold off".into(),
        });
    }
    Ok(HostConfig {
        unpaid_hold: (hold_minutes > 0).then(|| Duration::from_secs(hold_minutes * 60)),
        database_url: database_url(s),
        data_dir,
        listen_addr,
        ghl_base_url: s
            .value("GHL_BASE_URL")
            .unwrap_or_else(|| ghl::DEFAULT_BASE_URL.into()),
        ghl_access_token: required_secret("GHL_ACCESS_TOKEN")?,
        ghl_location_id: required("GHL_LOCATION_ID")?,
        mp_base_url: s
            .value("MP_BASE_URL")
            .unwrap_or_else(|| mercadopago::DEFAULT_BASE_URL.into()),
        mp_access_token: required_secret("MP_ACCESS_TOKEN")?,
        mp_webhook_secret: s.secret("MP_WEBHOOK_SECRET"),
        public_webhook_url,
        currency: parse(s, "CLINIC_CURRENCY", Currency::Pen).map_err(|_| ConfigError::Invalid {
            name: "CLINIC_CURRENCY",
            reason: "one of PEN, ARS, BRL, CLP, COP, MXN, UYU, USD".into(),
        })?,
        timezone,
        link_ttl: Duration::from_secs(24 * 3600),
        reconcile_every: Duration::from_secs(reconcile_secs),
        ghl_webhook_public_keys: s.value("GHL_WEBHOOK_PUBLIC_KEYS"),
        after_payment: desk::config::AfterPayment {
            expire_link: switch(s, "PAID_EXPIRE_LINK")?,
            confirm_appointment: switch(s, "PAID_CONFIRM_APPOINTMENT")?,
            contact_tag: match s.value("PAID_CONTACT_TAG") {
                None => desk::config::AfterPayment::default().contact_tag,
                Some(t) if t == "-" => None,
                Some(t) => Some(t),
            },
            contact_note: switch(s, "PAID_CONTACT_NOTE")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);

    impl Settings for Map {
        fn value(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
        fn secret(&self, name: &str) -> Option<SecretString> {
            self.value(name).map(SecretString::from)
        }
    }

    fn complete() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("GHL_ACCESS_TOKEN", "pit-1"),
            ("GHL_LOCATION_ID", "loc"),
            ("MP_ACCESS_TOKEN", "APP_USR-1"),
        ])
    }

    #[test]
    fn a_missing_required_setting_is_named() {
        for name in ["GHL_ACCESS_TOKEN", "GHL_LOCATION_ID", "MP_ACCESS_TOKEN"] {
            let mut m = complete();
            m.remove(name);
            let err = host_config(&Map(m), "/tmp".into(), "127.0.0.1:8787").unwrap_err();
            assert_eq!(err, ConfigError::Missing(name));
            assert_eq!(err.to_string(), format!("missing required setting {name}"));
        }
    }

    #[test]
    fn defaults_follow_the_seed_and_the_issue() {
        let c = host_config(&Map(complete()), "/tmp".into(), "127.0.0.1:8787").unwrap();
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:8787");
        assert_eq!(c.ghl_base_url, "https://services.leadconnectorhq.com");
        assert_eq!(c.mp_base_url, "https://api.mercadopago.com");
        assert_eq!(c.currency, Currency::Pen);
        assert!(c.database_url.is_none());
        assert!(c.mp_webhook_secret.is_none());
        assert_eq!(c.reconcile_every, DEFAULT_RECONCILE_EVERY);
    }

    #[test]
    fn seed_db_names_build_a_mysql_url() {
        let mut m = complete();
        m.extend([
            ("DB_NAME", "citas"),
            ("DB_USER", "app"),
            ("DB_PASSWORD", "p@ss:w"),
            ("DB_HOST", "db"),
        ]);
        let c = host_config(&Map(m), "/tmp".into(), "127.0.0.1:8787").unwrap();
        assert_eq!(
            c.database_url.as_deref(),
            Some("mysql://app:p%40ss%3Aw@db:3306/citas")
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        for (name, value) in [
            ("LISTEN_ADDR", "nope"),
            ("CLINIC_CURRENCY", "EUR"),
            ("CLINIC_TIMEZONE", "Mars/Olympus"),
            ("PUBLIC_WEBHOOK_URL", "http://x.ngrok.app"),
            ("RECONCILE_INTERVAL_SECS", "1"),
            ("UNPAID_HOLD_MINUTES", "-5"),
            ("UNPAID_HOLD_MINUTES", "20000"),
        ] {
            let mut m = complete();
            m.insert(name, value);
            let err = host_config(&Map(m), "/tmp".into(), "127.0.0.1:8787").unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}"
            );
        }
    }
}
