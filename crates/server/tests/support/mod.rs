//! What the hub suites share: a host started in-process against the sandbox on a given
//! database, through the same settings reader as a clinic's ([`InProcess::start`]); the
//! `mostrador-hub` binary started likewise ([`start_hub`]); and MP's signature ([`sign`]).
#![allow(dead_code)] // each suite uses its own part

use desk::events::EventSink;
use sandbox::{Sandbox, SandboxConfig};
use server::Host;
use server::config::{MapSettings, host_config};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The public base the sandbox's fake tunnel forwards to the listener, as ngrok would.
pub const PUBLIC_URL: &str = "https://hub-tests.mostrador.invalid";

/// A host in this process, the sandbox playing GHL and MP, and the host's data folder.
pub struct InProcess {
    pub host: Host,
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
}

impl InProcess {
    /// Starts the sandbox and a host on its settings (`database_url`, or SQLite in a fresh
    /// folder), with `overrides` on top, exactly as `mostrador-hub` reads a clinic's. GHL's
    /// appointment webhooks and MP's go through the fake tunnel to the listener.
    pub async fn start(
        database_url: Option<&str>,
        events: Arc<dyn EventSink>,
        overrides: &[(&str, &str)],
    ) -> InProcess {
        let sandbox = Sandbox::start(SandboxConfig::demo()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = MapSettings::new(sandbox.clinic_settings())
            .set("PUBLIC_WEBHOOK_URL", PUBLIC_URL)
            .set("LISTEN_ADDR", "127.0.0.1:0");
        if let Some(url) = database_url {
            settings = settings.set("DATABASE_URL", url);
        }
        for (name, value) in overrides {
            settings = settings.set(*name, *value);
        }
        let config = host_config(&settings, dir.path().to_path_buf(), "127.0.0.1:0").unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen_addr)
            .await
            .unwrap();
        sandbox.add_tunnel(
            PUBLIC_URL,
            &format!("http://{}", listener.local_addr().unwrap()),
        );
        sandbox.set_ghl_webhook_url(Some(&format!(
            "{PUBLIC_URL}{}",
            desk::config::GHL_WEBHOOK_PATH
        )));
        let host = Host::start_on(config, listener, events).await.unwrap();
        InProcess { host, sandbox, dir }
    }

    pub async fn stop(self) {
        self.host.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

const HUB: &str = env!("CARGO_BIN_EXE_mostrador-hub");

/// A `mostrador-hub` process; dropping it kills it.
pub struct Hub {
    pub child: Child,
    /// `http://127.0.0.1:PORT` of the webhook listener.
    pub listener: String,
    /// `http://127.0.0.1:PORT` of the compat API.
    pub api: String,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free right now.
///
/// Picked at random below Linux's ephemeral range (32768–60999), which outgoing connections
/// — this suite's own thousands of requests, and any other process's — draw their local
/// ports from: a port the kernel handed out with `bind(0)` can be taken by one of those
/// before the hub binds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() as u16).wrapping_mul(7919);
    loop {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (seed.wrapping_add(step.wrapping_mul(104)) % 12_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub async fn start_hub(
    sandbox: &Sandbox,
    database_url: &str,
    data: &Path,
    ports: (u16, u16),
    token: &str,
) -> Hub {
    let c = sandbox.config();
    let log = std::fs::File::create(data.join("hub.log")).unwrap();
    let child = Command::new(HUB)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("GHL_ACCESS_TOKEN", &c.ghl_access_token)
        .env("GHL_LOCATION_ID", &c.location_id)
        .env("GHL_BASE_URL", sandbox.ghl_base_url())
        .env("MP_ACCESS_TOKEN", &c.mp_access_token)
        .env("MP_BASE_URL", sandbox.mp_base_url())
        .env("MP_WEBHOOK_SECRET", &c.mp_webhook_secret)
        // The sandbox signs GHL webhooks with its own key pairs; trust their public halves.
        .env(
            "GHL_WEBHOOK_PUBLIC_KEYS",
            format!(
                "{}\n{}",
                sandbox::SANDBOX_GHL_ED25519_PUBLIC_KEY_PEM,
                sandbox::SANDBOX_GHL_RSA_PUBLIC_KEY_PEM
            ),
        )
        .env("DATABASE_URL", database_url)
        .env("MOSTRADOR_DATA_DIR", data)
        .env("LISTEN_ADDR", format!("127.0.0.1:{}", ports.0))
        .env("API_LISTEN_ADDR", format!("127.0.0.1:{}", ports.1))
        .env("HUB_API_TOKEN", token)
        .current_dir(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let hub = Hub {
        child,
        listener: format!("http://127.0.0.1:{}", ports.0),
        api: format!("http://127.0.0.1:{}", ports.1),
    };
    // Up: the listener answers /healthz and the compat API accepts connections (it binds
    // after the listener; a hub that could not bind it exits).
    let http = reqwest::Client::new();
    for _ in 0..600 {
        let healthy = matches!(
            http.get(format!("{}/healthz", hub.listener)).send().await,
            Ok(r) if r.status() == 200
        );
        let api_up = tokio::net::TcpStream::connect(("127.0.0.1", ports.1))
            .await
            .is_ok();
        if healthy && api_up {
            return hub;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the hub did not come up: {}",
        std::fs::read_to_string(data.join("hub.log")).unwrap_or_default()
    );
}

/// MP's `x-signature` for `data_id`, `request_id` and `ts` (HMAC-SHA256 of the manifest).
pub fn sign(secret: &str, data_id: &str, request_id: &str, ts: &str) -> String {
    testkit::mp_signature(secret, data_id, request_id, ts)
}
