//! `latchkey-bench-empty`: an empty Tauri 2 app — one static page — that `cargo xtask bench`
//! builds with Latchkey's release profile and measures exactly as it measures Latchkey, so
//! Latchkey's start-up and memory are read against the floor of the same WebKit on the same
//! machine. Its page calls `mark` on its first frame; with `LATCHKEY_STARTUP_REPORT` set the
//! mark is appended there, as Latchkey's shell does. Built with `--features latchkey` it is
//! the same app with tauri-plugin-latchkey added: the bench's measure of the plugin's cost.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[tauri::command]
fn mark(name: String) {
    let Some(path) = std::env::var_os("LATCHKEY_STARTUP_REPORT") else {
        return;
    };
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let line = serde_json::json!({ "mark": name, "unixMicros": micros }).to_string();
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, format!("{line}\n").as_bytes()));
}

fn main() {
    let builder = tauri::Builder::default().invoke_handler(tauri::generate_handler![mark]);
    // With `latchkey`: the sign-in plugin on the same page, restoring the session of the
    // configuration LATCHKEY_CONFIG names, for the bench's plugin-cost figures.
    #[cfg(feature = "latchkey")]
    let builder = builder.plugin(
        tauri_plugin_latchkey::Builder::from_file(
            std::env::var_os("LATCHKEY_CONFIG").unwrap_or_default(),
        )
        .build(),
    );
    builder
        .run(tauri::generate_context!())
        .unwrap_or_else(|err| eprintln!("the empty app could not run: {err}"));
}
