//! Memory: the proportional set size of the app and its WebKit processes.

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

/// The CPU time (user and system, seconds) the processes of group `group` have used so far.
pub(crate) fn group_cpu_seconds(group: u32) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return f64::NAN;
    };
    // USER_HZ: 100 on every Linux this runs on (procfs reports clock ticks).
    const TICKS_PER_SECOND: f64 = 100.0;
    let mut ticks = 0u64;
    for entry in entries.flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        // After `comm`: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime …
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|p| p.parse::<u32>().ok()) != Some(group) {
            continue;
        }
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += field(11) + field(12);
    }
    ticks as f64 / TICKS_PER_SECOND
}
