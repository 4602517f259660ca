//! What the hub suites share: the `mostrador-hub` binary started against the sandbox on a
//! given database (it trusts the sandbox's GHL keys), and MP's signature.
#![allow(dead_code)] // each suite uses its own part

use hmac::{Hmac, Mac};
use sandbox::Sandbox;
use sha2::Sha256;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{}/healthz", hub.listener)).send().await
            && r.status() == 200
        {
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
    let manifest = format!("id:{data_id};request-id:{request_id};ts:{ts};");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(manifest.as_bytes());
    format!("ts={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
}
