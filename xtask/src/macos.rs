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

/// Apple silicon and Intel Macs.
pub(crate) const MACOS_TARGETS: [&str; 2] = ["aarch64-apple-darwin", "x86_64-apple-darwin"];

/// Lints every shipped crate for both macOS targets with `-D warnings`.
pub(crate) fn macos() -> Result {
    for target in MACOS_TARGETS {
        ensure_rust_target(target)?;
    }
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
    lint.env("PATH", format!("{}:{path}", bin.display()))
        .args(["clippy", "--quiet"])
        .args(MACOS_TARGETS.iter().flat_map(|t| ["--target", t]))
        .args(SHIPPED.iter().flat_map(|p| ["-p", p]))
        // The deep-link code differs on macOS (an "open URL" event, no registration).
        .args(["--features", "tauri-plugin-latchkey/deep-link"])
        .args(["--", "-D", "warnings"]);
    run(&mut lint)
}

/// The crates people install or build on: the app, the engine, the plugin and its guest
/// binding's contract, the CLI, the sample API and the dev IdP.
const SHIPPED: [&str; 8] = [
    "latchkey",
    "latchkey-auth",
    "latchkey-http",
    "latchkey-ipc",
    "tauri-plugin-latchkey",
    "latchkey-cli",
    "latchkey-api",
    "latchkey-dev-idp",
];
