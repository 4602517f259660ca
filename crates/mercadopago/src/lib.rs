//! Mercado Pago client for Mostrador: Checkout Pro preferences, payment reads and the
//! webhook `x-signature` check, written from `shared/providers/mercadopago.md`.
//!
//! This crate knows MP's wire formats and nothing else: no database, no UI, no clinic
//! rules. `desk` turns these wire types into its own `Charge` and `Payment`.

pub mod client;
pub mod error;
pub mod money;
pub mod types;
pub mod webhook;

pub use client::{Client, ClientConfig, DEFAULT_BASE_URL};
pub use error::Error;
pub use money::{CurrencyRules, currency_scale};
pub use types::*;
pub use webhook::{Notification, SignatureError, verify_signature};
