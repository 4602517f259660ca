//! `Sandbox`: binds the listener, mounts GHL under `/ghl`, MP under `/mp` and the control
//! routes under `/__control`, serves them on a background task, and offers the in-process
//! control API.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono_tz::Tz;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::ghl::RecordedRequest;
use crate::mp::payments::{PayOutcome, PayRequest};
use crate::mp::webhooks::{Delivery, SOCKET_TIMEOUT, Tunnel};
use crate::state::{App, Shared};
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
        let app: App = Arc::new(Shared::new(config, tz, base_url, http));
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

    /// Every webhook delivery attempt so far, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.app.world().deliveries.clone()
    }

    /// Every request the GHL routes received so far (method, path, `Version` header).
    pub fn ghl_requests(&self) -> Vec<RecordedRequest> {
        self.app.world().ghl_requests.clone()
    }

    /// Back to the seed data; tunnels are kept. Same as `POST /__control/reset`.
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
