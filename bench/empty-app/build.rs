//! tauri-build for the empty app (its config is `tauri.conf.json` beside this file).

fn main() {
    tauri_build::build();
}
