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

use crate::lock_unpoisoned;

/// The service name under which Latchkey's own entries are stored ([`crate::AppIdentity`]
/// gives another app its own).
pub const VAULT_SERVICE: &str = "Latchkey";

/// How long one vault call may take before the vault counts as unreachable.
pub const VAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most UTF-16 code units one Windows credential holds: the Credential Manager keeps at
/// most 2,560 bytes a credential (`CRED_MAX_CREDENTIAL_BLOB_SIZE`) and keyring stores text as
/// UTF-16; a margin stays free. Longer entries are split over several credentials.
pub const WINDOWS_CREDENTIAL_UNITS: usize = 1200;

/// The first credential of a split entry starts with this, then the part count and a digest.
const SPLIT_HEADER: &str = "latchkey-split:";
/// Reads retry this often when another process is rewriting the entry meanwhile.
const READ_ATTEMPTS: usize = 4;

/// What went wrong with the vault, in words a person can act on.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No vault service answered (no D-Bus session, no Secret Service, …).
    #[error("no credential vault is available ({0}); you stay signed in only until the app closes")]
    Unavailable(VaultProblem),
    /// The vault exists but is locked or refused access.
    #[error("the credential vault is locked or refused access ({0}); unlock it to stay signed in")]
    Locked(VaultProblem),
    /// The vault did not answer in time.
    #[error("the credential vault did not answer within {0:?}")]
    TimedOut(Duration),
    /// The vault answered with an error, or the entry it holds cannot be read.
    #[error("the credential vault failed: {0}")]
    Failed(VaultProblem),
}

/// What the vault (or the entry in it) showed: a sentence a person recognises, with the
/// platform's own error as [`std::error::Error::source`] where there is one.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{description}")]
pub struct VaultProblem {
    description: String,
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl VaultProblem {
    /// A problem Latchkey found itself (an entry split into parts that do not match, …).
    pub(crate) fn found(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            source: None,
        }
    }

    /// A problem with a cause: `description` says it for a person, `source` is the cause.
    pub(crate) fn caused(
        description: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            description: description.into(),
            source: Some(Arc::new(source)),
        }
    }
}

/// A keyring-core credential store, as [`Vault::with_store`] takes it.
pub type Store = Arc<dyn CredentialStoreApi + Send + Sync>;

/// The OS vault's keyring-core store: Secret Service on Linux, the Keychain on macOS, the
/// Credential Manager on Windows. What every [`Vault`] uses unless given another.
pub fn native_vault_store() -> Result<Store, VaultError> {
    native_store()
}

/// One vault entry (for one provider and client), as text. An entry longer than a single
/// credential may hold is split over several (`account`, `account#1`, …).
#[derive(Clone)]
pub struct Vault {
    service: String,
    account: String,
    /// The most UTF-16 code units a credential may hold here.
    credential_units: usize,
    store: Arc<Mutex<Option<Store>>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("service", &self.service)
            .field("account", &self.account)
            .finish()
    }
}

impl Vault {
    /// Latchkey's entry (shared by its window and its CLI) for `client_id` at `issuer`.
    pub fn for_client(issuer: &str, client_id: &str) -> Self {
        Self::for_app(&crate::AppIdentity::latchkey(), issuer, client_id)
    }

    /// `app`'s entry for `client_id` at `issuer`, under its vault service.
    pub fn for_app(app: &crate::AppIdentity, issuer: &str, client_id: &str) -> Self {
        let credential_units = if cfg!(windows) {
            WINDOWS_CREDENTIAL_UNITS
        } else {
            usize::MAX
        };
        Self {
            service: app.vault_service().to_owned(),
            account: format!("{client_id}@{issuer}"),
            credential_units,
            store: Arc::new(Mutex::new(None)),
        }
    }

    /// The same entry, split as if a credential held at most `units` UTF-16 code units (the
    /// Windows path, testable on every platform).
    pub fn with_credential_units(mut self, units: usize) -> Self {
        self.credential_units = units.max(64);
        self
    }

    /// The same entry in another keyring-core store: an app's own, or the OS vault's
    /// ([`native_vault_store`]) wrapped, as the tests do to make a write fail.
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = Arc::new(Mutex::new(Some(store)));
        self
    }

    /// The vault service the entry is stored under.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The same vault and store, for the entry named `account`.
    pub(crate) fn with_account(&self, account: &str) -> Self {
        Self {
            account: account.to_owned(),
            ..self.clone()
        }
    }

    /// The entry's account name (`client@issuer`, and `…#sub:{sub}` for each account kept
    /// beside it); never a secret.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Reads the entry's text, joining a split entry; `None` when nothing is stored.
    pub async fn read(&self) -> Result<Option<String>, VaultError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.run(read_joined).await;
            match result {
                // Another process replaced the entry between two reads (a split entry whose
                // parts do not match its header, or a Secret Service item deleted under us).
                Err(VaultError::Failed(why)) if attempt < READ_ATTEMPTS => {
                    tracing::debug!("vault read retried: {why}");
                    tokio::time::sleep(Duration::from_millis(25 * attempt as u64)).await;
                }
                other => return other,
            }
        }
    }

    /// Replaces the entry's text.
    pub async fn write(&self, text: String) -> Result<(), VaultError> {
        let units = self.credential_units;
        self.run(move |store, account| write_split(store, account, &text, units))
            .await
    }

    /// Deletes the entry (all of its parts); deleting nothing is fine.
    pub async fn delete(&self) -> Result<(), VaultError> {
        self.run(|store, account| {
            let parts = match get(store, account, 0)? {
                Some(first) => parse_header(&first).map_or(1, |(n, _)| n),
                None => return Ok(()),
            };
            remove(store, account, 0)?;
            for index in 1..parts.max(1) {
                remove(store, account, index)?;
            }
            Ok(())
        })
        .await
    }

    async fn run<T, F>(&self, op: F) -> Result<T, VaultError>
    where
        T: Send + 'static,
        F: FnOnce(&Store, &EntryName) -> Result<T, VaultError> + Send + 'static,
    {
        let account = EntryName {
            service: self.service.clone(),
            account: self.account.clone(),
        };
        let cache = self.store.clone();
        let work = tokio::task::spawn_blocking(move || {
            let store = {
                let mut cached = lock_unpoisoned(&cache);
                match cached.as_ref() {
                    Some(store) => store.clone(),
                    None => {
                        let store = native_store()?;
                        *cached = Some(store.clone());
                        store
                    }
                }
            };
            op(&store, &account)
        });
        match tokio::time::timeout(VAULT_TIMEOUT, work).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(VaultError::Failed(VaultProblem::caused(
                format!("the vault call stopped: {join}"),
                join,
            ))),
            Err(_) => Err(VaultError::TimedOut(VAULT_TIMEOUT)),
        }
    }
}

fn entry(store: &Store, account: &EntryName, index: usize) -> Result<Entry, VaultError> {
    let name = part_name(&account.account, index);
    store
        .build(&account.service, &name, None)
        .map_err(translate)
}

/// Where an entry is: the app's vault service and the session's account name.
struct EntryName {
    service: String,
    account: String,
}

fn part_name(account: &str, index: usize) -> String {
    match index {
        0 => account.to_owned(),
        n => format!("{account}#{n}"),
    }
}

fn get(store: &Store, account: &EntryName, index: usize) -> Result<Option<String>, VaultError> {
    match entry(store, account, index)?.get_password() {
        Ok(text) => Ok(Some(text)),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(err) => Err(translate(err)),
    }
}

fn remove(store: &Store, account: &EntryName, index: usize) -> Result<(), VaultError> {
    match entry(store, account, index)?.delete_credential() {
        Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
        Err(err) => Err(translate(err)),
    }
}

fn read_joined(store: &Store, account: &EntryName) -> Result<Option<String>, VaultError> {
    let Some(first) = get(store, account, 0)? else {
        return Ok(None);
    };
    let Some((parts, digest)) = parse_header(&first) else {
        return Ok(Some(first));
    };
    let mut text = String::new();
    for index in 1..parts {
        match get(store, account, index)? {
            Some(part) => text.push_str(&part),
            None => {
                return Err(VaultError::Failed(VaultProblem::found(format!(
                    "part {index} of {} of the stored session is missing",
                    parts - 1
                ))));
            }
        }
    }
    if fnv1a(&text) != digest {
        return Err(VaultError::Failed(VaultProblem::found(
            "the parts of the stored session do not belong together",
        )));
    }
    Ok(Some(text))
}

/// Writes `text` whole when it fits one credential, else its parts first and the header
/// last, so a reader sees the old entry or the new one, never a mix it would accept.
fn write_split(
    store: &Store,
    account: &EntryName,
    text: &str,
    units: usize,
) -> Result<(), VaultError> {
    let old_parts = get(store, account, 0)
        .ok()
        .flatten()
        .and_then(|first| parse_header(&first))
        .map_or(1, |(n, _)| n);
    let parts = split(text, units);
    let new_parts = if parts.len() == 1 && !parts[0].starts_with(SPLIT_HEADER) {
        entry(store, account, 0)?
            .set_password(&parts[0])
            .map_err(translate)?;
        1
    } else {
        for (index, part) in parts.iter().enumerate() {
            entry(store, account, index + 1)?
                .set_password(part)
                .map_err(translate)?;
        }
        let header = format!("{SPLIT_HEADER}{}:{:016x}", parts.len() + 1, fnv1a(text));
        entry(store, account, 0)?
            .set_password(&header)
            .map_err(translate)?;
        parts.len() + 1
    };
    for index in new_parts..old_parts {
        remove(store, account, index)?;
    }
    Ok(())
}

/// `(number of credentials including the header, digest)` for a split entry's first part.
fn parse_header(first: &str) -> Option<(usize, u64)> {
    let rest = first.strip_prefix(SPLIT_HEADER)?;
    let (count, digest) = rest.split_once(':')?;
    let count: usize = count.parse().ok().filter(|n| (2..=64).contains(n))?;
    Some((count, u64::from_str_radix(digest, 16).ok()?))
}

/// Splits `text` into pieces of at most `units` UTF-16 code units, on character boundaries.
fn split(text: &str, units: usize) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        if used + c.len_utf16() > units {
            parts.push(String::new());
            used = 0;
        }
        used += c.len_utf16();
        parts.last_mut().expect("one part at least").push(c);
    }
    parts
}

/// A 64-bit FNV-1a digest: tells whether parts belong together, not a secret.
pub(crate) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(target_os = "linux")]
fn native_store() -> Result<Store, VaultError> {
    zbus_secret_service_keyring_store::Store::new()
        .map(|s| s as Store)
        .map_err(|err| VaultError::Unavailable(platform(err)))
}

#[cfg(target_os = "macos")]
fn native_store() -> Result<Store, VaultError> {
    apple_native_keyring_store::keychain::Store::new()
        .map(|s| s as Store)
        .map_err(|err| VaultError::Unavailable(platform(err)))
}

#[cfg(target_os = "windows")]
fn native_store() -> Result<Store, VaultError> {
    windows_native_keyring_store::Store::new()
        .map(|s| s as Store)
        .map_err(|err| VaultError::Unavailable(platform(err)))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn native_store() -> Result<Store, VaultError> {
    Err(VaultError::Unavailable(VaultProblem::found(
        "this platform has no supported credential vault",
    )))
}

fn translate(err: keyring_core::Error) -> VaultError {
    match err {
        keyring_core::Error::NoStorageAccess(_) => VaultError::Locked(platform(err)),
        keyring_core::Error::PlatformFailure(_) => {
            let problem = platform(err);
            let text = problem.to_string();
            if text.contains("Secret Service") || text.contains("D-Bus session bus") {
                VaultError::Unavailable(problem)
            } else {
                VaultError::Failed(problem)
            }
        }
        other => VaultError::Failed(platform(other)),
    }
}

/// The platform's error, said as [`describe_platform`] says it, kept as the source.
fn platform(err: keyring_core::Error) -> VaultProblem {
    VaultProblem::caused(describe_platform(&err), err)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_entry_splits_into_parts_that_fit_a_windows_credential() {
        let text: String = "é".repeat(700) + &"a".repeat(4000);
        let parts = split(&text, WINDOWS_CREDENTIAL_UNITS);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(
                part.encode_utf16().count() * 2 <= 2560,
                "{} units",
                part.len()
            );
        }
        assert_eq!(parts.concat(), text);
        assert_eq!(split("short", WINDOWS_CREDENTIAL_UNITS), ["short"]);
    }

    #[test]
    fn a_split_header_is_recognised_only_in_its_own_form() {
        let header = format!("{SPLIT_HEADER}4:{:016x}", fnv1a("x"));
        assert_eq!(parse_header(&header), Some((4, fnv1a("x"))));
        for not_a_header in [
            "{\"v\":2}",
            "latchkey-split:",
            "latchkey-split:1:00",
            "latchkey-split:9999:00",
            "latchkey-split:3:zz",
        ] {
            assert_eq!(parse_header(not_a_header), None, "{not_a_header}");
        }
    }
}
