//! The app build the test run and the demo share, `cargo xtask demo` and `cargo xtask dev-stack`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

use crate::install::{BUILD_PACKAGES, ensure_packages};

use crate::ui::ui;
use crate::util::{cargo, home, run, target_dir, workspace_root};

/// A debug build of `package` (Latchkey, or the plugin's example app) with its UI built in,
/// and `features` too. The window tests add `ipc-observer`; `demo` builds the app as it is.
pub(crate) fn build_app(package: &str, features: &[&str]) -> Result {
    let features = std::iter::once("custom-protocol")
        .chain(features.iter().copied())
        .collect::<Vec<_>>()
        .join(",");
    run(cargo().args(["build", "--quiet", "-p", package, "--features", &features]))
}

/// Builds the app, starts the dev stack, and runs the app against it until its window closes.
pub(crate) fn demo() -> Result {
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
    build_app("latchkey", &[])?;
    let target = target_dir();
    let (mut idp, mut api) = start_dev_stack(&target)?;
    eprintln!("xtask: sign in as jemma, paul or sebastian (admin), password `todo`");
    let mut app = Command::new(target.join("debug/latchkey"));
    app.env("LATCHKEY_CONFIG", dev_stack_config());
    // Without a desktop session bus (a fresh server, `xvfb-run`) there is no Secret Service:
    // the demo brings its own, as the test run does, so the real vault is what it shows.
    let own_vault = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none();
    let runtime = if own_vault {
        Some(demo_vault(&mut app)?)
    } else {
        None
    };
    let status = app.status();
    if let Some(runtime) = runtime {
        crate::stage::stop_keyring_daemons(&runtime);
    }
    let _ = api.kill();
    let _ = idp.kill();
    status
        .map(|_| ())
        .map_err(|e| format!("cannot run the app: {e}"))
}

/// Runs `app` inside its own D-Bus session with a gnome-keyring Secret Service whose keyring
/// lives in the demo's own folder (never the user's login keyring), unlocked with a fixed
/// password: it holds only the dev stack's tokens. Returns the runtime dir of its daemon.
fn demo_vault(app: &mut Command) -> Result<PathBuf> {
    let demo = home().join(".local/share/latchkey/demo-vault");
    let keyrings = demo.join("data");
    let runtime = demo.join("run");
    for dir in [&keyrings, &runtime] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        set_private(dir)?;
    }
    eprintln!(
        "xtask: no desktop session bus; the demo starts its own Secret Service (keyring in {})",
        keyrings.display()
    );
    let program = app.get_program().to_owned();
    let args: Vec<_> = app.get_args().map(|a| a.to_owned()).collect();
    let mut wrapped = Command::new("dbus-run-session");
    wrapped
        .args(["--", "sh", "-c"])
        .arg(
            "printf latchkey-demo | XDG_DATA_HOME=\"$LATCHKEY_DEMO_KEYRINGS\" \
             gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"",
        )
        .arg("sh")
        .arg(program)
        .args(args)
        .env("LATCHKEY_DEMO_KEYRINGS", &keyrings)
        .env("XDG_RUNTIME_DIR", &runtime);
    for (key, value) in app.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    *app = wrapped;
    Ok(runtime)
}

#[cfg(unix)]
fn set_private(dir: &Path) -> Result {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(not(unix))]
fn set_private(_dir: &Path) -> Result {
    Ok(())
}

pub(crate) fn dev_stack() -> Result {
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

/// The `auth_config.json` for the dev stack (the same file the window's setup page shows).
pub(crate) fn dev_stack_config() -> PathBuf {
    workspace_root().join("dev-stack.json")
}

/// Builds and starts the dev IdP and the sample API on their default loopback ports.
pub(crate) fn start_dev_stack(target: &Path) -> Result<(std::process::Child, std::process::Child)> {
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
pub(crate) fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read;
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buffer))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}
