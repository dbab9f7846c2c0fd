//! The commands the web view may call: named actions, never URLs, never tokens.

use latchkey_auth::{LoginError, LoginOptions, Restored};
use latchkey_ipc::{ApiResult, Endpoint, Error, SessionView};
use tauri::{AppHandle, Manager, State};

use crate::state::{AppState, Engine, not_configured, publish, signed_in, signed_out};

/// The session as the UI should show it now.
#[tauri::command]
pub fn session(state: State<'_, AppState>) -> SessionView {
    state.view()
}

#[tauri::command]
pub fn login(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    start_login(app, &state, false)
}

#[tauri::command]
pub fn signup(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    start_login(app, &state, true)
}

#[tauri::command]
pub fn cancel_login(state: State<'_, AppState>) -> Result<(), Error> {
    state.session()?.cancel_login();
    Ok(())
}

#[tauri::command]
pub async fn logout(app: AppHandle, state: State<'_, AppState>) -> Result<(), Error> {
    let outcome = state.session()?.logout().await;
    let message = outcome.vault_error.map(|e| format!("Signed out, but {e}"));
    publish(&app, signed_out(message));
    Ok(())
}

#[tauri::command]
pub async fn call_api(state: State<'_, AppState>, endpoint: Endpoint) -> Result<ApiResult, Error> {
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
        .map_err(|e| Error::new(e.to_string()))?;
    Ok(ApiResult::new(response.status, &response.body))
}

/// Starts a sign-in in the background; its progress arrives as session views.
fn start_login(app: AppHandle, state: &AppState, signup: bool) -> Result<(), Error> {
    let session = state.session()?;
    tauri::async_runtime::spawn(async move {
        let options = LoginOptions {
            signup,
            ..LoginOptions::default()
        };
        let waiting_app = app.clone();
        let result = session
            .login(options, move |url| {
                publish(
                    &waiting_app,
                    SessionView::WaitingForBrowser {
                        sign_in_url: url.to_string(),
                        signup,
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
fn bring_to_front(app: &AppHandle) {
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
    let view = match session.restore().await {
        Ok(Restored::SignedIn(profile)) => signed_in(&profile),
        Ok(Restored::NothingStored) => signed_out(None),
        Err(err) => signed_out(Some(err.to_string())),
    };
    publish(&app, view);
}
