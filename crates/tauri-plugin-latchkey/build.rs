//! Generates the plugin's permissions (one `allow-`/`deny-` pair per command) and their schema.

const COMMANDS: &[&str] = &[
    "session",
    "login",
    "login_another_account",
    "device_login",
    "signup",
    "cancel_login",
    "logout",
    "end_provider_session",
    "retry_now",
    "reload_config",
    "call_api",
    "accounts",
    "switch_account",
    "logout_account",
    "logout_all",
];

fn main() {
    tauri_plugin::Builder::new(COMMANDS)
        .global_api_script_path("./api-iife.js")
        .build();
}
