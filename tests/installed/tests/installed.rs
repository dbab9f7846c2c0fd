//! The installed package as a person gets it. `cargo xtask test` installs the .deb with dpkg
//! and the .rpm with rpm (into a scratch root: this machine's own packages are Debian's),
//! then runs this with `LATCHKEY_INSTALLED_APP=/usr/bin/latchkey` and
//! `LATCHKEY_RPM_ROOT=<that root>`; it removes the .deb after.
//!
//! The installed app starts with no configuration, shows the set-up page (where the file
//! goes, a complete example, the callback URLs), the OS hands sign-in links to it, and the
//! CLI that came with it runs: its version, and its doctor against the dev stack (a real
//! Secret Service: the check runs inside a private D-Bus session with gnome-keyring).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../e2e/tests/window/mod.rs"]
mod window;
use window::*;

fn required(var: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: `cargo xtask test` runs this after installing the package")
    })
}

fn output(program: &Path, args: &[&str], config_home: &Path) -> (Option<i32>, String) {
    let out = Command::new(program)
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("LATCHKEY_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The CLI that came with a package: its version, and its doctor naming what is missing.
fn check_cli(cli: &Path, config_home: &Path) {
    let (code, printed) = output(cli, &["--version"], config_home);
    assert_eq!(code, Some(0), "{} --version", cli.display());
    assert_eq!(
        printed.trim(),
        concat!("latchkey-cli ", env!("CARGO_PKG_VERSION"))
    );
    let (code, said) = output(cli, &["doctor"], config_home);
    assert_eq!(
        code,
        Some(1),
        "doctor without a configuration fails: {said}"
    );
    assert!(said.contains("FAIL configuration"), "{said}");
    assert!(
        said.contains(
            &config_home
                .join("latchkey/auth_config.json")
                .display()
                .to_string()
        ),
        "doctor names where the file goes: {said}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_installed_cli_finds_nothing_wrong_with_the_dev_stack() {
    let cli = Path::new("/usr/bin/latchkey-cli");
    let stack = latchkey_test_support::DevStack::start().await;
    let dir =
        std::env::temp_dir().join(format!("latchkey-installed-doctor-{}", std::process::id()));
    let config = stack.write_config(&dir);
    let out = tokio::process::Command::new(cli)
        .arg("doctor")
        .env("LATCHKEY_CONFIG", &config)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{} runs: {e}", cli.display()));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "doctor passes against the dev stack: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "(from LATCHKEY_CONFIG) reads fine",
        "issuer matches; PKCE S256 supported",
        "ok   the clock agrees with the provider's",
        "ok   the credential vault (the Secret Service",
        "ok   loopback listens on 127.0.0.1",
    ] {
        assert!(said.contains(line), "missing {line:?} in:\n{said}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_installed_deb_shows_its_setup_page_takes_sign_in_links_and_brings_the_cli() {
    let app = required("LATCHKEY_INSTALLED_APP");
    let config_home =
        std::env::temp_dir().join(format!("latchkey-installed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&config_home);
    std::fs::create_dir_all(&config_home).unwrap();

    // The OS opens `dev.latchkey.desktop:` links with the installed entry.
    let handler = Command::new("xdg-mime")
        .args(["query", "default", "x-scheme-handler/dev.latchkey.desktop"])
        .output()
        .expect("xdg-mime runs");
    assert_eq!(
        String::from_utf8_lossy(&handler.stdout).trim(),
        "Latchkey.desktop",
        "the desktop database names the installed entry for sign-in links"
    );

    // A person who just installed it: no configuration anywhere.
    let window = launch_app(&app.display().to_string(), |driver| {
        driver
            .env("XDG_CONFIG_HOME", &config_home)
            .env_remove("LATCHKEY_CONFIG");
    })
    .await;
    let file = config_home.join("latchkey/auth_config.json");
    window.text("#setup", &file.display().to_string()).await;
    window
        .text("#setup", "\"clientId\": \"latchkey-desktop\"")
        .await;
    window.text("#setup", "http://127.0.0.1:").await;
    assert!(
        !window.exists("#login").await,
        "no sign-in button that cannot work"
    );
    window.screenshot("installed-first-window").await;
    // The installed app has no IPC observer (installers never do): nothing to scan.
    window.close().await;

    check_cli(Path::new("/usr/bin/latchkey-cli"), &config_home);
    let _ = std::fs::remove_dir_all(&config_home);
}

#[test]
fn the_rpm_installs_the_app_its_entry_and_a_cli_that_runs() {
    let root = required("LATCHKEY_RPM_ROOT");
    for file in [
        "usr/bin/latchkey",
        "usr/bin/latchkey-cli",
        "usr/share/applications/Latchkey.desktop",
    ] {
        assert!(root.join(file).exists(), "the .rpm installed /{file}");
    }
    let entry =
        std::fs::read_to_string(root.join("usr/share/applications/Latchkey.desktop")).unwrap();
    assert!(entry.lines().any(|l| l == "Exec=latchkey %u"), "{entry}");
    assert!(
        entry
            .lines()
            .any(|l| l == "MimeType=x-scheme-handler/dev.latchkey.desktop;"),
        "{entry}"
    );
    the_rpm_is_signed_and_listed_for_updates();
    let config_home = std::env::temp_dir().join(format!("latchkey-rpm-{}", std::process::id()));
    std::fs::create_dir_all(&config_home).unwrap();
    check_cli(&root.join("usr/bin/latchkey-cli"), &config_home);
    let _ = std::fs::remove_dir_all(&config_home);
}

/// The release's update manifest (written by `cargo xtask update-manifest` over the packages
/// signed as the release workflow signs them, with a throwaway key) has an entry of the .rpm's
/// own (`linux-x86_64-rpm`; without it an rpm install would take another format and fail),
/// and its signature is the package's, for this version; one byte changed and it is not.
fn the_rpm_is_signed_and_listed_for_updates() {
    use base64::Engine;
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(required("LATCHKEY_RELEASE_MANIFEST")).unwrap(),
    )
    .unwrap();
    let rpm = required("LATCHKEY_RPM_PACKAGE");
    let name = rpm.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        manifest["platforms"]["linux-x86_64-deb"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(".deb")),
        "{manifest}"
    );
    let entry = &manifest["platforms"]["linux-x86_64-rpm"];
    assert!(
        entry["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/{name}"))),
        "the rpm's entry points at it: {manifest}"
    );
    let decode = |b64: &str| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap(),
        )
        .unwrap()
    };
    let key = std::env::var("LATCHKEY_UPDATE_PUBKEY").expect("LATCHKEY_UPDATE_PUBKEY");
    let key = minisign_verify::PublicKey::decode(&decode(&key)).unwrap();
    let signature =
        minisign_verify::Signature::decode(&decode(entry["signature"].as_str().unwrap())).unwrap();
    assert!(
        signature
            .trusted_comment()
            .contains(&format!("version:{}", env!("CARGO_PKG_VERSION"))),
        "signed for this version: {}",
        signature.trusted_comment()
    );
    let mut bytes = std::fs::read(&rpm).unwrap();
    key.verify(&bytes, &signature, false)
        .expect("the manifest's signature verifies over the .rpm");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    assert!(
        key.verify(&bytes, &signature, false).is_err(),
        "one byte changed and the signature no longer verifies"
    );
}
