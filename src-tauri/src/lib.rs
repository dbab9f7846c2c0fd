//! Latchkey's native shell: thin. It owns the one [`latchkey_auth::Session`], maps the web
//! view's commands onto it, and pushes every change as a `session-changed` event. No token
//! ever crosses into the web view.

mod commands;
mod data;
mod deep_link;
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
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(latchkey_auth::log_filter())
        .init();
    let context = tauri::generate_context!();
    let redirect = deep_link::redirect_uri(context.config());
    let instance = deep_link::instance_id(&context.config().identifier);
    let result = tauri::Builder::default()
        // First, so a second launch ends before it opens anything.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance)
                .callback(|app, argv, _cwd| deep_link::second_launch(app, argv))
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .manage(AppState::new(redirect))
        .invoke_handler(tauri::generate_handler![
            commands::session,
            commands::login,
            commands::login_another_account,
            commands::end_provider_session,
            commands::signup,
            commands::cancel_login,
            commands::logout,
            commands::retry_now,
            commands::call_api,
            commands::reload_config,
            data::todos,
            data::add_todo,
            data::update_todo,
            data::delete_todo,
            data::profile_form,
            data::save_profile,
            data::access,
            data::users,
            commands::mark,
        ])
        .setup(|app| {
            use tauri_plugin_deep_link::DeepLinkExt;
            deep_link::register_if_unpackaged(app);
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                for link in event.urls() {
                    deep_link::open(&handle, &link);
                }
            });
            tauri::async_runtime::spawn(commands::restore(app.handle().clone()));
            composite_in_software(app);
            Ok(())
        })
        .run(context);
    if let Err(err) = result {
        eprintln!("Latchkey could not start: {err}");
        std::process::exit(1);
    }
}

/// Latchkey's window is a few forms and a spinner: WebKitGTK's GPU compositing buys it nothing,
/// and where there is no GPU (a VM, a remote desktop, Xvfb) Mesa's software GL behind it keeps
/// about 55 MiB more in the web process (`cargo xtask bench`: the web process is 34 MiB under
/// an empty Tauri app's with WebKit's defaults, and 21 MiB over one that composites in
/// software too). Linux only: other platforms' web views choose for themselves.
fn composite_in_software(app: &tauri::App) {
    #[cfg(target_os = "linux")]
    {
        use tauri::Manager;
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        for window in app.webview_windows().into_values() {
            let _ = window.with_webview(|webview| {
                if let Some(settings) = webview.inner().settings() {
                    settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                }
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = app;
}
