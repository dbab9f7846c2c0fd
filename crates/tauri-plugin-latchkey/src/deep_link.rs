//! The deep-link redirect (RFC 8252 §7.1): with `"redirect": "deep-link"` the provider answers
//! with a URL of the app's private-use scheme (`com.example.app:/callback?…`), which the OS
//! opens. On Linux and Windows that starts a second copy of the app with the URL as its
//! argument; the single-instance plugin hands the argument to the running one
//! ([`second_launch`]) and ends the second process. On macOS the URL arrives as an "open URL"
//! event. Either way it goes to the engine, which takes it only with the `state` of the
//! sign-in in progress (and PKCE binds the code).

use latchkey_auth::parse_link;
use tauri::{AppHandle, Manager, Runtime};
use url::Url;

use crate::LatchkeyExt;
use crate::state::bring_to_front;
#[cfg(feature = "deep-link")]
use crate::{Error, Result};

/// The path of the deep-link redirect URI.
const CALLBACK_PATH: &str = "/callback";

/// `{scheme}:/callback` for the first scheme in tauri.conf.json's `plugins.deep-link`.
pub fn redirect_uri(config: &tauri::Config) -> Option<Url> {
    let scheme = config
        .plugins
        .0
        .get("deep-link")?
        .pointer("/desktop/schemes/0")?
        .as_str()?;
    Url::parse(&format!("{scheme}:{CALLBACK_PATH}")).ok()
}

/// The single-instance plugin's callback: hands the links a second launch was started with to
/// the waiting sign-in, and shows the window.
///
/// ```no_run
/// // tauri_plugin_single_instance::init(callback), registered before this plugin:
/// fn callback<R: tauri::Runtime>(app: &tauri::AppHandle<R>, argv: Vec<String>, _cwd: String) {
///     tauri_plugin_latchkey::second_launch(app, argv)
/// }
/// ```
pub fn second_launch<R: Runtime>(app: &AppHandle<R>, argv: Vec<String>) {
    if app.try_state::<crate::Latchkey<R>>().is_some() {
        for link in argv.iter().skip(1).filter_map(|arg| parse_link(arg)) {
            app.latchkey().open_link(&link);
        }
    }
    bring_to_front(app);
}

#[cfg(feature = "deep-link")]
/// Listens for the OS's "open URL" events, and registers the scheme with the OS where no
/// installer did (a development build, an AppImage).
pub(crate) fn listen<R: Runtime>(app: &AppHandle<R>, redirect: &Url) -> Result<()> {
    let deep_link = app
        .try_state::<tauri_plugin_deep_link::DeepLink<R>>()
        .ok_or(Error::NoDeepLinkPlugin)?;
    let handle = app.clone();
    deep_link.on_open_url(move |event| {
        for link in event.urls() {
            handle.latchkey().open_link(&link);
        }
    });
    register_if_unpackaged(app, &deep_link);
    tracing::debug!("answers on {redirect} are taken");
    Ok(())
}

#[cfg(feature = "deep-link")]
/// Registers the scheme with the OS where no installer did: a development build, or an
/// AppImage (the .deb, .rpm, .msi and macOS bundles declare it themselves).
fn register_if_unpackaged<R: Runtime>(
    app: &AppHandle<R>,
    deep_link: &tauri_plugin_deep_link::DeepLink<R>,
) {
    #[cfg(any(target_os = "linux", windows))]
    {
        let uses_deep_links =
            app.latchkey().redirect_mode() == Some(latchkey_auth::RedirectMode::DeepLink);
        #[cfg(target_os = "linux")]
        let unpackaged = cfg!(debug_assertions) || app.env().appimage.is_some();
        #[cfg(windows)]
        let unpackaged = cfg!(debug_assertions);
        if uses_deep_links
            && unpackaged
            && let Err(err) = deep_link.register_all()
        {
            tracing::warn!("could not register the sign-in link scheme with the OS: {err}");
        }
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    let _ = (app, deep_link);
}
