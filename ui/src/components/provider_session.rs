use latchkey_ipc::ProviderSession;
use latchkey_ipc::guest;
use sycamore::prelude::*;

use crate::state::AppState;

/// After a log-out: the browser may still be signed in at the provider; offers to end that too.
#[component(inline_props)]
pub fn ProviderSessionNotice(provider_session: ProviderSession) -> View {
    let state = use_context::<AppState>();
    match provider_session {
        ProviderSession::Unknown => view! {},
        ProviderSession::MayBeSignedIn => view! {
            div(id="provider-session", class="notice") {
                "You are signed out of Latchkey. Your browser may still be signed in at the provider. "
                button(id="end-provider-session", class="secondary", on:click=move |_| state.run(guest::end_provider_session)) {
                    "Sign out there too"
                }
            }
        },
        ProviderSession::Ending => view! {
            div(id="provider-session", class="notice") { "Finish signing out in your browser…" }
        },
        ProviderSession::Ended => view! {
            div(id="provider-session", class="notice ok") { "You are signed out at the provider too." }
        },
    }
}
