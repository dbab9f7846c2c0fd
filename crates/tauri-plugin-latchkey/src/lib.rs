//! Sign-in for Tauri 2 apps, the way a native app should do it: the authorization code flow
//! with PKCE in the system browser, answered on a loopback redirect (RFC 8252) or a deep link,
//! the refresh token in the OS credential vault, and **no token ever in the web view**.
//!
//! ```no_run
//! # fn run<R: tauri::Runtime>(context: tauri::Context<R>) {
//! tauri::Builder::<R>::new()
//!     // Reads `plugins.latchkey` from tauri.conf.json (issuer, clientId, apiUrl, …).
//!     .plugin(tauri_plugin_latchkey::init())
//!     .run(context) // tauri::generate_context!() in an app
//!     .expect("error while running tauri application");
//! # }
//! ```
//!
//! The web view calls the commands in [`latchkey_ipc::commands`] (grant them with the
//! `latchkey:default` permission) and listens to [`latchkey_ipc::SESSION_CHANGED`], which
//! carries a [`SessionView`]: who is signed in, never a credential. The app's own Rust code
//! reaches the session through [`LatchkeyExt::latchkey`] and calls its API with the bearer
//! from there ([`Latchkey::api`]).
//!
//! What the plugin does for the app: restores the stored session at start (silently, from the
//! vault), keeps an offline session and reconnects with backoff, retries a revocation the
//! provider has not confirmed, takes deep-link answers when the app opts in (the `deep-link`
//! feature and `Builder::deep_links`, with [`second_launch`] as the single-instance callback), and
//! ends the provider's browser session after a log-out when asked.

#![warn(missing_docs)]

mod commands;
mod deep_link;
mod error;
mod models;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

use latchkey_auth::{AppIdentity, BrowserLauncher, Config};
use tauri::plugin::TauriPlugin;
use tauri::{Manager, Runtime};

pub use deep_link::{redirect_uri, second_launch};
pub use error::{Error, Result};
pub use models::*;
pub use state::{Latchkey, MAX_API_BODY};

/// Where the provider configuration comes from.
#[derive(Clone)]
enum Source {
    /// Given in code.
    Given(Box<Config>),
    /// `plugins.latchkey` in tauri.conf.json.
    TauriConf,
    /// A file the person writes (Latchkey's `auth_config.json`): while it is missing or wrong,
    /// the session view says so and [`latchkey_ipc::commands::RELOAD_CONFIG`] reads it again.
    File(PathBuf),
}

/// Sets the plugin up. [`init`] is `Builder::from_tauri_conf().build()`.
#[must_use]
pub struct Builder {
    source: Source,
    app: Option<AppIdentity>,
    browser: Option<Arc<dyn BrowserLauncher>>,
    deep_links: bool,
    setup_example: Option<String>,
    reconnect_backoff: Option<(std::time::Duration, std::time::Duration)>,
}

/// The plugin, configured from `plugins.latchkey` in tauri.conf.json.
pub fn init<R: Runtime>() -> TauriPlugin<R, Option<serde_json::Value>> {
    Builder::from_tauri_conf().build()
}

impl Builder {
    /// The plugin with a configuration made in code.
    pub fn new(config: Config) -> Self {
        Self::with_source(Source::Given(Box::new(config)))
    }

    /// The plugin configured by `plugins.latchkey` in tauri.conf.json: the fields of
    /// Latchkey's `auth_config.json` (`issuer` or `domain`, `clientId`, `audience`, `scopes`,
    /// `apiUrl`, `redirect`, `loopbackPorts`, …). A mistake there stops the app at start
    /// with a message that names the field.
    pub fn from_tauri_conf() -> Self {
        Self::with_source(Source::TauriConf)
    }

    /// The plugin configured by a file the person edits, such as Latchkey's
    /// `auth_config.json`. While it is missing or wrong the session view is
    /// [`SessionView::NotConfigured`], saying where it goes and what is wrong.
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        Self::with_source(Source::File(path.into()))
    }

    fn with_source(source: Source) -> Self {
        Self {
            source,
            app: None,
            browser: None,
            deep_links: false,
            setup_example: None,
            reconnect_backoff: None,
        }
    }

    /// The app's name on the browser pages and in its user agent; its sessions are stored
    /// under the vault service of the same name. Without it: the product name of
    /// tauri.conf.json, with the app's identifier as the vault service.
    pub fn app_name(self, name: impl Into<String>) -> Self {
        self.app(AppIdentity::new(name))
    }

    /// The app's whole identity (name, vault service, lock directory, user agent).
    pub fn app(mut self, app: AppIdentity) -> Self {
        self.app = Some(app);
        self
    }

    /// Opens the sign-in page with this launcher instead of the system browser.
    pub fn browser(mut self, browser: Arc<dyn BrowserLauncher>) -> Self {
        self.browser = Some(browser);
        self
    }

    /// Takes the provider's answer on a deep link as well, for `"redirect": "deep-link"`: the
    /// first scheme of `plugins.deep-link.desktop.schemes`, `{scheme}:/callback`. Register
    /// `tauri_plugin_deep_link::init()` before this plugin, and on Linux and Windows the
    /// single-instance plugin with [`second_launch`] as its callback. Needs the plugin's
    /// `deep-link` feature.
    #[cfg(feature = "deep-link")]
    pub fn deep_links(mut self) -> Self {
        self.deep_links = true;
        self
    }

    /// After an offline start, waits `first` before trying the provider again, doubling up to
    /// `max` (default 1 s and 30 s); "Retry now" tries at once whatever the wait.
    pub fn reconnect_backoff(
        mut self,
        first: std::time::Duration,
        max: std::time::Duration,
    ) -> Self {
        self.reconnect_backoff = Some((first, max));
        self
    }

    /// A complete configuration file to show in the set-up view (with [`Builder::from_file`]).
    pub fn setup_example(mut self, json: impl Into<String>) -> Self {
        self.setup_example = Some(json.into());
        self
    }

    /// The plugin.
    pub fn build<R: Runtime>(self) -> TauriPlugin<R, Option<serde_json::Value>> {
        tauri::plugin::Builder::<R, Option<serde_json::Value>>::new("latchkey")
            .invoke_handler(tauri::generate_handler![
                commands::session,
                commands::login,
                commands::login_another_account,
                commands::device_login,
                commands::signup,
                commands::cancel_login,
                commands::logout,
                commands::end_provider_session,
                commands::retry_now,
                commands::reload_config,
                commands::call_api,
                commands::accounts,
                commands::switch_account,
                commands::logout_account,
                commands::logout_all,
            ])
            .setup(move |app, api| {
                let source = match self.source {
                    Source::TauriConf => {
                        Source::Given(Box::new(state::from_tauri_conf(api.config().as_ref())?))
                    }
                    other => other,
                };
                let config = app.config();
                let identity = self.app.unwrap_or_else(|| {
                    let name = config
                        .product_name
                        .clone()
                        .unwrap_or_else(|| config.identifier.clone());
                    AppIdentity::new(name).with_vault_service(config.identifier.clone())
                });
                let deep_link = if self.deep_links {
                    Some(deep_link::redirect_uri(config).ok_or(Error::NoDeepLinkScheme)?)
                } else {
                    None
                };
                let latchkey = Latchkey::new(
                    app.clone(),
                    state::Options {
                        source,
                        identity,
                        browser: self.browser,
                        deep_link: deep_link.clone(),
                        setup_example: self.setup_example.unwrap_or_default(),
                        reconnect_backoff: self.reconnect_backoff,
                    },
                );
                app.manage(latchkey);
                #[cfg(feature = "deep-link")]
                if let Some(redirect) = deep_link {
                    deep_link::listen(app, &redirect)?;
                }
                let handle = app.clone();
                tauri::async_runtime::spawn(async move { handle.latchkey().restore().await });
                let handle = app.clone();
                tauri::async_runtime::spawn(async move {
                    handle.latchkey().follow_accounts().await;
                });
                Ok(())
            })
            .build()
    }
}

/// The plugin's Rust API on an `App`, `AppHandle`, window or webview.
pub trait LatchkeyExt<R: Runtime> {
    /// The session the plugin keeps.
    fn latchkey(&self) -> &Latchkey<R>;
}

impl<R: Runtime, T: Manager<R>> LatchkeyExt<R> for T {
    fn latchkey(&self) -> &Latchkey<R> {
        self.state::<Latchkey<R>>().inner()
    }
}
