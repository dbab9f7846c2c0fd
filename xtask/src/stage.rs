//! The stage a signing-in run plays on: the scripted browser as `xdg-open`, a private home,
//! and a real Secret Service inside a private D-Bus session.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

use crate::util::home;

/// Sets the stage for a run that signs in: the scripted browser first on `PATH` as
/// `xdg-open` (where a user's system would put the browser), and a private home for the
/// keyring, the config dir and the runtime dir (cargo and rustup keep their own). Returns the
/// runtime dir, whose keyring daemon [`stop_keyring_daemons`] ends afterwards.
#[cfg(unix)]
pub(crate) fn stage(cmd: &mut Command, target: &Path, home_name: &str) -> Result<PathBuf> {
    let browser_dir = target.join("scripted-browser-path");
    std::fs::create_dir_all(&browser_dir).map_err(|e| e.to_string())?;
    let link = browser_dir.join("xdg-open");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(target.join("debug/scripted-browser"), &link)
        .map_err(|e| e.to_string())?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![browser_dir.clone()];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths).map_err(|e| e.to_string())?;

    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"));
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".rustup"));
    let private_home = target.join(home_name);
    let _ = std::fs::remove_dir_all(&private_home);
    let runtime = private_home.join("run");
    for dir in [&private_home, &runtime] {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .map_err(|e| e.to_string())?;
    cmd.env("PATH", path)
        .env("LATCHKEY_SCRIPTED_BROWSER", &link)
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("HOME", &private_home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CONFIG_HOME", private_home.join("config"))
        .env("XDG_DATA_HOME", private_home.join("data"))
        .env(
            "SCRIPTED_BROWSER_LOG",
            private_home.join("scripted-browser.log"),
        )
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("LATCHKEY_CONFIG");
    Ok(runtime)
}

/// Runs the command inside a private D-Bus session with an unlocked gnome-keyring.
pub(crate) trait InKeyringSession {
    fn in_keyring_session(&mut self) -> &mut Command;
}

impl InKeyringSession for Command {
    fn in_keyring_session(&mut self) -> &mut Command {
        let program = self.get_program().to_owned();
        let args: Vec<_> = self.get_args().map(|a| a.to_owned()).collect();
        let mut wrapped = Command::new("dbus-run-session");
        wrapped
            .arg("--")
            .arg("sh")
            .arg("-c")
            .arg(
                "printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
                 exec xvfb-run -a -s '-screen 0 1280x800x24' \"$@\"",
            )
            .arg("sh")
            .arg(program)
            .args(args);
        if let Some(dir) = self.get_current_dir() {
            wrapped.current_dir(dir);
        }
        for (key, value) in self.get_envs() {
            match value {
                Some(v) => wrapped.env(key, v),
                None => wrapped.env_remove(key),
            };
        }
        *self = wrapped;
        self
    }
}

/// gnome-keyring-daemon outlives its bus session; stop the ones started for this run.
pub(crate) fn stop_keyring_daemons(runtime: &Path) {
    let marker = format!("XDG_RUNTIME_DIR={}", runtime.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let ours = environ
            .split(|b| *b == 0)
            .any(|var| var == marker.as_bytes());
        if comm.starts_with("gnome-keyring") && ours {
            let _ = Command::new("kill").arg(&pid).status();
        }
    }
}
