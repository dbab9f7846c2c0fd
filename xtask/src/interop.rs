//! The independent OpenID Provider for the interop tests (npm `oidc-provider`).

use std::process::Command;

use crate::Result;

use crate::install::ensure_packages;

use crate::util::{run, workspace_root};

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
