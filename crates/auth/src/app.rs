//! Who the embedding app is: the name its browser pages show, the vault service its sessions
//! are stored under, the directory of its cross-process locks, and the user agent of its calls
//! to the provider. Latchkey's own window and CLI pass [`AppIdentity::latchkey`]; another app
//! passes its own, so its sessions never mix with Latchkey's.

use std::path::{Path, PathBuf};

/// The embedding app's identity, given to [`crate::Session::builder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppIdentity {
    name: String,
    vault_service: String,
    lock_dir: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    user_agent: String,
}

impl AppIdentity {
    /// An app called `name`: its sessions are stored under the vault service `name`, its
    /// locks in a folder named after it in the user's runtime directory (`$XDG_RUNTIME_DIR`,
    /// else the local data directory), and its provider calls say `name` in their user agent.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let folder: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        Self {
            vault_service: name.clone(),
            lock_dir: default_lock_dir(&folder),
            data_dir: dirs::data_local_dir().map(|d| d.join(&folder)),
            user_agent: format!("{name} latchkey-auth/{}", env!("CARGO_PKG_VERSION")),
            name,
        }
    }

    /// Latchkey itself: the window and `latchkey-cli`, which share one session.
    pub fn latchkey() -> Self {
        Self {
            user_agent: format!("Latchkey/{}", env!("CARGO_PKG_VERSION")),
            ..Self::new(crate::VAULT_SERVICE)
        }
    }

    /// Stores sessions under another vault service name (what the OS vault's manager shows).
    pub fn with_vault_service(mut self, service: impl Into<String>) -> Self {
        self.vault_service = service.into();
        self
    }

    /// Keeps the cross-process lock files in `dir` (created when first needed).
    pub fn with_lock_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.lock_dir = Some(dir.into());
        self
    }

    /// Keeps the list of accounts (no secret: who is signed in, and which is active) in
    /// `dir` instead of the local data directory.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The directory of the list of accounts, if this machine has one.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// Sends `user_agent` with every call to the provider and the API.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The app's name, as the browser pages and messages show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The vault service its sessions are stored under.
    pub fn vault_service(&self) -> &str {
        &self.vault_service
    }

    /// The directory of its lock files, if this machine has one.
    pub fn lock_dir(&self) -> Option<&Path> {
        self.lock_dir.as_deref()
    }

    /// The user agent of its HTTP calls.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }
}

fn default_lock_dir(folder: &str) -> Option<PathBuf> {
    dirs::runtime_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join(folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latchkey_keeps_the_names_its_installed_copies_already_use() {
        let latchkey = AppIdentity::latchkey();
        assert_eq!(latchkey.vault_service(), "Latchkey");
        assert!(latchkey.user_agent().starts_with("Latchkey/"));
        if let Some(dir) = latchkey.lock_dir() {
            assert!(dir.ends_with("latchkey"), "{dir:?}");
        }
    }

    #[test]
    fn another_app_gets_its_own_vault_service_and_lock_folder() {
        let acme = AppIdentity::new("Acme Notes");
        assert_eq!(acme.vault_service(), "Acme Notes");
        if let Some(dir) = acme.lock_dir() {
            assert!(dir.ends_with("acme-notes"), "{dir:?}");
        }
        let custom = acme
            .with_vault_service("com.acme.notes")
            .with_lock_dir("/tmp/acme-locks");
        assert_eq!(custom.vault_service(), "com.acme.notes");
        assert_eq!(custom.lock_dir(), Some(Path::new("/tmp/acme-locks")));
    }
}
