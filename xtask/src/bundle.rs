//! `cargo xtask bundle`: the .deb and .rpm through the Tauri bundler, and their sizes.

use std::path::PathBuf;
use std::process::Command;

use crate::Result;

use crate::install::{BUILD_PACKAGES, ensure_npm_tools, ensure_packages};

use crate::util::{run, target_dir, workspace_root};

/// The workspace's version, which the packages carry.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the Linux installers; returns the .deb and the .rpm.
pub(crate) fn bundle(debug: bool) -> Result<(PathBuf, PathBuf)> {
    build_bundles(debug, &["deb", "rpm"], None)?;
    let profile = if debug { "debug" } else { "release" };
    let (deb, rpm) = (
        find_bundle(profile, "deb", Some(VERSION))?,
        find_bundle(profile, "rpm", Some(VERSION))?,
    );
    let binary = target_dir().join(profile).join("latchkey");
    let wasm = workspace_root().join("ui/dist/latchkey_ui_bg.wasm");
    let mut json = String::from("{\n");
    for (name, path) in [
        ("binary", &binary),
        ("deb", &deb),
        ("rpm", &rpm),
        ("ui_wasm", &wasm),
    ] {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or_default();
        println!(
            "size: {name:<8} {:>9.1} KiB  {}",
            size as f64 / 1024.0,
            path.display()
        );
        json.push_str(&format!("  \"{name}_bytes\": {size},\n"));
    }
    json.push_str(&format!("  \"profile\": \"{profile}\"\n}}\n"));
    let _ = std::fs::write(target_dir().join(format!("sizes-{profile}.json")), &json);
    Ok((deb, rpm))
}

/// Runs the Tauri bundler for `kinds` (`deb`, `rpm`), with `config` (JSON) merged over
/// `tauri.conf.json`.
pub(crate) fn build_bundles(debug: bool, kinds: &[&str], config: Option<&str>) -> Result {
    let packages: Vec<&str> = BUILD_PACKAGES.iter().chain(&["rpm"]).copied().collect();
    ensure_packages(&packages)?;
    let root = workspace_root();
    ensure_npm_tools()?;
    stage_cli(debug)?;
    let mut build = Command::new(root.join("node_modules/.bin/tauri"));
    build
        .args(["build", "--ci", "--bundles"])
        .args(kinds)
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", target_dir());
    if debug {
        build.arg("--debug");
    }
    if let Some(config) = config {
        build.args(["--config", config]);
    }
    run(&mut build)
}

/// The `kind` package (`deb`, `rpm`) the bundler left in `profile`'s bundle folder, of
/// `version` when given (the bundler keeps earlier versions' beside it).
pub(crate) fn find_bundle(profile: &str, kind: &str, version: Option<&str>) -> Result<PathBuf> {
    let dir = target_dir().join(profile).join("bundle").join(kind);
    std::fs::read_dir(&dir)
        .map_err(|e| format!("no {kind} bundle: {e}"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == kind))
        .find(|p| {
            version.is_none_or(|v| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(v))
            })
        })
        .ok_or_else(|| format!("no .{kind} in {}", dir.display()))
}

/// Where `tauri.conf.json` takes `latchkey-cli` from for the .deb and .rpm (`/usr/bin`).
pub(crate) const STAGED_CLI: &str = "gen/bin/latchkey-cli";

/// Builds `latchkey-cli` in the bundle's profile and puts it where the bundler takes it, so the
/// packages carry the CLI (for `latchkey-cli login --device` on a machine reached over SSH).
fn stage_cli(debug: bool) -> Result {
    let mut build = crate::util::cargo();
    build.args(["build", "--quiet", "-p", "latchkey-cli"]);
    if !debug {
        build.arg("--release");
    }
    run(&mut build)?;
    let profile = if debug { "debug" } else { "release" };
    let built = target_dir().join(profile).join("latchkey-cli");
    let staged = workspace_root().join(STAGED_CLI);
    if let Some(dir) = staged.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::copy(&built, &staged)
        .map(|_| ())
        .map_err(|e| format!("cannot stage {} for the packages: {e}", built.display()))
}

/// Copies the sizes of a release bundle into `bench/sizes.json`, where they are kept.
pub(crate) fn record_sizes(debug: bool) -> Result {
    if debug {
        return Ok(());
    }
    let from = target_dir().join("sizes-release.json");
    let to = workspace_root().join("bench/sizes.json");
    std::fs::create_dir_all(workspace_root().join("bench")).map_err(|e| e.to_string())?;
    std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
    println!("sizes recorded in {}", to.display());
    Ok(())
}
