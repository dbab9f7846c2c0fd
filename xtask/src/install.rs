//! Installing what the commands need, idempotently: Debian packages, cargo tools, npm tools.

use std::process::Command;

use crate::Result;

use crate::util::{is_debian, run, workspace_root};

/// Debian packages the tests need: the Secret Service and its tools, D-Bus.
pub(crate) const TEST_PACKAGES: &[&str] = &[
    "gnome-keyring",
    "dbus",
    "dbus-x11",
    "libsecret-tools",
    "xdg-utils",
    "procps",
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "python3-venv",
    "shellcheck",
    "postgresql",
];

/// Debian packages that building the Tauri shell needs.
pub(crate) const BUILD_PACKAGES: &[&str] = &[
    "pkg-config",
    "build-essential",
    "file",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libsoup-3.0-dev",
    "libjavascriptcoregtk-4.1-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
    "libxdo-dev",
];

/// Installs missing Debian packages; does nothing (quickly) when all are present.
pub(crate) fn ensure_packages(packages: &[&str]) -> Result {
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

/// The `wasm-bindgen` version in Cargo.lock: the CLI must be exactly that version.
pub(crate) fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let marker = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&marker)
        .ok_or_else(|| format!("{package} is not in Cargo.lock"))?
        + marker.len();
    Ok(lock[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Installs a cargo tool into ~/.cargo/bin unless a wanted version is already there:
/// `version` is exact ("0.2.130") or a major version ("2").
pub(crate) fn ensure_cargo_tool(package: &str, version: &str, locked: bool) -> Result {
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let listed = Command::new(&cargo_bin)
        .args(["install", "--list"])
        .output();
    let installed = listed
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let present = installed.lines().any(|line| {
        line.strip_prefix(&format!("{package} v"))
            .and_then(|rest| rest.split(':').next())
            .is_some_and(|v| v == version || v.starts_with(&format!("{version}.")))
    });
    if present {
        return Ok(());
    }
    let requirement = if version.contains('.') {
        format!("={version}")
    } else {
        format!("^{version}")
    };
    let mut install = Command::new(cargo_bin);
    install.args(["install", package, "--version", &requirement]);
    if locked {
        install.arg("--locked");
    }
    run(&mut install)
}

/// Installs the root package.json's build tools (the Tauri CLI, binaryen) unless the
/// versions it pins are already in node_modules.
pub(crate) fn ensure_npm_tools() -> Result {
    if Command::new("npm").arg("--version").output().is_err() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("package.json"))
        .map_err(|e| format!("package.json: {e}"))?;
    let pinned = manifest
        .split("\"devDependencies\"")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .unwrap_or_default();
    let missing = pinned.lines().any(|line| {
        let parts: Vec<&str> = line.split('"').collect();
        let [_, name, _, version, ..] = parts.as_slice() else {
            return false;
        };
        let installed = root.join("node_modules").join(name).join("package.json");
        !std::fs::read_to_string(installed)
            .is_ok_and(|text| text.contains(&format!("\"version\": \"{version}\"")))
    });
    if missing {
        // `npm install`, not `npm ci`: the CLI's per-platform binaries are optional
        // dependencies that npm 11 leaves unversioned in the lockfile, which `npm ci` refuses.
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel", "error"])
            .current_dir(&root))?;
    }
    Ok(())
}

/// Adds a rustup target unless it is installed already.
pub(crate) fn ensure_rust_target(target: &str) -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == target)
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", target]))
}

/// A tool from PyPI, `package==version`, in a virtual environment of its own at
/// `~/.cache/latchkey/{venv}`, made again only when `bin/{binary} {version_flag}` does not print
/// that version. Returns the environment's `bin` folder.
pub(crate) fn ensure_pip_tool(
    venv: &str,
    binary: &str,
    version_flag: &str,
    (package, version): (&str, &str),
) -> Result<std::path::PathBuf> {
    let venv = crate::util::home().join(".cache/latchkey").join(venv);
    let bin = venv.join("bin");
    let current = Command::new(bin.join(binary))
        .arg(version_flag)
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(version));
    if !current {
        let _ = std::fs::remove_dir_all(&venv);
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(bin.join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("{package}=={version}")))?;
    }
    Ok(bin)
}
