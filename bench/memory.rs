//! Memory: the proportional set size of the app and its WebKit processes.

/// The proportional set size (kB) of every process in process group `group`: the app and the
/// web view's WebKit processes, shared pages counted once in proportion.
pub(crate) fn group_pss_kb(group: u32) -> (f64, usize) {
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
