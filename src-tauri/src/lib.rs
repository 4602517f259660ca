//! Mostrador's desktop shell: thin Tauri commands over `desk`, domain events forwarded to
//! the UI, the OS keychain for secrets. No business rule lives here.

pub mod commands;
pub mod error;
pub mod events;
pub mod qr;
pub mod secrets;
pub mod settings;
pub mod state;

use state::AppState;
use std::sync::Arc;
use tauri::{Manager, Runtime};

/// Registers the commands on a builder (shared by the app and the mock-runtime tests).
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::app_status,
        commands::list_calendars,
        commands::list_bookings,
        commands::create_booking,
        commands::charge_qr,
        commands::simulate_payment,
        commands::retry_link,
        commands::cancel_booking,
        commands::check_payment,
        commands::pending_effects,
        commands::refund_charge,
    ])
}

/// Where the app keeps its database: `MOSTRADOR_DATA_DIR`, else the OS app-data folder.
fn data_dir<R: Runtime>(app: &tauri::AppHandle<R>) -> std::path::PathBuf {
    match std::env::var("MOSTRADOR_DATA_DIR") {
        Ok(d) if !d.trim().is_empty() => d.into(),
        _ => app
            .path()
            .app_data_dir()
            .unwrap_or_else(|_| std::env::temp_dir().join("mostrador")),
    }
}

/// Starts the desktop app.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let builder = with_commands(tauri::Builder::default())
        .plugin(tauri_plugin_store::Builder::new().build())
        .setup(|app| {
            let handle = app.handle().clone();
            let state = AppState::new(
                data_dir(&handle),
                Arc::new(events::TauriEvents(handle.clone())),
                Arc::new(secrets::KeychainSecrets),
            );
            app.manage(state);
            // Start the host now so the first screen does not wait for it.
            tauri::async_runtime::spawn(async move {
                if let Err(e) = handle.state::<AppState>().host().await {
                    tracing::error!(code = ?e.code, "start-up failed");
                }
            });
            Ok(())
        });
    if let Err(e) = builder.run(tauri::generate_context!()) {
        tracing::error!(error = %e, "the app stopped with an error");
        std::process::exit(1);
    }
}
