//! The OS keychain as the app's [`SecretStore`] (Keychain, Credential Manager, Secret
//! Service). Secrets never touch the database, files or logs.

use desk::secrets::{SecretError, SecretStore};
use secrecy::{ExposeSecret, SecretString};

const SERVICE: &str = "pe.mostrador.desk";

/// Secrets kept in the operating system's keychain.
pub struct KeychainSecrets;

impl SecretStore for KeychainSecrets {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        let entry = keyring::Entry::new(SERVICE, name).map_err(|e| SecretError(e.to_string()))?;
        match entry.get_password() {
            Ok(v) => Ok(Some(SecretString::from(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(SecretError(e.to_string())),
        }
    }

    fn set(&self, name: &str, value: SecretString) -> Result<(), SecretError> {
        let entry = keyring::Entry::new(SERVICE, name).map_err(|e| SecretError(e.to_string()))?;
        entry
            .set_password(value.expose_secret())
            .map_err(|e| SecretError(e.to_string()))
    }
}
