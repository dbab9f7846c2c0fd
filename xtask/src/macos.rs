//! macOS, type-checked from Linux in every test run: cargo-zigbuild (from PyPI, with
//! ziglang's `zig cc` and its macOS libc headers, so ring's build script runs) lints the crates
//! with macOS-only code — the engine (the Keychain store), the CLI and the Tauri plugin (its
//! deep-link code differs there) — for
//! aarch64-apple-darwin. Nothing can be linked here (no Apple SDK): this is a type check, and
//! the release workflow builds and signs the real app on a macOS runner.

use std::process::Command;

use crate::Result;
use crate::install::{ensure_pip_tool, ensure_rust_target};
use crate::util::{cargo, run};

/// cargo-zigbuild from PyPI, pinned; it pulls ziglang.
pub(crate) const ZIGBUILD: (&str, &str) = ("cargo-zigbuild", "0.24.0");

pub(crate) const MACOS_TARGET: &str = "aarch64-apple-darwin";

/// Lints the engine, the CLI and the plugin for macOS with `-D warnings`.
pub(crate) fn macos() -> Result {
    ensure_rust_target(MACOS_TARGET)?;
    let bin = ensure_pip_tool("zigbuild", "cargo-zigbuild", "--version", ZIGBUILD)?;
    let zigbuild = bin.join("cargo-zigbuild");
    // cargo-zigbuild finds zig through the venv's Python (`python -m ziglang`).
    let path = std::env::var("PATH").unwrap_or_default();
    let template = cargo();
    let mut lint = Command::new(&zigbuild);
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            lint.env(key, value);
        }
    }
    if let Some(dir) = template.get_current_dir() {
        lint.current_dir(dir);
    }
    run(lint
        .env("PATH", format!("{}:{path}", bin.display()))
        .args(["clippy", "--quiet", "--target", MACOS_TARGET])
        .args([
            "-p",
            "latchkey-auth",
            "-p",
            "latchkey-cli",
            "-p",
            "tauri-plugin-latchkey",
        ])
        .args(["--", "-D", "warnings"]))
}
