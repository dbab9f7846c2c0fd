//! The commands the web view may call: named actions, never URLs, never tokens.

use latchkey_auth::{LoginError, LoginOptions, Restored};
use std::time::Duration;

use latchkey_ipc::{ApiResult, Endpoint, Error, ProviderSession, SessionView, StartupMark};
use tauri::{AppHandle, Manager, State};

use crate::state::{
    AppState, Engine, lock_unpoisoned, not_configured, profile_view, publish, sentence, signed_in,
    signed_out, signed_out_after,
};

/// The session as the UI should show it now.
#[tauri::command]
pub fn session(state: State<'_, AppState>) -> SessionView {
    state.view()
}

#[tauri::command]
pub fn login(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    start_login(app, &state, LoginOptions::default())
}

/// "Use another account": the provider's account chooser or login screen, even when the
/// browser is still signed in there.
#[tauri::command]
pub fn login_another_account(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    let options = LoginOptions {
        force_login: true,
        ..LoginOptions::default()
    };
    start_login(app, &state, options)
}

#[tauri::command]
pub fn signup(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    let options = LoginOptions {
        signup: true,
        ..LoginOptions::default()
    };
    start_login(app, &state, options)
}

#[tauri::command]
pub fn cancel_login(state: State<'_, AppState>) -> Result<(), Error> {
    state.session()?.cancel_login();
    Ok(())
}

#[tauri::command]
pub async fn logout(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    let session = state.session()?;
    let outcome = session.logout().await;
    let message = match (&outcome.vault_error, outcome.revocation_pending) {
        (Some(err), _) => Some(format!("Signed out, but {err}")),
        (None, true) => Some(REVOCATION_PENDING.to_owned()),
        (None, false) => None,
    };
    if outcome.revocation_pending {
        tauri::async_runtime::spawn(keep_revoking(app.clone(), session));
    }
    let provider_session = match &outcome.end_session_url {
        Some(_) => ProviderSession::MayBeSignedIn,
        None => ProviderSession::Unknown,
    };
    *lock_unpoisoned(&state.end_session) = outcome.end_session_url;
    publish(
        &app,
        SessionView::SignedOut {
            message,
            provider_session,
            ended: None,
        },
    );
    Ok(())
}

/// What the signed-out view says while the provider has not confirmed the revocation.
const REVOCATION_PENDING: &str = "Signed out here. Your provider has not confirmed yet that the session is revoked; Latchkey keeps asking it.";

/// Retries the revocations the provider has not confirmed, and says so when it does.
async fn keep_revoking(app: AppHandle, session: latchkey_auth::Session) {
    session.keep_revoking().await;
    let state = app.state::<AppState>();
    if let SessionView::SignedOut {
        message: Some(message),
        provider_session,
        ..
    } = state.view()
        && message == REVOCATION_PENDING
    {
        let confirmed = "Your provider confirmed the sign-out.".to_owned();
        publish(
            &app,
            SessionView::SignedOut {
                message: Some(confirmed),
                provider_session,
                ended: None,
            },
        );
    }
}

/// "Retry now" in the offline view: the reconnecting session tries at once.
#[tauri::command]
pub fn retry_now(state: State<'_, AppState>) {
    state.retry_now.notify_one();
}

/// How long the browser may take to come back from the provider's end-session page.
const END_SESSION_TIMEOUT: Duration = Duration::from_secs(300);

/// Ends the provider's browser session too, after a log-out: opens its end-session page in
/// the system browser and waits for it to send the browser back (RP-Initiated Logout).
#[tauri::command]
pub async fn end_provider_session(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    let session = state.session()?;
    let url = lock_unpoisoned(&state.end_session)
        .take()
        .ok_or_else(|| Error::new("there is no provider session to end; you are signed out"))?;
    let view = |provider_session, message| SessionView::SignedOut {
        message,
        provider_session,
        ended: None,
    };
    publish(&app, view(ProviderSession::Ending, None));
    let result = session
        .end_provider_session(&url, END_SESSION_TIMEOUT)
        .await;
    if !matches!(state.view(), SessionView::SignedOut { .. }) {
        return Ok(()); // someone signed in meanwhile
    }
    match result {
        Ok(()) => {
            publish(&app, view(ProviderSession::Ended, None));
            bring_to_front(&app);
        }
        Err(err) => {
            // Keep the URL so the person can try again.
            *lock_unpoisoned(&state.end_session) = Some(url);
            let message = format!("The provider did not confirm the sign-out: {err}");
            publish(&app, view(ProviderSession::MayBeSignedIn, Some(message)));
        }
    }
    Ok(())
}

#[tauri::command]
pub async fn call_api(
    app: AppHandle,
    state: State<'_, AppState>,
    endpoint: Endpoint,
) -> Result<ApiResult, Error> {
    let Engine { session, api } = state.engine().map_err(|s| Error::new(s.to_string()))?;
    let url = session
        .config()
        .api_url
        .join(endpoint.path())
        .map_err(|e| {
            Error::new(format!(
                "the configured apiUrl cannot be joined with {}: {e}",
                endpoint.path()
            ))
        })?;
    let response = api
        .get(url.as_str())
        .await
        .map_err(|e| crate::data::session_ended_by(&app, e))?;
    Ok(ApiResult::new(response.status, &response.body))
}

/// Starts a sign-in in the background; its progress arrives as session views.
fn start_login(app: AppHandle, state: &AppState, options: LoginOptions) -> Result<(), Error> {
    let session = state.session()?;
    let signup = options.signup;
    tauri::async_runtime::spawn(async move {
        let waiting_app = app.clone();
        let result = session
            .login(options, move |url| {
                publish(
                    &waiting_app,
                    SessionView::WaitingForBrowser {
                        sign_in_url: url.to_string(),
                        signup,
                        refused: None,
                    },
                );
            })
            .await;
        match result {
            Ok(profile) => {
                publish(&app, signed_in(&profile));
                bring_to_front(&app);
            }
            // A newer sign-in owns the view now.
            Err(LoginError::Replaced) => {}
            Err(LoginError::Cancelled) => publish(&app, signed_out(None)),
            Err(err) => {
                publish(&app, signed_out(Some(err.to_string())));
                bring_to_front(&app);
            }
        }
    });
    Ok(())
}

/// After the browser hands back, the person should land in the app again.
pub fn bring_to_front(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Reads the configuration file again and starts over with it: the "Check again" button
/// of the set-up view, after the person wrote or fixed `auth_config.json`.
#[tauri::command]
pub async fn reload_config(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    if let Ok(engine) = state.engine() {
        engine.session.cancel_login();
    }
    let _ = state.reload();
    publish(&app, SessionView::Loading);
    restore(app.clone()).await;
    Ok(())
}

/// Restores the stored session at start-up; the UI shows "loading" until this publishes.
pub async fn restore(app: AppHandle) {
    let state = app.state::<AppState>();
    let session = match state.engine() {
        Ok(engine) => engine.session,
        Err(setup) => {
            publish(&app, not_configured(setup));
            return;
        }
    };
    let restored = session.restore().await;
    if session.pending_revocations() > 0 {
        tauri::async_runtime::spawn({
            let session = session.clone();
            async move { session.keep_revoking().await }
        });
    }
    let mut view = restored_view(restored);
    // Offline is a state, not a sign-out: show whose session it is and reconnect by itself.
    while matches!(view, SessionView::Offline { .. }) {
        publish(&app, view);
        let retry_now = state.retry_now.clone();
        let answer = session.reconnect(&retry_now).await;
        if !matches!(state.view(), SessionView::Offline { .. }) {
            return; // the person signed out or in meanwhile
        }
        view = restored_view(answer);
    }
    publish(&app, view);
}

fn restored_view(restored: Result<Restored, latchkey_auth::SessionError>) -> SessionView {
    match restored {
        Ok(Restored::SignedIn(profile)) => signed_in(&profile),
        Ok(Restored::Offline {
            profile,
            reason,
            details,
        }) => SessionView::Offline {
            profile: profile.as_ref().map(profile_view),
            reason: format!("{reason}. Latchkey keeps trying and signs you back in by itself."),
            details: sentence(&details),
        },
        Ok(Restored::NothingStored) => signed_out(None),
        Err(err) => signed_out_after(&err),
    }
}

/// The environment variable naming a file where start-up marks are appended (for
/// `cargo xtask bench`); unset, `mark` records nothing.
pub const STARTUP_REPORT_ENV: &str = "LATCHKEY_STARTUP_REPORT";

/// The UI rendered a moment of start-up. With `LATCHKEY_STARTUP_REPORT` set, the first of each
/// mark is appended there as `{"mark":…,"unixMicros":…}`, so a benchmark can time it from the
/// process's start.
#[tauri::command]
pub fn mark(state: State<'_, AppState>, name: StartupMark) {
    let Some(path) = std::env::var_os(STARTUP_REPORT_ENV) else {
        return;
    };
    if !lock_unpoisoned(&state.marks).insert(name) {
        return;
    }
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let line = serde_json::json!({ "mark": name, "unixMicros": micros }).to_string();
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, format!("{line}\n").as_bytes()));
    if let Err(err) = written {
        tracing::warn!("could not write the start-up report: {err}");
    }
}
