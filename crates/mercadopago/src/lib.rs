//! Mercado Pago client for Mostrador: Checkout Pro preferences, payment reads and searches,
//! merchant orders, refunds, and the webhook `x-signature` check, written from
//! `shared/providers/mercadopago.md`.
//!
//! This crate knows MP's wire formats and nothing else: no database, no UI, no clinic
//! rules. `desk` turns these wire types into its own `Charge` and `Payment`.

pub mod client;
pub mod error;
pub mod money;
mod payments;
mod preferences;
mod refunds;
pub mod types;
pub mod webhook;

pub use client::{
    Client, ClientConfig, DEFAULT_BASE_URL, RetryPolicy, check_idempotency_key, webhooks_only_url,
};
pub use error::{Error, RefundRefusal};
pub use money::{CurrencyRules, currency_scale};
pub use types::*;
pub use webhook::{Notification, SignatureError, verify_signature};
