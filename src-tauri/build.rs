//! Lists the app's own commands (sign-in is tauri-plugin-latchkey's) so the capability file
//! can grant exactly them.

const COMMANDS: &[&str] = &[
    "todos",
    "add_todo",
    "update_todo",
    "delete_todo",
    "profile_form",
    "save_profile",
    "access",
    "users",
    "mark",
    "update_status",
    "check_for_update",
    "install_update",
    "cancel_update",
    "dismiss_update",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri-build");
}
