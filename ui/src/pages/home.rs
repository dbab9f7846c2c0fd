use latchkey_ipc::guest;
use sycamore::prelude::*;

use crate::state::AppState;

#[component]
pub fn HomePage() -> View {
    let state = use_context::<AppState>();
    view! {
        section(class="card hero") {
            h1 { "Sign in the way a native app should." }
            p {
                "Latchkey signs you in through your own browser, keeps your session in the system's "
                "credential vault, and calls its API from native code. The window never sees a token."
            }
            (if state.signed_in() {
                view! { p(class="status") { "You are signed in. Open your profile or call the API." } }
            } else if state.offline() {
                view! { p(class="status") { "Your session is kept while Latchkey reconnects to your provider." } }
            } else {
                view! {
                    div(class="actions") {
                        button(class="primary", on:click=move |_| state.run(guest::login)) { "Log in" }
                        button(class="secondary", on:click=move |_| state.run(guest::signup)) { "Create an account" }
                        button(id="login-other", class="secondary", on:click=move |_| state.run(guest::login_another_account)) { "Use another account" }
                    }
                }
            })
        }
        section(class="features") {
            div(class="card") { h3 { "System browser" } p { "Authorization code with PKCE in the browser you already trust (RFC 8252)." } }
            div(class="card") { h3 { "OS vault" } p { "Only the refresh token is stored, in Keychain, Credential Manager or the Secret Service." } }
            div(class="card") { h3 { "Native API calls" } p { "Access tokens stay in Rust memory and go only to the configured API." } }
        }
    }
}
