//! How the app decides what to run: the clinic's settings (environment first, then the OS
//! keychain for secrets, under the seed's names) or, when a credential is missing, demo mode.

use desk::secrets::SecretStore;
use secrecy::SecretString;
use server::HostConfig;
use server::config::{ConfigError, Env, Settings, host_config};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// What the app will start.
pub enum Mode {
    Demo { listen_addr: SocketAddr },
    Clinic(Box<HostConfig>),
}

/// The environment, with secrets also looked up in the keychain.
struct EnvThenKeychain<'a>(&'a dyn SecretStore);

impl Settings for EnvThenKeychain<'_> {
    fn value(&self, name: &str) -> Option<String> {
        Env.value(name)
    }

    fn secret(&self, name: &str) -> Option<SecretString> {
        Env.secret(name).or_else(|| match self.0.get(name) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "keychain unavailable");
                None
            }
        })
    }
}

/// Reads the settings. `MOSTRADOR_DEMO=1`, or any missing credential, means demo mode.
pub fn resolve(data_dir: PathBuf, keychain: &dyn SecretStore) -> Result<Mode, String> {
    let settings = EnvThenKeychain(keychain);
    let demo = || -> Result<Mode, String> {
        let text = settings
            .value("LISTEN_ADDR")
            .unwrap_or_else(|| "127.0.0.1:0".into());
        let listen_addr = SocketAddr::from_str(&text)
            .map_err(|_| format!("LISTEN_ADDR is not an address: {text}"))?;
        Ok(Mode::Demo { listen_addr })
    };
    if settings.value("MOSTRADOR_DEMO").is_some_and(|v| v != "0") {
        return demo();
    }
    match host_config(&settings, data_dir, "127.0.0.1:8787") {
        Ok(config) => Ok(Mode::Clinic(Box::new(config))),
        Err(ConfigError::Missing(name)) => {
            tracing::info!(missing = name, "no clinic credentials: demo mode");
            demo()
        }
        Err(e) => Err(e.to_string()),
    }
}
