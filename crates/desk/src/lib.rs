//! Mostrador's domain: a clinic's bookings, the charges that ask for their money, the
//! payments Mercado Pago reports, and the machinery that keeps them true — the webhook
//! inbox, the outbox of owed side effects, and storage on SQLite or MySQL.
//!
//! Providers are reached through the [`ports`] traits; hosts (the desktop shell, the hub)
//! plug in an [`events::EventSink`] and a [`secrets::SecretStore`]. Nothing here knows Tauri
//! or HTTP servers.
//!
//! Start at [`Desk`]: the [`desk`] module's table lists every module, the capability it adds
//! to `Desk`, and its entry points.

pub mod attendance;
pub mod booking;
pub mod cancel;
pub mod charge_status;
pub mod charging;
pub mod config;
pub mod desk;
pub mod desk_payment;
pub mod edit;
pub mod effect;
pub mod error;
pub mod events;
pub mod ghl_events;
pub mod inbox;
pub mod lookup;
pub mod model;
pub mod money;
pub mod outbox;
pub mod patients;
pub mod ports;
pub mod providers;
pub mod reconcile;
pub mod reschedule;
pub mod secrets;
pub mod send_link;
pub mod slots;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod view;

pub use attendance::Attendance;
pub use booking::CreateBooking;
pub use cancel::RefundDecision;
pub use config::ClinicConfig;
pub use desk::Desk;
pub use edit::AppointmentEdit;
pub use effect::Effect;
pub use error::{DeskError, ErrorCode};
pub use events::{DeskEvent, EventSink};
pub use lookup::ChargeDetail;
pub use model::*;
pub use money::{Currency, Money};
pub use patients::{CreatedPatient, Patient};
pub use ports::Channel;
pub use slots::FreeSlot;
pub use store::{SqlStore, Store, StoreError};
