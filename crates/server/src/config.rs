//! Reading a clinic's settings under the seed service's names, for both hosts: the hub reads
//! the environment (and a `.env`), the desktop app the environment and then the OS keychain
//! for secrets. A missing required setting is one clear error naming it.

use crate::host::{DEFAULT_RECONCILE_EVERY, HostConfig};
use crate::rate_limit::{RateLimit, parse_ranges};
use crate::serve::ServeLimits;
use desk::money::Currency;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
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

/// Settings given as a map (demo mode, tests, a wizard's answers). Every value is also
/// served as a secret; `Debug` shows only the names.
#[derive(Clone, Default)]
pub struct MapSettings(pub HashMap<String, String>);

impl MapSettings {
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Sets (or replaces) one setting.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }
}

impl std::fmt::Debug for MapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.0.keys().collect();
        names.sort();
        f.debug_tuple("MapSettings").field(&names).finish()
    }
}

impl Settings for MapSettings {
    fn value(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.trim().is_empty()).cloned()
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
    switch_or(s, name, true)
}

/// An on/off setting with its default.
fn switch_or(s: &dyn Settings, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match s.value(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "1" | "true" | "on" | "yes") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "off" | "no") => Ok(false),
        Some(_) => Err(ConfigError::Invalid {
            name,
            reason: "use 1 or 0".into(),
        }),
    }
}

/// `DATABASE_URL`, or a MySQL URL built from the seed's `DB_*` names when only those are set;
/// TLS is required for a MySQL server on another host ([`secure_database_url`]).
pub fn database_url(s: &dyn Settings) -> Option<String> {
    given_database_url(s).map(|url| secure_database_url(&url))
}

fn given_database_url(s: &dyn Settings) -> Option<String> {
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

/// The host part of a URL (`scheme://[user@]host[:port]/…`), brackets removed for IPv6.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(host_port.split(':').next().unwrap_or(host_port))
}

/// Whether `host` is this machine: `localhost` or a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A provider's API base: `https://`, or `http://` only on this machine (a sandbox, a test
/// server) — over plain HTTP elsewhere the clinic's token would travel in clear.
fn provider_base(
    s: &dyn Settings,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let url = s.value(name).unwrap_or_else(|| default.to_string());
    let lower = url.trim().to_ascii_lowercase();
    let loopback = url_host(&lower).is_some_and(is_loopback_host);
    if lower.starts_with("https://") || (lower.starts_with("http://") && loopback) {
        return Ok(url.trim().to_string());
    }
    Err(ConfigError::Invalid {
        name,
        reason: if lower.starts_with("http://") {
            "must be https:// (plain http:// is only allowed on this machine)".into()
        } else {
            "must be an https:// URL".into()
        },
    })
}

/// A MySQL URL for another host must encrypt the connection: `ssl-mode` defaults to
/// `REQUIRED` there (sqlx's own default, `PREFERRED`, silently falls back to clear text).
/// The URL may still say otherwise explicitly (`?ssl-mode=DISABLED`, a choice made in the
/// open). Loopback and SQLite URLs are left as they are.
pub fn secure_database_url(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("mysql://") || lower.starts_with("mariadb://")) {
        return url.to_string();
    }
    if url_host(&lower).is_some_and(is_loopback_host)
        || lower.contains("ssl-mode=")
        || lower.contains("sslmode=")
    {
        return url.to_string();
    }
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}ssl-mode=REQUIRED")
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
    let retention_days: u64 = parse(s, "RETENTION_DAYS", DEFAULT_RETENTION_DAYS)?;
    if retention_days != 0 && !(7..=3650).contains(&retention_days) {
        return Err(ConfigError::Invalid {
            name: "RETENTION_DAYS",
            reason: "between 7 and 3650 days; 0 keeps everything".into(),
        });
    }
    let max_connections: usize = parse(
        s,
        "LISTENER_MAX_CONNECTIONS",
        ServeLimits::default().max_connections,
    )?;
    if !(8..=10_000).contains(&max_connections) {
        return Err(ConfigError::Invalid {
            name: "LISTENER_MAX_CONNECTIONS",
            reason: "between 8 and 10000".into(),
        });
    }
    let header_secs: u64 = parse(
        s,
        "LISTENER_HEADER_TIMEOUT_SECS",
        ServeLimits::default().header_read_timeout.as_secs(),
    )?;
    if !(1..=120).contains(&header_secs) {
        return Err(ConfigError::Invalid {
            name: "LISTENER_HEADER_TIMEOUT_SECS",
            reason: "between 1 and 120 seconds".into(),
        });
    }
    let trusted_proxies =
        parse_ranges(&s.value("TRUSTED_PROXIES").unwrap_or_default()).map_err(|reason| {
            ConfigError::Invalid {
                name: "TRUSTED_PROXIES",
                reason,
            }
        })?;
    Ok(HostConfig {
        unpaid_hold: (hold_minutes > 0).then(|| Duration::from_secs(hold_minutes * 60)),
        database_url: database_url(s),
        data_dir,
        listen_addr,
        ghl_base_url: provider_base(s, "GHL_BASE_URL", ghl::DEFAULT_BASE_URL)?,
        ghl_access_token: required_secret("GHL_ACCESS_TOKEN")?,
        ghl_location_id: required("GHL_LOCATION_ID")?,
        mp_base_url: provider_base(s, "MP_BASE_URL", mercadopago::DEFAULT_BASE_URL)?,
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
        accept_ipn: switch_or(s, "MP_ACCEPT_IPN", false)?,
        trusted_proxies,
        rate_limit: RateLimit::default(),
        serve_limits: ServeLimits {
            max_connections,
            header_read_timeout: Duration::from_secs(header_secs),
        },
        retention: (retention_days > 0).then(|| Duration::from_secs(retention_days * 86_400)),
    })
}

/// How long processed deliveries and raw provider JSON are kept by default.
pub const DEFAULT_RETENTION_DAYS: u64 = 90;

/// Shortest `HUB_API_TOKEN` accepted: it is the only thing between the internet and the
/// clinic's bookings when the API is published.
pub const MIN_API_TOKEN_LEN: usize = 32;

/// The hub's compat REST API: on only with `HUB_API_TOKEN`.
pub struct ApiConfig {
    pub token: SecretString,
    pub listen_addr: SocketAddr,
}

/// `HUB_API_TOKEN` and `API_LISTEN_ADDR`. The token must be at least
/// [`MIN_API_TOKEN_LEN`] characters. The API speaks plain HTTP, so binding it to anything
/// but loopback is refused unless `API_TLS_TERMINATED=1` says a TLS proxy is in front.
pub fn api_config(s: &dyn Settings) -> Result<Option<ApiConfig>, ConfigError> {
    let Some(token) = s.secret("HUB_API_TOKEN") else {
        return Ok(None);
    };
    if token.expose_secret().trim().chars().count() < MIN_API_TOKEN_LEN {
        return Err(ConfigError::Invalid {
            name: "HUB_API_TOKEN",
            reason: format!("at least {MIN_API_TOKEN_LEN} characters (use a random token)"),
        });
    }
    let addr_text = s
        .value("API_LISTEN_ADDR")
        .unwrap_or_else(|| "127.0.0.1:8788".into());
    let listen_addr = SocketAddr::from_str(addr_text.trim()).map_err(|e| ConfigError::Invalid {
        name: "API_LISTEN_ADDR",
        reason: e.to_string(),
    })?;
    if !listen_addr.ip().is_loopback() && !switch_or(s, "API_TLS_TERMINATED", false)? {
        return Err(ConfigError::Invalid {
            name: "API_LISTEN_ADDR",
            reason: "the API speaks plain HTTP: bind it to 127.0.0.1 behind a TLS proxy, or \
                     set API_TLS_TERMINATED=1 if TLS already ends in front of this address"
                .into(),
        });
    }
    Ok(Some(ApiConfig { token, listen_addr }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let err =
                host_config(&MapSettings::new(m), "/tmp".into(), "127.0.0.1:8787").unwrap_err();
            assert_eq!(err, ConfigError::Missing(name));
            assert_eq!(err.to_string(), format!("missing required setting {name}"));
        }
    }

    #[test]
    fn defaults_follow_the_seed_and_the_issue() {
        let c = host_config(
            &MapSettings::new(complete()),
            "/tmp".into(),
            "127.0.0.1:8787",
        )
        .unwrap();
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
        let c = host_config(&MapSettings::new(m), "/tmp".into(), "127.0.0.1:8787").unwrap();
        assert_eq!(
            c.database_url.as_deref(),
            Some("mysql://app:p%40ss%3Aw@db:3306/citas?ssl-mode=REQUIRED")
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
            ("GHL_BASE_URL", "http://services.leadconnectorhq.com"),
            ("MP_BASE_URL", "http://api.mercadopago.com"),
            ("MP_BASE_URL", "ftp://127.0.0.1"),
            ("MP_BASE_URL", "http://127.0.0.1.evil.example"),
            ("MP_ACCEPT_IPN", "maybe"),
            ("TRUSTED_PROXIES", "10.0.0.0/40"),
            ("RETENTION_DAYS", "1"),
            ("LISTENER_MAX_CONNECTIONS", "2"),
            ("LISTENER_HEADER_TIMEOUT_SECS", "0"),
        ] {
            let mut m = complete();
            m.insert(name, value);
            let err =
                host_config(&MapSettings::new(m), "/tmp".into(), "127.0.0.1:8787").unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}"
            );
        }
    }
}

#[cfg(test)]
mod security_tests {
    use super::*;

    fn complete() -> MapSettings {
        MapSettings::new([
            ("GHL_ACCESS_TOKEN", "pit-1"),
            ("GHL_LOCATION_ID", "loc"),
            ("MP_ACCESS_TOKEN", "APP_USR-1"),
        ])
    }

    #[test]
    fn plain_http_provider_bases_are_allowed_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:9000",
            "http://localhost:9000/ghl",
            "http://[::1]:9000",
            "https://api.mercadopago.com",
        ] {
            let c = host_config(
                &complete().set("MP_BASE_URL", ok),
                "/tmp".into(),
                "127.0.0.1:0",
            );
            assert_eq!(c.map(|c| c.mp_base_url).as_deref(), Ok(ok), "{ok}");
        }
    }

    #[test]
    fn a_remote_mysql_url_requires_tls_unless_it_says_otherwise() {
        assert_eq!(
            secure_database_url("mysql://app:pw@db.clinic.pe:3306/citas"),
            "mysql://app:pw@db.clinic.pe:3306/citas?ssl-mode=REQUIRED"
        );
        assert_eq!(
            secure_database_url("mysql://app:pw@10.0.0.5/citas?charset=utf8mb4"),
            "mysql://app:pw@10.0.0.5/citas?charset=utf8mb4&ssl-mode=REQUIRED"
        );
        for unchanged in [
            "mysql://root@127.0.0.1:3306/test",
            "mysql://root@localhost/test",
            "mysql://app:pw@db.clinic.pe/citas?ssl-mode=VERIFY_IDENTITY",
            "mysql://app:pw@db.clinic.pe/citas?ssl-mode=DISABLED",
            "sqlite:///var/lib/mostrador.db",
        ] {
            assert_eq!(secure_database_url(unchanged), unchanged);
        }
        // The seed's DB_* names go through the same rule.
        let c = host_config(
            &complete()
                .set("DB_NAME", "citas")
                .set("DB_HOST", "db.clinic.pe"),
            "/tmp".into(),
            "127.0.0.1:0",
        )
        .unwrap();
        assert!(c.database_url.unwrap().ends_with("?ssl-mode=REQUIRED"));
    }

    #[test]
    fn the_config_debug_shows_no_password_or_token() {
        let c = host_config(
            &complete()
                .set("DATABASE_URL", "mysql://app:s3cr3t-pw@127.0.0.1/citas")
                .set("MP_WEBHOOK_SECRET", "whsec-value"),
            "/tmp".into(),
            "127.0.0.1:0",
        )
        .unwrap();
        let shown = format!("{c:?}");
        for secret in ["s3cr3t-pw", "pit-1", "APP_USR-1", "whsec-value"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("mysql://app:***@127.0.0.1/citas"), "{shown}");
        let m = complete();
        assert!(!format!("{m:?}").contains("pit-1"));
    }

    #[test]
    fn ipn_is_off_and_retention_is_on_by_default() {
        let c = host_config(&complete(), "/tmp".into(), "127.0.0.1:0").unwrap();
        assert!(!c.accept_ipn);
        assert_eq!(c.retention, Some(Duration::from_secs(90 * 86_400)));
        assert!(c.trusted_proxies.is_empty());
        let c = host_config(
            &complete()
                .set("MP_ACCEPT_IPN", "1")
                .set("RETENTION_DAYS", "0")
                .set("TRUSTED_PROXIES", "127.0.0.1, ::1"),
            "/tmp".into(),
            "127.0.0.1:0",
        )
        .unwrap();
        assert!(c.accept_ipn);
        assert_eq!(c.retention, None);
        assert_eq!(c.trusted_proxies.len(), 2);
    }

    #[test]
    fn the_api_needs_a_long_token_and_loopback_or_a_tls_proxy() {
        let long = "k".repeat(MIN_API_TOKEN_LEN);
        assert!(api_config(&MapSettings::default()).unwrap().is_none());
        let short = MapSettings::new([("HUB_API_TOKEN", "short-token")]);
        assert!(matches!(
            api_config(&short),
            Err(ConfigError::Invalid {
                name: "HUB_API_TOKEN",
                ..
            })
        ));
        let on = api_config(&MapSettings::new([("HUB_API_TOKEN", long.as_str())]))
            .unwrap()
            .unwrap();
        assert_eq!(on.listen_addr.to_string(), "127.0.0.1:8788");
        let public = MapSettings::new([
            ("HUB_API_TOKEN", long.as_str()),
            ("API_LISTEN_ADDR", "0.0.0.0:8788"),
        ]);
        assert!(matches!(
            api_config(&public),
            Err(ConfigError::Invalid {
                name: "API_LISTEN_ADDR",
                ..
            })
        ));
        let behind_tls = public.set("API_TLS_TERMINATED", "1");
        assert!(api_config(&behind_tls).unwrap().is_some());
    }
}
