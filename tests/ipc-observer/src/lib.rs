//! Test only: a Tauri plugin whose initialization script records every IPC answer and every
//! event the web view receives, and every command it invokes, before the page's own code
//! runs, and keeps them where WebDriver can read them (`window.__latchkeyIpcObserved()`).
//!
//! The window tests build the apps with it (their `ipc-observer` feature) and scan what it
//! saw for tokens. It is outside the page's code: the UI does not report on itself, and
//! nothing the page does can hide an answer from it. It never goes into an installer.

use tauri::Runtime;
use tauri::plugin::TauriPlugin;

/// The plugin.
pub fn init<R: Runtime>() -> TauriPlugin<R> {
    tauri::plugin::Builder::new("latchkey-ipc-observer")
        .js_init_script(include_str!("observer.js"))
        .build()
}
