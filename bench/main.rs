//! `latchkey-bench`: Latchkey's benchmarks. Run it with `cargo xtask bench`, which builds the
//! release app and API, installs `wrk` and the Express peer (npm, `bench/peer`), and starts a
//! Secret Service and a virtual display; this program then measures, prints a table and writes
//! `bench/results.json` and `bench/RESULTS.md`.
//!
//! Every figure is the median of several runs, with min and max. This is not a test: a figure
//! that misses its target is written down as missed, with the method next to it.

mod api;
mod memory;
mod plugin;
mod refresh;
mod report;
mod signin;
mod sizes;
mod startup;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::{api_throughput, dpop_throughput};
use crate::plugin::plugin_cost;
use crate::refresh::refresh_contention;
use crate::report::report;
use crate::signin::sign_in_overhead;
use crate::sizes::sizes;
use crate::startup::startup;
use anyhow::{Context, Result};

/// What `cargo xtask bench` hands over, by environment.
pub(crate) struct Inputs {
    /// The release desktop app.
    pub(crate) app: PathBuf,
    /// The empty Tauri app (`bench/empty-app`), built the same way.
    pub(crate) empty_app: PathBuf,
    /// The same app with tauri-plugin-latchkey added.
    pub(crate) plugin_app: PathBuf,
    /// The release sample API.
    pub(crate) api: PathBuf,
    /// `bench/peer/express-jwt.mjs`.
    pub(crate) peer: PathBuf,
    /// The sizes the release bundle step recorded.
    pub(crate) sizes: PathBuf,
    /// The optimised UI wasm.
    pub(crate) wasm: PathBuf,
    /// Where results go (`bench/`).
    pub(crate) out: PathBuf,
    pub(crate) commit: String,
    pub(crate) runs: usize,
}

pub(crate) fn env_path(name: &str) -> Result<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .with_context(|| format!("{name} is not set: run `cargo xtask bench`"))
}

impl Inputs {
    pub(crate) fn from_env() -> Result<Self> {
        Ok(Self {
            app: env_path("LATCHKEY_BENCH_APP")?,
            empty_app: env_path("LATCHKEY_BENCH_EMPTY_APP")?,
            plugin_app: env_path("LATCHKEY_BENCH_PLUGIN_APP")?,
            api: env_path("LATCHKEY_BENCH_API")?,
            peer: env_path("LATCHKEY_BENCH_PEER")?,
            sizes: env_path("LATCHKEY_BENCH_SIZES")?,
            wasm: env_path("LATCHKEY_BENCH_WASM")?,
            out: env_path("LATCHKEY_BENCH_OUT")?,
            commit: std::env::var("LATCHKEY_BENCH_COMMIT").unwrap_or_else(|_| "unknown".into()),
            runs: std::env::var("LATCHKEY_BENCH_RUNS")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(5),
        })
    }
}

/// A private temporary folder, removed when dropped (on success and on failure alike).
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn unix_micros(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros())
}

/// The sections, in the order a full run takes them.
const SECTIONS: [&str; 6] = ["sizes", "sign-in", "refresh", "startup", "plugin", "api"];

#[tokio::main]
async fn main() -> Result<()> {
    let inputs = Inputs::from_env()?;
    // `cargo xtask bench --only <section>`: one section, printed and not recorded, for
    // whoever works on one figure. The recorded results always come from a whole run.
    let only = std::env::var("LATCHKEY_BENCH_ONLY").ok();
    if let Some(section) = &only
        && !SECTIONS.contains(&section.as_str())
    {
        anyhow::bail!(
            "no bench section {section:?}; the sections: {}",
            SECTIONS.join(", ")
        );
    }
    let runs = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let mut figures = Vec::new();
    if runs("sizes") {
        eprintln!("bench: sizes");
        figures.extend(sizes(&inputs)?);
    }
    if runs("sign-in") {
        eprintln!("bench: sign-in overhead");
        figures.extend(sign_in_overhead(&inputs).await?);
    }
    if runs("refresh") {
        eprintln!("bench: refresh under contention");
        figures.extend(refresh_contention(&inputs).await?);
    }
    if runs("startup") {
        eprintln!("bench: start-up and memory (release app and the empty app under Xvfb)");
        figures.extend(startup(&inputs).await?);
    }
    if runs("plugin") {
        eprintln!("bench: the plugin's cost (the empty app with and without it, under Xvfb)");
        figures.extend(plugin_cost(&inputs).await?);
    }
    if runs("api") {
        eprintln!("bench: API throughput (wrk), Latchkey's API against Express + express-jwt");
        figures.extend(api_throughput(&inputs).await?);
        eprintln!("bench: the DPoP check beside the public endpoint");
        figures.extend(dpop_throughput(&inputs).await?);
    }
    if only.is_some() {
        print!("{}", report::table(&figures));
        return Ok(());
    }
    report(&inputs, &figures)
}
