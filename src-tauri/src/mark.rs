//! Start-up marks for `cargo xtask bench`: the UI reports moments it rendered, the shell
//! appends the first of each to a report file, timed from outside.

use std::collections::HashSet;
use std::sync::Mutex;

use latchkey_ipc::StartupMark;
use tauri::State;

/// The environment variable naming a file where start-up marks are appended (for
/// `cargo xtask bench`); unset, `mark` records nothing.
pub const STARTUP_REPORT_ENV: &str = "LATCHKEY_STARTUP_REPORT";

/// The start-up marks already recorded (the first of each counts).
#[derive(Default)]
pub struct Marks(Mutex<HashSet<StartupMark>>);

/// The UI rendered a moment of start-up. With `LATCHKEY_STARTUP_REPORT` set, the first of each
/// mark is appended there as `{"mark":…,"unixMicros":…}`, so a benchmark can time it from the
/// process's start.
#[tauri::command]
pub fn mark(marks: State<'_, Marks>, name: StartupMark) {
    let Some(path) = std::env::var_os(STARTUP_REPORT_ENV) else {
        return;
    };
    let first = marks
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(name);
    if !first {
        return;
    }
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let line = serde_json::json!({ "mark": name, "unixMicros": micros }).to_string();
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, format!("{line}\n").as_bytes()));
    if let Err(err) = written {
        tracing::warn!("could not write the start-up report: {err}");
    }
}
