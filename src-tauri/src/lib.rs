//! Mostrador's desktop shell: thin Tauri commands over `desk`, domain events forwarded to
//! the UI, the OS keychain for secrets. No business rule lives here.

pub mod commands;
pub mod demo;
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
        commands::search_patients,
        commands::create_patient,
        commands::free_slots,
        commands::mark_attendance,
        commands::reschedule_booking,
        commands::send_payment_link,
        commands::whatsapp_link,
        commands::record_desk_payment,
    ])
}

/// Where the app keeps its database: `MOSTRADOR_DATA_DIR`, else the OS app-data folder.
/// When neither is known the app does not start: a shared temporary folder is readable by
/// other users and emptied at reboot, no place for a clinic's payments.
fn data_dir<R: Runtime>(app: &tauri::AppHandle<R>) -> Result<std::path::PathBuf, String> {
    choose_data_dir(
        std::env::var("MOSTRADOR_DATA_DIR").ok(),
        app.path().app_data_dir().map_err(|e| e.to_string()),
    )
}

fn choose_data_dir(
    configured: Option<String>,
    app_data: Result<std::path::PathBuf, String>,
) -> Result<std::path::PathBuf, String> {
    match configured {
        Some(d) if !d.trim().is_empty() => Ok(d.into()),
        _ => app_data.map_err(|e| {
            format!(
                "the OS app-data folder is unknown ({e}); set MOSTRADOR_DATA_DIR to a folder \
                 only this user can read"
            )
        }),
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
                data_dir(&handle)?,
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
        eprintln!("mostrador: {e}");
        tracing::error!(error = %e, "the app stopped with an error");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::choose_data_dir;
    use std::path::PathBuf;

    #[test]
    fn the_data_folder_is_configured_or_the_os_one_never_a_temporary_one() {
        let os = || Ok(PathBuf::from("/home/ana/.local/share/mostrador"));
        assert_eq!(
            choose_data_dir(Some("/srv/mostrador".into()), os()),
            Ok(PathBuf::from("/srv/mostrador"))
        );
        assert_eq!(choose_data_dir(None, os()), os());
        assert_eq!(choose_data_dir(Some("  ".into()), os()), os());
        let unknown = choose_data_dir(None, Err("no home directory".into())).unwrap_err();
        assert!(unknown.contains("MOSTRADOR_DATA_DIR"), "{unknown}");
    }
}
