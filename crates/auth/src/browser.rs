//! Opening the system browser.

use url::Url;

/// Opens the sign-in URL for the person. The desktop shell may supply its own.
pub trait BrowserLauncher: Send + Sync {
    /// Hands `url` to a browser. `Ok` means the launcher started, not that a page appeared:
    /// the flow always exposes the URL as well, for the person to open or copy.
    fn open(&self, url: &Url) -> std::io::Result<()>;
}

/// The platform's standard launcher (`xdg-open` and friends on Linux, `open` on macOS,
/// `ShellExecute` on Windows), through the `open` crate as tauri-plugin-opener uses it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemBrowser;

impl BrowserLauncher for SystemBrowser {
    fn open(&self, url: &Url) -> std::io::Result<()> {
        open::that_detached(url.as_str())
    }
}

/// Opens nothing: for front ends that only show the URL (a CLI over SSH, `--no-browser`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBrowser;

impl BrowserLauncher for NoBrowser {
    fn open(&self, _url: &Url) -> std::io::Result<()> {
        Ok(())
    }
}
