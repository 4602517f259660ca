//! `Sandbox`: binds the listener, mounts GHL under `/ghl`, MP under `/mp` and the control
//! routes under `/__control`, serves them on a background task with the GHL webhook worker
//! beside it, and offers the in-process control API.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono_tz::Tz;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{GhlRateLimit, MpRetrySchedule};
use crate::faults::Fault;
use crate::ghl::RecordedRequest;
use crate::ghl::messages::SentMessage;
use crate::ghl::webhooks::{GhlDelivery, GhlSignatureMode};
use crate::mp::payments::{PayOutcome, PayRequest};
use crate::mp::webhooks::{Delivery, SOCKET_TIMEOUT};
use crate::state::{App, Shared};
use crate::tunnel::Tunnel;
use crate::{SandboxConfig, SandboxError};

/// A running sandbox. Dropping it stops the server too; `shutdown` also waits for it.
pub struct Sandbox {
    app: App,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts on `127.0.0.1` with a free port.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        Self::start_on(config, SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await
    }

    /// Starts on `addr` (port 0 picks a free one).
    pub async fn start_on(config: SandboxConfig, addr: SocketAddr) -> std::io::Result<Sandbox> {
        let tz: Tz = config.timezone.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("unknown IANA time zone {:?}", config.timezone),
            )
        })?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(SOCKET_TIMEOUT)
            .build()
            .map_err(std::io::Error::other)?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let host = if bound.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            bound.ip()
        };
        let base_url = format!("http://{}", SocketAddr::new(host, bound.port()));
        let (shared, ghl_events) = Shared::new(config, tz, base_url, http);
        let app: App = Arc::new(shared);
        // The worker holds the state weakly: it ends when the sandbox is gone.
        tokio::spawn(crate::ghl::webhooks::worker(
            Arc::downgrade(&app),
            ghl_events,
        ));
        let router = Router::new()
            .nest("/ghl", crate::ghl::router(app.clone()))
            .nest("/mp", crate::mp::router(app.clone()))
            .nest("/__control", crate::control::router(app.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "sandbox server stopped with an error");
            }
        });
        tracing::info!(base_url = %app.base_url, "sandbox listening");
        Ok(Sandbox {
            app,
            addr: bound,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.app.base_url.clone()
    }

    /// Base URL for a GHL client: `base_url() + "/ghl"`.
    pub fn ghl_base_url(&self) -> String {
        format!("{}/ghl", self.app.base_url)
    }

    /// Base URL for an MP client: `base_url() + "/mp"`.
    pub fn mp_base_url(&self) -> String {
        format!("{}/mp", self.app.base_url)
    }

    /// The socket address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.app.config
    }

    /// What a Mostrador host needs to use this sandbox as its GHL and MP, under the seed
    /// service's setting names: tokens, location, API bases, the MP webhook secret, and the
    /// public halves of the keys its GHL webhooks are signed with.
    pub fn clinic_settings(&self) -> Vec<(&'static str, String)> {
        let c = &self.app.config;
        vec![
            ("GHL_ACCESS_TOKEN", c.ghl_access_token.clone()),
            ("GHL_LOCATION_ID", c.location_id.clone()),
            ("GHL_BASE_URL", self.ghl_base_url()),
            ("MP_ACCESS_TOKEN", c.mp_access_token.clone()),
            ("MP_BASE_URL", self.mp_base_url()),
            ("MP_WEBHOOK_SECRET", c.mp_webhook_secret.clone()),
            (
                "GHL_WEBHOOK_PUBLIC_KEYS",
                format!(
                    "{}\n{}",
                    crate::SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM,
                    crate::SANDBOX_GHL_RSA_PUBLIC_KEY_PEM
                ),
            ),
        ]
    }

    /// Register a fake tunnel: a webhook whose notification_url starts with `public_base`
    /// (an https URL, as MP demands) is delivered to `local_base` + the rest of the URL instead.
    /// This is how demo mode and tests reach the app's plain-http loopback listener,
    /// just as ngrok forwards in production.
    pub fn add_tunnel(&self, public_base: &str, local_base: &str) {
        let tunnel = Tunnel::new(public_base, local_base);
        let mut tunnels = self.app.tunnels();
        // Registering a public base again re-points it, as restarting ngrok would.
        tunnels.retain(|t| t.public_base != tunnel.public_base);
        tunnels.push(tunnel);
    }

    /// Pays a preference as the patient would, then delivers the signed webhook if the
    /// preference has a `notification_url`. Same as `POST /__control/mp/preferences/{id}/pay`.
    pub async fn pay_preference(
        &self,
        preference_id: &str,
        req: PayRequest,
    ) -> Result<PayOutcome, SandboxError> {
        crate::mp::payments::pay(&self.app, preference_id, req).await
    }

    /// Every MP notification attempt so far (Webhooks and IPN, retries included), in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.app.world().deliveries.clone()
    }

    /// Waits until at least `count` MP attempts are recorded (or `timeout` passes) and
    /// returns them all.
    pub async fn wait_for_deliveries(&self, count: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all = self.deliveries();
            if all.len() >= count || tokio::time::Instant::now() >= deadline {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every GHL webhook attempt so far (retries and dropped events included), in order.
    pub fn ghl_deliveries(&self) -> Vec<GhlDelivery> {
        self.app.world().ghl_deliveries.clone()
    }

    /// Waits until at least `count` GHL attempts are recorded (or `timeout` passes) and
    /// returns them all. GHL webhooks go out in the background, after the API answer.
    pub async fn wait_for_ghl_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<GhlDelivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all = self.ghl_deliveries();
            if all.len() >= count || tokio::time::Instant::now() >= deadline {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// How many webhook deliveries are still in progress or scheduled: GHL events queued,
    /// held or delayed, retries not yet finished, MP notifications being sent. Zero means no
    /// further attempt is coming until a new write causes one.
    pub fn pending_webhooks(&self) -> usize {
        self.app.pending_webhooks()
    }

    /// Waits until [`pending_webhooks`](Self::pending_webhooks) is zero (or `timeout` passes);
    /// returns whether it got there. With it, "nothing more was delivered" is an exact check
    /// of the recorded attempts rather than a guess after a pause.
    pub async fn wait_for_webhooks_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.pending_webhooks() == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Where GHL appointment webhooks go from now on (`None` stops them). Same as
    /// `POST /__control/settings` `{"ghl_webhook_url": …}`.
    pub fn set_ghl_webhook_url(&self, url: Option<&str>) {
        self.app.settings().ghl_webhook_url = url.map(str::to_owned);
    }

    /// Which signature headers GHL webhooks carry (default: both, valid).
    pub fn set_ghl_signature_mode(&self, mode: GhlSignatureMode) {
        self.app.settings().ghl_signature_mode = mode;
    }

    /// Suspends (or reactivates) the location: OAuth grants then get 400 "Location is not
    /// active".
    pub fn set_ghl_location_suspended(&self, suspended: bool) {
        self.app.settings().location_suspended = suspended;
    }

    /// Replaces the GHL rate limits (counters keep running).
    pub fn set_ghl_rate_limit(&self, limit: GhlRateLimit) {
        self.app.settings().rate_limit = limit;
    }

    /// Turns per-family `Version` checking on or off.
    pub fn set_ghl_version_strict(&self, strict: bool) {
        self.app.settings().version_strict = strict;
    }

    /// Lifetime of OAuth access tokens issued from now on.
    pub fn set_ghl_access_token_lifetime(&self, lifetime: Duration) {
        self.app.settings().access_token_lifetime = lifetime;
    }

    /// How long new contacts stay invisible to `POST /contacts/search` (default 0).
    pub fn set_ghl_contact_search_lag(&self, lag: Duration) {
        self.app.settings().contact_search_lag = lag;
    }

    /// Whether the location allows duplicated contacts (default false: `POST /contacts/`
    /// with a known email or phone gets 400 with `meta.contactId`).
    pub fn set_ghl_allow_duplicate_contacts(&self, allow: bool) {
        self.app.settings().allow_duplicate_contacts = allow;
    }

    /// A single-use OAuth authorization code for `grant_type=authorization_code`.
    pub fn issue_ghl_oauth_code(&self) -> String {
        self.app.world().ghl.oauth.issue_code()
    }

    /// Every `POST /conversations/messages` accepted so far, in order.
    pub fn ghl_messages(&self) -> Vec<SentMessage> {
        self.app.world().ghl.messages.clone()
    }

    /// How long one provider minute lasts for webhook retry schedules (60 s = real time).
    pub fn set_webhook_minute(&self, minute: Duration) {
        self.app.settings().webhook_minute = minute;
    }

    /// Which MP retry schedule failed notifications follow.
    pub fn set_mp_retry_schedule(&self, schedule: MpRetrySchedule) {
        self.app.settings().mp_retry_schedule = schedule;
    }

    /// How long MP waits for the receiver before retrying (22 s by default).
    pub fn set_mp_webhook_timeout(&self, timeout: Duration) {
        self.app.settings().mp_webhook_timeout = timeout;
    }

    /// Moves a payment through MP's status machine (approve a pending one, `charged_back`,
    /// `in_mediation`, …), bumping `date_last_updated` and notifying `payment.updated`.
    /// Same as `POST /__control/mp/payments/{id}/status`.
    pub async fn set_payment_status(
        &self,
        payment_id: i64,
        status: &str,
    ) -> Result<PayOutcome, SandboxError> {
        crate::mp::payments::change_status(&self.app, payment_id, status, None).await
    }

    /// Adds a fault (see [`Fault`] for route names). Same as `POST /__control/faults`.
    pub fn inject(&self, fault: Fault) {
        crate::faults::inject(&self.app, fault);
    }

    /// Removes every fault. Same as `DELETE /__control/faults`.
    pub fn clear_faults(&self) {
        self.app.faults().clear();
    }

    /// The faults still active, with their remaining `times`.
    pub fn faults(&self) -> Vec<Fault> {
        self.app.faults().iter().map(|a| a.fault.clone()).collect()
    }

    /// Moves the sandbox clock forward: token expiry, preference expiry, the 180-day refund
    /// window, stamps and webhook timestamps all follow it. Same as
    /// `POST /__control/clock/advance`.
    pub fn advance_clock(&self, by: Duration) {
        self.app.advance_clock(by);
    }

    /// The sandbox clock's current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.app.now()
    }

    /// Every request the GHL routes received so far (method, path, `Version` header).
    pub fn ghl_requests(&self) -> Vec<RecordedRequest> {
        self.app.world().ghl_requests.clone()
    }

    /// Back to the seed data, no tokens, no faults; tunnels, settings and the clock offset
    /// are kept. Same as `POST /__control/reset`.
    pub fn reset(&self) {
        self.app.reset();
    }

    /// Stops accepting requests and waits (up to 5 s) for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
        {
            tracing::warn!("sandbox server did not stop within 5 s");
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.app.base_url)
            .finish_non_exhaustive()
    }
}
