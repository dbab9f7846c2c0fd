//! The independent OpenID Providers for the interop tests: npm `oidc-provider`, and Django
//! OAuth Toolkit from PyPI in a virtual environment of its own.

use std::process::Command;

use crate::Result;

use crate::install::ensure_packages;

use crate::util::{home, run, workspace_root};

/// Installs the npm package `oidc-provider` (from the lockfile) for the interop tests.
pub(crate) fn ensure_interop_provider() -> Result {
    if Command::new("node").arg("--version").output().is_err() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    let dir = workspace_root().join("tests/interop");
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel", "error"])
        .current_dir(dir))
}

/// Where Django OAuth Toolkit's virtual environment lives, kept between runs.
pub(crate) fn dot_venv() -> std::path::PathBuf {
    home().join(".cache/latchkey/dot-venv")
}

/// Makes the virtual environment for the Django OAuth Toolkit interop provider from
/// `tests/interop/django/requirements.txt`, unless one made from the same file exists. Returns
/// its Python, for the tests (`LATCHKEY_DOT_PYTHON`).
pub(crate) fn ensure_dot_provider() -> Result<std::path::PathBuf> {
    let requirements = workspace_root().join("tests/interop/django/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let venv = dot_venv();
    let python = venv.join("bin/python");
    let stamp = venv.join("installed-requirements.txt");
    let current = std::fs::read_to_string(&stamp).is_ok_and(|done| done == wanted)
        && Command::new(&python)
            .args(["-c", "import oauth2_provider"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !current {
        let _ = std::fs::remove_dir_all(&venv);
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements))?;
        std::fs::write(&stamp, &wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    Ok(python)
}
