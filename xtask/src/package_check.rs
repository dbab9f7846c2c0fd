//! The installed-package check: the .deb and the .rpm installed, then `tests/installed` run
//! against them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;
use crate::stage::InKeyringSession;

use crate::install::ensure_packages;

use crate::util::run;

/// `cargo test -p latchkey-installed --test NAME` with a HOME of its own (under `target`,
/// emptied; cargo and rustup stay where they are) and no configuration; returns it and that
/// HOME (its `run` folder is the private runtime directory).
pub(crate) fn installed_tests(name: &str, target: &Path) -> Result<(Command, PathBuf)> {
    let home = target.join(format!("{name}-home"));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(home.join("run")).map_err(|e| e.to_string())?;
    std::fs::set_permissions(
        home.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .map_err(|e| e.to_string())?;
    let mut tests = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    tests
        .args(["test", "-p", "latchkey-installed", "--test", name])
        .args(["--", "--color", "never"])
        .env("LATCHKEY_SCREENSHOTS", target.join("e2e-screenshots"))
        .env("CARGO_TARGET_DIR", target)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("LATCHKEY_CONFIG")
        .current_dir(crate::util::workspace_root());
    for (var, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let dir = std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::util::home().join(default));
        tests.env(var, dir);
    }
    Ok((tests, home))
}

/// Installs the .deb with dpkg and the .rpm with rpm (into a scratch root: this machine's
/// own packages are Debian's), runs the installed-package test (`tests/installed`: the set-up
/// page in the installed app's window, the scheme in the desktop database, the CLI of each
/// package), and removes the .deb again. Returns the test counts.
pub(crate) fn check_installed_package(
    (deb, rpm): &(PathBuf, PathBuf),
    target: &Path,
) -> Result<(u64, u64, u64)> {
    // desktop-file-utils: dpkg's trigger writes the desktop database xdg-mime reads.
    ensure_packages(&["xvfb", "xauth", "xdg-utils", "desktop-file-utils", "rpm"])?;
    let rpm_root = target.join("rpm-root");
    let _ = std::fs::remove_dir_all(&rpm_root);
    std::fs::create_dir_all(&rpm_root).map_err(|e| e.to_string())?;
    run(Command::new("rpm")
        .arg("--root")
        .arg(&rpm_root)
        .arg("--initdb"))?;
    // --nodeps: the root holds this package alone, not the libraries it links (Debian has
    // them); the test runs its CLI, which needs none beyond libc.
    run(Command::new("rpm")
        .arg("--root")
        .arg(&rpm_root)
        .args(["-i", "--nodeps"])
        .arg(rpm))?;
    run(Command::new("dpkg").arg("-i").arg(deb))?;
    // Signed as the release workflow signs them (with a throwaway key), and listed in an
    // update manifest under their own formats' keys: the test verifies the .rpm's entry.
    let key = crate::update::throwaway_key(&target.join("release-update-key"))?;
    for package in [deb, rpm] {
        crate::update::sign(package, crate::bundle::VERSION, &key.private)?;
    }
    let dirs: Vec<PathBuf> = [deb, rpm]
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    let manifest = target.join("release-latest.json");
    std::fs::write(
        &manifest,
        crate::update::manifest(crate::bundle::VERSION, "", "https://updates.invalid", &dirs)?,
    )
    .map_err(|e| e.to_string())?;
    let (mut tests, home) = installed_tests("installed", target)?;
    tests
        .env("LATCHKEY_INSTALLED_APP", "/usr/bin/latchkey")
        .env("LATCHKEY_RPM_ROOT", &rpm_root)
        .env("LATCHKEY_RPM_PACKAGE", rpm)
        .env("LATCHKEY_RELEASE_MANIFEST", &manifest)
        .env("LATCHKEY_UPDATE_PUBKEY", &key.public);
    // Xvfb for the window, a private D-Bus session with an unlocked gnome-keyring for the
    // CLI's doctor.
    let counted = crate::test::run_counting(tests.in_keyring_session());
    crate::stage::stop_keyring_daemons(&home.join("run"));
    let removed = run(Command::new("dpkg").args(["-r", "latchkey"]));
    let counts = counted?;
    removed?;
    if Path::new("/usr/bin/latchkey-cli").exists() {
        return Err("removing the .deb left /usr/bin/latchkey-cli behind".into());
    }
    let info = Command::new("rpm")
        .arg("-qip")
        .arg(rpm)
        .output()
        .map_err(|e| format!("rpm: {e}"))?;
    let info = String::from_utf8_lossy(&info.stdout);
    for expected in [
        "Name        : latchkey",
        "Version     : 0.1.0",
        "License     : MIT OR Apache-2.0",
    ] {
        if !info.contains(expected) {
            return Err(format!("rpm -qip lacks {expected:?}:\n{info}"));
        }
    }
    Ok(counts)
}
