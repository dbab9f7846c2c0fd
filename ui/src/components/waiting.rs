use sycamore::prelude::*;
use wasm_bindgen::JsCast;

use crate::state::AppState;

/// "Continue in your browser", with the URL to copy in case no browser opened. `refused` says
/// why an answer was turned away (empty when none was).
#[component(inline_props)]
pub fn Waiting(sign_in_url: String, signup: bool, refused: String) -> View {
    let refused = Some(refused).filter(|r| !r.is_empty());
    let state = use_context::<AppState>();
    let copied = create_signal(false);
    let copy = move |_| {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        if let Some(input) = document
            .get_element_by_id("sign-in-url")
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            input.select();
            if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
                copied.set(html.exec_command("copy").unwrap_or(false));
            }
        }
    };
    let what = if signup {
        "create your account"
    } else {
        "sign in"
    };
    view! {
        div(id="waiting", class="card waiting") {
            div(class="spinner") {}
            h2 { "Continue in your browser" }
            p(class="muted") { "A browser window opened for you to " (what) ". Come back here when you are done." }
            (match refused.clone() {
                Some(why) => view! { p(id="sign-in-refused", class="notice error") { (why) } },
                None => view! {},
            })
            p(class="muted") { "No browser? Copy this address into one:" }
            div(class="url") {
                input(id="sign-in-url", readonly=true, value=sign_in_url.clone())
                button(id="copy-url", class="secondary", on:click=copy) { (if copied.get() { "Copied" } else { "Copy" }) }
            }
            button(id="cancel-login", class="danger", on:click=move |_| state.run("cancel_login")) { "Cancel" }
        }
    }
}
