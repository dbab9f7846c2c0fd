//! The offline notice: the stored session is kept while the provider cannot be reached.
//! Offline is an expected state, so it is calm (no error banner): one sentence, and the
//! whole error chain behind "Details" for whoever helps the person.

use latchkey_ipc::guest;
use sycamore::prelude::*;

use crate::state::AppState;

/// "Offline — reconnecting", whose session it is, why in one sentence, "Retry now", and the
/// details.
#[component(inline_props)]
pub fn Offline(name: String, reason: String, details: String) -> View {
    let state = use_context::<AppState>();
    let whose = if name.is_empty() {
        "Your session is kept, offline.".to_owned()
    } else {
        format!("You are signed in as {name}, offline.")
    };
    view! {
        div(id="offline", class="notice offline", role="status") {
            strong { "Offline — reconnecting" }
            p(id="offline-whose") { (whose) }
            p(id="offline-reason", class="reason") { (reason.clone()) }
            button(id="retry-now", class="secondary", on:click=move |_| state.run(guest::retry_now)) { "Retry now" }
            Details(id="offline-details", text=details.clone())
        }
    }
}

/// What a page that needs the provider shows while Latchkey is offline: the same calm words,
/// instead of starting a sign-in that cannot work.
#[component(inline_props)]
pub fn OfflinePage(title: &'static str) -> View {
    view! {
        section(id="offline-page", class="card") {
            h1 { (title) }
            p { (title) " needs your sign-in provider, which cannot be reached right now. "
                "This page fills in by itself once Latchkey has reconnected." }
        }
    }
}

/// A "Details" disclosure with a text for support; nothing when the text is empty.
#[component(inline_props)]
pub fn Details(id: &'static str, text: String) -> View {
    if text.is_empty() {
        return view! {};
    }
    view! {
        details(id=id, class="details") {
            summary { "Details" }
            pre(class="code") { (text.clone()) }
        }
    }
}
