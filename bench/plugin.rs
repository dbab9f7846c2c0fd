//! What tauri-plugin-latchkey costs an app: the empty Tauri app (`bench/empty-app`) against
//! the same app with the plugin added (`--features latchkey`) and a session stored for it,
//! run by run in turn: first paint, idle memory, idle CPU time over a minute, binary size.

use std::time::Duration;

use crate::memory::{cpu_seconds_between, group_cpu_ns, group_pss};
use crate::report::{Figure, Target, stat};
use crate::signin::{as_user, config_for};
use crate::startup::RunningApp;
use crate::{Inputs, Scratch};
use anyhow::{Result, bail};
use latchkey_auth::{AppIdentity, Session};
use latchkey_test_support::DevStack;
use std::sync::atomic::Ordering;

/// How long each app idles while its CPU time is read.
const IDLE_CPU: Duration = Duration::from_secs(60);
/// When its memory is read.
const IDLE_MEMORY: Duration = Duration::from_secs(4);

struct Run {
    first_paint: f64,
    pss: f64,
    cpu: f64,
}

async fn measure(app: RunningApp) -> Result<Run> {
    let first_paint = app.seconds_to("firstPaint").await?;
    tokio::time::sleep(IDLE_MEMORY).await;
    let Some(pid) = app.pid() else {
        bail!("the app ended before it idled");
    };
    let pss = group_pss(pid).total();
    let before = group_cpu_ns(pid);
    tokio::time::sleep(IDLE_CPU).await;
    let cpu = cpu_seconds_between(&before, &group_cpu_ns(pid));
    app.stop().await;
    Ok(Run {
        first_paint,
        pss,
        cpu,
    })
}

pub(crate) async fn plugin_cost(inputs: &Inputs) -> Result<Vec<Figure>> {
    let scratch = Scratch::new("latchkey-bench-plugin")?;
    let report = scratch.0.join("startup.jsonl");
    let stack = DevStack::start().await;
    let config = stack.write_config(&scratch.0);
    // The session the plugin app restores: stored under the app's own identity (its product
    // name, its identifier as the vault service), as the plugin does by default.
    let identity =
        AppIdentity::new("Latchkey bench empty app").with_vault_service("dev.latchkey.bench-empty");
    Session::builder(config_for(&stack)?)
        .app(identity)
        .build()
        .login(as_user("jemma"), |_| {})
        .await?;
    let runs = inputs.runs.min(3);
    let (mut empty, mut plugin, mut idle_refreshes) = (vec![], vec![], vec![]);
    for _ in 0..runs {
        empty.push(
            measure(RunningApp::start_program(
                &inputs.empty_app,
                None,
                &[],
                report.clone(),
            )?)
            .await?,
        );
        let grants = || stack.idp.counters().refresh_grants.load(Ordering::SeqCst);
        let before = grants();
        let app = RunningApp::start_program(
            &inputs.plugin_app,
            None,
            &[("LATCHKEY_CONFIG", config.to_str().unwrap_or_default())],
            report.clone(),
        )?;
        let run = measure(app).await?;
        let refreshes = grants() - before;
        if refreshes == 0 {
            bail!("the app with the plugin never restored its session (no refresh at the dev IdP)");
        }
        // The one refresh of the restore; any other was the idle app waking up to refresh.
        idle_refreshes.push((refreshes - 1) as f64);
        plugin.push(run);
    }
    let pairs = |f: fn(&Run, &Run) -> f64| -> Vec<f64> {
        plugin.iter().zip(&empty).map(|(p, e)| f(p, e)).collect()
    };
    let size =
        |path: &std::path::Path| std::fs::metadata(path).map_or(f64::NAN, |m| m.len() as f64 / 1e6);
    let size_over = size(&inputs.plugin_app) - size(&inputs.empty_app);
    Ok(vec![
        Figure::new("plugin_first_paint_ratio", "Plugin: first paint, with / without", "×", stat(pairs(|p, e| p.first_paint / e.first_paint)))
            .target(Target::AtMost(1.05))
            .method("bench/empty-app with and without tauri-plugin-latchkey (restoring a stored session at start), release, under Xvfb, run by run in turn"),
        Figure::new("plugin_idle_pss_over_mib", "Plugin: idle memory added", "MiB", stat(pairs(|p, e| p.pss - e.pss)))
            .target(Target::AtMost(10.0))
            .method("PSS of the process group 4 s after first paint, with minus without, run by run"),
        Figure::new("plugin_idle_cpu_s", "Plugin: idle CPU time over 60 s, with the plugin", "s", stat(plugin.iter().map(|r| r.cpu).collect()))
            .method("time the process group's threads ran (scheduler nanoseconds) from 4 s to 64 s after first paint, signed in"),
        Figure::new("plugin_empty_idle_cpu_s", "Plugin: idle CPU time over 60 s, empty app", "s", stat(empty.iter().map(|r| r.cpu).collect()))
            .method("the same for the empty app"),
        Figure::new("plugin_idle_cpu_ratio", "Plugin: idle CPU time, with / without", "×", stat(pairs(|p, e| p.cpu / e.cpu.max(0.001))))
            .target(Target::AtMost(1.1))
            .method("run by run, from the scheduler's per-thread nanoseconds (the empty app's time floored at 1 ms)"),
        Figure::new("plugin_idle_refreshes", "Plugin: refreshes while idle", "requests", stat(idle_refreshes))
            .target(Target::AtMost(0.0))
            .method("refresh grants at the dev IdP during start and a minute of idle, minus the restore's one (access tokens live 10 minutes)"),
        Figure::new("plugin_binary_over_mb", "Plugin: release binary added", "MB", stat(vec![size_over]))
            .target(Target::AtMost(3.0))
            .method("stripped release binary with the plugin minus without (fat LTO, opt-level s); MB = 10^6 bytes"),
    ])
}
