//! The single-instance name and the deep-link packaging: the plugin takes the links
//! (`tauri_plugin_latchkey::second_launch`, `Builder::deep_links`); this says which running
//! Latchkey a second launch hands them to, and checks what the packages declare.

use std::hash::{DefaultHasher, Hash, Hasher};

use latchkey_auth::Config;

/// The single-instance name: one running Latchkey per configuration file, so a second launch
/// (and a deep link the OS hands over) reaches the window that uses the same file.
pub fn instance_id(identifier: &str) -> String {
    let mut hasher = DefaultHasher::new();
    Config::path().hash(&mut hasher);
    format!("{identifier}.c{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_redirect_uses_the_bundled_scheme() {
        let config: tauri::Config =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json");
        let redirect =
            tauri_plugin_latchkey::redirect_uri(&config).expect("tauri.conf.json names a scheme");
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
