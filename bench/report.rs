//! The figures: statistics, targets, and the report (table, results.json, RESULTS.md).

use crate::Inputs;
use anyhow::Result;
use serde_json::{Value, json};

/// Median, min and max of a series.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) runs: usize,
}

pub(crate) fn stat(mut values: Vec<f64>) -> Stat {
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
pub(crate) enum Target {
    AtMost(f64),
    AtLeast(f64),
}

impl Target {
    pub(crate) fn met(self, value: f64) -> bool {
        match self {
            Self::AtMost(limit) => value <= limit,
            Self::AtLeast(floor) => value >= floor,
        }
    }

    pub(crate) fn describe(self, unit: &str) -> String {
        match self {
            Self::AtMost(limit) => format!("≤ {} {unit}", round(limit)),
            Self::AtLeast(floor) => format!("≥ {} {unit}", round(floor)),
        }
    }
}

/// One measured figure: what it is, how it was measured, and what it should be.
pub(crate) struct Figure {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) stat: Stat,
    /// Compared with the median; `strict` compares the worst run instead.
    pub(crate) target: Option<Target>,
    pub(crate) strict: bool,
    pub(crate) method: String,
}

impl Figure {
    pub(crate) fn new(
        key: impl Into<String>,
        name: impl Into<String>,
        unit: &'static str,
        stat: Stat,
    ) -> Self {
        Self {
            key: key.into(),
            name: name.into(),
            unit,
            stat,
            target: None,
            strict: false,
            method: String::new(),
        }
    }

    pub(crate) fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Every run must meet the target, not only the median.
    pub(crate) fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    pub(crate) fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into();
        self
    }

    pub(crate) fn verdict(&self) -> Option<bool> {
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

pub(crate) fn round(value: f64) -> String {
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

pub(crate) fn machine() -> Value {
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

/// The figures as a Markdown table, each with its verdict against its target.
pub(crate) fn table(figures: &[Figure]) -> String {
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
    table
}

pub(crate) fn report(inputs: &Inputs, figures: &[Figure]) -> Result<()> {
    let machine = machine();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let table = table(figures);
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
