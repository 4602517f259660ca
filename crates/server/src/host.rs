//! Starting Mostrador in a process: storage, provider clients, the [`Desk`], the inbox
//! worker and the webhook listener. The desktop app and the hub both start through here,
//! so there is one code path for two hosts. Demo mode starts the sandbox in-process and
//! points everything at it.

use crate::listener::{ListenerState, router};
use crate::rate_limit::RateLimit;
use desk::events::EventSink;
use desk::money::Currency;
use desk::store::SqlStore;
use desk::{ClinicConfig, Desk, Store};
use sandbox::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The public base the demo pretends to have; the sandbox forwards it to our listener,
/// as ngrok would.
pub const DEMO_PUBLIC_URL: &str = "https://demo-tunnel.mostrador.invalid";

/// Everything needed to run for a real clinic. Secrets print as `[REDACTED]`.
#[derive(Clone, Debug)]
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

/// A running Mostrador: the desk, its listener and workers (and, in demo mode, the sandbox).
pub struct Host {
    pub desk: Arc<Desk>,
    /// `http://127.0.0.1:PORT` of the webhook listener.
    pub listener_url: String,
    pub sandbox: Option<Sandbox>,
    pub demo: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl Host {
    /// Starts for a real clinic.
    pub async fn start(config: HostConfig, events: Arc<dyn EventSink>) -> Result<Host, HostError> {
        let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
        Self::launch(config, listener, events, None).await
    }

    /// Starts demo mode: the sandbox in-process, a fresh SQLite file under
    /// `data_dir/demo`, the listener on `listen_addr` (port 0 picks one) reached by the
    /// sandbox through a fake tunnel.
    pub async fn start_demo(
        data_dir: PathBuf,
        listen_addr: SocketAddr,
        events: Arc<dyn EventSink>,
    ) -> Result<Host, HostError> {
        let sandbox = Sandbox::start(SandboxConfig::demo()).await?;
        let listener = tokio::net::TcpListener::bind(listen_addr).await?;
        sandbox.add_tunnel(
            DEMO_PUBLIC_URL,
            &format!("http://{}", listener.local_addr()?),
        );
        sandbox.set_ghl_webhook_url(Some(&format!(
            "{DEMO_PUBLIC_URL}{}",
            desk::config::GHL_WEBHOOK_PATH
        )));

        // The sandbox forgets everything on exit, so the demo database starts fresh too.
        let demo_dir = data_dir.join("demo");
        for name in ["mostrador.db", "mostrador.db-wal", "mostrador.db-shm"] {
            let _ = std::fs::remove_file(demo_dir.join(name));
        }
        let sc = sandbox.config().clone();
        let config = HostConfig {
            database_url: None,
            data_dir: demo_dir,
            listen_addr,
            ghl_base_url: sandbox.ghl_base_url(),
            ghl_access_token: SecretString::from(sc.ghl_access_token),
            ghl_location_id: sc.location_id,
            mp_base_url: sandbox.mp_base_url(),
            mp_access_token: SecretString::from(sc.mp_access_token),
            mp_webhook_secret: Some(SecretString::from(sc.mp_webhook_secret)),
            public_webhook_url: Some(DEMO_PUBLIC_URL.into()),
            currency: Currency::Pen,
            timezone: None,
            link_ttl: Duration::from_secs(24 * 3600),
            reconcile_every: DEFAULT_RECONCILE_EVERY,
            after_payment: desk::config::AfterPayment::default(),
            unpaid_hold: None,
            ghl_webhook_public_keys: Some(format!(
                "{}\n{}",
                sandbox::SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM,
                sandbox::SANDBOX_GHL_RSA_PUBLIC_KEY_PEM
            )),
        };
        Self::launch(config, listener, events, Some(sandbox)).await
    }

    /// Opens storage, builds the clients, learns the clinic from GHL, and runs.
    async fn launch(
        config: HostConfig,
        listener: tokio::net::TcpListener,
        events: Arc<dyn EventSink>,
        sandbox: Option<Sandbox>,
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
        let listener_state = ListenerState {
            desk,
            mp_webhook_secret: config.mp_webhook_secret.clone(),
            rate_limit: RateLimit::default(),
            ghl_keys: Arc::new(keys),
        };
        Self::run(listener_state, listener, config.reconcile_every, sandbox).await
    }

    async fn run(
        state: ListenerState,
        listener: tokio::net::TcpListener,
        reconcile_every: Duration,
        sandbox: Option<Sandbox>,
    ) -> Result<Host, HostError> {
        let listener_url = format!("http://{}", listener.local_addr()?);
        let desk = state.desk.clone();
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let serve = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "webhook listener stopped");
            }
        });
        let inbox = tokio::spawn(desk.clone().run_inbox_worker(Duration::from_secs(5)));
        let outbox = tokio::spawn(desk.clone().run_outbox_worker(Duration::from_secs(5)));
        let reconciler = tokio::spawn(desk.clone().run_reconciler(reconcile_every));
        tracing::info!(listener = %listener_url, demo = sandbox.is_some(), "Mostrador started");
        Ok(Host {
            desk,
            listener_url,
            demo: sandbox.is_some(),
            sandbox,
            tasks: vec![serve, inbox, outbox, reconciler],
        })
    }

    /// Stops the listener and workers.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(s) = self.sandbox {
            s.shutdown().await;
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
