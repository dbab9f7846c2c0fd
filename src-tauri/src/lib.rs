//! Latchkey's native shell: thin. Sign-in is `tauri-plugin-latchkey` (its first user); the
//! shell adds its data commands (todos, profile form, users, what the person may do), its
//! start-up marks and its window policy. No token ever crosses into the web view.

mod data;
mod deep_link;
mod mark;
mod update;

use std::sync::Arc;

use latchkey_auth::{AppIdentity, Config};
use tauri::Manager;

/// `auth_config.json` for Latchkey's local dev stack (`cargo xtask dev-stack`): dev-idp on
/// 127.0.0.1:6080, the sample API on 127.0.0.1:6060. The set-up view shows it.
const DEV_STACK_JSON: &str = include_str!("../../dev-stack.json");

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
    let instance = deep_link::instance_id(&context.config().identifier);
    let builder = tauri::Builder::default()
        // First, so a second launch ends before it opens anything.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance)
                .callback(|app, argv, _cwd| tauri_plugin_latchkey::second_launch(app, argv))
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_latchkey::Builder::from_file(Config::path())
                .app(AppIdentity::latchkey())
                .deep_links()
                .setup_example(DEV_STACK_JSON)
                .build(),
        )
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(mark::Marks::default());
    // The window tests' view of the IPC, from outside the page (never in an installer).
    #[cfg(feature = "ipc-observer")]
    let builder = builder.plugin(latchkey_ipc_observer::init());
    let result = builder
        .invoke_handler(tauri::generate_handler![
            data::todos,
            data::add_todo,
            data::update_todo,
            data::delete_todo,
            data::profile_form,
            data::save_profile,
            data::access,
            data::users,
            mark::mark,
            update::update_status,
            update::check_for_update,
            update::install_update,
            update::cancel_update,
            update::dismiss_update,
        ])
        .setup(|app| {
            composite_in_software(app);
            app.manage(Arc::new(update::Updates::new(app.handle())));
            update::start(app.handle());
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
