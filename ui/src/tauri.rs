//! The bridge to the native shell: `invoke` with `catch` (a rejected command is an `Err`,
//! never a panic) and the `session-changed` event.

use latchkey_ipc::SessionView;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

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

thread_local! {
    static IPC_LOG: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Every payload the shell hands the web view is kept and published as
/// `window.__latchkeyIpcLog`, so an end-to-end test can prove none of them holds a token.
fn record(value: &JsValue) {
    let Some(text) = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|t| t.as_string())
    else {
        return;
    };
    let entries: js_sys::Array = IPC_LOG.with(|log| {
        let mut log = log.borrow_mut();
        log.push(text);
        log.iter().map(|e| JsValue::from_str(e)).collect()
    });
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &JsValue::from_str("__latchkeyIpcLog"), &entries);
    }
}

/// Calls a shell command; an error is the message the shell gave.
pub async fn invoke<T: DeserializeOwned>(cmd: &str, args: impl Serialize) -> Result<T, String> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let args = args.serialize(&serializer).map_err(|e| e.to_string())?;
    match invoke_raw(cmd, args).await {
        Ok(value) => {
            record(&value);
            serde_wasm_bindgen::from_value(value)
                .map_err(|e| format!("unexpected answer from {cmd}: {e}"))
        }
        Err(error) => {
            record(&error);
            Err(
                serde_wasm_bindgen::from_value::<latchkey_ipc::Error>(error.clone())
                    .map(|e| e.message)
                    .ok()
                    .or_else(|| error.as_string())
                    .unwrap_or_else(|| format!("{cmd} failed")),
            )
        }
    }
}

/// Calls `on_view` with every session view the shell pushes.
pub async fn listen_session(mut on_view: impl FnMut(SessionView) + 'static) {
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let payload =
            js_sys::Reflect::get(&event, &JsValue::from_str("payload")).unwrap_or(JsValue::NULL);
        record(&payload);
        if let Ok(view) = serde_wasm_bindgen::from_value::<SessionView>(payload) {
            on_view(view);
        }
    });
    if listen_raw(latchkey_ipc::SESSION_CHANGED, &handler)
        .await
        .is_ok()
    {
        // The listener lives as long as the page.
        handler.forget();
    }
}
