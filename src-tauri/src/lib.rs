//! Latchkey's native shell: thin. It owns the one [`latchkey_auth::Session`], maps the web
//! view's commands onto it, and pushes every change as a `session-changed` event. No token
//! ever crosses into the web view.

mod commands;
mod data;
mod state;

use state::AppState;

/// Builds and runs the app.
pub fn run() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "Latchkey needs a graphical display, and neither DISPLAY nor WAYLAND_DISPLAY is set. \
             Start it from your desktop session; on a server, use latchkey-cli, or run it under \
             a virtual display: xvfb-run -a latchkey"
        );
        std::process::exit(1);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let result = tauri::Builder::default()
        .manage(AppState::new())
        .invoke_handler(tauri::generate_handler![
            commands::session,
            commands::login,
            commands::signup,
            commands::cancel_login,
            commands::logout,
            commands::call_api,
            commands::reload_config,
            data::todos,
            data::add_todo,
            data::update_todo,
            data::delete_todo,
            data::profile_form,
            data::save_profile,
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
