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

/// Every crate that ships or serves: the app, the CLI, the engine, the plugin, its contract, the sample
/// API and the dev IdP (the UI is wasm, the test crates are Linux's).
const NATIVE_CRATES: &[&str] = &[
    "latchkey",
    "latchkey-auth",
    "latchkey-ipc",
    "tauri-plugin-latchkey",
    "latchkey-cli",
    "latchkey-api",
    "latchkey-dev-idp",
];

/// What the Wine tests run.
pub(crate) struct WindowsBuild {
    /// `latchkey-cli.exe`, with the Wine shim beside it.
    pub cli: PathBuf,
    /// The plugin's mock-runtime tests, `mock_runtime-….exe`.
    pub plugin_tests: PathBuf,
    /// `scripted-browser.exe`, the browser those tests sign in with.
    pub browser: PathBuf,
}

/// Lints and builds the native crates for Windows, and the Windows builds of what the Wine
/// tests run.
pub(crate) fn windows() -> Result<WindowsBuild> {
    ensure_packages(PACKAGES)?;
    ensure_rust_target(TARGET)?;
    if !workspace_root().join("ui/dist/index.html").exists() {
        crate::ui::ui(false)?;
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
    run(windows_cargo().args([
        "build",
        "--quiet",
        "--target",
        TARGET,
        "-p",
        "scripted-browser",
    ]))?;
    let plugin_tests = windows_test_exe(windows_cargo().args([
        "test",
        "--no-run",
        "--target",
        TARGET,
        "-p",
        "tauri-plugin-latchkey",
        "--test",
        "mock_runtime",
    ]))?;
    let dir = target_dir().join(TARGET).join("debug");
    run(Command::new("x86_64-w64-mingw32-gcc")
        .args(["-shared", "-O2", "-o"])
        .arg(dir.join("bcryptprimitives.dll"))
        .arg(workspace_root().join("tests/wine/bcryptprimitives.c"))
        .arg("-ladvapi32"))?;
    // Wine looks for the shim beside each executable: the test executables are in deps/.
    if let Some(deps) = plugin_tests.parent() {
        std::fs::copy(
            dir.join("bcryptprimitives.dll"),
            deps.join("bcryptprimitives.dll"),
        )
        .map_err(|e| format!("copying the Wine shim to {}: {e}", deps.display()))?;
    }
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
    Ok(WindowsBuild {
        cli: dir.join("latchkey-cli.exe"),
        plugin_tests,
        browser: dir.join("scripted-browser.exe"),
    })
}

/// Runs `cargo test --no-run …` and returns the test executable it names
/// ("Executable tests/x.rs (…/x-HASH.exe)").
fn windows_test_exe(cmd: &mut Command) -> Result<PathBuf> {
    eprintln!("xtask: $ {}", format!("{cmd:?}").replace('"', ""));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo test --no-run: {e}"))?;
    let said = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("cargo test --no-run for Windows failed:\n{said}"));
    }
    said.lines()
        .filter_map(|line| line.trim().strip_prefix("Executable "))
        .filter_map(|rest| rest.rsplit_once(" (")?.1.strip_suffix(')'))
        .map(PathBuf::from)
        .find(|path| path.extension().is_some_and(|e| e == "exe"))
        .ok_or_else(|| format!("cargo test --no-run named no .exe:\n{said}"))
}

/// The Wine prefix the Windows CLI test runs in (its Credential Manager lives there).
pub(crate) fn wine_prefix() -> PathBuf {
    target_dir().join("wine-prefix")
}
