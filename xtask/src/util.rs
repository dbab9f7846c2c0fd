//! Shared helpers: where things are, and running a command.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

/// The checkout `cargo xtask` was run in. `cargo run` names xtask's folder at run time; the
/// folder compiled in is only the fallback, because clones sharing one `CARGO_TARGET_DIR` can
/// run a binary that another clone built (and that clone may be gone).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

pub(crate) fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// The shared build directory, outside the checkout so fresh clones reuse one build.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/latchkey/target"))
}

pub(crate) fn run(cmd: &mut Command) -> Result {
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

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir());
    cmd
}

pub(crate) fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists()
}
