//! Start-up: first paint and the signed-in view of the release app under Xvfb, and the same
//! figures of an empty Tauri app (`bench/empty-app`) measured the same way in the same run:
//! the floor that WebKit and Tauri set on this machine.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use crate::memory::{GroupPss, group_pss};
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
        Self::start_program(&inputs.app, Some(config), &[], report)
    }

    /// `program` (Latchkey with `config`, or the empty app without one).
    pub(crate) fn start_program(
        program: &Path,
        config: Option<&Path>,
        env: &[(&str, &str)],
        report: PathBuf,
    ) -> Result<Self> {
        let _ = std::fs::remove_file(&report);
        let started = SystemTime::now();
        let mut command = tokio::process::Command::new(program);
        if let Some(config) = config {
            command.env("LATCHKEY_CONFIG", config);
        }
        command.envs(env.iter().copied());
        let child = command
            .env("LATCHKEY_STARTUP_REPORT", &report)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
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

    // Nobody signed in: the first paint of the signed-out window, and of the empty app (then
    // its idle memory), run by run in turn so drift on a noisy machine touches both alike.
    let fresh = DevStack::start().await;
    let fresh_config = fresh.write_config(&dir);
    let (mut first_paint, mut empty_paint, mut empty_memory) = (vec![], vec![], vec![]);
    let mut empty_software_memory = vec![];
    for _ in 0..inputs.runs {
        let app = RunningApp::start(inputs, &fresh_config, report.clone())?;
        first_paint.push(app.seconds_to("firstPaint").await?);
        app.stop().await;
        let empty = RunningApp::start_program(&inputs.empty_app, None, &[], report.clone())?;
        empty_paint.push(empty.seconds_to("firstPaint").await?);
        tokio::time::sleep(IDLE).await;
        if let Some(pid) = empty.pid() {
            empty_memory.push(group_pss(pid));
        }
        empty.stop().await;
        // Latchkey's shell has WebKitGTK composite in software; the same choice for the empty
        // app, by WebKit's own variable, is the like-for-like floor.
        let empty = RunningApp::start_program(
            &inputs.empty_app,
            None,
            &[("WEBKIT_DISABLE_COMPOSITING_MODE", "1")],
            report.clone(),
        )?;
        empty.seconds_to("firstPaint").await?;
        tokio::time::sleep(IDLE).await;
        if let Some(pid) = empty.pid() {
            empty_software_memory.push(group_pss(pid));
        }
        empty.stop().await;
    }

    // A stored session: start to the signed-in view, then idle memory.
    let stack = DevStack::start().await;
    let config = stack.write_config(&dir);
    let session = Session::new(Config::load(&config)?);
    session.login(as_user("jemma"), |_| {}).await?;
    let (mut restored, mut memory) = (vec![], vec![]);
    for _ in 0..inputs.runs {
        let app = RunningApp::start(inputs, &config, report.clone())?;
        restored.push(app.seconds_to("signedIn").await?);
        tokio::time::sleep(IDLE).await;
        if let Some(pid) = app.pid() {
            memory.push(group_pss(pid));
        }
        app.stop().await;
    }
    let pairs = |a: &[f64], b: &[f64], f: fn(f64, f64) -> f64| -> Vec<f64> {
        a.iter().zip(b).map(|(a, b)| f(*a, *b)).collect()
    };
    let paint_ratio = pairs(&first_paint, &empty_paint, |a, b| a / b);
    let restore_after_paint = pairs(&restored, &first_paint, |a, b| (a - b) * 1000.0);
    let part =
        |runs: &[GroupPss], of: fn(&GroupPss) -> f64| -> Vec<f64> { runs.iter().map(of).collect() };
    // Latchkey minus a floor, run by run, in total or for one part of the process group.
    let over = |floor: &[GroupPss], of: fn(&GroupPss) -> f64| {
        pairs(&part(&memory, of), &part(floor, of), |a, b| a - b)
    };
    let over_empty = |of: fn(&GroupPss) -> f64| over(&empty_memory, of);
    let processes = memory.last().map_or(0, |m| m.processes);
    let empty_processes = empty_memory.last().map_or(0, |m| m.processes);
    Ok(vec![
        Figure::new("startup_first_paint_s", "Start-up: first paint", "s", stat(first_paint))
            .method("release app under Xvfb, nothing stored: process spawn to the UI's first-render mark (the UI calls `mark`, the shell timestamps it)"),
        Figure::new("startup_empty_first_paint_s", "Start-up: first paint, empty Tauri app", "s", stat(empty_paint))
            .method("bench/empty-app (one static page calling the same `mark` on its first frame), same release profile and WebKit, run by run in turn with Latchkey"),
        Figure::new("startup_first_paint_ratio", "Start-up: first paint, Latchkey / empty app", "×", stat(paint_ratio))
            .target(Target::AtMost(1.2))
            .method("run by run"),
        Figure::new("startup_restore_s", "Start-up: signed-in view with a stored session", "s", stat(restored))
            .method("the same with a refresh token in the vault: process spawn to the signed-in view's first render (one refresh at the dev IdP on loopback)"),
        Figure::new("startup_restore_after_paint_ms", "Start-up: signed-in view after Latchkey's own first paint", "ms", stat(restore_after_paint))
            .target(Target::AtMost(100.0))
            .method("signed-in view of run i minus first paint of run i"),
        Figure::new("idle_pss_mib", format!("Idle memory after sign-in ({processes} processes)"), "MiB", stat(part(&memory, GroupPss::total)))
            .method("PSS summed over the app's process group (the app and WebKit's web and network processes) 4 s after the signed-in view; Latchkey's shell has WebKitGTK composite in software"),
        Figure::new("empty_idle_pss_mib", format!("Idle memory, empty Tauri app ({empty_processes} processes)"), "MiB", stat(part(&empty_memory, GroupPss::total)))
            .method("the same sum for the empty app with WebKit's defaults, 4 s after its first paint"),
        Figure::new("idle_pss_over_empty_mib", "Idle memory, Latchkey minus empty app", "MiB", stat(over_empty(GroupPss::total)))
            .target(Target::AtMost(30.0))
            .method("run by run"),
        Figure::new("idle_pss_over_empty_app_mib", "… of which the app's own process", "MiB", stat(over_empty(|m| m.app)))
            .method("the Rust shell's process alone, Latchkey minus empty app, run by run"),
        Figure::new("idle_pss_over_empty_web_mib", "… of which WebKit's web process", "MiB", stat(over_empty(|m| m.web)))
            .method("the process that runs the page (its JavaScript, WebAssembly and rendering), run by run"),
        Figure::new("idle_pss_over_empty_other_mib", "… of which WebKit's network process", "MiB", stat(over_empty(|m| m.other)))
            .method("the group's other processes, run by run"),
        Figure::new("empty_software_idle_pss_mib", "Idle memory, empty Tauri app composited in software", "MiB", stat(part(&empty_software_memory, GroupPss::total)))
            .method("the empty app with WEBKIT_DISABLE_COMPOSITING_MODE=1, Latchkey's choice, measured the same way in the same runs"),
        Figure::new("idle_pss_over_empty_software_mib", "Idle memory, Latchkey minus empty app composited in software", "MiB", stat(over(&empty_software_memory, GroupPss::total)))
            .target(Target::AtMost(30.0))
            .method("run by run: the like-for-like floor"),
        Figure::new("idle_pss_over_empty_software_web_mib", "… of which WebKit's web process (like for like)", "MiB", stat(over(&empty_software_memory, |m| m.web)))
            .method("run by run"),
    ])
}

/// How long an app idles before its memory is read.
const IDLE: Duration = Duration::from_secs(4);
