//! The Rust binding for a WebAssembly UI (Sycamore, Leptos, Yew, …) in a Tauri web view:
//! the plugin's commands as typed functions, and its session event. A rejected command is an
//! `Err` with the plugin's message, never a panic. Needs `withGlobalTauri` (the binding calls
//! `window.__TAURI__`).

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

use crate::{ApiRequest, ApiResult, SESSION_CHANGED, SessionView, commands};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    async fn invoke_raw(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "event"], js_name = listen)]
    async fn listen_raw(
        event: &str,
        handler: &Closure<dyn FnMut(JsValue)>,
    ) -> Result<JsValue, JsValue>;
}

/// Calls a command (the plugin's or the app's own); an error is the message it gave.
pub async fn invoke<T: DeserializeOwned>(cmd: &str, args: impl Serialize) -> Result<T, String> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let args = args.serialize(&serializer).map_err(|e| e.to_string())?;
    match invoke_raw(cmd, args).await {
        Ok(value) => serde_wasm_bindgen::from_value(value)
            .map_err(|e| format!("unexpected answer from {cmd}: {e}")),
        Err(error) => Err(
            serde_wasm_bindgen::from_value::<crate::Error>(error.clone())
                .map(|e| e.message)
                .ok()
                .or_else(|| error.as_string())
                .unwrap_or_else(|| format!("{cmd} failed")),
        ),
    }
}

/// Calls `on_view` with every session view the plugin pushes, for as long as the page lives.
pub async fn on_session_changed(on_view: impl FnMut(SessionView) + 'static) {
    on_event(SESSION_CHANGED, on_view).await;
}

/// Calls `on_payload` with the payload of every `event` (one that reads as `T`), for as long
/// as the page lives.
pub async fn on_event<T: DeserializeOwned + 'static>(
    event: &str,
    mut on_payload: impl FnMut(T) + 'static,
) {
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let payload =
            js_sys::Reflect::get(&event, &JsValue::from_str("payload")).unwrap_or(JsValue::NULL);
        if let Ok(payload) = serde_wasm_bindgen::from_value::<T>(payload) {
            on_payload(payload);
        }
    });
    if listen_raw(event, &handler).await.is_ok() {
        handler.forget();
    }
}

/// The session as the window should show it now.
pub async fn session() -> Result<SessionView, String> {
    invoke(commands::SESSION, ()).await
}

/// Starts a sign-in in the system browser; progress arrives as session views.
pub async fn login() -> Result<(), String> {
    invoke(commands::LOGIN, ()).await
}

/// "Use another account".
pub async fn login_another_account() -> Result<(), String> {
    invoke(commands::LOGIN_ANOTHER_ACCOUNT, ()).await
}

/// Starts a device sign-in (RFC 8628); the view shows the code to enter.
pub async fn device_login() -> Result<(), String> {
    invoke(commands::DEVICE_LOGIN, ()).await
}

/// Starts a sign-up.
pub async fn signup() -> Result<(), String> {
    invoke(commands::SIGNUP, ()).await
}

/// Stops waiting for the browser.
pub async fn cancel_login() -> Result<(), String> {
    invoke(commands::CANCEL_LOGIN, ()).await
}

/// Signs out here.
pub async fn logout() -> Result<(), String> {
    invoke(commands::LOGOUT, ()).await
}

/// After a log-out, ends the provider's browser session too.
pub async fn end_provider_session() -> Result<(), String> {
    invoke(commands::END_PROVIDER_SESSION, ()).await
}

/// The offline view's "Retry now".
pub async fn retry_now() -> Result<(), String> {
    invoke(commands::RETRY_NOW, ()).await
}

/// Reads the configuration again and starts over with it.
pub async fn reload_config() -> Result<(), String> {
    invoke(commands::RELOAD_CONFIG, ()).await
}

/// The accounts kept, the active one marked.
pub async fn accounts() -> Result<Vec<crate::AccountView>, String> {
    invoke(commands::ACCOUNTS, ()).await
}

#[derive(Serialize)]
struct AccountId<'a> {
    id: &'a str,
}

/// Makes the account `id` the active one, without the browser.
pub async fn switch_account(id: &str) -> Result<(), String> {
    invoke(commands::SWITCH_ACCOUNT, AccountId { id }).await
}

/// Signs out of the account `id`; the others stay.
pub async fn logout_account(id: &str) -> Result<(), String> {
    invoke(commands::LOGOUT_ACCOUNT, AccountId { id }).await
}

/// Signs out of every account.
pub async fn logout_all() -> Result<(), String> {
    invoke(commands::LOGOUT_ALL, ()).await
}

#[derive(Serialize)]
struct CallApi<'a> {
    request: &'a ApiRequest,
}

/// Calls the configured API from the native side, with the session's bearer.
pub async fn call_api(request: &ApiRequest) -> Result<ApiResult, String> {
    invoke(commands::CALL_API, CallApi { request }).await
}
