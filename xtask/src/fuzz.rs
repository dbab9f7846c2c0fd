//! `cargo xtask fuzz [--seconds N]`: runs every fuzz target in `fuzz/` for a bounded time
//! (60 s each by default) from its committed seeds, with cargo-fuzz on the nightly
//! toolchain (both installed here when missing). The test run calls [`run_targets`] for a
//! short smoke of each, so a regression shows in every run. A crash fails the run and names
//! the input that caused it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;
use crate::install::ensure_cargo_tool;
use crate::util::{run, target_dir, workspace_root};

/// Every target, as named in fuzz/Cargo.toml.
pub(crate) const TARGETS: [&str; 9] = [
    "callback",
    "token_response",
    "id_token",
    "discovery",
    "jwks",
    "auth_config",
    "deep_link",
    "bearer",
    "dpop_proof",
];

/// The seconds each target runs in the test run's smoke.
pub(crate) const SMOKE_SECONDS: u64 = 10;

const CARGO_FUZZ_VERSION: &str = "0.13.2";

pub(crate) fn fuzz(args: &[String]) -> Result {
    let seconds = match args.iter().position(|a| a == "--seconds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|&n| n > 0)
            .ok_or("--seconds wants a whole number of seconds, at least 1")?,
        None => 60,
    };
    let figures = run_targets(seconds)?;
    println!("fuzz: {seconds} s per target, 0 crashes");
    for (target, runs) in figures {
        println!("  {target:<16} {runs:>10} inputs");
    }
    Ok(())
}

/// Runs each target for `seconds`; returns how many inputs each tried.
pub(crate) fn run_targets(seconds: u64) -> Result<Vec<(&'static str, u64)>> {
    ensure_nightly()?;
    ensure_cargo_tool("cargo-fuzz", CARGO_FUZZ_VERSION, true)?;
    let root = workspace_root();
    let target = target_dir();
    // One build for all targets; a fresh build is a no-op when nothing changed.
    run(fuzz_command(&target)
        .args(["build", "--sanitizer", "none", "--target-dir"])
        .arg(fuzz_target_dir(&target)))?;
    let mut figures = Vec::new();
    for name in TARGETS {
        let seeds = root.join("fuzz/seeds").join(name);
        // New inputs the fuzzer finds go outside the checkout, so the run leaves git clean.
        let corpus = target.join("fuzz-corpus").join(name);
        let artifacts = target.join("fuzz-artifacts").join(name);
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let output = fuzz_command(&target)
            .args(["run", "--sanitizer", "none", "--target-dir"])
            .arg(fuzz_target_dir(&target))
            .arg(name)
            .arg(&corpus)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1")
            .output()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        let log = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
            return Err(format!(
                "the fuzz target {name} crashed; its input is in {} — fix the crash and add the input as a regression test",
                artifacts.display()
            ));
        }
        let runs = fuzzed(name, &log)?;
        eprintln!("xtask: fuzz target {name}: {runs} inputs in {seconds} s, no crash");
        figures.push((name, runs));
    }
    Ok(figures)
}

/// `cargo +nightly fuzz …` in the checkout, building into the shared target dir.
fn fuzz_command(_target: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(workspace_root())
        .arg("+nightly")
        .arg("fuzz")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO");
    cmd
}

fn fuzz_target_dir(target: &Path) -> PathBuf {
    target.join("fuzz")
}

/// The fewest inputs a target must run in the smoke for its "no crash" to mean anything:
/// the slowest target runs thousands a second here, and one that returns before fuzzing
/// (or whose run ends at once) runs a handful.
pub(crate) const MIN_FUZZ_INPUTS: u64 = 1000;

/// How many inputs target `name` ran, from its log; an error names the target when it did
/// not really fuzz.
fn fuzzed(name: &str, log: &str) -> Result<u64> {
    match executed(log) {
        None => Err(format!(
            "the fuzz target {name} printed no final count of executed inputs: it ended before fuzzing"
        )),
        Some(runs) if runs < MIN_FUZZ_INPUTS => Err(format!(
            "the fuzz target {name} ran only {runs} inputs (at least {MIN_FUZZ_INPUTS} expected): it is not fuzzing"
        )),
        Some(runs) => Ok(runs),
    }
}

/// libFuzzer's final count (`stat::number_of_executed_units: N`).
fn executed(log: &str) -> Option<u64> {
    log.lines()
        .find_map(|line| line.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok())
}

/// The nightly toolchain (cargo-fuzz needs it), installed from rustup when missing.
fn ensure_nightly() -> Result {
    let listed = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if listed.lines().any(|l| l.starts_with("nightly-")) {
        return Ok(());
    }
    run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_seeds_and_a_source() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
        for name in TARGETS {
            assert!(manifest.contains(&format!("name = \"{name}\"")), "{name}");
            assert!(
                root.join(format!("fuzz/fuzz_targets/{name}.rs")).exists(),
                "{name}"
            );
            let seeds = std::fs::read_dir(root.join("fuzz/seeds").join(name))
                .map(|dir| dir.count())
                .unwrap_or(0);
            assert!(seeds > 0, "{name} has no committed seeds");
        }
    }

    #[test]
    fn the_executed_count_is_read_from_libfuzzers_stats() {
        let log = "#1024 DONE\nstat::number_of_executed_units: 847539\nstat::peak_rss_mb: 40\n";
        assert_eq!(executed(log), Some(847_539));
        assert_eq!(executed("crashed"), None);
    }

    #[test]
    fn a_target_that_does_not_fuzz_fails_the_smoke_by_name() {
        let ran = |n: u64| format!("stat::number_of_executed_units: {n}\n");
        assert_eq!(fuzzed("callback", &ran(50_000)).unwrap(), 50_000);
        let few = fuzzed("callback", &ran(12)).unwrap_err();
        assert!(few.contains("callback") && few.contains("only 12"), "{few}");
        let none = fuzzed("id_token", "INFO: Seed: 1\n").unwrap_err();
        assert!(none.contains("id_token"), "{none}");
    }
}
