//! Starting Mostrador in a process: storage, provider clients, the [`Desk`], the inbox
//! worker and the webhook listener. The desktop app and the hub both start through here,
//! so there is one code path for two hosts. Demo mode is the desktop shell's: it starts the
//! sandbox and hands its settings to [`Host::start_on`] like any clinic's, so the headless
//! hub does not contain the fake.

use crate::listener::{ListenerCounters, ListenerState, router};
use crate::rate_limit::{IpRange, RateLimit};
use crate::serve::{ConnectionStats, ServeLimits, serve};
use desk::events::EventSink;
use desk::money::Currency;
use desk::store::SqlStore;
use desk::{ClinicConfig, Desk, Store};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Everything needed to run for a real clinic. Its `Debug` prints no secret: tokens are
/// `[REDACTED]` and the database URL's password is masked.
#[derive(Clone)]
pub struct HostConfig {
    /// `DATABASE_URL`; `None` means the SQLite file `mostrador.db` in `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// Where the webhook listener binds (`LISTEN_ADDR`).
    pub listen_addr: SocketAddr,
    pub ghl_base_url: String,
    pub ghl_access_token: SecretString,
    pub ghl_location_id: String,
    pub mp_base_url: String,
    pub mp_access_token: SecretString,
    pub mp_webhook_secret: Option<SecretString>,
    pub public_webhook_url: Option<String>,
    pub currency: Currency,
    /// `CLINIC_TIMEZONE`; `None` asks GHL for the location's zone.
    pub timezone: Option<chrono_tz::Tz>,
    pub link_ttl: Duration,
    /// How often the reconciler polls MP for what webhooks missed (`RECONCILE_INTERVAL_SECS`).
    pub reconcile_every: Duration,
    /// Extra GHL webhook public keys, PEM blocks (`GHL_WEBHOOK_PUBLIC_KEYS`), added to GHL's.
    pub ghl_webhook_public_keys: Option<String>,
    /// What a paid charge does in the providers (`PAID_*` settings).
    pub after_payment: desk::config::AfterPayment,
    /// `UNPAID_HOLD_MINUTES`: cancel bookings left unpaid this long; `None` never does.
    pub unpaid_hold: Option<Duration>,
    /// `MP_ACCEPT_IPN`: store unsigned legacy IPN notifications (off by default).
    pub accept_ipn: bool,
    /// `TRUSTED_PROXIES`: proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpRange>,
    /// The listener's budget of refused requests per client.
    pub rate_limit: RateLimit,
    /// Connections and header timeouts of the listener.
    pub serve_limits: ServeLimits,
    /// `RETENTION_DAYS`: processed deliveries and providers' raw JSON older than this are
    /// purged by the reconciler; `None` keeps them.
    pub retention: Option<Duration>,
}

impl std::fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostConfig")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("listen_addr", &self.listen_addr)
            .field("ghl_base_url", &self.ghl_base_url)
            .field("ghl_access_token", &self.ghl_access_token)
            .field("ghl_location_id", &self.ghl_location_id)
            .field("mp_base_url", &self.mp_base_url)
            .field("mp_access_token", &self.mp_access_token)
            .field("mp_webhook_secret", &self.mp_webhook_secret)
            .field("public_webhook_url", &self.public_webhook_url)
            .field("currency", &self.currency)
            .field("timezone", &self.timezone)
            .field("link_ttl", &self.link_ttl)
            .field("reconcile_every", &self.reconcile_every)
            .field("after_payment", &self.after_payment)
            .field("unpaid_hold", &self.unpaid_hold)
            .field("accept_ipn", &self.accept_ipn)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("rate_limit", &self.rate_limit)
            .field("serve_limits", &self.serve_limits)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// A URL with the password of its `user:password@` part masked.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// Default reconcile interval: often enough that a lost webhook costs minutes, gently enough
/// for MP's unpublished rate limits.
pub const DEFAULT_RECONCILE_EVERY: Duration = Duration::from_secs(300);

/// Why the host could not start. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("storage: {0}")]
    Store(#[from] desk::StoreError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot reach a provider at start-up: {0}")]
    Provider(String),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// A running Mostrador: the desk, its listener and workers.
pub struct Host {
    pub desk: Arc<Desk>,
    /// `http://127.0.0.1:PORT` of the webhook listener.
    pub listener_url: String,
    /// The listener's connections (open, peak).
    pub connections: Arc<ConnectionStats>,
    /// Deliveries the listener acknowledged and dropped, by reason.
    pub counters: Arc<ListenerCounters>,
    tasks: Vec<JoinHandle<()>>,
}

impl Host {
    /// Starts for a real clinic, binding `config.listen_addr`.
    pub async fn start(config: HostConfig, events: Arc<dyn EventSink>) -> Result<Host, HostError> {
        let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
        Self::start_on(config, listener, events).await
    }

    /// Starts on a listener already bound (demo mode binds first, to point its fake tunnel
    /// at it): opens storage, builds the clients, learns the clinic from GHL, and runs.
    pub async fn start_on(
        config: HostConfig,
        listener: tokio::net::TcpListener,
        events: Arc<dyn EventSink>,
    ) -> Result<Host, HostError> {
        let store = open_store(&config).await?;
        let ghl = ghl::Client::new(ghl::ClientConfig::new(
            config.ghl_base_url.clone(),
            config.ghl_access_token.clone(),
        ))
        .map_err(|e| HostError::Config(e.to_string()))?;
        let mp = mercadopago::Client::new(mercadopago::ClientConfig::new(
            config.mp_base_url.clone(),
            config.mp_access_token.clone(),
        ))
        .map_err(|e| HostError::Config(e.to_string()))?;

        let location = ghl
            .get_location(&config.ghl_location_id)
            .await
            .map_err(|e| HostError::Provider(e.to_string()))?;
        let timezone = match config.timezone {
            Some(tz) => tz,
            None => {
                let name = location.timezone.clone().unwrap_or_else(|| "UTC".into());
                chrono_tz::Tz::from_str(&name)
                    .map_err(|_| HostError::Config(format!("unknown time zone {name}")))?
            }
        };
        let clinic = ClinicConfig {
            location_id: config.ghl_location_id.clone(),
            clinic_name: location.name.clone().unwrap_or_else(|| location.id.clone()),
            timezone,
            currency: config.currency,
            public_webhook_url: config.public_webhook_url.clone(),
            link_ttl: config.link_ttl,
            after_payment: config.after_payment.clone(),
            unpaid_hold: config.unpaid_hold,
            retention: config.retention,
        };
        let desk = Arc::new(Desk::new(
            store,
            Arc::new(ghl),
            Arc::new(mp),
            events,
            clinic,
        ));
        let mut keys = ghl::webhook::WebhookKeys::ghl_defaults()
            .map_err(|e| HostError::Config(format!("GHL webhook keys: {e}")))?;
        if let Some(pems) = &config.ghl_webhook_public_keys {
            keys = keys
                .with_pems(pems)
                .map_err(|e| HostError::Config(format!("GHL_WEBHOOK_PUBLIC_KEYS: {e}")))?;
        }
        let counters = Arc::new(ListenerCounters::default());
        let listener_state = ListenerState {
            desk: desk.clone(),
            mp_webhook_secret: config.mp_webhook_secret.clone(),
            rate_limit: config.rate_limit,
            ghl_keys: Arc::new(keys),
            accept_ipn: config.accept_ipn,
            trusted_proxies: config.trusted_proxies.clone(),
            counters: counters.clone(),
        };

        let listener_url = format!("http://{}", listener.local_addr()?);
        let connections = Arc::new(ConnectionStats::default());
        let serving = tokio::spawn(serve(
            listener,
            router(listener_state),
            config.serve_limits,
            connections.clone(),
        ));
        let inbox = tokio::spawn(desk.clone().run_inbox_worker(Duration::from_secs(5)));
        let outbox = tokio::spawn(desk.clone().run_outbox_worker(Duration::from_secs(5)));
        let reconciler = tokio::spawn(desk.clone().run_reconciler(config.reconcile_every));
        tracing::info!(listener = %listener_url, "Mostrador started");
        Ok(Host {
            desk,
            listener_url,
            connections,
            counters,
            tasks: vec![serving, inbox, outbox, reconciler],
        })
    }

    /// Stops the listener and workers.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn open_store(config: &HostConfig) -> Result<Arc<dyn Store>, HostError> {
    let store = match &config.database_url {
        Some(url) => SqlStore::connect(url).await?,
        None => SqlStore::open_sqlite(&config.data_dir.join("mostrador.db")).await?,
    };
    // An SQLite file belongs to one process: leases in it are this host's previous run's,
    // which died holding them (a kill, a power cut). Take those deliveries now, not a lease
    // later. A shared MySQL database may have other desks' live leases: they are left alone.
    // Likewise, what is owed to the providers is tried again at once when the desk opens.
    if store.dialect() == desk::store::Dialect::Sqlite {
        let deliveries = store.release_inbox_leases().await?;
        let effects = store.release_outbox_leases(desk::time::now()).await?;
        if deliveries + effects > 0 {
            tracing::info!(deliveries, effects, "work of a previous run taken up again");
        }
    }
    Ok(Arc::new(store))
}
