//! Latchkey's native shell: thin. It owns the one [`latchkey_auth::Session`], maps the web
//! view's commands onto it, and pushes every change as a `session-changed` event. No token
//! ever crosses into the web view.

mod commands;
mod state;

use latchkey_auth::Config;
use state::AppState;

/// Builds and runs the app.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let config = Config::discover()
        .map(|(config, _source)| config)
        .map_err(|e| e.to_string());
    let result = tauri::Builder::default()
        .manage(AppState::new(config))
        .invoke_handler(tauri::generate_handler![
            commands::session,
            commands::login,
            commands::signup,
            commands::cancel_login,
            commands::logout,
            commands::call_api,
        ])
        .setup(|app| {
            tauri::async_runtime::spawn(commands::restore(app.handle().clone()));
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("Latchkey could not start: {err}");
        std::process::exit(1);
    }
}
