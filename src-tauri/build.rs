//! Lists the app's own commands so the capability file can grant exactly them.

const COMMANDS: &[&str] = &[
    "session",
    "login",
    "login_another_account",
    "signup",
    "cancel_login",
    "logout",
    "retry_now",
    "end_provider_session",
    "call_api",
    "reload_config",
    "todos",
    "add_todo",
    "update_todo",
    "delete_todo",
    "profile_form",
    "save_profile",
    "access",
    "users",
    "mark",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri-build");
}
