//! A button that puts a text on the clipboard and says so.

use sycamore::prelude::*;
use wasm_bindgen::JsCast;

/// "Copy": copies `text` exactly (no reformatting), then reads "Copied".
#[component(inline_props)]
pub fn CopyButton(id: &'static str, label: &'static str, text: String) -> View {
    let copied = create_signal(false);
    let copy = move |_| copied.set(copy_text(&text));
    view! {
        button(id=id, class="secondary", aria-label=label, on:click=copy) {
            (if copied.get() { "Copied" } else { "Copy" })
        }
    }
}

/// Copies through a selected, off-screen text area: works in every web view without a
/// clipboard permission.
fn copy_text(text: &str) -> bool {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return false;
    };
    let Some(area) = document
        .create_element("textarea")
        .ok()
        .and_then(|e| e.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
    else {
        return false;
    };
    area.set_value(text);
    let _ = area.set_attribute("style", "position:fixed;left:-9999px;top:0");
    let _ = area.set_attribute("aria-hidden", "true");
    let Some(body) = document.body() else {
        return false;
    };
    if body.append_child(&area).is_err() {
        return false;
    }
    area.select();
    let copied = document
        .dyn_ref::<web_sys::HtmlDocument>()
        .is_some_and(|html| html.exec_command("copy").unwrap_or(false));
    area.remove();
    copied
}
