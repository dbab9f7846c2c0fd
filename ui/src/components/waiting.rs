use latchkey_ipc::guest;
use sycamore::prelude::*;

use crate::components::copy::CopyButton;
use crate::state::AppState;

/// "Continue in your browser", with the URL to copy in case no browser opened. `refused` says
/// why an answer was turned away (empty when none was).
#[component(inline_props)]
pub fn Waiting(sign_in_url: String, signup: bool, refused: String) -> View {
    let refused = Some(refused).filter(|r| !r.is_empty());
    let shown_url = sign_in_url.clone();
    let state = use_context::<AppState>();
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
                input(id="sign-in-url", readonly=true, aria-label="Sign-in address", value=shown_url.clone())
                CopyButton(id="copy-url", label="Copy the sign-in address", text=sign_in_url)
            }
            button(id="cancel-login", class="danger", on:click=move |_| state.run(guest::cancel_login)) { "Cancel" }
        }
    }
}

/// A device sign-in (an app that asked the plugin for one): the code to enter at the provider.
#[component(inline_props)]
pub fn WaitingForDevice(verification_uri: String, user_code: String) -> View {
    let state = use_context::<AppState>();
    view! {
        div(id="waiting-device", class="card waiting") {
            div(class="spinner") {}
            h2 { "Approve this device" }
            p(class="muted") { "On any device, open " strong { (verification_uri) } " and enter this code:" }
            p(id="device-code", class="device-code") { (user_code) }
            button(id="cancel-login", class="danger", on:click=move |_| state.run(guest::cancel_login)) { "Cancel" }
        }
    }
}
