//! `cargo xtask …`: Latchkey's developer commands.
//!
//! - `cargo xtask test`: installs what the tests need (Debian/Ubuntu, idempotent), checks
//!   formatting and lints, starts a real Secret Service (gnome-keyring inside a private
//!   D-Bus session), puts the scripted browser first on `PATH` as `xdg-open`, builds for
//!   Windows, runs every test of the workspace (the Windows CLI's under Wine included), and
//!   gives each fuzz target a short smoke.
//! - `cargo xtask ui [--release]`: builds the Sycamore UI to `ui/dist` (cargo for wasm32,
//!   then wasm-bindgen; no downloads).
//! - `cargo xtask demo`: installs what it needs, builds the app and runs it against the
//!   local dev stack (dev IdP and sample API on loopback).
//! - `cargo xtask bundle [--debug]`: builds the .deb and .rpm with the Tauri bundler (the
//!   Tauri CLI comes from npm), prints their sizes and, for a release build, records them in
//!   `bench/sizes.json`.
//! - `cargo xtask update-manifest --version V --base-url URL [--notes FILE] DIR...`: writes
//!   the update manifest (`DIR/latest.json`) for the signed packages in DIR, one entry per
//!   format (the release workflow publishes it beside them).
//! - `cargo xtask update-test`: the test run's update test alone (as root: it installs the
//!   .deb).
//! - `cargo xtask bench`: builds the release app and API, installs wrk and the Express peer,
//!   measures start-up, sign-in overhead, sizes, memory, refresh contention and API throughput,
//!   and writes `bench/results.json` and `bench/RESULTS.md` (not part of the test run).
//!   `--only SECTION` (sizes, sign-in, refresh, startup, plugin, api) runs one and records nothing.
//! - `cargo xtask windows`: lints and builds the app, the CLI, the engine, the API and the dev
//!   IdP for `x86_64-pc-windows-gnu` (mingw-w64), as the test run does.
//! - `cargo xtask macos`: lints the shipped crates for `aarch64-apple-darwin` and
//!   `x86_64-apple-darwin` (cargo-zigbuild; a type check, nothing linked), as the test run does.
//! - `cargo xtask fuzz [--seconds N]`: runs every fuzz target in `fuzz/` (cargo-fuzz on the
//!   nightly toolchain, both installed when missing) for N seconds each (60 by default) from
//!   its committed seeds; the test run gives each a 10 s smoke.
//! - `cargo xtask dev-stack`: runs the dev IdP (127.0.0.1:6080) and the sample API
//!   (127.0.0.1:6060) until Ctrl-C.
//!
//! Builds go to `CARGO_TARGET_DIR`, by default `~/.cache/latchkey/target`, outside the
//! checkout, so fresh clones on the same machine reuse one build.

mod bench;
mod bundle;
mod dev_stack;
mod fuzz;
mod install;
mod interop;
mod macos;
mod package_check;
mod postgres;
mod stage;
mod test;
mod ui;
mod update;
mod util;
mod windows;

use std::process::ExitCode;

/// What every task returns: a message a person can act on, or nothing.
pub(crate) type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::test(),
        Some("ui") => install::ensure_packages(install::BUILD_PACKAGES)
            .and_then(|()| ui::ui(args.iter().any(|a| a == "--release"))),
        Some("dev-stack") => dev_stack::dev_stack(),
        Some("windows") => windows::windows().map(|_| ()),
        Some("macos") => macos::macos(),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("demo") => dev_stack::demo(),
        Some("update-manifest") => update::update_manifest(&args[1..]),
        Some("update-test") => update::update_test(&util::target_dir()).map(|_| ()),
        Some("bundle") => {
            let debug = args.iter().any(|a| a == "--debug");
            bundle::bundle(debug).and_then(|_| bundle::record_sizes(debug))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|bench [--only SECTION]|bundle [--debug]|update-manifest --version V --base-url URL DIR|update-test|ui [--release]|dev-stack|windows|macos|fuzz [--seconds N]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
