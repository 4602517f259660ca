//! GoHighLevel (LeadConnector) API v2 client for Mostrador, written from
//! `shared/providers/ghl.md`: locations, calendars, free slots, appointments, contacts,
//! messages, OAuth token refresh, client-side rate limiting and webhook verification.
//!
//! This crate knows GHL's wire formats and nothing else: no database, no UI, no clinic
//! rules. `desk` turns these wire types into its own `Booking`.
//!
//! - [`client`]: configuration and the request pipeline (HTTP, errors, retries).
//! - `calendars`, `contacts`, `conversations`: the endpoints, as [`Client`] methods.
//! - [`auth`]: Private Integration Tokens and OAuth with single-flight refresh.
//! - [`rate_limit`]: the shared request budget and 429 backoff.
//! - [`webhook`]: signature verification and payload parsing.
//! - [`types`], [`error`]: wire types and errors.

pub mod auth;
mod calendars;
pub mod client;
mod contacts;
mod conversations;
pub mod error;
pub mod rate_limit;
pub mod types;
pub mod webhook;

pub use auth::{Auth, MemoryTokenStore, OAuthConfig, OAuthTokens, TokenStore, TokenStoreError};
pub use client::{Client, ClientConfig, DEFAULT_BASE_URL};
pub use error::Error;
pub use rate_limit::{RateLimit, RetryPolicy};
pub use types::*;
pub use webhook::{SignatureError, SignatureScheme, WebhookEvent, WebhookKeys, WebhookKind};
