//! Mostrador's sandbox: a stateful in-memory fake of the GoHighLevel API v2 and the Mercado
//! Pago API, served by axum on loopback, for demo mode, integration tests and benchmarks.
//!
//! It follows shared/providers/ghl.md and shared/providers/mercadopago.md on its own and shares
//! no code with the `ghl` and `mercadopago` client crates (no wire types, no signing), so a
//! misreading on one side fails a test instead of being mirrored on the other.
//!
//! Routes: GHL under `/ghl`, MP under `/mp` (plus the public checkout page at
//! `/mp/checkout/v1/redirect`), and control routes under `/__control` (see `control.rs`).
//!
//! Both providers' webhooks are delivered for real over loopback (through fake tunnels for
//! https URLs): MP's signed with the configured secret, GHL's with the sandbox's own key pairs,
//! whose public halves are [`SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM`] and
//! [`SANDBOX_GHL_RSA_PUBLIC_KEY_PEM`]. Faults ([`Fault`]) bend API routes and webhook streams.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = sandbox::Sandbox::start(sandbox::SandboxConfig::demo()).await?;
//! let ghl = sandbox.ghl_base_url(); // give this to the GHL client
//! let mp = sandbox.mp_base_url(); // and this to the MP client
//! # let _ = (ghl, mp);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod clock;
mod config;
mod control;
mod error;
mod faults;
mod ghl;
mod mp;
pub mod seed;
mod server;
mod state;
mod tunnel;

pub use config::{
    DEMO_GHL_ACCESS_TOKEN, DEMO_GHL_OAUTH_CLIENT_ID, DEMO_GHL_OAUTH_CLIENT_SECRET,
    DEMO_LOCATION_ID, DEMO_MP_ACCESS_TOKEN, GhlRateLimit, MpRetrySchedule, SandboxConfig,
};
pub use error::SandboxError;
pub use faults::{Fault, FaultKind};
pub use ghl::RecordedRequest;
pub use ghl::keys::{SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM, SANDBOX_GHL_RSA_PUBLIC_KEY_PEM};
pub use ghl::messages::SentMessage;
pub use ghl::webhooks::{GhlDelivery, GhlSignatureMode};
pub use mp::payments::{PayOutcome, PayRequest};
pub use mp::webhooks::{Delivery, manifest, sign_manifest, x_signature};
pub use server::Sandbox;
pub use tunnel::Tunnel;
