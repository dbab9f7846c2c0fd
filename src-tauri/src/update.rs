//! Updates, signed and never installed without the person's click (tauri-plugin-updater).
//!
//! The window checks at start and about once a day; a check that fails (offline, a server
//! error) is logged and retried later, never shown. A newer version is offered in a quiet
//! banner; "Install and restart" downloads it with a progress bar (cancellable), verifies its
//! minisign signature against the key built into this copy, installs it with the platform's
//! installer (on Linux `pkexec dpkg -i` or `pkexec rpm -U`: the person authenticates) and
//! restarts. A build without an update key or endpoint does not update itself at all.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use latchkey_ipc::{Error, UPDATE_CHANGED, UpdateStatus, UpdateView};
use semver::Version;
use serde::Deserialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_updater::{Update, UpdaterExt};
use tokio::sync::Notify;
use url::Url;

/// Overrides the update manifest's URL built into this copy (a company mirror; the tests).
pub const ENDPOINT_ENV: &str = "LATCHKEY_UPDATE_ENDPOINT";
/// Overrides how long the first retry after a failed check waits, in seconds (the tests).
pub const RETRY_ENV: &str = "LATCHKEY_UPDATE_RETRY_SECS";

/// How often a running window checks.
const CHECK_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// The first retry after a failed check; each failure after it doubles the wait, up to a day.
const FIRST_RETRY: Duration = Duration::from_secs(5 * 60);
/// The largest manifest read: a real one is a few kilobytes.
pub const MAX_MANIFEST: usize = 1024 * 1024;
/// The largest package downloaded: Latchkey's are a few megabytes (a debug build's a
/// hundred and some).
pub const MAX_PACKAGE: u64 = 512 * 1024 * 1024;

/// The update state the window shows, and what it is working on.
pub struct Updates {
    settings: Result<Settings, String>,
    current: Version,
    view: Mutex<UpdateView>,
    /// The newer version found by the last check, ready to download.
    found: Mutex<Option<Update>>,
    /// Set by "Cancel" while a download runs.
    cancel: Notify,
    busy: AtomicBool,
    /// Wakes the background loop for an early check.
    wake: Notify,
    /// Checks made, for the log.
    checks: AtomicU64,
}

struct Settings {
    endpoint: Url,
    pubkey: String,
    first_retry: Duration,
}

/// The part of the update manifest (`latest.json`) read before the updater takes it.
#[derive(Deserialize)]
struct Manifest {
    version: String,
}

impl Updates {
    /// Reads the key and endpoint built into this copy (`plugins.updater` in
    /// `tauri.conf.json`, set by the release workflow), or the endpoint from
    /// `LATCHKEY_UPDATE_ENDPOINT`.
    pub fn new<R: Runtime>(app: &AppHandle<R>) -> Self {
        let updater = app.config().plugins.0.get("updater");
        let pubkey = updater
            .and_then(|u| u.get("pubkey"))
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned();
        let built_in = updater
            .and_then(|u| u.get("endpoints"))
            .and_then(|e| e.get(0))
            .and_then(|e| e.as_str())
            .map(str::to_owned);
        let endpoint = std::env::var(ENDPOINT_ENV).ok().or(built_in);
        let first_retry = std::env::var(RETRY_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(FIRST_RETRY, Duration::from_secs);
        let settings = settings(&pubkey, endpoint.as_deref(), first_retry);
        if let Err(reason) = &settings {
            tracing::info!("updates are off: {reason}");
        }
        Self {
            settings,
            current: app.package_info().version.clone(),
            view: Mutex::new(UpdateView::Quiet),
            found: Mutex::new(None),
            cancel: Notify::new(),
            busy: AtomicBool::new(false),
            wake: Notify::new(),
            checks: AtomicU64::new(0),
        }
    }

    fn status(&self) -> UpdateStatus {
        UpdateStatus {
            current: self.current.to_string(),
            view: lock(&self.view).clone(),
        }
    }

    fn show<R: Runtime>(&self, app: &AppHandle<R>, view: UpdateView) {
        *lock(&self.view) = view;
        let _ = app.emit(UPDATE_CHANGED, self.status());
    }
}

/// Checks the settings: a key, and an https endpoint (plain http only to this machine, and
/// only in debug builds, as tauri-plugin-updater itself allows).
fn settings(
    pubkey: &str,
    endpoint: Option<&str>,
    first_retry: Duration,
) -> Result<Settings, String> {
    if pubkey.trim().is_empty() {
        return Err("this build has no update key (plugins.updater.pubkey)".into());
    }
    let Some(endpoint) = endpoint.filter(|e| !e.trim().is_empty()) else {
        return Err(format!(
            "this build has no update endpoint (plugins.updater.endpoints, or {ENDPOINT_ENV})"
        ));
    };
    let endpoint =
        Url::parse(endpoint).map_err(|e| format!("the update endpoint {endpoint:?}: {e}"))?;
    let loopback = match endpoint.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    let allowed = endpoint.scheme() == "https"
        || (endpoint.scheme() == "http" && loopback && cfg!(debug_assertions));
    if !allowed {
        return Err(format!(
            "the update endpoint {endpoint} must use https (plain http is accepted only for \
             this machine, in debug builds)"
        ));
    }
    Ok(Settings {
        endpoint,
        pubkey: pubkey.to_owned(),
        first_retry,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the background checks: one at start, then about once a day, sooner after a failure.
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let updates = app.state::<Arc<Updates>>().inner().clone();
        let Ok(settings) = &updates.settings else {
            return;
        };
        let mut retry = settings.first_retry;
        loop {
            let wait = match check(&app, &updates, false).await {
                Ok(()) => {
                    retry = settings.first_retry;
                    CHECK_EVERY
                }
                Err(err) => {
                    tracing::warn!(
                        "could not check for updates (trying again in {retry:?}): {err}"
                    );
                    let wait = retry;
                    retry = (retry * 2).min(CHECK_EVERY);
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = updates.wake.notified() => {}
            }
        }
    });
}

/// Asks the update server whether a newer version exists and shows what it found. A failure
/// is returned for the caller to log (the background loop) or show (a check the person asked
/// for); it changes nothing on screen.
async fn check<R: Runtime>(
    app: &AppHandle<R>,
    updates: &Updates,
    by_person: bool,
) -> Result<(), String> {
    let settings = updates.settings.as_ref().map_err(Clone::clone)?;
    if updates.busy.load(Ordering::SeqCst) {
        return Ok(());
    }
    let number = updates.checks.fetch_add(1, Ordering::SeqCst) + 1;
    tracing::info!("update check {number} at {}", settings.endpoint);
    // Read first within a size limit: the updater itself would read any size.
    let manifest = read_manifest(&settings.endpoint).await?;
    let announced = Version::parse(manifest.version.trim_start_matches('v')).map_err(|e| {
        format!(
            "the update manifest's version {:?} is not a version: {e}",
            manifest.version
        )
    })?;
    if announced <= updates.current {
        if by_person {
            updates.show(app, UpdateView::UpToDate);
        } else if matches!(*lock(&updates.view), UpdateView::Available { .. }) {
            updates.show(app, UpdateView::Quiet);
        }
        return Ok(());
    }
    let updater = app
        .updater_builder()
        .pubkey(settings.pubkey.clone())
        .endpoints(vec![settings.endpoint.clone()])
        .and_then(|b| b.timeout(Duration::from_secs(30)).build())
        .map_err(|e| format!("cannot set up the updater: {e}"))?;
    match updater.check().await {
        Ok(Some(update)) => {
            let view = available(&update);
            // A background check leaves what the window says about this version (a failed
            // install's reason, say) as it is.
            let shown = matches!(
                &*lock(&updates.view),
                UpdateView::Available { version, .. }
                    | UpdateView::Failed { version, .. }
                    | UpdateView::CannotUpdate { version, .. }
                    if *version == update.version
            );
            *lock(&updates.found) = Some(update);
            if by_person || !shown {
                updates.show(app, view);
            }
            Ok(())
        }
        Ok(None) => {
            if by_person {
                updates.show(app, UpdateView::UpToDate);
            }
            Ok(())
        }
        Err(tauri_plugin_updater::Error::TargetsNotFound(targets)) => {
            updates.show(
                app,
                UpdateView::CannotUpdate {
                    version: announced.to_string(),
                    message: cannot_update(&targets),
                },
            );
            Ok(())
        }
        Err(err) => Err(format!("the update server's answer: {err}")),
    }
}

async fn read_manifest(endpoint: &Url) -> Result<Manifest, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(endpoint.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| latchkey_http::error_chain(&e))?;
    latchkey_http::json_answer(response, MAX_MANIFEST)
        .await
        .map_err(|e| e.to_string())
}

/// What to tell a person whose install the new version has no package for.
fn cannot_update(targets: &[String]) -> String {
    let kind = match tauri::utils::platform::bundle_type() {
        Some(kind) => format!("this {kind:?} install"),
        None => "this copy (not installed from a Latchkey package)".to_owned(),
    };
    format!(
        "Latchkey cannot update {kind} by itself: the new version has no {} package. \
         Download it from {}/releases and install it the way you installed this one.",
        targets.first().map_or("matching", String::as_str),
        env!("CARGO_PKG_HOMEPAGE")
    )
}

/// Downloads, verifies and installs the version found, then restarts into it.
async fn install<R: Runtime>(app: &AppHandle<R>, updates: &Updates) -> Result<(), String> {
    let Some(update) = lock(&updates.found).clone() else {
        return Err("there is no update to install; check for updates first".into());
    };
    let version = update.version.clone();
    let received = AtomicU64::new(0);
    let shown = AtomicU64::new(u64::MAX);
    let too_large = Notify::new();
    updates.show(
        app,
        UpdateView::Downloading {
            version: version.clone(),
            received: 0,
            total: None,
        },
    );
    let download = update.download(
        |chunk, total| {
            let now = received.fetch_add(chunk as u64, Ordering::SeqCst) + chunk as u64;
            if now > MAX_PACKAGE || total.is_some_and(|t| t > MAX_PACKAGE) {
                too_large.notify_one();
                return;
            }
            // About every 1 %, not every chunk.
            let step = total.map_or(1024 * 1024, |t| (t / 100).max(1));
            if shown.swap(now / step, Ordering::SeqCst) != now / step {
                updates.show(
                    app,
                    UpdateView::Downloading {
                        version: version.clone(),
                        received: now,
                        total,
                    },
                );
            }
        },
        || {},
    );
    let failed = |message: String| UpdateView::Failed {
        version: version.clone(),
        message,
    };
    let bytes = tokio::select! {
        result = download => match result {
            Ok(bytes) => bytes,
            Err(err) => {
                updates.show(app, failed(download_failure(&err)));
                return Err(err.to_string());
            }
        },
        () = updates.cancel.notified() => {
            updates.show(app, available(&update));
            return Err("the download was cancelled".into());
        }
        () = too_large.notified() => {
            let message = format!(
                "The update server sent a package larger than {} MiB, which no Latchkey \
                 package is; it was refused and nothing was installed.",
                MAX_PACKAGE / 1024 / 1024
            );
            updates.show(app, failed(message.clone()));
            return Err(message);
        }
    };
    updates.show(
        app,
        UpdateView::Installing {
            version: version.clone(),
        },
    );
    let installing = update.clone();
    let installed = tauri::async_runtime::spawn_blocking(move || installing.install(bytes))
        .await
        .map_err(|e| e.to_string())?;
    if let Err(err) = installed {
        let message = format!(
            "Latchkey {version} was downloaded and verified, but installing it failed ({err}); \
             this version keeps running."
        );
        updates.show(app, failed(message.clone()));
        return Err(message);
    }
    tracing::info!("installed Latchkey {version}; restarting into it");
    app.request_restart();
    Ok(())
}

fn available(update: &Update) -> UpdateView {
    UpdateView::Available {
        version: update.version.clone(),
        notes: update.body.clone().filter(|n| !n.trim().is_empty()),
    }
}

/// A download or verification failure, in a person's words.
fn download_failure(err: &tauri_plugin_updater::Error) -> String {
    use tauri_plugin_updater::Error as E;
    match err {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => {
            "The downloaded update is not signed with Latchkey's update key, so it was not \
             installed: it may have been damaged or tampered with on the way. Your version is \
             unchanged."
                .to_owned()
        }
        E::SignedVersionMismatch { signed, announced } => format!(
            "The update server announced version {announced}, but the package is signed for \
             {signed}; it was not installed. Your version is unchanged."
        ),
        other => format!(
            "The update could not be downloaded ({other}); nothing was installed. Try again \
             later."
        ),
    }
}

/// The running version and what the window shows about updates.
#[tauri::command]
pub fn update_status(updates: State<'_, Arc<Updates>>) -> UpdateStatus {
    updates.status()
}

/// A check the person asked for: says how it went, also when nothing is new.
#[tauri::command]
pub async fn check_for_update(
    app: AppHandle,
    updates: State<'_, Arc<Updates>>,
) -> Result<(), Error> {
    if let Err(reason) = &updates.settings {
        updates.show(
            &app,
            UpdateView::Off {
                reason: format!("This copy of Latchkey does not update itself: {reason}."),
            },
        );
        return Ok(());
    }
    if updates.busy.load(Ordering::SeqCst) {
        return Ok(());
    }
    updates.show(&app, UpdateView::Checking);
    if let Err(err) = check(&app, &updates, true).await {
        tracing::warn!("could not check for updates: {err}");
        updates.show(
            &app,
            UpdateView::CheckFailed {
                message: format!("Could not check for updates: {err}. Latchkey tries again later."),
            },
        );
        // The background loop retries sooner than in a day.
        updates.wake.notify_one();
    }
    Ok(())
}

/// "Install and restart": the person's consent to download, verify and install.
#[tauri::command]
pub async fn install_update(app: AppHandle, updates: State<'_, Arc<Updates>>) -> Result<(), Error> {
    if updates.busy.swap(true, Ordering::SeqCst) {
        return Err(Error::new("the update is already being installed"));
    }
    let result = install(&app, &updates).await;
    updates.busy.store(false, Ordering::SeqCst);
    if let Err(err) = result {
        tracing::warn!("update not installed: {err}");
    }
    Ok(())
}

/// Puts away what the banner says (a failed install's reason, an update this install cannot
/// take); a later check offers the update again.
#[tauri::command]
pub fn dismiss_update(app: AppHandle, updates: State<'_, Arc<Updates>>) {
    if !updates.busy.load(Ordering::SeqCst) {
        updates.show(&app, UpdateView::Quiet);
    }
}

/// Stops a download under way; nothing is installed.
#[tauri::command]
pub fn cancel_update(updates: State<'_, Arc<Updates>>) {
    updates.cancel.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_secs(1);

    #[test]
    fn updates_need_a_key_and_an_https_endpoint() {
        let key = "dW50cnVzdGVkIGNvbW1lbnQ6IG1pbmlzaWdu";
        assert!(settings("", Some("https://example.com/latest.json"), RETRY).is_err());
        assert!(settings(key, None, RETRY).is_err());
        assert!(settings(key, Some(""), RETRY).is_err());
        let err = settings(key, Some("http://example.com/latest.json"), RETRY)
            .err()
            .unwrap();
        assert!(err.contains("must use https"), "{err}");
        assert!(settings(key, Some("not a url"), RETRY).is_err());
        assert!(settings(key, Some("https://example.com/latest.json"), RETRY).is_ok());
        // Plain http to this machine: debug builds only (the update test's).
        assert_eq!(
            settings(key, Some("http://127.0.0.1:9/latest.json"), RETRY).is_ok(),
            cfg!(debug_assertions)
        );
    }
}
