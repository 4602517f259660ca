//! `mostrador-sandbox [PORT]`: runs the GHL + MP sandbox on 127.0.0.1 until Ctrl-C.
//!
//! The port comes from the first argument, else `MOSTRADOR_SANDBOX_PORT`, else a free one.
//! Credentials default to `SandboxConfig::demo()`; `GHL_ACCESS_TOKEN`, `GHL_LOCATION_ID`,
//! `MP_ACCESS_TOKEN` and `MP_WEBHOOK_SECRET` override them (the names the app reads).
//! `MOSTRADOR_SANDBOX_TUNNEL=https://public.example=http://127.0.0.1:8080` registers a tunnel.
//! `MOSTRADOR_SANDBOX_GHL_WEBHOOK_URL` is where GHL appointment webhooks go (none without it).

use std::net::{Ipv4Addr, SocketAddr};

use sandbox::{Sandbox, SandboxConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let port_text = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MOSTRADOR_SANDBOX_PORT").ok())
        .unwrap_or_else(|| "0".to_owned());
    let port: u16 = port_text.trim().parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("port must be a number from 0 to 65535, got {port_text:?}"),
        )
    })?;

    let mut config = SandboxConfig::demo();
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut overridden = false;
    if let Some(v) = env("GHL_ACCESS_TOKEN") {
        config.ghl_access_token = v;
        overridden = true;
    }
    if let Some(v) = env("MP_ACCESS_TOKEN") {
        config.mp_access_token = v;
        overridden = true;
    }
    if let Some(v) = env("MP_WEBHOOK_SECRET") {
        config.mp_webhook_secret = v;
        overridden = true;
    }
    if let Some(v) = env("GHL_LOCATION_ID") {
        config.location_id = v;
    }
    config.ghl_webhook_url = env("MOSTRADOR_SANDBOX_GHL_WEBHOOK_URL");

    let sandbox = Sandbox::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    if let Some(spec) = env("MOSTRADOR_SANDBOX_TUNNEL") {
        match spec.split_once("=http") {
            Some((public, local)) => sandbox.add_tunnel(public, &format!("http{local}")),
            None => tracing::warn!(
                "MOSTRADOR_SANDBOX_TUNNEL must look like https://public=http://127.0.0.1:PORT"
            ),
        }
    }
    tracing::info!(
        base_url = %sandbox.base_url(),
        ghl_base_url = %sandbox.ghl_base_url(),
        mp_base_url = %sandbox.mp_base_url(),
        control = %format!("{}/__control", sandbox.base_url()),
        location_id = %sandbox.config().location_id,
        "sandbox ready"
    );
    if !overridden {
        // Demo credentials are made up by the sandbox itself, not secrets: show them so a
        // person can point the app at this process.
        let c = sandbox.config();
        tracing::info!(
            ghl_access_token = %c.ghl_access_token,
            mp_access_token = %c.mp_access_token,
            mp_webhook_secret = %c.mp_webhook_secret,
            "demo credentials"
        );
    }
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping");
    sandbox.shutdown().await;
    Ok(())
}
