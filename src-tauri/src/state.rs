//! The app's running state: the host (desk, listener, workers), started once, on first
//! need, and shared by every command.

use crate::error::CommandError;
use crate::settings::{Mode, resolve};
use desk::ErrorCode;
use desk::events::EventSink;
use desk::secrets::SecretStore;
use server::Host;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Shared by all commands through `tauri::State`.
pub struct AppState {
    host: OnceCell<Arc<Host>>,
    data_dir: PathBuf,
    events: Arc<dyn EventSink>,
    secrets: Arc<dyn SecretStore>,
}

impl AppState {
    pub fn new(
        data_dir: PathBuf,
        events: Arc<dyn EventSink>,
        secrets: Arc<dyn SecretStore>,
    ) -> Self {
        Self {
            host: OnceCell::new(),
            data_dir,
            events,
            secrets,
        }
    }

    /// The running host, starting it if needed; a failed start is retried on the next call.
    pub async fn host(&self) -> Result<Arc<Host>, CommandError> {
        self.host
            .get_or_try_init(|| async {
                let mode = resolve(self.data_dir.clone(), self.secrets.as_ref())
                    .map_err(|m| CommandError::new(ErrorCode::NotConfigured, m))?;
                let started = match mode {
                    Mode::Demo { listen_addr } => {
                        Host::start_demo(self.data_dir.clone(), listen_addr, self.events.clone())
                            .await
                    }
                    Mode::Clinic(config) => Host::start(*config, self.events.clone()).await,
                };
                started.map(Arc::new).map_err(|e| {
                    tracing::error!(error = %e, "could not start");
                    let code = match e {
                        server::HostError::Store(_) => ErrorCode::DbUnavailable,
                        server::HostError::Provider(_) => ErrorCode::ProviderUnavailable,
                        _ => ErrorCode::NotConfigured,
                    };
                    CommandError::new(code, e.to_string())
                })
            })
            .await
            .cloned()
    }
}
