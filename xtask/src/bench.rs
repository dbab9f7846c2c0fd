//! `cargo xtask bench`: release builds, the peer, and the benchmark run.

use std::process::Command;

use crate::Result;
use crate::bundle::bundle;
use crate::stage::InKeyringSession;

use crate::install::{BUILD_PACKAGES, TEST_PACKAGES, ensure_packages};

use crate::stage::{stage, stop_keyring_daemons};

use crate::ui::ui;
use crate::util::{cargo, run, target_dir, workspace_root};

#[cfg(not(unix))]
pub(crate) fn bench(_args: &[String]) -> Result {
    Err(
        "the benchmarks need Linux (Debian or Ubuntu): they use Xvfb, D-Bus and gnome-keyring"
            .into(),
    )
}

/// Release builds, wrk and the Express peer, then `latchkey-bench` with a Secret Service and
/// a virtual display; it writes bench/results.json and bench/RESULTS.md.
/// `--only SECTION` (sizes, sign-in, refresh, startup, plugin, api) runs one section and records
/// nothing.
#[cfg(unix)]
pub(crate) fn bench(args: &[String]) -> Result {
    let only = match args {
        [] => None,
        [flag, section] if flag == "--only" => Some(section.clone()),
        _ => {
            return Err(
                "usage: cargo xtask bench [--only sizes|sign-in|refresh|startup|plugin|api]".into(),
            );
        }
    };
    let packages: Vec<&str> = BUILD_PACKAGES
        .iter()
        .chain(TEST_PACKAGES)
        .chain(&["wrk", "rpm"])
        .copied()
        .collect();
    ensure_packages(&packages)?;
    if Command::new("node").arg("--version").output().is_err() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    let root = workspace_root();
    let peer = root.join("bench/peer");
    if !peer.join("node_modules/express-jwt/package.json").exists() {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel", "error"])
            .current_dir(&peer))?;
    }
    let target = target_dir();
    // The release app as people install it (the bundle step also records its sizes).
    ui(true)?;
    bundle(false)?;
    run(cargo().args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "latchkey-api",
        "-p",
        "latchkey-bench",
    ]))?;
    // The plugin's cost: the empty app with tauri-plugin-latchkey added, kept aside before
    // the same binary is built without it.
    run(cargo().args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "latchkey-bench-empty",
        "--features",
        "custom-protocol,latchkey",
    ]))?;
    std::fs::copy(
        target.join("release/latchkey-bench-empty"),
        target.join("release/latchkey-bench-plugin"),
    )
    .map_err(|e| format!("keeping the plugin build of the empty app: {e}"))?;
    // The floor: an empty Tauri app, same release profile, its page served from the binary.
    run(cargo().args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "latchkey-bench-empty",
        "--features",
        "custom-protocol",
    ]))?;
    run(cargo().args(["build", "--quiet", "-p", "scripted-browser"]))?;
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(&root)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(&root)
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    let mut bench = Command::new(target.join("release/latchkey-bench"));
    bench
        .current_dir(&root)
        .env("LATCHKEY_BENCH_APP", target.join("release/latchkey"))
        .env(
            "LATCHKEY_BENCH_EMPTY_APP",
            target.join("release/latchkey-bench-empty"),
        )
        .env(
            "LATCHKEY_BENCH_PLUGIN_APP",
            target.join("release/latchkey-bench-plugin"),
        )
        .env("LATCHKEY_BENCH_API", target.join("release/latchkey-api"))
        .env("LATCHKEY_BENCH_PEER", peer.join("express-jwt.mjs"))
        .env("LATCHKEY_BENCH_SIZES", target.join("sizes-release.json"))
        .env(
            "LATCHKEY_BENCH_WASM",
            root.join("ui/dist/latchkey_ui_bg.wasm"),
        )
        .env("LATCHKEY_BENCH_OUT", root.join("bench"))
        .env(
            "LATCHKEY_BENCH_COMMIT",
            if dirty {
                format!("{commit}+changes")
            } else {
                commit
            },
        );
    if let Some(section) = only {
        bench.env("LATCHKEY_BENCH_ONLY", section);
    }
    let runtime = stage(&mut bench, &target, "bench-home")?;
    let result = run(bench.in_keyring_session());
    stop_keyring_daemons(&runtime);
    result
}
