//! The sandbox's in-memory world and the handle every route shares.
//!
//! One `std::sync::Mutex` guards the whole world. Handlers never await while holding it, and
//! a check-then-write (a slot booking, a payment) happens under a single guard, which is what
//! makes "concurrent identical creates: exactly one wins" true.
//!
//! Beside the world live the run-time switches (`Settings`, seeded from the config), the
//! injected faults, the clock offset and the queue that feeds GHL webhook deliveries in
//! write order.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;

use crate::SandboxConfig;
use crate::config::{GhlRateLimit, MpRetrySchedule};
use crate::faults::ActiveFault;
use crate::ghl::webhooks::{GhlDelivery, GhlEvent, GhlSignatureMode};
use crate::ghl::{GhlWorld, RateWindow, RecordedRequest};
use crate::mp::MpWorld;
use crate::mp::webhooks::Delivery;
use crate::tunnel::Tunnel;

/// Everything the routes share: configuration, the world, the outbound HTTP client.
pub(crate) struct Shared {
    pub config: SandboxConfig,
    /// The location's time zone, parsed once from `config.timezone`.
    pub tz: Tz,
    /// `http://127.0.0.1:PORT`, used to build links that point back at the sandbox.
    pub base_url: String,
    /// Client for webhook deliveries (no proxy; each request sets its own timeout).
    pub http: reqwest::Client,
    world: Mutex<World>,
    tunnels: Mutex<Vec<Tunnel>>,
    settings: Mutex<Settings>,
    faults: Mutex<Vec<ActiveFault>>,
    /// Milliseconds added to the real clock (`Sandbox::advance_clock`).
    clock_offset_ms: AtomicI64,
    /// Feeds the GHL webhook worker, which delivers in write order.
    ghl_events: mpsc::UnboundedSender<(GhlEvent, WebhookWork)>,
    /// Webhook work started and not finished (see [`WebhookWork`]).
    pending_webhooks: Arc<AtomicUsize>,
}

/// One piece of webhook work in progress: a queued, held or delayed GHL event, a scheduled
/// retry, an MP notification being sent. Counted while alive, so a test can tell "no attempt
/// is still coming" from the sandbox's own bookkeeping instead of waiting a while.
pub(crate) struct WebhookWork(Arc<AtomicUsize>);

impl Drop for WebhookWork {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The switches tests flip at run time; seeded from the config.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub ghl_webhook_url: Option<String>,
    pub ghl_signature_mode: GhlSignatureMode,
    /// A suspended location refuses OAuth refreshes with 400 "Location is not active".
    pub location_suspended: bool,
    pub rate_limit: GhlRateLimit,
    pub version_strict: bool,
    pub access_token_lifetime: Duration,
    /// Contacts created less than this long ago are not found by `POST /contacts/search` yet.
    pub contact_search_lag: Duration,
    /// Whether `POST /contacts/` may create a second contact with a known email or phone.
    pub allow_duplicate_contacts: bool,
    pub webhook_minute: Duration,
    pub mp_retry_schedule: MpRetrySchedule,
    pub mp_webhook_timeout: Duration,
}

impl Settings {
    fn from_config(config: &SandboxConfig) -> Self {
        Self {
            ghl_webhook_url: config.ghl_webhook_url.clone(),
            ghl_signature_mode: GhlSignatureMode::default(),
            location_suspended: false,
            rate_limit: config.ghl_rate_limit,
            version_strict: config.ghl_version_strict,
            access_token_lifetime: config.ghl_access_token_lifetime,
            contact_search_lag: Duration::ZERO,
            allow_duplicate_contacts: false,
            webhook_minute: config.webhook_minute,
            mp_retry_schedule: config.mp_retry_schedule,
            mp_webhook_timeout: config.mp_webhook_timeout,
        }
    }

    /// A provider-minute count as real time, under the configured time scale.
    pub fn provider_minutes(&self, minutes: f64) -> Duration {
        self.webhook_minute.mul_f64(minutes.max(0.0))
    }
}

/// The handle axum routes receive.
pub(crate) type App = Arc<Shared>;

/// All mutable provider state.
pub(crate) struct World {
    pub ghl: GhlWorld,
    pub mp: MpWorld,
    pub deliveries: Vec<Delivery>,
    pub ghl_deliveries: Vec<GhlDelivery>,
    pub ghl_requests: Vec<RecordedRequest>,
    pub ghl_rate: RateWindow,
}

impl World {
    /// A world holding only the seed data.
    pub fn seeded(config: &SandboxConfig, now: DateTime<Utc>) -> Self {
        Self {
            ghl: GhlWorld::seeded(config, now),
            mp: MpWorld::new(config),
            deliveries: Vec::new(),
            ghl_deliveries: Vec::new(),
            ghl_requests: Vec::new(),
            ghl_rate: RateWindow::default(),
        }
    }
}

impl Shared {
    /// The shared state and the receiving end of the GHL webhook queue (for the worker).
    pub fn new(
        config: SandboxConfig,
        tz: Tz,
        base_url: String,
        http: reqwest::Client,
    ) -> (Self, mpsc::UnboundedReceiver<(GhlEvent, WebhookWork)>) {
        let world = World::seeded(&config, Utc::now());
        let settings = Settings::from_config(&config);
        let (ghl_events, receiver) = mpsc::unbounded_channel();
        let shared = Self {
            config,
            tz,
            base_url,
            http,
            world: Mutex::new(world),
            tunnels: Mutex::new(Vec::new()),
            settings: Mutex::new(settings),
            faults: Mutex::new(Vec::new()),
            clock_offset_ms: AtomicI64::new(0),
            ghl_events,
            pending_webhooks: Arc::new(AtomicUsize::new(0)),
        };
        (shared, receiver)
    }

    /// Locks the world. A panic while holding the lock cannot leave it half-written in a way
    /// that matters to a fake, so a poisoned lock is simply taken over.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The registered tunnels.
    pub fn tunnels(&self) -> MutexGuard<'_, Vec<Tunnel>> {
        self.tunnels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The run-time switches.
    pub fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The injected faults.
    pub fn faults(&self) -> MutexGuard<'_, Vec<ActiveFault>> {
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The sandbox's clock: real time plus the offset `advance_clock` added. Every expiry,
    /// stamp and webhook timestamp reads it.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward.
    pub fn advance_clock(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Queues a GHL appointment event for the webhook worker. Call it while still holding
    /// the world lock of the write, so events queue in write order.
    pub fn queue_ghl_event(&self, event: GhlEvent) {
        if self.settings().ghl_webhook_url.is_some()
            && self.ghl_events.send((event, self.webhook_work())).is_err()
        {
            tracing::warn!("ghl webhook worker is gone; event not delivered");
        }
    }

    /// Counts one piece of webhook work until the returned guard is dropped.
    pub fn webhook_work(&self) -> WebhookWork {
        self.pending_webhooks.fetch_add(1, Ordering::SeqCst);
        WebhookWork(self.pending_webhooks.clone())
    }

    /// How many pieces of webhook work are still in progress.
    pub fn pending_webhooks(&self) -> usize {
        self.pending_webhooks.load(Ordering::SeqCst)
    }

    /// Drops every appointment, contact change, preference, payment and delivery record,
    /// every issued OAuth token and every injected fault, and restores the seed data.
    /// Tunnels, settings and the clock offset stay: they describe the environment.
    pub fn reset(&self) {
        let fresh = World::seeded(&self.config, self.now());
        *self.world() = fresh;
        self.faults().clear();
    }
}

/// A fresh GHL-style id: 20 alphanumeric characters, like `0TkCdp9PfvLeWKYRRvIz`.
pub(crate) fn ghl_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = uuid::Uuid::new_v4().as_u128();
    let mut id = String::with_capacity(20);
    for _ in 0..20 {
        id.push(char::from(ALPHABET[(n % 62) as usize]));
        n /= 62;
    }
    id
}

/// A fresh trace id for GHL bodies.
pub(crate) fn trace_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ghl_ids_are_20_alphanumerics() {
        let id = super::ghl_id();
        assert_eq!(id.len(), 20);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(id, super::ghl_id());
    }
}
