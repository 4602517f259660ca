//! Serving a router to the open internet: `axum::serve` reads headers forever and accepts
//! every connection, so half-open or slow clients could hold file descriptors until the
//! process (a desktop, whose outgoing calls need descriptors too) runs out. Here:
//!
//! - at most [`ServeLimits::max_connections`] connections are open at once; past that the
//!   listener stops accepting (new clients wait in the kernel's backlog, holding no
//!   descriptor of ours) until one closes;
//! - a client must send a request's headers within [`ServeLimits::header_read_timeout`];
//!   hyper's timer runs from the moment the connection waits for a request, so an idle
//!   keep-alive connection is closed after the same time;
//! - a request itself (body included) is bounded by the routes' own timeouts.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How much of the process one listener may hold.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time to send a request's headers, and the longest a keep-alive connection may idle.
    pub header_read_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            // Providers send a handful of deliveries at a time; a desktop's default
            // descriptor limit is 1024, shared with the app's own outgoing calls.
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Connection counts, for health and for tests.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicUsize,
}

impl ConnectionStats {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
    /// The most connections ever open at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// Serves `router` on `listener` within `limits` until the task is dropped. Each request
/// carries `ConnectInfo<SocketAddr>` with its peer's address.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    stats: Arc<ConnectionStats>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: wait a little
                // rather than spin, and keep serving.
                tracing::warn!(error = %e, "listener could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let open = stats.open.fetch_add(1, Ordering::Relaxed) + 1;
        stats.peak.fetch_max(open, Ordering::Relaxed);
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let service = router.clone().map_request(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        );
        let stats = stats.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "listener connection ended with an error");
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }
}
