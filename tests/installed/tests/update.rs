//! Updates end to end, offline, as a person takes them. `cargo xtask test` builds version N
//! (the workspace's) and N+1 of the .deb (debug builds differing by their version), both
//! knowing a throwaway update key; signs N+1 with it and writes its manifest as the release
//! workflow does. This test installs N with dpkg, serves the manifest and the package from a
//! loopback server, starts N under Xvfb and plays every case against it: the server down
//! (quiet, retried), a manifest too large, one not newer, one without this format, a package
//! with one byte changed, a package far too large, a download cancelled, and at last the
//! real update, after which N+1 is installed (dpkg says so) and running (its window says so).
//!
//! Installing needs root: the app asks `pkexec` as it does on a desktop, and the test puts a
//! stand-in for it first on PATH that records the call and runs it (the test runs as root).
//! The shipped app never skips the prompt.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

#[path = "../../e2e/tests/window/mod.rs"]
mod window;
use window::*;

const PLACEHOLDER: &str = "http://updates.invalid/latchkey";
const INSTALLED: &str = env!("CARGO_PKG_VERSION");
const NEXT: &str = "0.1.1";

fn required(var: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: `cargo xtask test` builds the packages and runs this")
    })
}

/// What the loopback update server answers for the manifest.
#[derive(Clone)]
enum Manifest {
    Unavailable,
    TooLarge,
    Json(String),
}

struct Server {
    manifest: Mutex<Manifest>,
    manifest_requests: AtomicUsize,
    package_name: String,
    package: Bytes,
}

async fn serve_manifest(State(server): State<Arc<Server>>) -> Response {
    server.manifest_requests.fetch_add(1, Ordering::SeqCst);
    let answer = server.manifest.lock().unwrap().clone();
    match answer {
        Manifest::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Manifest::TooLarge => {
            let mut body = " ".repeat(2 * 1024 * 1024);
            body.push_str("{}");
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Manifest::Json(json) => {
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }
    }
}

async fn serve_package(
    State(server): State<Arc<Server>>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    let octets = [(header::CONTENT_TYPE, "application/octet-stream")];
    if name == server.package_name {
        return (octets, server.package.clone()).into_response();
    }
    match name.as_str() {
        // The real package with one byte changed, as a broken mirror or an attacker would
        // serve it.
        "tampered.deb" => {
            let mut bytes = server.package.to_vec();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
            (octets, bytes).into_response()
        }
        // Says it is 600 MiB and sends 64 KiB, then nothing: refused on its size alone.
        "huge.deb" => {
            let first = Bytes::from(vec![0u8; 64 * 1024]);
            let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) })
                .chain(futures_util::stream::pending());
            Response::builder()
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, 600u64 * 1024 * 1024)
                .body(Body::from_stream(stream))
                .unwrap()
        }
        // The real package, 64 KiB every 50 ms: slow enough to cancel.
        "slow.deb" => {
            let bytes = server.package.clone();
            let length = bytes.len();
            let chunks: Vec<Bytes> = (0..length)
                .step_by(64 * 1024)
                .map(|at| bytes.slice(at..(at + 64 * 1024).min(length)))
                .collect();
            let stream = futures_util::stream::iter(chunks).then(|chunk| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, std::io::Error>(chunk)
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, length)
                .body(Body::from_stream(stream))
                .unwrap()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

use futures_util::StreamExt;

/// The version dpkg has recorded for the installed `latchkey`.
fn installed_version() -> String {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "latchkey"])
        .output()
        .expect("dpkg-query runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn dpkg(args: &[&str]) {
    let status = std::process::Command::new("dpkg")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("dpkg runs");
    assert!(status.success(), "dpkg {args:?}: {status}");
}

/// Processes running the installed binary as it is on disk now (a process started before
/// dpkg replaced it runs a deleted file).
fn processes_of(binary: &Path) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            (exe == binary).then_some(pid)
        })
        .collect()
}

async fn until<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_installed_deb_takes_a_signed_update_and_refuses_every_bad_one() {
    let installed_deb = required("LATCHKEY_UPDATE_INSTALLED_DEB");
    let release_manifest = std::fs::read_to_string(required("LATCHKEY_UPDATE_MANIFEST")).unwrap();
    let next_dir = required("LATCHKEY_UPDATE_MANIFEST")
        .parent()
        .unwrap()
        .to_path_buf();

    // The manifest as the release workflow wrote it, its package beside it.
    let manifest: Value = serde_json::from_str(&release_manifest).unwrap();
    assert_eq!(manifest["version"], NEXT);
    let entry = &manifest["platforms"]["linux-x86_64-deb"];
    let url = entry["url"].as_str().expect("a linux-x86_64-deb entry");
    let package_name = url.rsplit('/').next().unwrap().to_owned();
    let package = Bytes::from(std::fs::read(next_dir.join(&package_name)).unwrap());

    let server = Arc::new(Server {
        manifest: Mutex::new(Manifest::Unavailable),
        manifest_requests: AtomicUsize::new(0),
        package_name: package_name.clone(),
        package,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/latchkey", listener.local_addr().unwrap());
    let routes = Router::new()
        .route("/latchkey/latest.json", get(serve_manifest))
        .route("/latchkey/{name}", get(serve_package))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await });
    let serve = |edit: &dyn Fn(&mut Value)| {
        let mut m: Value =
            serde_json::from_str(&release_manifest.replace(PLACEHOLDER, &base)).unwrap();
        edit(&mut m);
        *server.manifest.lock().unwrap() = Manifest::Json(m.to_string());
    };
    // Each case's offer says which it is, so the test installs the one it just checked for.
    let package_at = |name: &str| {
        let (url, notes) = (format!("{base}/{name}"), format!("Served as {name}."));
        move |m: &mut Value| {
            m["platforms"]["linux-x86_64-deb"]["url"] = url.clone().into();
            m["notes"] = notes.clone().into();
        }
    };

    // Version N, installed as a person would.
    let _ = std::process::Command::new("dpkg")
        .args(["-r", "latchkey"])
        .output();
    dpkg(&["-i", &installed_deb.display().to_string()]);
    assert_eq!(installed_version(), INSTALLED);

    // The stand-in for pkexec's password prompt.
    let scratch = std::env::temp_dir().join(format!("latchkey-update-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("bin")).unwrap();
    let pkexec_log = scratch.join("pkexec.log");
    let pkexec = scratch.join("bin/pkexec");
    std::fs::write(
        &pkexec,
        format!(
            "#!/bin/sh\n# Test stand-in for pkexec: records the call and runs it (the test is root).\n\
             echo \"$*\" >> '{}'\nexec \"$@\"\n",
            pkexec_log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pkexec, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        scratch.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config_home = scratch.join("config");
    let launch = || {
        let (path, config_home, endpoint) = (
            path.clone(),
            config_home.clone(),
            format!("{base}/latest.json"),
        );
        launch_app("/usr/bin/latchkey", move |driver| {
            driver
                .env("PATH", path)
                .env("XDG_CONFIG_HOME", config_home)
                .env("LATCHKEY_UPDATE_ENDPOINT", endpoint)
                .env("LATCHKEY_UPDATE_RETRY_SECS", "1")
                .env_remove("LATCHKEY_CONFIG");
        })
    };
    let window = launch().await;
    window
        .text("#app-version", &format!("Latchkey {INSTALLED}"))
        .await;

    // The server does not answer: nothing is shown, and the check is retried.
    until("a retried update check", Duration::from_secs(30), || {
        (server.manifest_requests.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    assert!(
        !window.exists("#update").await,
        "a failed check shows nothing"
    );
    let note = window.element("#update-note").await.text().await.unwrap();
    assert!(note.is_empty(), "a failed check shows nothing: {note:?}");

    // A manifest far larger than any real one: refused unread.
    *server.manifest.lock().unwrap() = Manifest::TooLarge;
    window.click("#check-updates").await;
    window.text("#update-note", "larger than").await;
    assert!(!window.exists("#update").await);

    // Not newer than what runs: up to date.
    serve(&|m| m["version"] = INSTALLED.into());
    window.click("#check-updates").await;
    window.text("#update-note", "Latchkey is up to date.").await;
    assert!(!window.exists("#update").await);

    // Newer, but with no package for a .deb install: says so, and where to get it.
    serve(&|m| {
        let deb = m["platforms"]["linux-x86_64-deb"].take();
        m["platforms"] = serde_json::json!({ "linux-x86_64-rpm": deb });
    });
    window.click("#check-updates").await;
    let said = window.text("#update-message", "cannot update").await;
    assert!(said.contains("linux-x86_64-deb"), "{said}");
    assert!(said.contains("/releases"), "says where to get it: {said}");
    assert!(!window.exists("#update-install").await);
    window.screenshot("update-cannot-update").await;

    // One byte changed on the way: the signature is refused, nothing installed.
    serve(&package_at("tampered.deb"));
    window.click("#check-updates").await;
    window
        .text("#update-version", &format!("Latchkey {NEXT} is available"))
        .await;
    window
        .text("#update-notes", "Served as tampered.deb.")
        .await;
    window.click("#update-install").await;
    window
        .text("#update-message", "not signed with Latchkey's update key")
        .await;
    window.screenshot("update-signature-refused").await;
    assert_eq!(installed_version(), INSTALLED);
    window.click("#update-dismiss").await;
    window.gone("#update").await;

    // A package far larger than sane: refused on its size.
    serve(&package_at("huge.deb"));
    window.click("#check-updates").await;
    window.text("#update-notes", "Served as huge.deb.").await;
    window.click("#update-install").await;
    window.text("#update-message", "larger than 512 MiB").await;
    assert_eq!(installed_version(), INSTALLED);

    // A download cancelled: the offer comes back, nothing installed.
    serve(&package_at("slow.deb"));
    window.click("#check-updates").await;
    window.text("#update-notes", "Served as slow.deb.").await;
    window.click("#update-install").await;
    window.element("#update-progress").await;
    window.screenshot("update-downloading").await;
    window.click("#update-cancel").await;
    window.text("#update-notes", "Served as slow.deb.").await;
    window.element("#update-install").await;
    assert_eq!(installed_version(), INSTALLED);
    assert!(
        !pkexec_log.exists(),
        "nothing was handed to the installer yet"
    );

    // The real update: downloaded, verified, installed through the prompt, restarted.
    serve(&|_| {});
    window.click("#check-updates").await;
    window
        .text(
            "#update-notes",
            "Fixes sign-in with providers that rotate their keys.",
        )
        .await;
    window.js("window.scrollTo(0, 0); return null").await;
    window.screenshot("update-available").await;
    window.click("#update-install").await;
    until(
        "dpkg recording the new version",
        Duration::from_secs(180),
        || (installed_version() == NEXT).then_some(()),
    )
    .await;
    let asked = std::fs::read_to_string(&pkexec_log).unwrap();
    assert!(
        asked.starts_with("dpkg -i "),
        "installed through pkexec: {asked}"
    );
    let binary = Path::new("/usr/bin/latchkey");
    let restarted = until(
        "the new version running after the restart",
        Duration::from_secs(60),
        || processes_of(binary).first().copied(),
    )
    .await;
    drop(window);
    // The restarted window is not under WebDriver: end it, and open N+1 as a person would.
    let _ = std::process::Command::new("kill")
        .arg(restarted.to_string())
        .status();
    until("the restarted app to end", Duration::from_secs(20), || {
        processes_of(binary).is_empty().then_some(())
    })
    .await;
    let window = launch().await;
    window
        .text("#app-version", &format!("Latchkey {NEXT}"))
        .await;
    window.click("#check-updates").await;
    window.text("#update-note", "Latchkey is up to date.").await;
    window.screenshot("update-installed").await;
    window.close().await;

    dpkg(&["-r", "latchkey"]);
    let _ = std::fs::remove_dir_all(&scratch);
}
