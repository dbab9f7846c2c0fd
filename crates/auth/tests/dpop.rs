//! DPoP (RFC 9449) from sign-in to the API: the tokens are bound to a key the session holds,
//! every token request and API call carries a proof, nonces are answered, the key lives and
//! dies with the vault entry, and a refresh token copied without it is worth nothing.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use latchkey_api::{AppState, Dpop, DpopPolicy};
use latchkey_auth::{ApiClient, Config, Restored, SessionStore};
use latchkey_dev_idp::{API_AUDIENCE, DESKTOP_CLIENT_ID, Settings, Tamper};

/// The stack's config with `changes` merged in.
fn config_with(stack: &Stack, api_url: &str, changes: serde_json::Value) -> Config {
    let mut json = serde_json::json!({
        "issuer": stack.idp.issuer(),
        "clientId": DESKTOP_CLIENT_ID,
        "audience": API_AUDIENCE,
        "apiUrl": api_url,
    });
    for (key, value) in changes.as_object().unwrap() {
        json[key] = value.clone();
    }
    Config::parse(&json.to_string(), "test config").unwrap()
}

/// An API that takes DPoP-bound tokens only, and demands nonces.
async fn strict_api(stack: &Stack) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(stack.idp.issuer(), API_AUDIENCE)
        .with_dpop(Dpop::new(DpopPolicy::Required).with_nonces(300));
    tokio::spawn(async move { axum::serve(listener, latchkey_api::app(state)).await });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_bound_sign_in_restore_refresh_api_calls_and_sign_out() {
    require_scripted_browser();
    let stack = stack_with(Settings {
        dpop_nonces: true,
        ..Settings::default()
    })
    .await;
    let api = strict_api(&stack).await;
    let config = config_with(&stack, &api, serde_json::json!({ "dpop": true }));
    let session = stack.session_with(
        config.clone(),
        std::sync::Arc::new(latchkey_auth::SystemBrowser),
    );
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let counters = stack.idp.counters();
    assert!(
        counters.dpop_nonce_challenges.load(Ordering::SeqCst) >= 1,
        "the token endpoint's nonce challenge was met"
    );
    assert!(counters.dpop_proofs.load(Ordering::SeqCst) >= 1);

    // The API demands a proof and a nonce of its own: the first call answers both.
    let url = format!("{api}/api/messages/protected");
    let refreshes = counters.refresh_grants.load(Ordering::SeqCst);
    let answer = ApiClient::new(session.clone()).get(&url).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("dev-idp|jemma"), "{}", answer.body);
    assert_eq!(
        counters.refresh_grants.load(Ordering::SeqCst),
        refreshes,
        "the API's nonce challenge was answered with the nonce, not with new tokens"
    );

    // The vault keeps the key beside the refresh token it binds.
    let stored = stack.store().await.load().await.unwrap().session.unwrap();
    let key = stored
        .dpop_key
        .clone()
        .expect("the DPoP key is kept in the vault entry");
    let copied = stored.refresh_token.secret().clone();

    // A copy of the refresh token without the key: refused by the provider.
    let stolen = reqwest::Client::new()
        .post(format!("{}oauth/token", stack.idp.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", DESKTOP_CLIENT_ID),
            ("refresh_token", copied.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 400);
    assert_eq!(counters.dpop_key_mismatches.load(Ordering::SeqCst), 1);

    // Another process restores the session: the refresh proves the same key.
    let other = stack.session_with(
        config.clone(),
        std::sync::Arc::new(latchkey_auth::NoBrowser),
    );
    assert!(matches!(
        other.restore().await.unwrap(),
        Restored::SignedIn(_)
    ));
    let answer = ApiClient::new(other.clone()).get(&url).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let after = stack.store().await.load().await.unwrap().session.unwrap();
    assert_ne!(after.refresh_token.secret(), &copied, "rotated");
    assert_eq!(
        after.dpop_key.unwrap().thumbprint(),
        key.thumbprint(),
        "the same key stays bound to the rotated token"
    );

    // Signing out deletes the entry, and the key with it.
    other.logout().await;
    let entry = SessionStore::for_app(&stack.app, stack.idp.issuer(), DESKTOP_CLIENT_ID)
        .account("dev-idp|jemma")
        .load()
        .await
        .unwrap();
    assert!(
        entry.session.is_none(),
        "no session, no key left in the vault"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_answer_to_a_dpop_request_is_refused_as_a_downgrade_unless_allowed() {
    require_scripted_browser();
    let stack = stack().await;
    let config = config_with(&stack, &stack.api_url, serde_json::json!({ "dpop": true }));
    let session = stack.session_with(config, std::sync::Arc::new(latchkey_auth::SystemBrowser));
    stack.idp.tamper(Tamper::TokenType("Bearer"));
    let err = session.login(as_user("jemma"), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("downgrade"), "{err}");
    assert!(!session.is_signed_in());

    let config = config_with(
        &stack,
        &stack.api_url,
        serde_json::json!({ "dpop": true, "dpopAllowBearer": true }),
    );
    let session = stack.session_with(config, std::sync::Arc::new(latchkey_auth::SystemBrowser));
    stack.idp.tamper(Tamper::TokenType("Bearer"));
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let stored = stack.store().await.load().await.unwrap().session.unwrap();
    assert!(stored.dpop_key.is_none(), "bearer tokens: no key kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_is_used_when_the_provider_offers_it_and_never_when_the_config_says_no() {
    require_scripted_browser();
    let stack = stack().await;
    // Offered in discovery, nothing configured: on.
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let proofs = stack.idp.counters().dpop_proofs.load(Ordering::SeqCst);
    assert!(proofs >= 1, "the code exchange carried a proof");
    let answer = ApiClient::new(session.clone())
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    session.logout().await;

    // "dpop": false: plain bearer tokens, no proof sent.
    let config = config_with(&stack, &stack.api_url, serde_json::json!({ "dpop": false }));
    let session = stack.session_with(config, std::sync::Arc::new(latchkey_auth::SystemBrowser));
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    assert_eq!(
        stack.idp.counters().dpop_proofs.load(Ordering::SeqCst),
        proofs,
        "no proof with \"dpop\": false"
    );
    let stored = stack.store().await.load().await.unwrap().session.unwrap();
    assert!(stored.dpop_key.is_none());
    let answer = ApiClient::new(session.clone())
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
}
