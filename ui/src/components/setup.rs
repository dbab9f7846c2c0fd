use sycamore::prelude::*;

use crate::state::AppState;

/// The first window when no provider is configured (or its file has a mistake): where
/// `auth_config.json` goes, what a complete one looks like, and how to try the dev stack.
#[component(inline_props)]
/// `problem` is empty when there is simply no file yet.
pub fn Setup(config_path: String, problem: String, dev_stack_example: String) -> View {
    let state = use_context::<AppState>();
    let problem = Some(problem).filter(|p| !p.is_empty());
    let heading = if problem.is_some() {
        "Latchkey's configuration needs a fix"
    } else {
        "Connect Latchkey to your sign-in provider"
    };
    view! {
        section(id="setup", class="card setup") {
            h1 { (heading) }
            (match problem.clone() {
                Some(text) => view! { div(id="config-problem", class="notice error") { (text) } },
                None => view! {
                    p(class="muted") {
                        "Latchkey signs you in with an OpenID Provider (Auth0, Keycloak, Okta, Entra ID, …), "
                        "but none is configured on this computer yet."
                    }
                },
            })
            h3 { "1. Write the configuration file" }
            p { "Latchkey reads it from:" }
            pre(id="config-path", class="code path") { (config_path.clone()) }
            p(class="muted") {
                "Use your provider's issuer (or Auth0 domain), the client ID of a native / public "
                "application whose allowed callback is http://127.0.0.1/callback, and your API's URL:"
            }
            pre(class="code") {
                "{\n  \"domain\": \"YOUR_TENANT.us.auth0.com\",\n  \"clientId\": \"YOUR_CLIENT_ID\",\n"
                "  \"audience\": \"https://api.example.com\",\n  \"apiUrl\": \"https://api.example.com\"\n}"
            }
            h3 { "2. Or try the local dev stack" }
            p(class="muted") {
                "From a checkout of Latchkey, run " code { "cargo xtask dev-stack" } " (a development "
                "sign-in provider and the sample API on this computer), and use this file:"
            }
            pre(id="config-example", class="code") { (dev_stack_example.clone()) }
            div(class="actions") {
                button(id="reload-config", class="primary", on:click=move |_| state.run("reload_config")) { "Check again" }
            }
        }
    }
}
