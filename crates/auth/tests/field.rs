//! The session in the field: several processes on one vault entry, a provider that does not
//! rotate, refreshed ID tokens about someone else, offline starts, unconfirmed sign-outs.
//!
//! Each `Session` built here is what a separate Latchkey process holds: its own memory, the
//! shared vault entry and the shared lock file. The CLI tests run the same with real processes.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use latchkey_auth::{ApiClient, Restored, Session, SessionError};
use latchkey_dev_idp::{Settings, Tamper};

fn without_rotation(mut settings: Settings) -> Settings {
    for client in &mut settings.clients {
        client.rotate_refresh_tokens = false;
    }
    settings
}

/// Another process: its own memory, the same vault entry.
fn another_process(stack: &Stack) -> Session {
    stack.session_without_browser()
}

fn reuse(stack: &Stack) -> usize {
    stack.idp.counters().refresh_reuse.load(Ordering::SeqCst)
}

async fn signed_in_name(session: &Session) -> String {
    match session.restore().await {
        Ok(Restored::SignedIn(profile)) => profile.display_name().to_owned(),
        other => panic!("expected a signed-in session, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn processes_restoring_at_once_share_the_session_without_a_replay() {
    let stack = stack().await;
    stack
        .session()
        .login(as_user("jemma"), |_| {})
        .await
        .unwrap();

    let processes: Vec<Session> = (0..6).map(|_| another_process(&stack)).collect();
    let restores: Vec<_> = processes
        .iter()
        .cloned()
        .map(|s| tokio::spawn(async move { s.restore().await }))
        .collect();
    for restore in restores {
        match restore.await.unwrap() {
            Ok(Restored::SignedIn(profile)) => assert_eq!(profile.display_name(), "Jemma Doe"),
            other => panic!("every process stays signed in, got {other:?}"),
        }
    }
    assert_eq!(reuse(&stack), 0, "no process replayed a rotated token");
    assert_eq!(
        stack.idp.counters().refresh_grants.load(Ordering::SeqCst),
        6,
        "one redemption each, one after the other"
    );
    // The session outlives them all.
    assert_eq!(signed_in_name(&another_process(&stack)).await, "Jemma Doe");
    let stored = stack.store().await.refresh_token().await;
    assert!(
        stack
            .idp
            .refresh_token_is_active(stored.unwrap().unwrap().secret())
    );
}

#[tokio::test]
async fn the_desktop_engine_uses_the_token_another_process_rotated_instead_of_replaying_its_own() {
    let stack = stack_with(Settings::default()).await;
    let desktop = stack.session();
    desktop.login(as_user("paul"), |_| {}).await.unwrap();
    let api = ApiClient::new(desktop.clone());
    let protected = stack.api("/api/messages/protected");

    for _ in 0..2 {
        // The CLI starts, restores (rotating the token), and exits.
        assert_eq!(signed_in_name(&another_process(&stack)).await, "Paul Smith");
        // The window's access token expires; its refresh must not replay the old token.
        desktop.expire_access_token();
        assert_eq!(api.get(&protected).await.unwrap().status, 200);
    }
    assert_eq!(reuse(&stack), 0);
    assert!(desktop.is_signed_in());
    assert_eq!(signed_in_name(&another_process(&stack)).await, "Paul Smith");
}

#[tokio::test]
async fn a_provider_that_does_not_rotate_keeps_the_one_token_across_restores_and_refreshes() {
    let stack = stack_with(without_rotation(Settings::default())).await;
    let first = stack.session();
    first.login(as_user("jemma"), |_| {}).await.unwrap();
    let original = first.store().refresh_token().await.unwrap().unwrap();

    // A restart: nothing in memory yet, and the answer has no refresh_token.
    let restarted = another_process(&stack);
    assert_eq!(signed_in_name(&restarted).await, "Jemma Doe");
    let api = ApiClient::new(restarted.clone());
    for _ in 0..2 {
        restarted.expire_access_token();
        assert_eq!(
            api.get(&stack.api("/api/messages/protected"))
                .await
                .unwrap()
                .status,
            200
        );
    }
    assert_eq!(
        stack.idp.counters().refresh_grants.load(Ordering::SeqCst),
        3
    );
    assert!(restarted.is_signed_in());
    let stored = restarted.store().refresh_token().await.unwrap().unwrap();
    assert_eq!(
        stored.secret(),
        original.secret(),
        "the vault holds the one token"
    );
    assert_eq!(signed_in_name(&another_process(&stack)).await, "Jemma Doe");
}

#[tokio::test]
async fn a_refreshed_id_token_about_another_sign_in_is_refused_in_a_new_process() {
    let cases = [
        (Tamper::IdTokenOtherSubject, "another user"),
        (Tamper::IdTokenOtherAuthTime, "another authentication time"),
        (Tamper::IdTokenWrongNonce, "nonce"),
        (Tamper::IdTokenWrongAudience, "audience"),
        (Tamper::IdTokenWrongAzp, "another-client"),
    ];
    for (tamper, expected) in cases {
        let stack = stack().await;
        stack
            .session()
            .login(as_user("jemma"), |_| {})
            .await
            .unwrap();
        stack.idp.tamper(tamper);
        let restarted = another_process(&stack);
        let err = restarted
            .restore()
            .await
            .expect_err(&format!("{tamper:?} is refused"));
        let message = err.to_string();
        assert!(message.contains(expected), "{tamper:?}: {message}");
        assert!(
            matches!(
                err,
                SessionError::IdentityChanged { .. } | SessionError::Answer(_)
            ),
            "{tamper:?}: {err:?}"
        );
        assert!(!restarted.is_signed_in(), "{tamper:?}");
        assert!(restarted.profile().is_none());
        assert!(
            !message.contains("Somebody Else") && !message.contains("someone-else"),
            "the other identity is never shown: {message}"
        );
        if matches!(err, SessionError::IdentityChanged { .. }) {
            assert!(
                restarted.store().refresh_token().await.unwrap().is_none(),
                "{tamper:?}: nothing of that session is kept"
            );
        }
    }
}

#[tokio::test]
async fn a_sign_in_id_token_with_an_untrusted_audience_or_another_authorized_party_is_refused() {
    for (tamper, expected) in [
        (Tamper::IdTokenExtraAudience, "urn:untrusted:audience"),
        (Tamper::IdTokenWrongAzp, "another-client"),
    ] {
        let stack = stack().await;
        stack.idp.tamper(tamper);
        let session = stack.session();
        let err = session
            .login(as_user("jemma"), |_| {})
            .await
            .expect_err(&format!("{tamper:?} is refused"));
        assert!(err.to_string().contains(expected), "{tamper:?}: {err}");
        assert!(!session.is_signed_in());
        assert!(session.store().refresh_token().await.unwrap().is_none());
    }
}

#[tokio::test]
async fn an_offline_start_keeps_the_session_shows_whose_it_is_and_reconnects() {
    let mut stack = stack().await;
    stack
        .session()
        .login(as_user("jemma"), |_| {})
        .await
        .unwrap();
    let stored = stack.store().await.refresh_token().await.unwrap().unwrap();

    stack.idp.suspend().await;
    let restarted = another_process(&stack);
    match restarted.restore().await.expect("offline is not an error") {
        Restored::Offline {
            profile,
            reason,
            details,
        } => {
            assert_eq!(profile.expect("cached").display_name(), "Jemma Doe");
            let host = stack.idp.addr().to_string();
            assert_eq!(
                reason,
                format!("Your sign-in provider ({host}) cannot be reached"),
                "one calm sentence naming the provider"
            );
            assert!(
                details.contains("cannot reach the sign-in provider")
                    && details.contains("Connection refused"),
                "the whole chain for support: {details}"
            );
        }
        other => panic!("expected offline, got {other:?}"),
    }
    assert!(!restarted.is_signed_in());
    let err = ApiClient::new(restarted.clone())
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("session is kept"), "{err}");
    assert_eq!(
        restarted
            .store()
            .refresh_token()
            .await
            .unwrap()
            .unwrap()
            .secret(),
        stored.secret(),
        "nothing deleted while offline"
    );

    // The provider comes back, but in an outage (its token endpoint answers 503): still
    // offline, and the loop keeps trying. Seen by the provider: a second attempt arrives
    // after the first failed ("Retry now" instead of waiting out the backoff).
    stack.idp.set_unavailable(true);
    stack.idp.resume().await.unwrap();
    let refused = || {
        stack
            .idp
            .counters()
            .unavailable_answers
            .load(Ordering::SeqCst)
    };
    let retry_now = Arc::new(tokio::sync::Notify::new());
    let reconnecting = {
        let (s, retry_now) = (restarted.clone(), retry_now.clone());
        tokio::spawn(async move { s.reconnect(&retry_now).await })
    };
    for attempt in 1..=2 {
        retry_now.notify_one();
        until(&format!("reconnect attempt {attempt}"), || {
            refused() >= attempt
        })
        .await;
    }
    assert!(!reconnecting.is_finished(), "still offline, still trying");
    assert!(!restarted.is_signed_in());

    // The outage ends: the next attempt signs the person back in.
    stack.idp.set_unavailable(false);
    retry_now.notify_one();
    let answer = tokio::time::timeout(Duration::from_secs(20), reconnecting)
        .await
        .expect("reconnects when asked")
        .unwrap()
        .unwrap();
    assert!(matches!(answer, Restored::SignedIn(_)), "{answer:?}");
    assert!(restarted.is_signed_in());
}

#[tokio::test]
async fn a_sign_out_the_provider_did_not_confirm_is_local_at_once_and_revoked_later() {
    let stack = stack().await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let token = session.store().refresh_token().await.unwrap().unwrap();

    stack.idp.set_revocation_unavailable(true);
    let outcome = session.logout().await;
    assert!(!outcome.revoked);
    assert!(outcome.revocation_pending);
    assert!(!session.is_signed_in(), "signed out locally at once");
    assert_eq!(session.pending_revocations(), 1);
    assert!(
        stack.idp.refresh_token_is_active(token.secret()),
        "the provider has not revoked it"
    );
    let entry = session.store().load().await.unwrap();
    assert!(entry.session.is_none(), "never used to sign in again");
    assert_eq!(entry.to_revoke.len(), 1, "kept only to revoke it");

    // The next start signs nobody in with it, and retries the revocation.
    let restarted = another_process(&stack);
    assert_eq!(restarted.restore().await.unwrap(), Restored::NothingStored);
    assert_eq!(restarted.pending_revocations(), 1);
    assert_eq!(restarted.retry_revocations().await.unwrap(), 1, "503 again");

    stack.idp.set_revocation_unavailable(false);
    assert_eq!(restarted.retry_revocations().await.unwrap(), 0);
    assert!(!stack.idp.refresh_token_is_active(token.secret()));
    assert!(
        restarted.store().vault().read().await.unwrap().is_none(),
        "the entry is gone once the provider confirmed"
    );
}

#[tokio::test]
async fn signing_out_in_one_process_signs_the_other_out_at_its_next_refresh() {
    let stack = stack_with(Settings::default()).await;
    let desktop = stack.session();
    desktop.login(as_user("jemma"), |_| {}).await.unwrap();
    let cli = another_process(&stack);
    assert_eq!(signed_in_name(&cli).await, "Jemma Doe");
    assert!(cli.logout().await.revoked);

    desktop.expire_access_token();
    let err = ApiClient::new(desktop.clone())
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            latchkey_auth::ApiError::Session(SessionError::SignedOutElsewhere)
        ),
        "{err}"
    );
    assert!(!desktop.is_signed_in());
    assert_eq!(reuse(&stack), 0);
}
