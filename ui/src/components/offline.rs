//! The offline notice: the stored session is kept while the provider cannot be reached.

use sycamore::prelude::*;

use crate::state::AppState;

/// "Offline — reconnecting", whose session it is, why, and "Retry now".
#[component(inline_props)]
pub fn Offline(name: String, reason: String) -> View {
    let state = use_context::<AppState>();
    let whose = if name.is_empty() {
        "Your session is kept, offline.".to_owned()
    } else {
        format!("You are signed in as {name}, offline.")
    };
    view! {
        div(id="offline", class="notice offline") {
            strong { "Offline — reconnecting" }
            p(id="offline-whose") { (whose) }
            p(class="reason") { (reason) }
            p { "Latchkey signs you back in by itself when your provider answers. Pages that need the network wait until then." }
            button(id="retry-now", class="secondary", on:click=move |_| state.run("retry_now")) { "Retry now" }
        }
    }
}
