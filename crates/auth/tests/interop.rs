//! The sign-in engine against an OpenID Provider nobody here wrote: the npm package
//! `oidc-provider` (OpenID Certified), started on loopback by this test. oidc-provider offers
//! DPoP (RFC 9449), so Latchkey binds its tokens there unless configured not to; one
//! provider also demands DPoP nonces.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use latchkey_auth::{ApiClient, Config, Session, SystemBrowser};
use tokio::io::{AsyncBufReadExt, BufReader};

const AUDIENCE: &str = "urn:latchkey:sample-api";

struct Interop {
    _provider: tokio::process::Child,
    issuer: String,
    api_url: String,
}

async fn start() -> Interop {
    start_with(&[]).await
}

async fn start_with(options: &[&str]) -> Interop {
    // `cargo test` names this crate's folder at run time; the one compiled in may be another
    // clone's when clones share a target directory.
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    );
    let dir = crate_dir.join("../../tests/interop");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "oidc-provider is not installed: run `cargo xtask test`, which runs `npm ci` in tests/interop"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut provider = tokio::process::Command::new("node")
        .arg(dir.join("provider.mjs"))
        .args([port.to_string().as_str(), AUDIENCE])
        .args(options)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(provider.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        let lines = &mut lines;
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(issuer) = line.strip_prefix("ready ") {
                return issuer.to_owned();
            }
        }
        panic!("oidc-provider exited before it was ready");
    });
    let issuer = ready.await.expect("oidc-provider starts");
    // Keep reading, or the provider dies of EPIPE at its next log line.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let state = latchkey_api::AppState::new(&issuer, AUDIENCE);
    tokio::spawn(async move { axum::serve(listener, latchkey_api::app(state)).await });
    Interop {
        _provider: provider,
        issuer,
        api_url,
    }
}

/// Whether the provider still honours `refresh_token`.
async fn provider_accepts(issuer: &str, refresh_token: &str) -> bool {
    let discovery: serde_json::Value =
        reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let response = reqwest::Client::new()
        .post(discovery["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "latchkey-desktop"),
        ])
        .send()
        .await
        .unwrap();
    response.status().is_success()
}

#[tokio::test]
async fn login_api_refresh_and_revoke_against_oidc_provider_with_dpop_and_its_nonces() {
    require_scripted_browser();
    let interop = start_with(&["dpop-nonce"]).await;
    let config = Config::parse(
        &serde_json::json!({
            "issuer": interop.issuer, "clientId": "latchkey-desktop", "audience": AUDIENCE,
            "apiUrl": interop.api_url, "scopes": "openid profile email offline_access"
        })
        .to_string(),
        "interop config",
    )
    .unwrap();
    let session = Session::with_browser(config, Arc::new(SystemBrowser));

    let profile = session
        .login(as_user("alice"), |_| {})
        .await
        .expect("signs in at oidc-provider");
    assert_eq!(profile.sub, "alice");
    assert_eq!(profile.claims["iss"], interop.issuer.as_str());

    let api = ApiClient::new(session.clone());
    let protected = api
        .get(&format!("{}/api/messages/protected", interop.api_url))
        .await
        .unwrap();
    assert_eq!(
        protected.status, 200,
        "the sample API accepts oidc-provider's JWT: {}",
        protected.body
    );

    let first = session
        .store()
        .refresh_token()
        .await
        .unwrap()
        .expect("a refresh token was stored");
    let (_, generation) = session.access_token().await.unwrap();
    session
        .refresh(generation)
        .await
        .expect("refreshes at oidc-provider");
    let second = session
        .store()
        .refresh_token()
        .await
        .unwrap()
        .expect("still stored");
    assert_ne!(
        first.secret(),
        second.secret(),
        "oidc-provider rotated the refresh token"
    );
    let stored = session.store().load().await.unwrap().session.unwrap();
    assert!(
        stored.dpop_key.is_some(),
        "the tokens are DPoP-bound: the key is kept with them"
    );
    assert!(
        !provider_accepts(&interop.issuer, second.secret()).await,
        "a copy of the refresh token without the key is refused by oidc-provider"
    );
    let again = api
        .get(&format!("{}/api/messages/protected", interop.api_url))
        .await
        .unwrap();
    assert_eq!(again.status, 200);

    let outcome = session.logout().await;
    assert!(outcome.revoked, "oidc-provider confirmed the revocation");
    let end = outcome
        .end_session_url
        .expect("oidc-provider has an end-session endpoint");
    assert!(end.query_pairs().any(|(k, _)| k == "id_token_hint"));
    assert!(session.store().refresh_token().await.unwrap().is_none());
    assert!(
        !provider_accepts(&interop.issuer, second.secret()).await,
        "the revoked token is refused"
    );
}

#[tokio::test]
async fn plain_bearer_tokens_at_oidc_provider_when_the_config_says_no_dpop() {
    require_scripted_browser();
    let interop = start().await;
    let config = Config::parse(
        &serde_json::json!({
            "issuer": interop.issuer, "clientId": "latchkey-desktop", "audience": AUDIENCE,
            "apiUrl": interop.api_url, "dpop": false
        })
        .to_string(),
        "interop config",
    )
    .unwrap();
    let session = Session::with_browser(config, Arc::new(SystemBrowser));
    session.login(as_user("carol"), |_| {}).await.unwrap();
    let stored = session.store().load().await.unwrap().session.unwrap();
    assert!(stored.dpop_key.is_none());
    let protected = ApiClient::new(session.clone())
        .get(&format!("{}/api/messages/protected", interop.api_url))
        .await
        .unwrap();
    assert_eq!(protected.status, 200, "{}", protected.body);
    // Unbound: the provider takes the refresh token from anyone holding it.
    assert!(provider_accepts(&interop.issuer, stored.refresh_token.secret()).await);
}

#[tokio::test]
async fn the_device_flow_against_oidc_provider() {
    require_scripted_browser();
    let interop = start().await;
    let config = Config::parse(
        &serde_json::json!({
            "issuer": interop.issuer, "clientId": "latchkey-desktop", "audience": AUDIENCE,
            "apiUrl": interop.api_url, "scopes": "openid profile email offline_access"
        })
        .to_string(),
        "interop config",
    )
    .unwrap();
    let session = Session::with_browser(config, Arc::new(latchkey_auth::NoBrowser));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = session.clone();
    let login = tokio::spawn(async move {
        s.login_device(move |code| {
            let _ = tx.send(code.clone());
        })
        .await
    });
    let code = rx.await.expect("oidc-provider gives a device code");
    let complete = code
        .verification_uri_complete
        .clone()
        .expect("oidc-provider gives verification_uri_complete");
    // The person, on another device, opens the link and signs in as bob.
    let browsed =
        tokio::process::Command::new(std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").unwrap())
            .arg(&complete)
            .env("SCRIPTED_BROWSER_USER", "bob")
            .status()
            .await
            .unwrap();
    assert!(browsed.success());
    let profile = tokio::time::timeout(std::time::Duration::from_secs(30), login)
        .await
        .expect("the device notices the approval")
        .unwrap()
        .expect("signed in with the device flow");
    assert_eq!(profile.sub, "bob");
    assert!(session.store().refresh_token().await.unwrap().is_some());
    assert!(session.logout().await.revoked);
}
