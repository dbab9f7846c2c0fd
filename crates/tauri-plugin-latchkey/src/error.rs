//! The plugin's errors. On the wire each is `{"message": "…"}`, a sentence a person can act
//! on; none carries a token, a URL with a token, or a provider's raw answer.

use serde::{Serialize, Serializer};

/// `Result` with the plugin's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, in words.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration in tauri.conf.json cannot be used (names the field).
    #[error("tauri-plugin-latchkey: {0}")]
    Config(#[from] latchkey_auth::ConfigError),
    /// Neither code nor tauri.conf.json gives a configuration.
    #[error(
        "tauri-plugin-latchkey has no configuration: add \"plugins\": {{ \"latchkey\": {{ \"issuer\": …, \"clientId\": …, \"apiUrl\": … }} }} to tauri.conf.json, or pass one to tauri_plugin_latchkey::Builder::new"
    )]
    NoConfig,
    /// `Builder::deep_links` without a scheme to use.
    #[error(
        "tauri-plugin-latchkey: deep links need a scheme in tauri.conf.json: \"plugins\": {{ \"deep-link\": {{ \"desktop\": {{ \"schemes\": [\"com.example.app\"] }} }} }}"
    )]
    NoDeepLinkScheme,
    /// `Builder::deep_links` without the deep-link plugin.
    #[error(
        "tauri-plugin-latchkey: deep links need tauri_plugin_deep_link::init() registered before tauri_plugin_latchkey"
    )]
    NoDeepLinkPlugin,
    /// Nothing usable is configured (the set-up view says what to write).
    #[error("{0}")]
    NotConfigured(String),
    /// A request the plugin refuses before anything is sent.
    #[error("{0}")]
    Refused(String),
    /// What the session or the API call said.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// The error as a person reads it, as a plain message (what the shell's own commands return).
    pub fn into_ipc(self) -> latchkey_ipc::Error {
        latchkey_ipc::Error::new(self.to_string())
    }
}

impl From<Error> for latchkey_ipc::Error {
    fn from(err: Error) -> Self {
        err.into_ipc()
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        latchkey_ipc::Error::new(self.to_string()).serialize(serializer)
    }
}
