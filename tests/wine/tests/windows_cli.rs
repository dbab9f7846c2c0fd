//! The Windows `latchkey-cli.exe` (built for x86_64-pc-windows-gnu) under Wine, against the
//! dev stack on loopback: sign in, restore in a new process from the Windows Credential
//! Manager (keyring's windows-native store: CredWriteW/CredReadW, as on Windows), call the
//! API, sign out. The provider issues 4 KB refresh tokens, so the vault entry is split over
//! several credentials the way it must be on Windows (2,560 bytes a credential).
//!
//! `cargo xtask test` builds the .exe and the test-only `bcryptprimitives.dll` shim Wine 8
//! needs (tests/wine/bcryptprimitives.c) and names the .exe in `LATCHKEY_WINDOWS_CLI`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use latchkey_dev_idp::Settings;
use latchkey_test_support::DevStack;
use tokio::io::{AsyncBufReadExt, BufReader};

struct Wine {
    exe: PathBuf,
    prefix: PathBuf,
    config: String,
}

/// `/a/b` as Wine's Windows programs see it: `Z:\a\b`.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

impl Wine {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("/usr/lib/wine/wine64");
        cmd.arg(&self.exe)
            .args(args)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env("LATCHKEY_CONFIG", &self.config)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs the CLI to its end; returns its exit code, stdout and stderr.
    async fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = tokio::time::timeout(Duration::from_secs(120), self.command(args).output())
            .await
            .unwrap_or_else(|_| panic!("latchkey-cli.exe {args:?} did not finish"))
            .expect("wine64 runs");
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).replace('\r', "");
        (out.status.code(), text(out.stdout), text(out.stderr))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_windows_cli_signs_in_restores_calls_and_signs_out_under_wine() {
    let exe = std::env::var_os("LATCHKEY_WINDOWS_CLI")
        .map(PathBuf::from)
        .expect("LATCHKEY_WINDOWS_CLI names latchkey-cli.exe: run with `cargo xtask test`");
    assert!(exe.exists(), "{} is built", exe.display());
    let settings = Settings {
        refresh_token_bytes: 3072, // 4,096 characters in base64url
        ..Settings::default()
    };
    let stack = DevStack::start_with(settings).await;
    let config_path = stack.write_config(&std::env::temp_dir());
    let prefix = std::env::var_os("LATCHKEY_WINEPREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("latchkey-wine-prefix"));
    let wine = Wine {
        exe,
        prefix,
        config: windows_path(&config_path),
    };
    let mut printed = Vec::new();

    // Sign in: the CLI prints the URL; the scripted browser plays the person's browser.
    let mut login = wine
        .command(&["login", "--no-browser", "--user", "jemma"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wine64 runs");
    let mut stderr = BufReader::new(login.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            printed.push(line.clone());
            if let Some(url) = line.trim().strip_prefix("http") {
                return format!("http{url}");
            }
        }
        panic!("latchkey-cli.exe ended without a sign-in URL: {printed:?}");
    })
    .await
    .expect("the sign-in URL is printed");
    assert!(
        url.starts_with(&format!("{}authorize?", stack.idp.issuer())),
        "{url}"
    );
    let browser = std::env::var_os("LATCHKEY_SCRIPTED_BROWSER")
        .expect("the scripted browser: run with `cargo xtask test`");
    let browsed = tokio::process::Command::new(browser)
        .arg(&url)
        .status()
        .await
        .unwrap();
    assert!(browsed.success());
    let login = tokio::time::timeout(Duration::from_secs(60), login.wait_with_output())
        .await
        .expect("login ends after the browser")
        .unwrap();
    let login_out = String::from_utf8_lossy(&login.stdout).replace('\r', "");
    assert!(login.status.success(), "{login_out} {printed:?}");
    assert!(login_out.contains("Signed in as Jemma Doe"), "{login_out}");
    assert!(
        !printed.iter().any(|l| l.contains("warning")),
        "the vault took the session: {printed:?}"
    );
    assert_eq!(stack.idp.active_refresh_tokens(), 1);

    // A new process: restored from the Credential Manager alone (and the 4 KB token rotated).
    let (code, out, err) = wine.run(&["status"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Signed in as Jemma Doe"), "{out}{err}");
    printed.extend([out, err]);
    let refreshes = stack
        .idp
        .counters()
        .refresh_grants
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(refreshes, 1, "status redeemed the stored token");

    let protected = stack.api("/api/messages/protected");
    let (code, out, err) = wine.run(&["call", &protected]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("successfully validated"), "{out}");
    printed.extend([out, err]);

    let (code, out, err) = wine.run(&["logout"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Signed out of Jemma Doe."), "{out}");
    printed.extend([out, err]);
    assert_eq!(
        stack.idp.active_refresh_tokens(),
        0,
        "the session was revoked"
    );

    let (code, out, err) = wine.run(&["status"]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("Not signed in"), "{out}");
    printed.extend([out, err]);

    for text in &printed {
        assert!(!text.contains("eyJ"), "a JWT was printed: {text}");
    }
}
