//! What to register at the provider for the loopback redirect (RFC 8252 §7.3), said the
//! same way by the set-up window, `doctor` and the README.
//!
//! RFC 8252 §7.3 asks providers to accept any port on a registered loopback redirect, and
//! most do (Keycloak, Entra ID, Google, oidc-provider). Some compare the redirect exactly,
//! port included: Auth0 ("Allowed Callback URLs"), Okta ("Sign-in redirect URIs") and dex
//! (a registered `redirectURIs` entry). For those the app listens on the first free port of
//! a fixed list (`loopbackPorts`), and each port's URL is registered.

use url::Url;

/// The ports suggested where the provider compares the redirect exactly: three, so that a
/// second copy of the app or a port someone else holds still leaves one free.
pub const SUGGESTED_LOOPBACK_PORTS: [u16; 3] = [53682, 53683, 53684];

/// The loopback redirect to register at providers that accept any port on it.
pub const ANY_PORT_CALLBACK: &str = "http://127.0.0.1/callback";

/// The callback URL for each of `ports`, in order: what to register at a provider that
/// compares the redirect exactly (as sign-in and as sign-out URLs).
pub fn callback_urls(ports: &[u16]) -> Vec<String> {
    ports
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}/callback"))
        .collect()
}

/// The provider's name when `issuer` is one known to compare loopback redirects exactly,
/// port included, so that an ephemeral port fails with "Callback URL mismatch".
pub fn exact_port_provider(issuer: &str) -> Option<&'static str> {
    let url = Url::parse(issuer).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    if host.ends_with(".auth0.com") {
        Some("Auth0")
    } else if host.ends_with(".okta.com") || host.ends_with(".oktapreview.com") {
        Some("Okta")
    } else {
        None
    }
}

/// The `loopbackPorts` a configuration file asks for, read leniently: the set-up window uses
/// it to show the URLs for the file's own ports even when another field of the file is
/// wrong. `None` when the file names no usable list.
pub fn ports_in(config_text: &str) -> Option<Vec<u16>> {
    let value: serde_json::Value = serde_json::from_str(config_text).ok()?;
    let ports: Vec<u16> = value
        .get("loopbackPorts")?
        .as_array()?
        .iter()
        .filter_map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()))
        .filter(|p| *p >= 1024)
        .collect();
    (!ports.is_empty()).then_some(ports)
}

/// The line `doctor` prints about the redirect for a configuration: a failure where the
/// provider compares the port and no ports are configured, else what to register.
pub fn registration(issuer: &str, ports: &[u16]) -> Result<String, (String, String)> {
    if !ports.is_empty() {
        return Ok(format!(
            "register these callback URLs at the provider (sign-in and sign-out): {}",
            callback_urls(ports).join(", ")
        ));
    }
    match exact_port_provider(issuer) {
        Some(provider) => Err((
            format!(
                "{provider} compares the callback URL exactly, port included, and no \"loopbackPorts\" are configured: every sign-in would end in \"Callback URL mismatch\""
            ),
            format!(
                "add \"loopbackPorts\": {:?} to the configuration and register {} at {provider}",
                SUGGESTED_LOOPBACK_PORTS,
                callback_urls(&SUGGESTED_LOOPBACK_PORTS).join(", ")
            ),
        )),
        None => Ok(format!(
            "the sign-in listens on a free port each time: register {ANY_PORT_CALLBACK} at the provider (a provider that compares the port needs \"loopbackPorts\")"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth0_and_okta_are_known_to_compare_the_port() {
        assert_eq!(
            exact_port_provider("https://acme.eu.auth0.com/"),
            Some("Auth0")
        );
        assert_eq!(
            exact_port_provider("https://acme.okta.com/oauth2/default"),
            Some("Okta")
        );
        assert_eq!(exact_port_provider("https://kc.example/realms/x"), None);
        assert_eq!(exact_port_provider("not a url"), None);
    }

    #[test]
    fn auth0_without_ports_fails_with_the_urls_to_register() {
        let (finding, fix) = registration("https://acme.us.auth0.com/", &[]).unwrap_err();
        assert!(finding.contains("Callback URL mismatch"), "{finding}");
        assert!(fix.contains("[53682, 53683, 53684]"), "{fix}");
        assert!(fix.contains("http://127.0.0.1:53684/callback"), "{fix}");
    }

    #[test]
    fn configured_ports_are_the_urls_to_register() {
        let line = registration("https://acme.us.auth0.com/", &[50000, 50001]).unwrap();
        assert!(
            line.ends_with("http://127.0.0.1:50000/callback, http://127.0.0.1:50001/callback"),
            "{line}"
        );
        let any = registration("https://kc.example/realms/x", &[]).unwrap();
        assert!(any.contains(ANY_PORT_CALLBACK), "{any}");
    }

    #[test]
    fn ports_are_read_from_a_file_with_other_mistakes() {
        let text = r#"{ "domain": "x", "clientId": 3, "loopbackPorts": [50000, "x", 80, 50001] }"#;
        assert_eq!(ports_in(text), Some(vec![50000, 50001]));
        assert_eq!(ports_in(r#"{ "loopbackPorts": [] }"#), None);
        assert_eq!(ports_in("{ not json"), None);
    }
}
