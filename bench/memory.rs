//! Memory and CPU: the proportional set size of the app and its WebKit processes, and the
//! time their threads run.

use std::collections::HashMap;

/// The proportional set size (MiB) of one app's process group, by the part each process plays.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GroupPss {
    /// The app's own process: the Rust shell.
    pub(crate) app: f64,
    /// WebKit's web processes: the page, its JavaScript and WebAssembly, its rendering.
    pub(crate) web: f64,
    /// WebKit's network process (and any other process in the group).
    pub(crate) other: f64,
    pub(crate) processes: usize,
}

impl GroupPss {
    pub(crate) fn total(&self) -> f64 {
        self.app + self.web + self.other
    }
}

/// The PSS of every process in process group `group` (the app is its leader): the app and the
/// web view's WebKit processes, shared pages counted once in proportion.
pub(crate) fn group_pss(group: u32) -> GroupPss {
    let mut sum = GroupPss::default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return GroupPss {
            app: f64::NAN,
            ..sum
        };
    };
    for entry in entries.flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // `pid (comm) state ppid pgrp …`; comm may hold spaces or parentheses.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let pid = head
            .split_whitespace()
            .next()
            .and_then(|p| p.parse::<u32>().ok());
        let comm = head.split_once('(').map_or("", |(_, comm)| comm);
        let pgrp = rest
            .split_whitespace()
            .nth(2)
            .and_then(|p| p.parse::<u32>().ok());
        if pgrp != Some(group) {
            continue;
        }
        let rollup = std::fs::read_to_string(entry.path().join("smaps_rollup")).unwrap_or_default();
        let Some(kb) = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        else {
            continue;
        };
        let mib = kb / 1024.0;
        if pid == Some(group) {
            sum.app += mib;
        } else if comm.starts_with("WebKitWebProces") {
            sum.web += mib;
        } else {
            sum.other += mib;
        }
        sum.processes += 1;
    }
    sum
}

/// The CPU time each thread of the processes of group `group` has run so far, in nanoseconds
/// (`/proc/PID/task/TID/schedstat`: the scheduler's own account, exact where `stat`'s
/// utime and stime count 10 ms clock ticks, too coarse for an idle minute).
pub(crate) fn group_cpu_ns(group: u32) -> HashMap<(u32, u32), u64> {
    let mut threads = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return threads;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        // After `comm`: state ppid pgrp …
        if rest
            .split_whitespace()
            .nth(2)
            .and_then(|p| p.parse::<u32>().ok())
            != Some(group)
        {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(entry.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<u32>().ok())
            else {
                continue;
            };
            let schedstat =
                std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            if let Some(ns) = schedstat
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
            {
                threads.insert((pid, tid), ns);
            }
        }
    }
    threads
}

/// The CPU seconds the group's threads ran between two [`group_cpu_ns`] readings: every
/// thread alive at the second, less what it had run at the first. A thread that ended in
/// between is not counted (an idle app starts and ends none it would run in).
pub(crate) fn cpu_seconds_between(
    before: &HashMap<(u32, u32), u64>,
    after: &HashMap<(u32, u32), u64>,
) -> f64 {
    let ns: u64 = after
        .iter()
        .map(|(thread, ns)| ns.saturating_sub(before.get(thread).copied().unwrap_or(0)))
        .sum();
    ns as f64 / 1e9
}
