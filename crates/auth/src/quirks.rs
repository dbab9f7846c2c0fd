//! What some providers do differently from the specifications, in one place, each with the
//! provider's documentation. Everything else in the engine is standard OpenID Connect.
//!
//! Only Auth0 needs handling today:
//! - It grants `offline_access` without `prompt=consent` and would show a needless consent
//!   screen for it (Auth0 docs, "Get Refresh Tokens": ask for the `offline_access` scope);
//!   OpenID Connect Core §11 asks for `prompt=consent` everywhere else.
//! - Its logout without RP-Initiated Logout enabled is `/v2/logout` with `client_id` and
//!   `returnTo` (Auth0 docs, "Log Users Out of Auth0").
//! - Its sign-up screen is `screen_hint=signup` (Auth0 docs, "Universal Login: Customize
//!   Signup and Login Prompts"); elsewhere OpenID Connect Prompt Create 1.0's `prompt=create`
//!   where discovery lists it, else the same `screen_hint`, which a provider that does not
//!   know it ignores.
//! - It compares callback URLs exactly, port included ([`crate::advice`]).
//!
//! Auth0 is recognised by its tenant host (`*.auth0.com`) or, behind a custom domain, by its
//! discovery document: it lists Auth0's own `mfa_challenge_endpoint` (the MFA API), which no
//! standard document has.

use url::Url;

use crate::config::Config;
use crate::provider::Provider;

/// How a provider differs where Latchkey must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    Auth0,
    Standard,
}

impl Flavor {
    /// The provider's flavour, from the configured issuer and, when discovered, its document.
    pub(crate) fn of(config: &Config, provider: Option<&Provider>) -> Self {
        let by_document = provider.is_some_and(|p| p.extra().mfa_challenge_endpoint.is_some());
        if config.is_auth0() || by_document {
            Self::Auth0
        } else {
            Self::Standard
        }
    }

    /// Whether a refresh token (`offline_access`) needs `prompt=consent`.
    pub(crate) fn needs_consent_for_offline_access(self) -> bool {
        self == Self::Standard
    }

    /// Where to end the provider's browser session when discovery names no
    /// `end_session_endpoint`.
    pub(crate) fn fallback_logout(self, issuer: &Url) -> Option<Url> {
        match self {
            Self::Auth0 => issuer.join("v2/logout").ok(),
            Self::Standard => None,
        }
    }

    /// The authorization request parameter that opens the sign-up screen
    /// (`prompt_values` is discovery's `prompt_values_supported`).
    pub(crate) fn signup_parameter(self, prompt_values: &[String]) -> (&'static str, &'static str) {
        match self {
            Self::Standard if prompt_values.iter().any(|p| p == "create") => ("prompt", "create"),
            _ => ("screen_hint", "signup"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderMetadata;

    fn provider(issuer: &str, extra: serde_json::Value) -> (Config, Provider) {
        let config = Config::parse(
            &serde_json::json!({ "issuer": issuer, "clientId": "c", "apiUrl": "https://api.example.com" })
                .to_string(),
            "test",
        )
        .unwrap();
        let mut document = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}authorize"),
            "token_endpoint": format!("{issuer}oauth/token"),
            "jwks_uri": format!("{issuer}.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        });
        document
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let metadata: ProviderMetadata = serde_json::from_value(document).unwrap();
        let provider = Provider::from_metadata(&config, metadata).unwrap();
        (config, provider)
    }

    #[test]
    fn auth0_behind_a_custom_domain_is_recognised_by_its_discovery_document() {
        let (config, custom) = provider(
            "https://login.acme.example/",
            serde_json::json!({ "mfa_challenge_endpoint": "https://login.acme.example/mfa/challenge" }),
        );
        assert_eq!(Flavor::of(&config, None), Flavor::Standard);
        assert_eq!(Flavor::of(&config, Some(&custom)), Flavor::Auth0);
        let (config, tenant) = provider("https://tenant.eu.auth0.com/", serde_json::json!({}));
        assert_eq!(Flavor::of(&config, Some(&tenant)), Flavor::Auth0);
        let (config, keycloak) = provider("https://idp.example.com/", serde_json::json!({}));
        assert_eq!(Flavor::of(&config, Some(&keycloak)), Flavor::Standard);
    }

    #[test]
    fn each_quirk_applies_to_its_provider_only() {
        let auth0 = Flavor::Auth0;
        let standard = Flavor::Standard;
        assert!(!auth0.needs_consent_for_offline_access());
        assert!(standard.needs_consent_for_offline_access());
        assert_eq!(
            auth0
                .fallback_logout(&Url::parse("https://login.acme.example/").unwrap())
                .unwrap()
                .as_str(),
            "https://login.acme.example/v2/logout"
        );
        assert_eq!(
            standard.fallback_logout(&Url::parse("https://idp.example.com/").unwrap()),
            None
        );
        assert_eq!(
            auth0.signup_parameter(&["create".into()]),
            ("screen_hint", "signup")
        );
        assert_eq!(
            standard.signup_parameter(&["login".into(), "create".into()]),
            ("prompt", "create")
        );
        assert_eq!(
            standard.signup_parameter(&["login".into()]),
            ("screen_hint", "signup")
        );
    }
}
