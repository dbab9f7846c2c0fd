use latchkey_ipc::guest;
use sycamore::prelude::*;

use crate::components::copy::CopyButton;
use crate::state::AppState;

/// The first window when no provider is configured (or its file has a mistake): where
/// `auth_config.json` goes, what a complete one looks like for a provider that compares the
/// callback URL exactly (Auth0, Okta: a port list and the URLs to register, with a copy
/// button) and for one that takes any loopback port, and how to try the dev stack. The same
/// advice as the README's provider sections and `latchkey-cli doctor`.
#[component(inline_props)]
/// `problem` is empty when there is simply no file yet; `ports_from_file` says the ports are
/// those of the file that is there.
pub fn Setup(
    config_path: String,
    problem: String,
    dev_stack_example: String,
    loopback_ports: Vec<u16>,
    callback_urls: Vec<String>,
    ports_from_file: bool,
) -> View {
    let state = use_context::<AppState>();
    let problem = Some(problem).filter(|p| !p.is_empty());
    let heading = if problem.is_some() {
        "Latchkey's configuration needs a fix"
    } else {
        "Connect Latchkey to your sign-in provider"
    };
    let exact_example = exact_port_example(&loopback_ports);
    let urls = callback_urls.join("\n");
    let shown_urls = urls.clone();
    let whose_ports = if ports_from_file {
        "the ports in your file"
    } else {
        "the ports in this example"
    };
    view! {
        section(id="setup", class="card setup") {
            h1 { (heading) }
            (match problem.clone() {
                Some(text) => view! { div(id="config-problem", class="notice error", role="alert") { (text) } },
                None => view! {
                    p(class="muted") {
                        "Latchkey signs you in with an OpenID Provider (Auth0, Okta, Keycloak, Entra ID, …), "
                        "but none is configured on this computer yet."
                    }
                },
            })
            h2(class="step") { "1. Write the configuration file" }
            p { "Latchkey reads it from:" }
            pre(id="config-path", class="code path") { (config_path.clone()) }
            h3 { "Auth0, Okta and dex" }
            p(id="exact-port-advice", class="muted") {
                "These providers compare the callback URL exactly, port included. Create a native "
                "(public) application, list a few ports in \"loopbackPorts\" (Latchkey takes the "
                "first free one), and use your tenant's domain or issuer, the application's client "
                "ID and your API:"
            }
            pre(id="config-example-exact", class="code") { (exact_example) }
            p { "Register these URLs as allowed callback and logout URLs, for " (whose_ports) ":" }
            div(class="callback-urls") {
                pre(id="callback-urls", class="code") { (shown_urls.clone()) }
                CopyButton(id="copy-callback-urls", label="Copy the callback URLs", text=urls)
            }
            h3 { "Keycloak, Entra ID, Google and others" }
            p(id="any-port-advice", class="muted") {
                "Providers that accept any port on a loopback redirect (RFC 8252) need one URL: "
                "register " code { "http://127.0.0.1/callback" } " and leave \"loopbackPorts\" out:"
            }
            pre(class="code") {
                "{\n  \"issuer\": \"https://YOUR_PROVIDER/realms/YOUR_REALM\",\n  \"clientId\": \"YOUR_CLIENT_ID\",\n"
                "  \"apiUrl\": \"https://api.example.com\"\n}"
            }
            h2(class="step") { "2. Or try the local dev stack" }
            p(class="muted") {
                "From a checkout of Latchkey, run " code { "cargo xtask dev-stack" } " (a development "
                "sign-in provider and the sample API on this computer), and use this file:"
            }
            pre(id="config-example", class="code") { (dev_stack_example.clone()) }
            div(class="actions") {
                button(id="reload-config", class="primary", on:click=move |_| state.run(guest::reload_config)) { "Check again" }
            }
        }
    }
}

/// An `auth_config.json` for a provider that compares the callback URL exactly.
pub fn exact_port_example(ports: &[u16]) -> String {
    let ports = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{{\n  \"domain\": \"YOUR_TENANT.us.auth0.com\",\n  \"clientId\": \"YOUR_CLIENT_ID\",\n  \
         \"audience\": \"https://api.example.com\",\n  \"apiUrl\": \"https://api.example.com\",\n  \
         \"loopbackPorts\": [{ports}]\n}}"
    )
}

#[cfg(test)]
mod tests {
    use super::exact_port_example;

    #[test]
    fn the_exact_port_example_is_a_file_latchkey_reads_with_those_ports() {
        let example = exact_port_example(&[53682, 53683, 53684]);
        let parsed: serde_json::Value = serde_json::from_str(&example).expect("valid JSON");
        assert_eq!(
            parsed["loopbackPorts"],
            serde_json::json!([53682, 53683, 53684])
        );
        assert_eq!(parsed["domain"], "YOUR_TENANT.us.auth0.com");
    }
}
