//! `cargo xtask …`: Latchkey's developer commands.
//!
//! - `cargo xtask test`: installs what the tests need (Debian/Ubuntu, idempotent), checks
//!   formatting and lints, starts a real Secret Service (gnome-keyring inside a private
//!   D-Bus session), puts the scripted browser first on `PATH` as `xdg-open`, and runs every
//!   test of the workspace.
//! - `cargo xtask dev-stack`: runs the dev IdP (127.0.0.1:6080) and the sample API
//!   (127.0.0.1:6060) until Ctrl-C.
//!
//! Builds go to `CARGO_TARGET_DIR`, by default `~/.cache/latchkey/target`, outside the
//! checkout, so fresh clones on the same machine reuse one build.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

/// Debian packages the tests need: the Secret Service and its tools, D-Bus.
const TEST_PACKAGES: &[&str] = &[
    "gnome-keyring",
    "dbus",
    "dbus-x11",
    "libsecret-tools",
    "xdg-utils",
    "procps",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("dev-stack") => dev_stack(),
        _ => {
            eprintln!("usage: cargo xtask <test|dev-stack>");
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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// The shared build directory, outside the checkout so fresh clones reuse one build.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/latchkey/target"))
}

fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: $ {}", shown.replace('"', ""));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir());
    cmd
}

fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists()
}

/// Installs missing Debian packages; does nothing (quickly) when all are present.
fn ensure_packages(packages: &[&str]) -> Result {
    if !is_debian() {
        eprintln!(
            "xtask: not Debian/Ubuntu; make sure these are installed: {}",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", p]).output();
            !matches!(out, Ok(o) if String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)
}

fn test() -> Result {
    ensure_packages(TEST_PACKAGES)?;
    let target = target_dir();
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args(["build", "--quiet", "-p", "scripted-browser"]))?;
    run(cargo().args(["test", "--workspace", "--no-run", "--quiet"]))?;

    // The scripted browser stands in for the system browser exactly where a user's system
    // would put one: first on PATH, under the name the launcher looks for.
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

    // A private home for the keyring, the config dir and the runtime dir; cargo keeps its own.
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"));
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".rustup"));
    let test_home = target.join("test-home");
    let _ = std::fs::remove_dir_all(&test_home);
    let runtime = test_home.join("run");
    for dir in [&test_home, &runtime] {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .map_err(|e| e.to_string())?;
    let mut tests = cargo();
    tests
        .args([
            "test",
            "--workspace",
            "--no-fail-fast",
            "--",
            "--color",
            "never",
        ])
        .env("PATH", path)
        .env("LATCHKEY_SCRIPTED_BROWSER", &link)
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("HOME", &test_home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CONFIG_HOME", test_home.join("config"))
        .env("XDG_DATA_HOME", test_home.join("data"))
        .env(
            "SCRIPTED_BROWSER_LOG",
            test_home.join("scripted-browser.log"),
        )
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("LATCHKEY_CONFIG");
    let result = run(tests.in_keyring_session());
    stop_keyring_daemons(&runtime);
    result
}

/// Runs the command inside a private D-Bus session with an unlocked gnome-keyring.
trait InKeyringSession {
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
            .arg("printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"")
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
fn stop_keyring_daemons(runtime: &Path) {
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

fn dev_stack() -> Result {
    run(cargo().args([
        "build",
        "--quiet",
        "-p",
        "latchkey-dev-idp",
        "-p",
        "latchkey-api",
    ]))?;
    let target = target_dir();
    let mut idp = Command::new(target.join("debug/dev-idp"))
        .spawn()
        .map_err(|e| format!("cannot start dev-idp: {e}"))?;
    let mut api = Command::new(target.join("debug/latchkey-api"))
        .spawn()
        .map_err(|e| format!("cannot start the API: {e}"))?;
    let status = api.wait();
    let _ = idp.kill();
    status.map(|_| ()).map_err(|e| e.to_string())
}
