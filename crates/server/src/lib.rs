//! Mostrador's HTTP surfaces and the wiring shared by its two hosts (the desktop app and
//! the headless hub): the public webhook [`listener`], and [`host`], which opens storage,
//! builds the provider clients and the [`desk::Desk`], and runs the workers.
//!
//! Adapters only: every business rule lives in `desk`.

pub mod compat;
pub mod config;
pub mod host;
pub mod listener;
pub mod rate_limit;
pub mod serve;

pub use host::{Host, HostConfig, HostError};
