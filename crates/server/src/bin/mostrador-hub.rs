//! `mostrador-hub`: the headless host for servers and clinics with several desks. It runs
//! the webhook listener, the inbox and outbox workers and the reconciler with no GUI
//! libraries, configured from the environment (and a `.env` in the working directory) under
//! the seed service's names.

use desk::events::NoEvents;
use server::Host;
use server::config::{Env, Settings, api_config, host_config};
use server::serve::{ConnectionStats, ServeLimits, serve};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // A `.env` never overrides what the environment already says.
    match dotenvy::dotenv() {
        Ok(path) => tracing::info!(file = %path.display(), "read settings from .env"),
        Err(e) if e.not_found() => {}
        Err(e) => {
            eprintln!("mostrador-hub: cannot read .env: {e}");
            return ExitCode::from(2);
        }
    }
    let data_dir = Env
        .value("MOSTRADOR_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"));
    let config = match host_config(&Env, data_dir, "127.0.0.1:8787") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mostrador-hub: {e}");
            return ExitCode::from(2);
        }
    };
    let api = match api_config(&Env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mostrador-hub: {e}");
            return ExitCode::from(2);
        }
    };
    if config.mp_webhook_secret.is_none() {
        tracing::warn!(
            "MP_WEBHOOK_SECRET is not set: MP deliveries are refused; payments are found by polling"
        );
    }
    let host = match Host::start(config, Arc::new(NoEvents)).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("mostrador-hub: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(api) = api {
        let listener = match tokio::net::TcpListener::bind(api.listen_addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "mostrador-hub: cannot listen on API_LISTEN_ADDR {}: {e}",
                    api.listen_addr
                );
                return ExitCode::from(2);
            }
        };
        let router = server::compat::router(server::compat::CompatState {
            desk: host.desk.clone(),
            token: api.token,
        });
        tracing::info!(addr = %api.listen_addr, "compat REST API on");
        tokio::spawn(serve(
            listener,
            router,
            ServeLimits::default(),
            Arc::new(ConnectionStats::default()),
        ));
    }
    tracing::info!(listener = %host.listener_url, "mostrador-hub running");
    shutdown_signal().await;
    tracing::info!("stopping");
    host.shutdown().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
