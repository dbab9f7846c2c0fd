//! The smallest Tauri app that signs people in: see README.md, line by line.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // The provider is `plugins.latchkey` in tauri.conf.json, or the file EXAMPLE_AUTH_CONFIG
    // names (to try another provider without rebuilding).
    let latchkey = match std::env::var_os("EXAMPLE_AUTH_CONFIG") {
        Some(path) => tauri_plugin_latchkey::Builder::from_file(path),
        None => tauri_plugin_latchkey::Builder::from_tauri_conf(),
    };
    tauri::Builder::default()
        .plugin(latchkey.build())
        .run(tauri::generate_context!())
        .expect("error while running the example");
}
