//! MODO DEMO: the sandbox plays GHL and MP in-process, and the app starts on its settings
//! exactly as it would on a clinic's (`server::config::host_config` → `Host::start_on`). The
//! sandbox lives here, in the desktop shell, so the headless hub never contains the fake.

use desk::events::EventSink;
use sandbox::{Sandbox, SandboxConfig};
use server::config::{MapSettings, host_config};
use server::{Host, HostError};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The public base the demo pretends to have; the sandbox forwards it to our listener,
/// as ngrok would.
pub const DEMO_PUBLIC_URL: &str = "https://demo-tunnel.mostrador.invalid";

/// Starts the sandbox, then the host on a fresh SQLite file under `data_dir/demo`, with the
/// listener on `listen_addr` (port 0 picks one) reached by the sandbox through a fake tunnel.
pub async fn start(
    data_dir: &Path,
    listen_addr: SocketAddr,
    events: Arc<dyn EventSink>,
) -> Result<(Host, Sandbox), HostError> {
    let sandbox = Sandbox::start(SandboxConfig::demo()).await?;
    let listener = tokio::net::TcpListener::bind(listen_addr).await?;
    sandbox.add_tunnel(
        DEMO_PUBLIC_URL,
        &format!("http://{}", listener.local_addr()?),
    );
    sandbox.set_ghl_webhook_url(Some(&format!(
        "{DEMO_PUBLIC_URL}{}",
        desk::config::GHL_WEBHOOK_PATH
    )));

    // The sandbox forgets everything on exit, so the demo database starts fresh too.
    let demo_dir = data_dir.join("demo");
    for name in ["mostrador.db", "mostrador.db-wal", "mostrador.db-shm"] {
        let _ = std::fs::remove_file(demo_dir.join(name));
    }
    let settings = MapSettings::new(sandbox.clinic_settings())
        .set("PUBLIC_WEBHOOK_URL", DEMO_PUBLIC_URL)
        .set("CLINIC_CURRENCY", "PEN");
    let config = host_config(&settings, demo_dir, &listen_addr.to_string())
        .map_err(|e| HostError::Config(e.to_string()))?;
    match Host::start_on(config, listener, events).await {
        Ok(host) => Ok((host, sandbox)),
        Err(e) => {
            sandbox.shutdown().await;
            Err(e)
        }
    }
}
