//! Refresh (single-flight, rotation, outages, invalid_grant), restore and log-out.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use latchkey_auth::{ApiClient, Restored, SessionError};
use latchkey_dev_idp::Settings;

#[tokio::test]
async fn concurrent_calls_with_an_expired_token_share_one_refresh() {
    let stack = stack_with(Settings::default()).await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let old = session
        .store()
        .refresh_token()
        .await
        .unwrap()
        .expect("stored");
    session.expire_access_token();

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

    let new = session
        .store()
        .refresh_token()
        .await
        .unwrap()
        .expect("stored");
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
    let stack = stack_with(Settings::default()).await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let stored = session
        .store()
        .refresh_token()
        .await
        .unwrap()
        .expect("stored");
    session.expire_access_token();
    let api = ApiClient::new(session.clone());

    stack.idp.set_unavailable(true);
    let err = api
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("session is kept"), "{err}");
    assert!(session.is_signed_in());
    assert_eq!(
        session
            .store()
            .refresh_token()
            .await
            .unwrap()
            .unwrap()
            .secret(),
        stored.secret()
    );

    stack.idp.set_unavailable(false);
    let vault = stack.store().await;
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
    assert_eq!(
        vault.refresh_token().await.unwrap().unwrap().secret(),
        stored.secret(),
        "still stored"
    );
}

#[tokio::test]
async fn invalid_grant_ends_the_session_and_deletes_the_stored_token() {
    let stack = stack_with(Settings::default()).await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let stored = session
        .store()
        .refresh_token()
        .await
        .unwrap()
        .expect("stored");
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
    session.expire_access_token();
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
        session.store().refresh_token().await.unwrap().is_none(),
        "the dead token is gone"
    );
}

#[tokio::test]
async fn a_new_process_restores_the_session_from_the_vault_without_a_browser() {
    let stack = stack().await;
    let first = stack.session();
    first.login(as_user("paul"), |_| {}).await.unwrap();

    let restarted = stack.session_without_browser();
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
    let stored = session
        .store()
        .refresh_token()
        .await
        .unwrap()
        .expect("stored");

    let outcome = session.logout().await;
    assert!(outcome.revoked);
    assert!(outcome.vault_error.is_none());
    assert!(
        !stack.idp.refresh_token_is_active(stored.secret()),
        "revoked at the provider"
    );
    assert!(
        session.store().refresh_token().await.unwrap().is_none(),
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
    let stored = session.store().refresh_token().await.unwrap().unwrap();
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

/// A browser that remembers what it was asked to open; the test plays the person.
#[derive(Default)]
struct RecordingBrowser(std::sync::Mutex<Vec<url::Url>>);

impl latchkey_auth::BrowserLauncher for RecordingBrowser {
    fn open(&self, url: &url::Url) -> std::io::Result<()> {
        self.0.lock().unwrap().push(url.clone());
        Ok(())
    }
}

#[tokio::test]
async fn signing_out_at_the_provider_comes_back_with_the_state_it_was_given() {
    let stack = stack().await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let end = session
        .logout()
        .await
        .end_session_url
        .expect("an end-session URL");
    // The system (scripted) browser follows the provider back to Latchkey's loopback page.
    session
        .end_provider_session(&end, Duration::from_secs(30))
        .await
        .expect("the provider confirmed the sign-out");
}

#[tokio::test]
async fn a_sign_out_confirmation_with_another_state_is_refused() {
    let stack = stack().await;
    let signed_in = stack.session();
    signed_in.login(as_user("jemma"), |_| {}).await.unwrap();
    let end = signed_in.logout().await.end_session_url.unwrap();

    let browser = Arc::new(RecordingBrowser::default());
    let session = stack.session_with(stack.config.clone(), browser.clone());
    let waiting = {
        let (session, end) = (session.clone(), end.clone());
        tokio::spawn(async move {
            session
                .end_provider_session(&end, Duration::from_secs(30))
                .await
        })
    };
    let opened = loop {
        if let Some(url) = browser.0.lock().unwrap().first().cloned() {
            break url;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // RP-Initiated Logout 1.0 §2: id_token_hint, post_logout_redirect_uri and state.
    assert!(opened.as_str().starts_with(end.as_str()), "{opened}");
    let state = query(&opened, "state");
    assert!(state.len() >= 22, "a random state: {} chars", state.len());
    assert!(query(&opened, "id_token_hint").starts_with("ey"));
    let back = url::Url::parse(&query(&opened, "post_logout_redirect_uri")).unwrap();
    assert_eq!(back.host_str(), Some("127.0.0.1"));

    let http = reqwest::Client::new();
    let forged = http
        .get(back.as_str())
        .query(&[("state", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    // A forged confirmation is not taken: the listener still waits for the provider's own
    // redirect below, whose page says the sign-out is done.

    // The provider's own redirect carries the state back.
    let page = http.get(opened.as_str()).send().await.unwrap();
    assert!(page.status().is_success());
    assert!(
        page.text().await.unwrap().contains("You are signed out"),
        "the tab says so"
    );
    waiting.await.unwrap().expect("confirmed");
}
