//! The plugin's mock-runtime tests (crates/tauri-plugin-latchkey/tests/mock_runtime.rs) built
//! for x86_64-pc-windows-gnu and run under Wine: its commands through Tauri's IPC and ACL,
//! and a whole sign-in against the dev stack with the Windows Credential Manager as the vault,
//! the Windows lock directory and the Windows build of the scripted browser.
//!
//! `cargo xtask test` builds both executables and names them in
//! `LATCHKEY_WINDOWS_PLUGIN_TESTS` and `LATCHKEY_WINDOWS_BROWSER`.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `/a/b` as Wine's Windows programs see it: `Z:\a\b`.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

fn built(var: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{var} names a Windows build: run with `cargo xtask test`"));
    assert!(path.exists(), "{} is built", path.display());
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plugin_tests_pass_on_windows_under_wine() {
    let tests = built("LATCHKEY_WINDOWS_PLUGIN_TESTS");
    let browser = built("LATCHKEY_WINDOWS_BROWSER");
    let prefix = std::env::var_os("LATCHKEY_WINEPREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("latchkey-wine-prefix"));
    let run = tokio::process::Command::new("/usr/lib/wine/wine64")
        .arg(&tests)
        .args(["--test-threads", "1"])
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        .env("LATCHKEY_SCRIPTED_BROWSER", windows_path(&browser))
        .env_remove("SCRIPTED_BROWSER_LOG")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the Windows plugin tests finished in 10 minutes")
        .expect("wine64 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let stderr = String::from_utf8_lossy(&out.stderr).replace('\r', "");
    assert!(
        out.status.success(),
        "the plugin's tests failed on Windows ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    // Every test ran, none was filtered out or ignored.
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("test result:"))
        .unwrap_or_default();
    assert!(
        summary.contains(" 0 failed; 0 ignored;") && summary.contains("; 0 filtered out"),
        "{summary}\n{stdout}"
    );
    assert!(
        stdout.contains("sign_in_api_calls_and_sign_out_through_the_commands_and_no_token_reaches_the_page ... ok"),
        "{stdout}"
    );
}
