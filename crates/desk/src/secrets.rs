//! Where tokens live: the OS keychain in the app, the environment in the hub, memory in
//! tests. Values are `SecretString`s, which never print.

use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Mutex;

/// The secrets Mostrador keeps, by their seed environment names.
pub const SECRET_NAMES: [&str; 3] = ["GHL_ACCESS_TOKEN", "MP_ACCESS_TOKEN", "MP_WEBHOOK_SECRET"];

/// Why a secret could not be read or written (never contains the secret).
#[derive(Debug, thiserror::Error)]
#[error("secret store unavailable: {0}")]
pub struct SecretError(pub String);

/// A place to keep tokens.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError>;
    fn set(&self, name: &str, value: SecretString) -> Result<(), SecretError>;
}

/// Reads secrets from the process environment (the hub, CI).
pub struct EnvSecrets;

impl SecretStore for EnvSecrets {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        Ok(std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(SecretString::from))
    }

    fn set(&self, _name: &str, _value: SecretString) -> Result<(), SecretError> {
        Err(SecretError("the environment is read-only".into()))
    }
}

/// Secrets in memory (tests, demo mode).
#[derive(Default)]
pub struct MemorySecrets(Mutex<HashMap<String, SecretString>>);

impl SecretStore for MemorySecrets {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        let map = self
            .0
            .lock()
            .map_err(|_| SecretError("lock poisoned".into()))?;
        Ok(map.get(name).cloned())
    }

    fn set(&self, name: &str, value: SecretString) -> Result<(), SecretError> {
        let mut map = self
            .0
            .lock()
            .map_err(|_| SecretError("lock poisoned".into()))?;
        map.insert(name.to_string(), value);
        Ok(())
    }
}
