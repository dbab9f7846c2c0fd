//! Sizes: the release binary, the installers and the UI wasm.

use crate::Inputs;
use crate::report::{Figure, Target, stat};
use anyhow::{Context, Result};
use serde_json::Value;

pub(crate) fn sizes(inputs: &Inputs) -> Result<Vec<Figure>> {
    let text = std::fs::read_to_string(&inputs.sizes)
        .with_context(|| format!("{}", inputs.sizes.display()))?;
    let sizes: Value = serde_json::from_str(&text)?;
    let bytes = |key: &str| sizes[key].as_f64().unwrap_or(f64::NAN);
    let one = |v: f64| stat(vec![v]);
    let wasm = std::fs::read(&inputs.wasm).with_context(|| format!("{}", inputs.wasm.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &wasm)?;
    let gzipped = gz.finish()?.len() as f64;
    const MB: f64 = 1_000_000.0;
    Ok(vec![
        Figure::new(
            "binary_mb",
            "Release binary",
            "MB",
            one(bytes("binary_bytes") / MB),
        )
        .target(Target::AtMost(10.0))
        .method(
            "target/release/latchkey as bundled (fat LTO, opt-level s, stripped); MB = 10^6 bytes",
        ),
        Figure::new(
            "deb_mb",
            ".deb installer",
            "MB",
            one(bytes("deb_bytes") / MB),
        )
        .target(Target::AtMost(5.0))
        .method("the release .deb the Tauri bundler writes"),
        Figure::new(
            "rpm_mb",
            ".rpm installer",
            "MB",
            one(bytes("rpm_bytes") / MB),
        )
        .method("the release .rpm the Tauri bundler writes"),
        Figure::new(
            "ui_wasm_kb",
            "UI wasm, raw",
            "KB",
            one(wasm.len() as f64 / 1000.0),
        )
        .target(Target::AtMost(200.0))
        .method("ui/dist/latchkey_ui_bg.wasm after wasm-opt -Oz; KB = 10^3 bytes"),
        Figure::new(
            "ui_wasm_gzip_kb",
            "UI wasm, gzip -9",
            "KB",
            one(gzipped / 1000.0),
        )
        .method("the same file through gzip at level 9"),
    ])
}
