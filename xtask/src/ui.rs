//! `cargo xtask ui`: the Sycamore UI to `ui/dist`, optimised by binaryen for release.

use std::process::Command;

use crate::Result;

use crate::install::{ensure_cargo_tool, ensure_npm_tools, ensure_rust_target, locked_version};

use crate::util::{cargo, run, target_dir, workspace_root};

/// Builds the UI into ui/dist; a release build is optimised for size by binaryen's wasm-opt
/// (from npm: Debian's binaryen 108 writes a wasm that WebKit rejects).
pub(crate) fn ui(release: bool) -> Result {
    ensure_rust_target("wasm32-unknown-unknown")?;
    ensure_cargo_tool("wasm-bindgen-cli", &locked_version("wasm-bindgen")?, false)?;
    let mut build = cargo();
    build.args([
        "build",
        "--quiet",
        "-p",
        "latchkey-ui",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let profile = if release { "release" } else { "debug" };
    let root = workspace_root();
    let dist = root.join("ui/dist");
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist).map_err(|e| e.to_string())?;
    let wasm = target_dir().join(format!("wasm32-unknown-unknown/{profile}/latchkey-ui.wasm"));
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            "latchkey_ui",
            "--out-dir",
        ])
        .arg(&dist)
        .arg(wasm))?;
    if release {
        ensure_npm_tools()?;
        let wasm = dist.join("latchkey_ui_bg.wasm");
        // The features rustc's wasm32 target turns on; wasm-opt must keep to them.
        // `node <script>`, not node_modules/.bin: the same call works on Windows.
        run(Command::new("node")
            .arg(root.join("node_modules/binaryen/bin/wasm-opt"))
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-nontrapping-float-to-int",
                "--enable-reference-types",
                "--enable-multivalue",
                "-o",
            ])
            .arg(&wasm)
            .arg(&wasm))?;
    }
    for (from, to) in [
        ("ui/index.html", "index.html"),
        ("ui/main.js", "main.js"),
        ("ui/style.css", "style.css"),
        ("icons/128x128.png", "icon.png"),
    ] {
        std::fs::copy(root.join(from), dist.join(to))
            .map_err(|e| format!("copying {from}: {e}"))?;
    }
    Ok(())
}
