//! The commands a web view may call (with the capability's grant): named actions, never a
//! URL of its choosing, and nothing they answer holds a token.

use latchkey_auth::LoginOptions;
use latchkey_ipc::{AccountView, ApiRequest, ApiResult, SessionView};
use tauri::{AppHandle, Runtime};

use crate::{LatchkeyExt, Result};

#[tauri::command]
pub(crate) fn session<R: Runtime>(app: AppHandle<R>) -> SessionView {
    app.latchkey().view()
}

#[tauri::command]
pub(crate) fn login<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().login(LoginOptions::default())
}

/// "Use another account": the provider's account chooser or login screen, even when the
/// browser is still signed in there.
#[tauri::command]
pub(crate) fn login_another_account<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().login(LoginOptions {
        force_login: true,
        ..LoginOptions::default()
    })
}

/// A device sign-in (RFC 8628), for a device without a browser: the view shows the code.
#[tauri::command]
pub(crate) fn device_login<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().device_login()
}

#[tauri::command]
pub(crate) fn signup<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().login(LoginOptions {
        signup: true,
        ..LoginOptions::default()
    })
}

#[tauri::command]
pub(crate) fn cancel_login<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().cancel_login()
}

#[tauri::command]
pub(crate) async fn logout<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().logout().await
}

#[tauri::command]
pub(crate) async fn end_provider_session<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().end_provider_session().await
}

#[tauri::command]
pub(crate) fn retry_now<R: Runtime>(app: AppHandle<R>) {
    app.latchkey().retry_now();
}

#[tauri::command]
pub(crate) async fn reload_config<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().reload_config().await;
    Ok(())
}

#[tauri::command]
pub(crate) async fn call_api<R: Runtime>(
    app: AppHandle<R>,
    request: ApiRequest,
) -> Result<ApiResult> {
    app.latchkey().call_api(request).await
}

#[tauri::command]
pub(crate) async fn accounts<R: Runtime>(app: AppHandle<R>) -> Result<Vec<AccountView>> {
    app.latchkey().accounts().await
}

#[tauri::command]
pub(crate) async fn switch_account<R: Runtime>(app: AppHandle<R>, id: String) -> Result<()> {
    app.latchkey().switch_account(&id).await
}

#[tauri::command]
pub(crate) async fn logout_account<R: Runtime>(app: AppHandle<R>, id: String) -> Result<()> {
    app.latchkey().logout_account(&id).await
}

#[tauri::command]
pub(crate) async fn logout_all<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    app.latchkey().logout_all().await
}
