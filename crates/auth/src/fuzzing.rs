//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, never in a
//! release): each takes bytes as a hostile party would send them and runs the engine's own
//! code that reads them, against a fixed provider. None may panic, whatever the bytes.

use std::str::FromStr;
use std::time::Instant;

use openidconnect::core::CoreIdToken;
use openidconnect::{HttpRequest, HttpResponse, Nonce, RefreshToken};
use tokio::sync::oneshot;
use url::Url;

use crate::answer::{parse_answer, state_matches};
use crate::config::Config;
use crate::loopback::{Callback, WaitingLink};
use crate::provider::{Provider, ProviderMetadata};
use crate::redirect::parse_link;
use crate::session::Session;
use crate::store::Binding;

/// The issuer of the fixed provider.
pub const ISSUER: &str = "https://id.fuzz.example/";
/// The client the fixed provider's tokens are for.
pub const CLIENT_ID: &str = "fuzz-client";
/// The `state` of the sign-in the fixed session waits for.
pub const STATE: &str = "the-expected-state";
/// The nonce of that sign-in.
pub const NONCE: &str = "the-expected-nonce";

/// The discovery document of the fixed provider, with `jwks` as its key set.
pub fn discovery_document(jwks: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}authorize"),
        "token_endpoint": format!("{ISSUER}oauth/token"),
        "userinfo_endpoint": format!("{ISSUER}userinfo"),
        "jwks_uri": format!("{ISSUER}.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "jwks": jwks,
    })
}

fn config() -> Config {
    Config::parse(
        &serde_json::json!({
            "issuer": ISSUER,
            "clientId": CLIENT_ID,
            "apiUrl": "https://api.fuzz.example/",
        })
        .to_string(),
        "fuzz config",
    )
    .expect("the fuzz config is valid")
}

/// A provider (and a session waiting for a sign-in answer) built once per fuzz run.
pub struct Fixture {
    provider: Provider,
    session: Session,
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    /// The fixed provider, trusting the keys in `jwks` (a JWKS document).
    pub fn new(jwks: &serde_json::Value) -> Self {
        let document = discovery_document(jwks);
        let mut metadata: ProviderMetadata =
            serde_json::from_value(document.clone()).expect("the fixed discovery document reads");
        let keys = serde_json::from_value(jwks.clone()).expect("the fixed JWKS reads");
        metadata = metadata.set_jwks(keys);
        let provider = Provider::from_metadata(&config(), metadata).expect("a usable provider");
        let session = Session::new(config());
        session.accept_deep_links(Url::parse("dev.latchkey.desktop:/callback").expect("a URL"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        Self {
            provider,
            session,
            runtime,
        }
    }

    /// What the loopback listener and the flow do with a callback's query string.
    pub fn callback(&self, query: &str) {
        let Ok(params) = parse_answer(query) else {
            return;
        };
        if state_matches(&params, STATE) {
            let _ = crate::login::check_callback(&self.provider, &Callback::without_page(params));
        }
    }

    /// What the engine does with a token endpoint's answer: oauth2 reads `body` as the
    /// answer to a refresh, then the lifetime and any ID token are checked.
    pub fn token_response(&self, status: u16, body: &[u8]) {
        let answer = |_: HttpRequest| {
            let response = HttpResponse::new(body.to_vec());
            let (mut parts, body) = response.into_parts();
            parts.status = openidconnect::http::StatusCode::from_u16(status)
                .unwrap_or(openidconnect::http::StatusCode::OK);
            parts.headers.insert(
                openidconnect::http::header::CONTENT_TYPE,
                openidconnect::http::HeaderValue::from_static("application/json"),
            );
            std::future::ready(Ok::<_, std::io::Error>(HttpResponse::from_parts(
                parts, body,
            )))
        };
        let refresh = RefreshToken::new("r".into());
        let Ok(request) = self.provider.client.exchange_refresh_token(&refresh) else {
            return;
        };
        let Ok(response) = self.runtime.block_on(request.request_async(&answer)) else {
            return;
        };
        use openidconnect::{OAuth2TokenResponse, TokenResponse};
        let _ = crate::refresh::renew_at(Instant::now(), response.expires_in());
        if let Some(id_token) = response.id_token() {
            self.check_id_token(id_token);
        }
    }

    /// ID token validation of `text` (header, signature, claims), then the checks a
    /// refreshed one gets against the stored sign-in.
    pub fn id_token(&self, text: &str) {
        if let Ok(token) = CoreIdToken::from_str(text) {
            self.check_id_token(&token);
        }
    }

    fn check_id_token(&self, token: &CoreIdToken) {
        let nonce = Nonce::new(NONCE.into());
        for nonce in [Some(&nonce), None] {
            let Ok(claims) =
                crate::idtoken::verify_with_current_keys(&self.provider, CLIENT_ID, token, nonce)
            else {
                continue;
            };
            let _ = crate::idtoken::check_authorized_party(&claims, CLIENT_ID);
            let binding = Binding::from_claims(&claims, CLIENT_ID);
            let _ = crate::idtoken::check_refreshed(&binding, &claims);
            let _ = crate::profile::Profile::from_claims(&claims, None);
        }
    }

    /// A link the OS hands over (argv or an "open URL" event), delivered to a sign-in that
    /// waits for [`STATE`].
    pub fn deep_link(&self, text: &str) {
        let Some(url) = parse_link(text) else {
            return;
        };
        let (answer, _received) = oneshot::channel();
        *crate::lock_unpoisoned(&self.session.inner.waiting_link) = Some(WaitingLink {
            state: STATE.into(),
            answer,
        });
        let _ = self.session.deliver_redirect(&url);
    }
}

/// A discovery document as the engine reads it: parsed, then checked.
pub fn discovery(body: &[u8]) {
    if let Ok(metadata) = serde_json::from_slice::<ProviderMetadata>(body) {
        let _ = Provider::from_metadata(&config(), metadata);
    }
}

/// `auth_config.json` as the app and the CLI read it.
pub fn auth_config(text: &str) {
    let _ = Config::parse(text, "fuzz config");
}

/// A JWKS document as the engine reads it, then used to check `id_token` (a token the fuzz
/// target signed, or any text).
pub fn jwks(body: &[u8], id_token: &str) {
    let Ok(keys) = serde_json::from_slice(body) else {
        return;
    };
    let Ok(metadata) = serde_json::from_value::<ProviderMetadata>(discovery_document(
        &serde_json::json!({"keys": []}),
    )) else {
        return;
    };
    let Ok(provider) = Provider::from_metadata(&config(), metadata.set_jwks(keys)) else {
        return;
    };
    if let Ok(token) = CoreIdToken::from_str(id_token) {
        let _ = crate::idtoken::verify_with_current_keys(&provider, CLIENT_ID, &token, None);
    }
}
