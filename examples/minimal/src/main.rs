//! The smallest Tauri app that signs people in: see README.md, line by line.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // The provider is `plugins.latchkey` in tauri.conf.json, or the file EXAMPLE_AUTH_CONFIG
    // names (to try another provider without rebuilding).
    let latchkey = match std::env::var_os("EXAMPLE_AUTH_CONFIG") {
        Some(path) => tauri_plugin_latchkey::Builder::from_file(path),
        None => tauri_plugin_latchkey::Builder::from_tauri_conf(),
    };
    let app = tauri::Builder::default().plugin(latchkey.build());
    // Latchkey's window tests only (the `ipc-observer` feature); a real app has no such line.
    #[cfg(feature = "ipc-observer")]
    let app = app.plugin(latchkey_ipc_observer::init());
    app.run(tauri::generate_context!())
        .expect("error while running the example");
}
