//! The OS credential vault: the only place a refresh token is kept between runs.
//!
//! Secret Service on Linux, Keychain on macOS, Credential Manager on Windows, through
//! keyring-core with each platform's native store chosen explicitly (never an in-memory mock).
//! Every call runs off the async runtime with a timeout: a vault that never answers is
//! reported, not waited on forever.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring_core::Entry;
use keyring_core::api::CredentialStoreApi;
use openidconnect::RefreshToken;

/// The service name under which Latchkey's entries are stored.
pub const VAULT_SERVICE: &str = "Latchkey";

/// How long one vault call may take before the vault counts as unreachable.
pub const VAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong with the vault, in words a person can act on.
#[derive(Clone, Debug, thiserror::Error)]
pub enum VaultError {
    /// No vault service answered (no D-Bus session, no Secret Service, …).
    #[error(
        "no credential vault is available ({0}); you stay signed in only until Latchkey closes"
    )]
    Unavailable(String),
    /// The vault exists but is locked or refused access.
    #[error("the credential vault is locked or refused access ({0}); unlock it to stay signed in")]
    Locked(String),
    /// The vault did not answer in time.
    #[error("the credential vault did not answer within {0:?}")]
    TimedOut(Duration),
    /// The vault answered with an error.
    #[error("the credential vault failed: {0}")]
    Failed(String),
}

type Store = Arc<dyn CredentialStoreApi + Send + Sync>;

/// The vault entry for one provider and client.
#[derive(Clone)]
pub struct Vault {
    account: String,
    store: Arc<Mutex<Option<Store>>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("account", &self.account)
            .finish()
    }
}

impl Vault {
    /// The entry shared by the desktop app and the CLI for `client_id` at `issuer`.
    pub fn for_client(issuer: &str, client_id: &str) -> Self {
        Self {
            account: format!("{client_id}@{issuer}"),
            store: Arc::new(Mutex::new(None)),
        }
    }

    /// Reads the stored refresh token, if any.
    pub async fn load(&self) -> Result<Option<RefreshToken>, VaultError> {
        self.run(|entry| match entry.get_password() {
            Ok(secret) => Ok(Some(RefreshToken::new(secret))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(err) => Err(translate(err)),
        })
        .await
    }

    /// Stores `token`, replacing what was there.
    pub async fn store(&self, token: &RefreshToken) -> Result<(), VaultError> {
        let secret = token.secret().clone();
        self.run(move |entry| entry.set_password(&secret).map_err(translate))
            .await
    }

    /// Deletes the stored token; deleting nothing is fine.
    pub async fn delete(&self) -> Result<(), VaultError> {
        self.run(|entry| match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(err) => Err(translate(err)),
        })
        .await
    }

    async fn run<T, F>(&self, op: F) -> Result<T, VaultError>
    where
        T: Send + 'static,
        F: FnOnce(&Entry) -> Result<T, VaultError> + Send + 'static,
    {
        let account = self.account.clone();
        let cache = self.store.clone();
        let work = tokio::task::spawn_blocking(move || {
            let store = {
                let mut cached = cache.lock().expect("vault store lock");
                match cached.as_ref() {
                    Some(store) => store.clone(),
                    None => {
                        let store = native_store()?;
                        *cached = Some(store.clone());
                        store
                    }
                }
            };
            let entry = store
                .build(VAULT_SERVICE, &account, None)
                .map_err(translate)?;
            op(&entry)
        });
        match tokio::time::timeout(VAULT_TIMEOUT, work).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(VaultError::Failed(format!(
                "the vault call stopped: {join}"
            ))),
            Err(_) => Err(VaultError::TimedOut(VAULT_TIMEOUT)),
        }
    }
}

#[cfg(target_os = "linux")]
fn native_store() -> Result<Store, VaultError> {
    zbus_secret_service_keyring_store::Store::new()
        .map(|s| s as Store)
        .map_err(|err| VaultError::Unavailable(describe_platform(&err)))
}

#[cfg(target_os = "macos")]
fn native_store() -> Result<Store, VaultError> {
    apple_native_keyring_store::keychain::Store::new()
        .map(|s| s as Store)
        .map_err(|err| VaultError::Unavailable(describe_platform(&err)))
}

#[cfg(target_os = "windows")]
fn native_store() -> Result<Store, VaultError> {
    windows_native_keyring_store::Store::new()
        .map(|s| s as Store)
        .map_err(|err| VaultError::Unavailable(describe_platform(&err)))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn native_store() -> Result<Store, VaultError> {
    Err(VaultError::Unavailable(
        "this platform has no supported credential vault".into(),
    ))
}

fn translate(err: keyring_core::Error) -> VaultError {
    match err {
        keyring_core::Error::NoStorageAccess(_) => VaultError::Locked(describe_platform(&err)),
        keyring_core::Error::PlatformFailure(_) => {
            let text = describe_platform(&err);
            if text.contains("org.freedesktop.secrets") || text.contains("Failed to connect") {
                VaultError::Unavailable(text)
            } else {
                VaultError::Failed(text)
            }
        }
        other => VaultError::Failed(describe_platform(&other)),
    }
}

/// Turns the platform's wording into something a person recognises.
fn describe_platform(err: &keyring_core::Error) -> String {
    let text = err.to_string();
    if text.contains("org.freedesktop.secrets") {
        "no Secret Service (such as GNOME Keyring or KWallet) is running".into()
    } else if text.contains("Failed to connect") || text.contains("DBUS_SESSION_BUS_ADDRESS") {
        "no D-Bus session bus to reach the Secret Service".into()
    } else {
        text
    }
}
