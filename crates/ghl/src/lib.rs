//! GoHighLevel (LeadConnector) API v2 client for Mostrador, written from
//! `shared/providers/ghl.md`: locations, calendars, appointments and contacts.
//!
//! This crate knows GHL's wire formats and nothing else: no database, no UI, no clinic
//! rules. `desk` turns these wire types into its own `Booking`.

pub mod client;
pub mod error;
pub mod types;

pub use client::{Client, ClientConfig, DEFAULT_BASE_URL};
pub use error::Error;
pub use types::*;
