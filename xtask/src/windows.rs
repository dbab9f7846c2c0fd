//! Windows from Debian: the native crates built and linted for `x86_64-pc-windows-gnu` with
//! mingw-w64, so a test run fails when Windows stops compiling, and the Windows CLI readied
//! for its session test under Wine (with the test-only `bcryptprimitives.dll` shim Wine 8
//! needs; see tests/wine/bcryptprimitives.c). The MSVC target the release workflow uses
//! cannot be built here (ring needs MSVC's headers and `lib.exe`); it compiles the same
//! `cfg(windows)` Rust code.

use std::path::PathBuf;
use std::process::Command;

use crate::Result;
use crate::install::{ensure_packages, ensure_rust_target};
use crate::util::{cargo, run, target_dir, workspace_root};

/// The Windows target this machine can build.
pub(crate) const TARGET: &str = "x86_64-pc-windows-gnu";

/// mingw-w64 links, Wine runs the CLI, NASM assembles aws-lc's Windows code.
const PACKAGES: &[&str] = &["mingw-w64", "wine", "wine64", "nasm"];

/// Every crate that ships or serves: the app, the CLI, the engine, its contract, the sample
/// API and the dev IdP (the UI is wasm, the test crates are Linux's).
const NATIVE_CRATES: &[&str] = &[
    "latchkey",
    "latchkey-auth",
    "latchkey-ipc",
    "latchkey-cli",
    "latchkey-api",
    "latchkey-dev-idp",
];

/// Lints and builds the native crates for Windows; returns `latchkey-cli.exe`, with the
/// Wine shim beside it.
pub(crate) fn windows() -> Result<PathBuf> {
    ensure_packages(PACKAGES)?;
    ensure_rust_target(TARGET)?;
    if !workspace_root().join("ui/dist/index.html").exists() {
        crate::ui::ui(false, false)?;
    }
    let packages: Vec<&str> = NATIVE_CRATES.iter().flat_map(|c| ["-p", *c]).collect();
    let windows_cargo = || {
        let mut cmd = cargo();
        cmd.env(
            "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER",
            "x86_64-w64-mingw32-gcc",
        );
        cmd
    };
    run(windows_cargo()
        .args(["clippy", "--quiet", "--target", TARGET, "--all-targets"])
        .args(["--features", "latchkey/custom-protocol"])
        .args(&packages)
        .args(["--", "-D", "warnings"]))?;
    run(windows_cargo()
        .args(["build", "--quiet", "--target", TARGET])
        .args(["--features", "latchkey/custom-protocol"])
        .args(&packages))?;
    let dir = target_dir().join(TARGET).join("debug");
    run(Command::new("x86_64-w64-mingw32-gcc")
        .args(["-shared", "-O2", "-o"])
        .arg(dir.join("bcryptprimitives.dll"))
        .arg(workspace_root().join("tests/wine/bcryptprimitives.c"))
        .arg("-ladvapi32"))?;
    eprintln!(
        "xtask: Windows build ok: {}",
        [
            "latchkey.exe",
            "latchkey-cli.exe",
            "latchkey-api.exe",
            "dev-idp.exe"
        ]
        .join(", ")
    );
    Ok(dir.join("latchkey-cli.exe"))
}

/// The Wine prefix the Windows CLI test runs in (its Credential Manager lives there).
pub(crate) fn wine_prefix() -> PathBuf {
    target_dir().join("wine-prefix")
}
