//! Refresh (single-flight, rotation, outages, invalid_grant), restore and log-out.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use latchkey_auth::{ApiClient, NoBrowser, Restored, Session, SessionError};
use latchkey_dev_idp::Settings;

/// Access tokens that live 4 s are renewed after 2 s (half their life).
fn short_lived() -> Settings {
    Settings {
        access_token_ttl: Duration::from_secs(4),
        ..Settings::default()
    }
}

async fn wait_for_renewal() {
    tokio::time::sleep(Duration::from_millis(2200)).await;
}

#[tokio::test]
async fn concurrent_calls_with_an_expired_token_share_one_refresh() {
    let stack = stack_with(short_lived()).await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let old = session.vault().load().await.unwrap().expect("stored");
    wait_for_renewal().await;

    let api = ApiClient::new(session.clone());
    let url = stack.api("/api/messages/protected");
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (api, url) = (api.clone(), url.clone());
            tokio::spawn(async move { api.get(&url).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status, 200);
    }
    assert_eq!(
        stack.idp.counters().refresh_grants.load(Ordering::SeqCst),
        1
    );

    let new = session.vault().load().await.unwrap().expect("stored");
    assert_ne!(
        new.secret(),
        old.secret(),
        "the rotated token replaced the old one in the vault"
    );
    assert!(stack.idp.refresh_token_is_active(new.secret()));
    assert!(
        !stack.idp.refresh_token_is_active(old.secret()),
        "the provider refuses the old token"
    );
}

#[tokio::test]
async fn a_provider_outage_keeps_the_stored_session() {
    let stack = stack_with(short_lived()).await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let stored = session.vault().load().await.unwrap().expect("stored");
    wait_for_renewal().await;
    let api = ApiClient::new(session.clone());

    stack.idp.set_unavailable(true);
    let err = api
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("session is kept"), "{err}");
    assert!(session.is_signed_in());
    assert_eq!(
        session.vault().load().await.unwrap().unwrap().secret(),
        stored.secret()
    );

    stack.idp.set_unavailable(false);
    let issuer = stack.idp.issuer().to_owned();
    let url = stack.api("/api/messages/protected");
    stack.idp.stop().await;
    let err = api.get(&url).await.unwrap_err();
    assert!(
        matches!(
            err,
            latchkey_auth::ApiError::Session(SessionError::Offline(_))
        ),
        "{err}"
    );
    let vault = latchkey_auth::Vault::for_client(&issuer, latchkey_dev_idp::DESKTOP_CLIENT_ID);
    assert_eq!(
        vault.load().await.unwrap().unwrap().secret(),
        stored.secret(),
        "still stored"
    );
}

#[tokio::test]
async fn invalid_grant_ends_the_session_and_deletes_the_stored_token() {
    let stack = stack_with(short_lived()).await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let stored = session.vault().load().await.unwrap().expect("stored");
    // Someone revokes the grant at the provider (an admin, or another device's log-out).
    let revoked = reqwest::Client::new()
        .post(format!("{}oauth/revoke", stack.idp.issuer()))
        .form(&[
            ("token", stored.secret().as_str()),
            ("client_id", "latchkey-desktop"),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    wait_for_renewal().await;
    let err = ApiClient::new(session.clone())
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, latchkey_auth::ApiError::Session(SessionError::Expired)),
        "{err}"
    );
    assert!(!session.is_signed_in());
    assert!(
        session.vault().load().await.unwrap().is_none(),
        "the dead token is gone"
    );
}

#[tokio::test]
async fn a_new_process_restores_the_session_from_the_vault_without_a_browser() {
    let stack = stack().await;
    let first = stack.session();
    first.login(as_user("paul"), |_| {}).await.unwrap();

    let restarted = Session::with_browser(stack.config.clone(), Arc::new(NoBrowser));
    match restarted.restore().await.expect("restores") {
        Restored::SignedIn(profile) => assert_eq!(profile.name.as_deref(), Some("Paul Smith")),
        other => panic!("expected a restored session, got {other:?}"),
    }
    let protected = ApiClient::new(restarted)
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap();
    assert_eq!(protected.status, 200);
}

#[tokio::test]
async fn nothing_stored_restores_to_signed_out() {
    let stack = stack().await;
    let session = stack.session_without_browser();
    assert_eq!(session.restore().await.unwrap(), Restored::NothingStored);
    assert!(!session.is_signed_in());
}

#[tokio::test]
async fn logout_revokes_deletes_and_gives_the_end_session_url() {
    let stack = stack().await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let stored = session.vault().load().await.unwrap().expect("stored");

    let outcome = session.logout().await;
    assert!(outcome.revoked);
    assert!(outcome.vault_error.is_none());
    assert!(
        !stack.idp.refresh_token_is_active(stored.secret()),
        "revoked at the provider"
    );
    assert!(
        session.vault().load().await.unwrap().is_none(),
        "the vault entry is gone"
    );
    assert!(!session.is_signed_in());
    let end = outcome
        .end_session_url
        .expect("dev IdP has an end-session endpoint");
    assert!(
        end.as_str()
            .starts_with(&format!("{}oidc/logout", stack.idp.issuer()))
    );
    assert!(end.query_pairs().any(|(k, _)| k == "id_token_hint"));

    let refused = reqwest::Client::new()
        .post(format!("{}oauth/token", stack.idp.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", stored.secret().as_str()),
            ("client_id", "latchkey-desktop"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn tokens_never_show_in_debug_output() {
    let stack = stack().await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let stored = session.vault().load().await.unwrap().unwrap();
    let (access, _) = session.access_token().await.unwrap();
    for text in [
        format!("{stored:?}"),
        format!("{access:?}"),
        format!("{session:?}"),
        format!("{:?}", session.profile()),
    ] {
        assert!(
            !text.contains(stored.secret().as_str()) && !text.contains(access.secret().as_str()),
            "{text}"
        );
    }
}
