//! The `mostrador-hub` binary as an operator runs it: configured by the environment, it
//! refuses to start without a required setting and otherwise serves the listener.

use sandbox::{Sandbox, SandboxConfig};
use std::process::{Command, Stdio};
use std::time::Duration;

const HUB: &str = env!("CARGO_BIN_EXE_mostrador-hub");

fn hub() -> Command {
    let mut cmd = Command::new(HUB);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null());
    cmd
}

#[test]
fn a_missing_required_setting_stops_start_up_with_one_line_naming_it() {
    let out = hub()
        .env("GHL_LOCATION_ID", "loc")
        .env("MP_ACCESS_TOKEN", "APP_USR-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "mostrador-hub: missing required setting GHL_ACCESS_TOKEN"
    );
}

#[tokio::test]
async fn the_hub_serves_healthz_against_the_sandbox_and_stops_on_sigterm() {
    let sandbox = Sandbox::start(SandboxConfig::demo()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = sandbox.config();
    let mut child = hub()
        .env("GHL_ACCESS_TOKEN", &c.ghl_access_token)
        .env("GHL_LOCATION_ID", &c.location_id)
        .env("GHL_BASE_URL", sandbox.ghl_base_url())
        .env("MP_ACCESS_TOKEN", &c.mp_access_token)
        .env("MP_BASE_URL", sandbox.mp_base_url())
        .env("MP_WEBHOOK_SECRET", &c.mp_webhook_secret)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("MOSTRADOR_DATA_DIR", dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let http = reqwest::Client::new();
    let mut ok = false;
    // Up to a minute: a loaded CI machine may take a while to start a binary.
    for _ in 0..600 {
        if let Ok(r) = http.get(&url).send().await {
            ok = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(ok, "healthz answered 200");
    assert!(status.success(), "stopped cleanly on SIGTERM: {status:?}");
    assert!(
        dir.path().join("mostrador.db").exists(),
        "SQLite file in the data directory"
    );
}
