//! The app's running state: the host (desk, listener, workers), started once, on first
//! need, and shared by every command.

use crate::error::CommandError;
use crate::settings::{Mode, resolve};
use desk::ErrorCode;
use desk::events::EventSink;
use desk::secrets::SecretStore;
use sandbox::Sandbox;
use server::Host;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The started host, with the sandbox in demo mode.
pub struct Running {
    pub host: Host,
    /// `Some` in demo mode only.
    pub sandbox: Option<Sandbox>,
}

impl Running {
    pub fn demo(&self) -> bool {
        self.sandbox.is_some()
    }
}

impl std::ops::Deref for Running {
    type Target = Host;

    fn deref(&self) -> &Host {
        &self.host
    }
}

/// Shared by all commands through `tauri::State`.
pub struct AppState {
    host: OnceCell<Arc<Running>>,
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
    pub async fn host(&self) -> Result<Arc<Running>, CommandError> {
        self.host
            .get_or_try_init(|| async {
                let mode = resolve(self.data_dir.clone(), self.secrets.as_ref())
                    .map_err(|m| CommandError::new(ErrorCode::NotConfigured, m))?;
                let started =
                    match mode {
                        Mode::Demo { listen_addr } => {
                            crate::demo::start(&self.data_dir, listen_addr, self.events.clone())
                                .await
                                .map(|(host, sandbox)| Running {
                                    host,
                                    sandbox: Some(sandbox),
                                })
                        }
                        Mode::Clinic(config) => Host::start(*config, self.events.clone())
                            .await
                            .map(|host| Running {
                                host,
                                sandbox: None,
                            }),
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
