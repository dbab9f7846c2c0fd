//! The installed-package check: the .deb installed, started and screenshotted; the .rpm read.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

use crate::install::ensure_packages;

use crate::util::run;

/// Installs the .deb, starts the installed app under Xvfb, keeps a screenshot of its first
/// window, checks the .rpm's metadata, and removes the package again.
pub(crate) fn check_installed_package((deb, rpm): &(PathBuf, PathBuf), target: &Path) -> Result {
    ensure_packages(&["imagemagick", "x11-utils", "xvfb", "xauth"])?;
    run(Command::new("dpkg").arg("-i").arg(deb))?;
    // The OS opens sign-in links (`dev.latchkey.desktop:…`) with this entry: it must pass
    // the link on (`%u`) and claim the scheme.
    let entry = std::fs::read_to_string("/usr/share/applications/Latchkey.desktop")
        .map_err(|e| format!("the .deb installed no desktop entry: {e}"))?;
    for line in [
        "Exec=latchkey %u",
        "MimeType=x-scheme-handler/dev.latchkey.desktop;",
    ] {
        if !entry.lines().any(|l| l == line) {
            let _ = Command::new("dpkg").args(["-r", "latchkey"]).status();
            return Err(format!(
                "the installed desktop entry lacks {line:?}:\n{entry}"
            ));
        }
    }
    let shot = target.join("e2e-screenshots/installed-first-window.png");
    let script = format!(
        "/usr/bin/latchkey & app=$!; \
         for i in $(seq 1 60); do xwininfo -root -tree | grep -q '\"Latchkey\"' && break; sleep 0.5; done; \
         sleep 3; xwininfo -root -tree | grep -q '\"Latchkey\"' || {{ echo 'no Latchkey window'; kill $app; exit 1; }}; \
         import -window root '{}'; kill $app",
        shot.display()
    );
    // A person who just installed it: no configuration anywhere.
    let fresh_config = target.join("installed-config-home");
    let _ = std::fs::remove_dir_all(&fresh_config);
    std::fs::create_dir_all(&fresh_config).map_err(|e| e.to_string())?;
    let started = run(Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", "sh", "-c", &script])
        .env("XDG_CONFIG_HOME", &fresh_config)
        .env_remove("LATCHKEY_CONFIG"));
    // The CLI comes with it, for signing in over SSH where there is no window.
    let cli = installed_cli(&fresh_config);
    let removed = run(Command::new("dpkg").args(["-r", "latchkey"]));
    started?;
    cli?;
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
    let files = Command::new("rpm")
        .arg("-qlp")
        .arg(rpm)
        .output()
        .map_err(|e| format!("rpm: {e}"))?;
    let files = String::from_utf8_lossy(&files.stdout);
    for expected in ["/usr/bin/latchkey", "/usr/bin/latchkey-cli"] {
        if !files.lines().any(|l| l == expected) {
            return Err(format!("the .rpm does not install {expected}:\n{files}"));
        }
    }
    println!(
        "installed package: desktop entry takes sign-in links, first window shown ({}), latchkey-cli runs; rpm metadata and files checked",
        shot.display()
    );
    Ok(())
}

/// The installed `latchkey-cli`: it says its version, and with no configuration its doctor
/// names what is missing (exit 1) instead of failing to start.
fn installed_cli(config_home: &Path) -> Result {
    let version = Command::new("/usr/bin/latchkey-cli")
        .arg("--version")
        .output()
        .map_err(|e| format!("the .deb installed no runnable latchkey-cli: {e}"))?;
    let printed = String::from_utf8_lossy(&version.stdout);
    let wanted = concat!("latchkey-cli ", env!("CARGO_PKG_VERSION"));
    if !version.status.success() || printed.trim() != wanted {
        return Err(format!(
            "latchkey-cli --version printed {printed:?}, not {wanted:?}"
        ));
    }
    let doctor = Command::new("/usr/bin/latchkey-cli")
        .arg("doctor")
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("LATCHKEY_CONFIG")
        .output()
        .map_err(|e| format!("latchkey-cli doctor: {e}"))?;
    let said = String::from_utf8_lossy(&doctor.stdout);
    if doctor.status.code() != Some(1) || !said.contains("FAIL configuration") {
        return Err(format!(
            "the installed latchkey-cli doctor, with no configuration, said ({}):\n{said}",
            doctor.status
        ));
    }
    Ok(())
}
