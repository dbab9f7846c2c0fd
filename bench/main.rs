//! `latchkey-bench`: Latchkey's benchmarks. Run it with `cargo xtask bench`, which builds the
//! release app and API, installs `wrk` and the Express peer (npm, `bench/peer`), and starts a
//! Secret Service and a virtual display; this program then measures, prints a table and writes
//! `bench/results.json` and `bench/RESULTS.md`.
//!
//! Every figure is the median of several runs, with min and max. This is not a test: a figure
//! that misses its target is written down as missed, with the method next to it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use latchkey_auth::{ApiClient, Config, LoginOptions, Session};
use latchkey_dev_idp::{API_AUDIENCE, Settings};
use latchkey_test_support::DevStack;
use serde_json::{Value, json};

/// What `cargo xtask bench` hands over, by environment.
struct Inputs {
    /// The release desktop app.
    app: PathBuf,
    /// The release sample API.
    api: PathBuf,
    /// `bench/peer/express-jwt.mjs`.
    peer: PathBuf,
    /// The sizes the release bundle step recorded.
    sizes: PathBuf,
    /// The optimised UI wasm.
    wasm: PathBuf,
    /// Where results go (`bench/`).
    out: PathBuf,
    commit: String,
    runs: usize,
}

fn env_path(name: &str) -> Result<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .with_context(|| format!("{name} is not set: run `cargo xtask bench`"))
}

impl Inputs {
    fn from_env() -> Result<Self> {
        Ok(Self {
            app: env_path("LATCHKEY_BENCH_APP")?,
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

/// Median, min and max of a series.
#[derive(Clone, Copy, Debug)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
    runs: usize,
}

fn stat(mut values: Vec<f64>) -> Stat {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    };
    Stat {
        median,
        min: values.first().copied().unwrap_or(f64::NAN),
        max: values.last().copied().unwrap_or(f64::NAN),
        runs: n,
    }
}

#[derive(Clone, Copy, Debug)]
enum Target {
    AtMost(f64),
    AtLeast(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Self::AtMost(limit) => value <= limit,
            Self::AtLeast(floor) => value >= floor,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Self::AtMost(limit) => format!("≤ {} {unit}", round(limit)),
            Self::AtLeast(floor) => format!("≥ {} {unit}", round(floor)),
        }
    }
}

/// One measured figure: what it is, how it was measured, and what it should be.
struct Figure {
    key: &'static str,
    name: String,
    unit: &'static str,
    stat: Stat,
    /// Compared with the median; `strict` compares the worst run instead.
    target: Option<Target>,
    strict: bool,
    method: String,
}

impl Figure {
    fn new(key: &'static str, name: impl Into<String>, unit: &'static str, stat: Stat) -> Self {
        Self {
            key,
            name: name.into(),
            unit,
            stat,
            target: None,
            strict: false,
            method: String::new(),
        }
    }

    fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Every run must meet the target, not only the median.
    fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into();
        self
    }

    fn verdict(&self) -> Option<bool> {
        let target = self.target?;
        Some(if self.strict {
            let worst = match target {
                Target::AtMost(_) => self.stat.max,
                Target::AtLeast(_) => self.stat.min,
            };
            target.met(worst)
        } else {
            target.met(self.stat.median)
        })
    }
}

fn round(value: f64) -> String {
    if value.is_nan() {
        "n/a".into()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A private temporary folder, removed when dropped (on success and on failure alike).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Result<Self> {
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

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn unix_micros(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros())
}

#[tokio::main]
async fn main() -> Result<()> {
    let inputs = Inputs::from_env()?;
    let mut figures = Vec::new();
    eprintln!("bench: sizes");
    figures.extend(sizes(&inputs)?);
    eprintln!("bench: sign-in overhead");
    figures.extend(sign_in_overhead(&inputs).await?);
    eprintln!("bench: refresh under contention");
    figures.extend(refresh_contention(&inputs).await?);
    eprintln!("bench: start-up and memory (release app under Xvfb)");
    figures.extend(startup(&inputs).await?);
    eprintln!("bench: API throughput (wrk), Latchkey's API against Express + express-jwt");
    figures.extend(api_throughput(&inputs).await?);
    report(&inputs, &figures)
}

// ---------------------------------------------------------------------------------------------
// Sizes

fn sizes(inputs: &Inputs) -> Result<Vec<Figure>> {
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

// ---------------------------------------------------------------------------------------------
// Sign-in overhead and refresh contention: the engine against the dev stack on loopback.

fn config_for(stack: &DevStack) -> Result<Config> {
    Ok(Config::parse(
        &stack.config_json().to_string(),
        "the bench stack",
    )?)
}

fn as_user(user: &str) -> LoginOptions {
    LoginOptions {
        login_hint: Some(user.to_owned()),
        ..LoginOptions::default()
    }
}

async fn sign_in_overhead(inputs: &Inputs) -> Result<Vec<Figure>> {
    let stack = DevStack::start().await;
    // The production launcher: `xdg-open` on PATH, which `cargo xtask bench` makes the
    // scripted browser.
    let session = Session::new(config_for(&stack)?);
    let (mut own, mut provider, mut validation, mut vault) = (vec![], vec![], vec![], vec![]);
    // One warm-up sign-in (discovery, JWKS), then the measured ones.
    for run in 0..=inputs.runs * 2 {
        session.login(as_user("jemma"), |_| {}).await?;
        let t = session
            .last_sign_in_timings()
            .context("the engine recorded no timings")?;
        if run == 0 {
            continue;
        }
        own.push(millis(
            t.total.saturating_sub(t.token_endpoint + t.userinfo),
        ));
        provider.push(millis(t.token_endpoint + t.userinfo));
        validation.push(millis(t.validation));
        vault.push(millis(t.vault_write));
    }
    session.logout().await;
    Ok(vec![
        Figure::new("signin_own_ms", "Sign-in: Latchkey's own work", "ms", stat(own))
            .target(Target::AtMost(5.0))
            .method("loopback callback's arrival to signed-in state in the engine, minus the token endpoint's (and userinfo's) response time: ID token validation + vault write; the shell's state push is a channel send not timed here"),
        Figure::new("signin_provider_ms", "Sign-in: provider's token endpoint", "ms", stat(provider))
            .method("code exchange request to parsed answer, dev IdP on loopback (RS256 signing included)"),
        Figure::new("signin_validation_ms", "Sign-in: ID token validation", "ms", stat(validation))
            .method("openidconnect's verifier with the cached JWKS"),
        Figure::new("signin_vault_ms", "Sign-in: vault write", "ms", stat(vault))
            .method("refresh token into gnome-keyring's Secret Service over D-Bus"),
    ])
}

async fn refresh_contention(inputs: &Inputs) -> Result<Vec<Figure>> {
    let ttl = Duration::from_secs(4);
    let stack = DevStack::start_with(Settings {
        access_token_ttl: ttl,
        ..Settings::default()
    })
    .await;
    let session = Session::new(config_for(&stack)?);
    session.login(as_user("jemma"), |_| {}).await?;
    let api = ApiClient::new(session.clone());
    let url = stack.api("/api/messages/protected");
    let (mut refreshes, mut totals, mut failures) = (vec![], vec![], 0usize);
    for _ in 0..inputs.runs {
        // The engine renews at half the lifetime: past that, every caller sees a stale token.
        tokio::time::sleep(ttl / 2 + Duration::from_millis(300)).await;
        let before = stack.idp.counters().refresh_grants.load(Ordering::SeqCst);
        let started = Instant::now();
        let calls: Vec<_> = (0..100)
            .map(|_| {
                let (api, url) = (api.clone(), url.clone());
                tokio::spawn(async move { api.get(&url).await })
            })
            .collect();
        for call in calls {
            match call.await? {
                Ok(response) if response.status == 200 => {}
                _ => failures += 1,
            }
        }
        totals.push(millis(started.elapsed()));
        let after = stack.idp.counters().refresh_grants.load(Ordering::SeqCst);
        refreshes.push((after - before) as f64);
    }
    session.logout().await;
    if failures > 0 {
        bail!("{failures} of the contended API calls failed");
    }
    Ok(vec![
        Figure::new("refresh_requests", "Refresh: requests for 100 concurrent calls", "requests", stat(refreshes))
            .target(Target::AtMost(1.0))
            .strict()
            .method("100 API calls started at once with an access token past its renewal time; refresh grants counted at the dev IdP; every run must show 1"),
        Figure::new("refresh_total_ms", "Refresh: 100 concurrent calls, total", "ms", stat(totals))
            .method("from the first call to the last answer (one refresh, then 100 API requests on loopback)"),
    ])
}

// ---------------------------------------------------------------------------------------------
// Start-up and memory: the release app in a real window under Xvfb.

/// The app started in its own process group, so it and its web view processes end together.
struct RunningApp {
    child: tokio::process::Child,
    started: SystemTime,
    report: PathBuf,
}

impl RunningApp {
    fn start(inputs: &Inputs, config: &Path, report: PathBuf) -> Result<Self> {
        let _ = std::fs::remove_file(&report);
        let started = SystemTime::now();
        let child = tokio::process::Command::new(&inputs.app)
            .env("LATCHKEY_CONFIG", config)
            .env("LATCHKEY_STARTUP_REPORT", &report)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", inputs.app.display()))?;
        Ok(Self {
            child,
            started,
            report,
        })
    }

    /// Seconds from the process's start to the UI's `mark`, waiting up to 30 s for it.
    async fn seconds_to(&self, mark: &str) -> Result<f64> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let text = std::fs::read_to_string(&self.report).unwrap_or_default();
            let found = text
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|line| line["mark"] == mark)
                .and_then(|line| line["unixMicros"].as_u64());
            if let Some(at) = found {
                let from = unix_micros(self.started);
                return Ok((u128::from(at).saturating_sub(from)) as f64 / 1e6);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!("the app never reported {mark}")
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn stop(mut self) {
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .arg("--")
                .arg(format!("-{pid}"))
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// The proportional set size (kB) of every process in process group `group`: the app and the
/// web view's WebKit processes, shared pages counted once in proportion.
fn group_pss_kb(group: u32) -> (f64, usize) {
    let mut total = 0.0;
    let mut processes = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (f64::NAN, 0);
    };
    for entry in entries.flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after the command name: state, ppid, pgrp, …
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|p| p.parse::<u32>().ok());
        if pgrp != Some(group) {
            continue;
        }
        let rollup = std::fs::read_to_string(entry.path().join("smaps_rollup")).unwrap_or_default();
        if let Some(kb) = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        {
            total += kb;
            processes += 1;
        }
    }
    (total, processes)
}

async fn startup(inputs: &Inputs) -> Result<Vec<Figure>> {
    let scratch = Scratch::new("latchkey-bench")?;
    let dir = scratch.0.clone();
    let report = dir.join("startup.jsonl");

    // Nobody signed in: the first paint of the signed-out window.
    let fresh = DevStack::start().await;
    let fresh_config = fresh.write_config(&dir);
    let mut first_paint = vec![];
    for _ in 0..inputs.runs {
        let app = RunningApp::start(inputs, &fresh_config, report.clone())?;
        first_paint.push(app.seconds_to("firstPaint").await?);
        app.stop().await;
    }

    // A stored session: start to the signed-in view, then idle memory.
    let stack = DevStack::start().await;
    let config = stack.write_config(&dir);
    let session = Session::new(Config::load(&config)?);
    session.login(as_user("jemma"), |_| {}).await?;
    let (mut restored, mut memory, mut processes) = (vec![], vec![], 0);
    for _ in 0..inputs.runs {
        let app = RunningApp::start(inputs, &config, report.clone())?;
        restored.push(app.seconds_to("signedIn").await?);
        tokio::time::sleep(Duration::from_secs(4)).await;
        if let Some(pid) = app.pid() {
            let (kb, count) = group_pss_kb(pid);
            memory.push(kb / 1024.0);
            processes = count;
        }
        app.stop().await;
    }
    Ok(vec![
        Figure::new("startup_first_paint_s", "Start-up: first paint", "s", stat(first_paint))
            .target(Target::AtMost(0.45))
            .method("release app under Xvfb, nothing stored: process spawn to the UI's first-render mark (the UI calls `mark`, the shell timestamps it)"),
        Figure::new("startup_restore_s", "Start-up: signed-in view with a stored session", "s", stat(restored))
            .target(Target::AtMost(0.5))
            .method("the same with a refresh token in the vault: process spawn to the signed-in view's first render (one refresh at the dev IdP on loopback)"),
        Figure::new("idle_pss_mib", format!("Idle memory after sign-in ({processes} processes)"), "MiB", stat(memory))
            .target(Target::AtMost(300.0))
            .method("PSS summed over the app's process group (the app and WebKit's web and network processes) 4 s after the signed-in view"),
    ])
}

// ---------------------------------------------------------------------------------------------
// API throughput: wrk against Latchkey's sample API and against Express + express-jwt.

/// A server under load, one process; killed when dropped. `start_servers` gives Latchkey's
/// sample API first, the Express peer second.
struct Server {
    url: String,
    _child: tokio::process::Child,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_for_port(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listens on port {port}")
}

async fn start_servers(inputs: &Inputs, issuer: &str, dir: &Path) -> Result<Vec<Server>> {
    let (rust_port, node_port) = (free_port()?, free_port()?);
    let rust = tokio::process::Command::new(&inputs.api)
        .args(["--port", &rust_port.to_string(), "--issuer", issuer])
        .args(["--audience", API_AUDIENCE])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("bench.sqlite3").display()),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the sample API")?;
    let node = tokio::process::Command::new("node")
        .arg(&inputs.peer)
        .env("ISSUER", issuer)
        .env("AUDIENCE", API_AUDIENCE)
        .env("JWKS_URI", format!("{issuer}.well-known/jwks.json"))
        .env("PORT", node_port.to_string())
        .env("NODE_ENV", "production")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the Express peer (node)")?;
    wait_for_port(rust_port).await?;
    wait_for_port(node_port).await?;
    Ok(vec![
        Server {
            url: format!("http://127.0.0.1:{rust_port}/api/messages/protected"),
            _child: rust,
        },
        Server {
            url: format!("http://127.0.0.1:{node_port}/api/messages/protected"),
            _child: node,
        },
    ])
}

/// A wrk script: the given `Authorization` headers in turn; `done` prints one JSON line.
fn wrk_script(headers: &[String]) -> String {
    let list = headers
        .iter()
        .map(|h| format!("{h:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"local auth = {{ {list} }}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) i = 0; s5xx = 0; s2xx = 0 end
function request()
  i = i + 1
  return wrk.format("GET", nil, {{ ["Authorization"] = auth[(i % #auth) + 1] }})
end
function response(status, headers, body)
  if status >= 500 then s5xx = s5xx + 1 end
  if status >= 200 and status < 300 then s2xx = s2xx + 1 end
end
function done(summary, latency, requests)
  local s5, s2 = 0, 0
  for _, t in ipairs(threads) do s5 = s5 + t:get("s5xx"); s2 = s2 + t:get("s2xx") end
  local e = summary.errors
  io.write(string.format('WRK {{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"s5xx":%d,"s2xx":%d}}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), s5, s2))
end
"#
    )
}

/// One wrk run; its `done` summary.
async fn wrk(url: &str, script: &Path, connections: u32, seconds: u32) -> Result<Value> {
    let output = tokio::process::Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .await
        .context("wrk (Debian package wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("WRK "))
        .with_context(|| format!("wrk printed no summary: {text}"))?;
    Ok(serde_json::from_str(line)?)
}

async fn api_throughput(inputs: &Inputs) -> Result<Vec<Figure>> {
    // The wrk scripts hold (throwaway) access tokens: the folder goes when this returns.
    let scratch = Scratch::new("latchkey-bench-api")?;
    let dir = scratch.0.clone();
    let idp = latchkey_dev_idp::DevIdp::start(Settings::default()).await?;
    let issuer = idp.issuer().to_owned();
    let servers = start_servers(inputs, &issuer, &dir).await?;
    let bearer = |t: String| format!("Bearer {t}");
    let valid: Vec<String> = ["jemma", "paul", "sebastian"]
        .iter()
        .map(|u| idp.access_token(u, API_AUDIENCE).map(bearer))
        .collect::<Result<_>>()?;
    let forged = {
        let (head, _) = valid[0].rsplit_once('.').context("a JWT")?;
        format!("{head}.AAAA")
    };
    let invalid = vec![
        forged,
        bearer(idp.access_token("jemma", "urn:another-api")?),
        "Bearer not-a-token".to_owned(),
        "Basic amVtbWE6dG9kbw==".to_owned(),
    ];
    let valid_script = dir.join("valid.lua");
    std::fs::write(&valid_script, wrk_script(&valid))?;
    let mixed_script = dir.join("mixed.lua");
    let mixed: Vec<String> = valid.iter().chain(&invalid).cloned().collect();
    std::fs::write(&mixed_script, wrk_script(&mixed))?;
    // Each peer gets a warm-up (JWKS fetched, JIT warm) before it is measured.
    for server in &servers {
        wrk(&server.url, &valid_script, 16, 2).await?;
    }

    let seconds = 8;
    let mut figures = vec![];
    for connections in [64, 256] {
        let mut rps: [Vec<f64>; 2] = Default::default();
        let mut p50: [Vec<f64>; 2] = Default::default();
        let mut p99: [Vec<f64>; 2] = Default::default();
        let mut non2xx = 0.0;
        // Alternate the peers so drift on a noisy machine touches both alike.
        for _ in 0..3 {
            for (i, server) in servers.iter().enumerate() {
                let r = wrk(&server.url, &valid_script, connections, seconds).await?;
                let requests = r["requests"].as_f64().unwrap_or(0.0);
                let duration = r["duration_us"].as_f64().unwrap_or(1.0) / 1e6;
                rps[i].push(requests / duration);
                p50[i].push(r["p50_us"].as_f64().unwrap_or(f64::NAN) / 1000.0);
                p99[i].push(r["p99_us"].as_f64().unwrap_or(f64::NAN) / 1000.0);
                if i == 0 {
                    non2xx += r["non2xx"].as_f64().unwrap_or(0.0)
                        + r["socket_errors"].as_f64().unwrap_or(0.0);
                }
            }
        }
        let ratio: Vec<f64> = rps[0].iter().zip(&rps[1]).map(|(a, b)| a / b).collect();
        let c = connections;
        let (rust_rps, node_rps) = (stat(rps[0].clone()), stat(rps[1].clone()));
        figures.push(
            Figure::new(if c == 64 { "api_rps_64" } else { "api_rps_256" }, format!("API {c} conn: latchkey-api"), "req/s", rust_rps)
                .method(format!("wrk -t1 -c{c} -d{seconds}s, GET /api/messages/protected with valid RS256 tokens (3 users in turn), 3 runs alternating with the peer")),
        );
        figures.push(
            Figure::new(if c == 64 { "peer_rps_64" } else { "peer_rps_256" }, format!("API {c} conn: Express + express-jwt + jwks-rsa"), "req/s", node_rps)
                .method("the same load on bench/peer/express-jwt.mjs (Node, one process), same tokens, same JWKS"),
        );
        figures.push(
            Figure::new(
                if c == 64 {
                    "api_ratio_64"
                } else {
                    "api_ratio_256"
                },
                format!("API {c} conn: throughput ratio"),
                "×",
                stat(ratio),
            )
            .target(Target::AtLeast(10.0))
            .method("latchkey-api req/s over Express req/s, run by run"),
        );
        figures.push(
            Figure::new(
                if c == 64 {
                    "api_p50_64_ms"
                } else {
                    "api_p50_256_ms"
                },
                format!("API {c} conn: latchkey-api p50"),
                "ms",
                stat(p50[0].clone()),
            )
            .method("wrk's latency percentile"),
        );
        figures.push({
            let f = Figure::new(
                if c == 64 {
                    "api_p99_64_ms"
                } else {
                    "api_p99_256_ms"
                },
                format!("API {c} conn: latchkey-api p99"),
                "ms",
                stat(p99[0].clone()),
            )
            .method("wrk's latency percentile");
            if c == 256 {
                f.target(Target::AtMost(5.0))
            } else {
                f
            }
        });
        figures.push(
            Figure::new(
                if c == 64 {
                    "peer_p99_64_ms"
                } else {
                    "peer_p99_256_ms"
                },
                format!("API {c} conn: Express p99"),
                "ms",
                stat(p99[1].clone()),
            )
            .method("wrk's latency percentile"),
        );
        figures.push(
            Figure::new(
                if c == 64 {
                    "api_valid_failures_64"
                } else {
                    "api_valid_failures_256"
                },
                format!("API {c} conn: non-2xx or socket errors, valid tokens"),
                "responses",
                stat(vec![non2xx]),
            )
            .target(Target::AtMost(0.0))
            .method("wrk's status and socket error counts over the 3 runs"),
        );
    }
    // Mixed load: 3 valid and 4 invalid credentials in turn; nothing may be a 5xx.
    let r = wrk(&servers[0].url, &mixed_script, 64, seconds).await?;
    let s5xx = r["s5xx"].as_f64().unwrap_or(f64::NAN);
    let share = r["s2xx"].as_f64().unwrap_or(0.0) / r["requests"].as_f64().unwrap_or(1.0);
    figures.push(
        Figure::new("api_mixed_5xx", "API mixed load: 5xx answers", "responses", stat(vec![s5xx]))
            .target(Target::AtMost(0.0))
            .method(format!("wrk -c64 -d{seconds}s with 3 valid and 4 invalid credentials in turn (bad signature, wrong audience, not a JWT, Basic); {:.0}% answered 2xx, 3/7 expected", share * 100.0)),
    );
    Ok(figures)
}

// ---------------------------------------------------------------------------------------------
// The report

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "cpu": model,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "memory_gib": (memory_gib * 10.0).round() / 10.0,
        "kernel": kernel.trim(),
    })
}

fn report(inputs: &Inputs, figures: &[Figure]) -> Result<()> {
    let machine = machine();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let verdict = |f: &Figure| match f.verdict() {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "",
    };
    let mut table = String::from(
        "| figure | median | min | max | runs | target | |\n|---|---|---|---|---|---|---|\n",
    );
    for f in figures {
        table.push_str(&format!(
            "| {} | {} {} | {} | {} | {} | {} | {} |\n",
            f.name,
            round(f.stat.median),
            f.unit,
            round(f.stat.min),
            round(f.stat.max),
            f.stat.runs,
            f.target.map(|t| t.describe(f.unit)).unwrap_or_default(),
            verdict(f),
        ));
    }
    println!("{table}");
    let missed: Vec<&str> = figures
        .iter()
        .filter(|f| f.verdict() == Some(false))
        .map(|f| f.name.as_str())
        .collect();
    let mut md = format!(
        "# Benchmark results\n\nCommit `{}`, {date}, on {} ({} cores, {} GiB, Linux {}). \
         Written by `cargo xtask bench`; every figure is the median of its runs.\n\n{table}\n",
        inputs.commit,
        machine["cpu"].as_str().unwrap_or_default(),
        machine["cores"],
        machine["memory_gib"],
        machine["kernel"].as_str().unwrap_or_default(),
    );
    if missed.is_empty() {
        md.push_str("Every target is met.\n\n");
    } else {
        md.push_str(&format!("Missed: {}.\n\n", missed.join("; ")));
    }
    md.push_str("## How each figure is measured\n\n");
    for f in figures {
        md.push_str(&format!("- **{}**: {}.\n", f.name, f.method));
    }
    let json = json!({
        "commit": inputs.commit,
        "date": date,
        "machine": machine,
        "figures": figures.iter().map(|f| json!({
            "key": f.key,
            "name": f.name,
            "unit": f.unit,
            "median": f.stat.median,
            "min": f.stat.min,
            "max": f.stat.max,
            "runs": f.stat.runs,
            "target": f.target.map(|t| t.describe(f.unit)),
            "met": f.verdict(),
            "method": f.method,
        })).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(&inputs.out)?;
    std::fs::write(
        inputs.out.join("results.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    std::fs::write(inputs.out.join("RESULTS.md"), md)?;
    println!(
        "results written to {} and {}",
        inputs.out.join("results.json").display(),
        inputs.out.join("RESULTS.md").display()
    );
    Ok(())
}
