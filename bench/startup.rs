//! Start-up: first paint and the signed-in view of the release app under Xvfb.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use crate::memory::group_pss_kb;
use crate::report::{Figure, Target, stat};
use crate::signin::as_user;
use crate::{Inputs, Scratch, unix_micros};
use anyhow::{Context, Result, bail};
use latchkey_auth::{Config, Session};
use latchkey_test_support::DevStack;
use serde_json::Value;

/// The app started in its own process group, so it and its web view processes end together.
pub(crate) struct RunningApp {
    pub(crate) child: tokio::process::Child,
    pub(crate) started: SystemTime,
    pub(crate) report: PathBuf,
}

impl RunningApp {
    pub(crate) fn start(inputs: &Inputs, config: &Path, report: PathBuf) -> Result<Self> {
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
    pub(crate) async fn seconds_to(&self, mark: &str) -> Result<f64> {
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

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub(crate) async fn stop(mut self) {
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .arg("--")
                .arg(format!("-{pid}"))
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

pub(crate) async fn startup(inputs: &Inputs) -> Result<Vec<Figure>> {
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
