//! The sandbox's in-memory world and the handle every route shares.
//!
//! One `std::sync::Mutex` guards the whole world. Handlers never await while holding it, and
//! a check-then-write (a slot booking, a payment) happens under a single guard, which is what
//! makes "concurrent identical creates: exactly one wins" true.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::SandboxConfig;
use crate::ghl::{GhlWorld, RateWindow, RecordedRequest};
use crate::mp::MpWorld;
use crate::mp::webhooks::{Delivery, Tunnel};

/// Everything the routes share: configuration, the world, the outbound HTTP client.
pub(crate) struct Shared {
    pub config: SandboxConfig,
    /// The location's time zone, parsed once from `config.timezone`.
    pub tz: Tz,
    /// `http://127.0.0.1:PORT`, used to build links that point back at the sandbox.
    pub base_url: String,
    /// Client for webhook deliveries (no proxy, 22 s timeout like MP).
    pub http: reqwest::Client,
    world: Mutex<World>,
    tunnels: Mutex<Vec<Tunnel>>,
}

/// The handle axum routes receive.
pub(crate) type App = Arc<Shared>;

/// All mutable provider state.
pub(crate) struct World {
    pub ghl: GhlWorld,
    pub mp: MpWorld,
    pub deliveries: Vec<Delivery>,
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
            ghl_requests: Vec::new(),
            ghl_rate: RateWindow::default(),
        }
    }
}

impl Shared {
    pub fn new(config: SandboxConfig, tz: Tz, base_url: String, http: reqwest::Client) -> Self {
        let world = World::seeded(&config, Utc::now());
        Self {
            config,
            tz,
            base_url,
            http,
            world: Mutex::new(world),
            tunnels: Mutex::new(Vec::new()),
        }
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

    /// The sandbox's clock. One place, so a later issue can shift it for time-travel tests.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Drops every appointment, contact change, preference, payment and delivery record and
    /// restores the seed data. Tunnels stay: they describe the environment, not the data.
    pub fn reset(&self) {
        let fresh = World::seeded(&self.config, self.now());
        *self.world() = fresh;
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
