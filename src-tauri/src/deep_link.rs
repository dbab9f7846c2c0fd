//! The deep-link redirect (RFC 8252 §7.1): with `"redirect": "deep-link"` the provider answers
//! with a URL of the app's private-use scheme (`dev.latchkey.desktop:/callback?…`), which the
//! OS opens. On Linux and Windows that starts a second Latchkey with the URL as its argument;
//! the single-instance plugin hands the argument to the running window and ends the second
//! process. On macOS the URL arrives as an "open URL" event. Either way it goes to the engine,
//! which takes it only with the `state` of the sign-in in progress (and PKCE binds the code).

use std::hash::{DefaultHasher, Hash, Hasher};

use latchkey_auth::{Config, RedirectMode, RedirectRejected, parse_link};
use latchkey_ipc::SessionView;
use tauri::{AppHandle, Manager};
use url::Url;

use crate::commands::bring_to_front;
use crate::state::{AppState, publish, sentence, signed_out};

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

/// The single-instance name: one running Latchkey per configuration file, so a second launch
/// (and a deep link the OS hands over) reaches the window that uses the same file.
pub fn instance_id(identifier: &str) -> String {
    let mut hasher = DefaultHasher::new();
    Config::path().hash(&mut hasher);
    format!("{identifier}.c{:016x}", hasher.finish())
}

/// A second launch: hands over the links it was started with, and shows this window.
pub fn second_launch(app: &AppHandle, argv: Vec<String>) {
    for link in argv.iter().skip(1).filter_map(|arg| parse_link(arg)) {
        open(app, &link);
    }
    bring_to_front(app);
}

/// Hands one link to the waiting sign-in. A refused link is said in the window; the link
/// itself is never shown or sent to the web view.
pub fn open(app: &AppHandle, link: &Url) {
    let state = app.state::<AppState>();
    let Ok(session) = state.session() else {
        tracing::info!("ignored a link: no sign-in provider is configured");
        return;
    };
    let refused = match session.deliver_redirect(link) {
        Ok(()) => return,
        Err(RedirectRejected::NotARedirect) => {
            tracing::info!("ignored a link that is not a sign-in answer");
            return;
        }
        Err(why) => sentence(&why.to_string()),
    };
    match state.view() {
        SessionView::WaitingForBrowser {
            sign_in_url,
            signup,
            ..
        } => publish(
            app,
            SessionView::WaitingForBrowser {
                sign_in_url,
                signup,
                refused: Some(refused),
            },
        ),
        SessionView::SignedOut { .. } => publish(app, signed_out(Some(refused))),
        _ => tracing::info!("{refused}"),
    }
}

/// Registers the scheme with the OS where no installer did: a development build, or an
/// AppImage (the .deb, .rpm, .msi and macOS bundles declare it themselves).
pub fn register_if_unpackaged(app: &tauri::App) {
    #[cfg(any(target_os = "linux", windows))]
    {
        use tauri_plugin_deep_link::DeepLinkExt;
        let uses_deep_links =
            Config::find().is_ok_and(|(config, _)| config.redirect == RedirectMode::DeepLink);
        let unpackaged = cfg!(debug_assertions) || is_appimage(app);
        if uses_deep_links
            && unpackaged
            && let Err(err) = app.deep_link().register_all()
        {
            tracing::warn!("could not register the sign-in link scheme with the OS: {err}");
        }
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    let _ = (app, RedirectMode::DeepLink);
}

/// An AppImage is the one Linux package that cannot declare the scheme itself.
#[cfg(target_os = "linux")]
fn is_appimage(app: &tauri::App) -> bool {
    app.env().appimage.is_some()
}

/// Windows installers (.msi, NSIS) declare the scheme; only a development build registers it.
#[cfg(windows)]
fn is_appimage(_app: &tauri::App) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_uses_the_bundled_scheme() {
        let config: tauri::Config =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json");
        let redirect = redirect_uri(&config).expect("tauri.conf.json names a scheme");
        assert_eq!(redirect.as_str(), "dev.latchkey.desktop:/callback");
        // RFC 8252 §7.1: a reverse domain name the app's owner controls, the app's identifier.
        assert_eq!(redirect.scheme(), config.identifier);
    }

    /// The installed .deb/.rpm must hand the link to the program (`%u`) and claim the scheme,
    /// or the OS starts Latchkey without the answer.
    #[test]
    fn the_linux_desktop_entry_takes_the_link_and_claims_the_scheme() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json");
        for package in ["deb", "rpm"] {
            assert_eq!(
                config["bundle"]["linux"][package]["desktopTemplate"],
                "src-tauri/linux/latchkey.desktop",
                "{package}"
            );
        }
        let entry = include_str!("../linux/latchkey.desktop");
        let has = |line: &str| entry.lines().any(|l| l == line);
        assert!(has("Exec={{exec}} %u"), "{entry}");
        assert!(
            has("MimeType=x-scheme-handler/dev.latchkey.desktop;"),
            "{entry}"
        );
    }
}
