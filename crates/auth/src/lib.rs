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
//! let (config, _path) = Config::discover()?;
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

pub mod api;
pub mod browser;
pub mod config;
mod idtoken;
pub mod login;
pub mod loopback;
pub mod provider;
mod revoke;
pub mod session;
pub mod vault;

pub use api::{ApiClient, ApiError, ApiResponse};
pub use browser::{BrowserLauncher, NoBrowser, SystemBrowser};
pub use config::{CONFIG_ENV, Config, ConfigError, DEV_STACK_JSON, RedirectMode};
pub use login::{LoginError, LoginOptions, SignInTimings};
pub use openidconnect::{AccessToken, RefreshToken};
pub use session::{LogoutOutcome, Profile, RedirectRejected, Restored, Session, SessionError};
pub use vault::{Vault, VaultError};
