//! Latchkey's sign-in engine: an OpenID Connect client for native apps (RFC 8252).
//!
//! The authorization code flow with PKCE (S256) runs in the **system browser**; the answer
//! comes back to a **loopback redirect** on `127.0.0.1`; the ID token is validated; the
//! **refresh token lives in the OS credential vault**; access and ID tokens stay in memory;
//! API calls get `Authorization: Bearer` only for URLs under the configured API base.
//! No Tauri here: the desktop shell and the CLI are thin front ends over [`Session`].
//!
//! ```no_run
//! use latchkey_auth::{ApiClient, Config, LoginOptions, Restored, Session};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (config, _path) = Config::find()?;
//! let session = Session::new(config);
//! if let Ok(Restored::SignedIn(profile)) = session.restore().await {
//!     println!("welcome back, {}", profile.display_name());
//! } else {
//!     let profile = session
//!         .login(LoginOptions::default(), |url| println!("Sign in at {url}"))
//!         .await?;
//!     println!("signed in as {}", profile.display_name());
//! }
//! let api = ApiClient::new(session.clone());
//! let answer = api.get("http://127.0.0.1:6060/api/messages/protected").await?;
//! println!("{} {}", answer.status, answer.body);
//! session.logout().await;
//! # Ok(()) }
//! ```
//!
//! Another app passes its own identity, so its sessions never mix with Latchkey's and the
//! browser pages name it: `Session::builder(config).app(AppIdentity::new("Acme Notes")).build()`
//! ([`AppIdentity`] also sets the vault service, the lock directory and the user agent).
//!
//! # Security
//!
//! - **Where each token is.** The refresh token is in the OS credential vault (one entry per
//!   account: issuer, client and subject, with the ID token's binding and a cached profile;
//!   never an access or ID token) and in this process's memory; access and ID tokens are only
//!   in memory. Nothing is written to disk by this crate besides the vault entries, lock files
//!   without content, and the list of accounts (names, emails, pictures, which is active: no
//!   secret).
//! - **What leaves Rust.** [`Profile`], [`Restored`], the errors and [`ApiResponse`] carry no
//!   token; no `Debug` or `Display` of this crate prints one, and its log lines (`tracing`,
//!   target `latchkey_auth`) never hold one. [`Session::access_token`] is the one way out, for
//!   the embedding app's own Rust calls.
//! - **What is checked.** PKCE S256, `state`, `nonce`, RFC 9207 `iss` where the provider
//!   offers it; the ID token's signature (asymmetric algorithms only), issuer, audience,
//!   authorized party and lifetime; every grant's token answer on one path; a refreshed ID
//!   token keeps the signed-in identity (OpenID Connect Core §12.2).
//! - **What the caller must not do.** Hand [`Session::access_token`]'s token, or an
//!   end-session URL (it carries the ID token as `id_token_hint`), to a web view, a log or a
//!   terminal; attach a token to a URL outside the configured `apiUrl` ([`ApiClient`] does
//!   that check for you); treat [`Restored::Offline`]'s cached profile as proof of a session
//!   the provider still honours.

#![warn(missing_docs)]

mod accounts;
pub mod advice;
mod answer;
mod api;
mod app;
mod browser;
mod config;
mod device;
pub mod doctor;
mod dpop;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

mod idtoken;
mod lock;
#[cfg(feature = "log-filter")]
mod log;
mod login;
mod logout;
mod loopback;
mod profile;
mod provider;
mod quirks;
mod redirect;
mod refresh;
mod restore;
mod session;
mod store;
mod tokens;
mod vault;

pub use accounts::{Account, AccountError, AccountList, MAX_ACCOUNTS};
pub use answer::{AnswerRefused, MAX_ANSWER_LEN};
pub use api::{ApiClient, ApiError, ApiResponse, MAX_API_ANSWER};
pub use app::AppIdentity;
pub use browser::{BROWSER_ENV, BrowserCommand, BrowserLauncher, NoBrowser, SystemBrowser};
pub use config::{CONFIG_ENV, CONFIG_FILE, Config, ConfigError, ConfiguredEndpoints, RedirectMode};
pub use device::{DeviceAnswerProblem, DeviceCode, MAX_DEVICE_INTERVAL, MAX_DEVICE_LIFETIME};
pub use error::{ProviderError, SessionError, SignInRequired};
pub use idtoken::IdTokenProblem;
pub use latchkey_http::{HttpError, MAX_PROVIDER_ANSWER, ProviderHttp};
pub use lock::{EntryLock, EntryLockGuard, LOCK_TIMEOUT, LockError};
#[cfg(feature = "log-filter")]
pub use log::{LOG_ENV, log_filter};
pub use login::{DEFAULT_LOGIN_TIMEOUT, LoginError, LoginOptions, SignInTimings};
pub use logout::LogoutOutcome;
pub use loopback::{
    Callback, CallbackServer, LoopbackListener, MAX_HEADER_BYTES, MAX_HEADER_FIELDS,
    MAX_REQUEST_TARGET, PageOutcome,
};
pub use openidconnect::{AccessToken, RefreshToken};
pub use profile::Profile;
pub use provider::{DiscoveryError, Endpoint, EndpointSource, Provider};
pub use redirect::{MAX_LINK_LEN, RedirectRejected, parse_link};
pub use restore::{RECONNECT_FIRST, RECONNECT_MAX, Restored};
pub use session::{REFRESH_MARGIN, Session, SessionBuilder};
pub use store::{Binding, CachedProfile, SessionStore, StoredEntry, StoredSession};
pub use tokens::{MAX_ACCESS_TOKEN_LEN, TokenAnswerError};
pub use vault::{
    Store as VaultStore, VAULT_SERVICE, Vault, VaultError, VaultProblem, WINDOWS_CREDENTIAL_UNITS,
    native_vault_store,
};

/// Locks `mutex`, taking the data as it is if a panicking thread poisoned it: every value
/// behind these locks is whole after each assignment, so a panic elsewhere must not turn
/// into a panic here.
pub fn lock_unpoisoned<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
