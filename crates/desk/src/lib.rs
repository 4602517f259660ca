//! Mostrador's domain: a clinic's bookings, the charges that ask for their money, the
//! payments Mercado Pago reports, and the machinery that keeps them true — the webhook
//! inbox, the outbox of owed side effects, and storage on SQLite or MySQL.
//!
//! Providers are reached through the [`ports`] traits; hosts (the desktop shell, the hub)
//! plug in an [`events::EventSink`] and a [`secrets::SecretStore`]. Nothing here knows Tauri
//! or HTTP servers.

pub mod booking;
pub mod cancel;
pub mod charge_status;
pub mod charging;
pub mod config;
pub mod edit;
pub mod error;
pub mod events;
pub mod ghl_events;
pub mod inbox;
pub mod model;
pub mod money;
pub mod outbox;
pub mod ports;
pub mod providers;
pub mod reconcile;
pub mod secrets;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod view;

pub use booking::{CreateBooking, Desk};
pub use cancel::RefundDecision;
pub use config::ClinicConfig;
pub use edit::AppointmentEdit;
pub use error::{DeskError, ErrorCode};
pub use events::{DeskEvent, EventSink};
pub use model::*;
pub use money::{Currency, Money};
pub use store::{SqlStore, Store, StoreError};
