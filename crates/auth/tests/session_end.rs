//! Why a session ended: each reason a person is asked to sign in again is reached through the
//! dev IdP, and says itself in one sentence (the signed-out view and the CLI show it).

mod common;

use common::*;
use latchkey_auth::{Session, SessionError, SignInRequired};
use latchkey_dev_idp::Tamper;

/// Signs jemma in through the scripted browser; returns the session and its refresh token.
async fn signed_in(stack: &Stack) -> (Session, String) {
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let token = session.store().refresh_token().await.unwrap().unwrap();
    (session, token.secret().clone())
}

fn another_process(stack: &Stack) -> Session {
    stack.session_without_browser()
}

/// The error ended the session, says `sentence`, and left nothing of it in the vault.
async fn ended_with(err: SessionError, session: &Session, sentence: &str) {
    assert!(err.ended_the_session(), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(sentence), "{message}");
    assert!(message.ends_with("sign in again") || message.contains("sign in again"));
    assert!(!session.is_signed_in());
    assert!(
        session.store().refresh_token().await.unwrap().is_none(),
        "nothing of the ended session is kept"
    );
}

#[tokio::test]
async fn a_session_the_provider_revoked_says_it_was_revoked_or_expired() {
    let stack = stack().await;
    let (_, token) = signed_in(&stack).await;
    let revoked = reqwest::Client::new()
        .post(format!("{}oauth/revoke", stack.idp.issuer()))
        .form(&[("token", token.as_str()), ("client_id", "latchkey-desktop")])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let restarted = another_process(&stack);
    let err = restarted.restore().await.unwrap_err();
    assert!(matches!(err, SessionError::Expired), "{err:?}");
    ended_with(
        err,
        &restarted,
        "your provider ended the session (it was revoked or has expired)",
    )
    .await;
}

#[tokio::test]
async fn a_session_signed_out_in_another_process_says_so_in_this_one() {
    let stack = stack().await;
    let (desktop, _) = signed_in(&stack).await;
    let cli = another_process(&stack);
    cli.restore().await.unwrap();
    assert!(cli.logout().await.revoked);
    // The desktop's next renewal finds the entry gone.
    let err = desktop.reload_profile().await.unwrap_err();
    assert!(matches!(err, SessionError::SignedOutElsewhere), "{err:?}");
    let message = err.to_string();
    assert!(err.ended_the_session());
    assert!(
        message
            .contains("you signed out in another window of this app or in its command-line tool"),
        "{message}"
    );
    assert!(!desktop.is_signed_in());
}

#[tokio::test]
async fn a_provider_that_answers_for_another_person_ends_the_session_and_says_so() {
    let stack = stack().await;
    signed_in(&stack).await;
    stack.idp.tamper(Tamper::IdTokenOtherSubject);
    let restarted = another_process(&stack);
    let err = restarted.restore().await.unwrap_err();
    assert!(
        matches!(err, SessionError::IdentityChanged { .. }),
        "{err:?}"
    );
    ended_with(
        err,
        &restarted,
        "your provider now answers for another person",
    )
    .await;
}

#[tokio::test]
async fn a_provider_that_asks_for_a_new_sign_in_says_which_step_it_wants() {
    let cases = [
        (
            "login_required",
            SignInRequired::Login,
            "asks you to sign in again",
        ),
        (
            "interaction_required",
            SignInRequired::Interaction,
            "complete a step it asks for",
        ),
        (
            "consent_required",
            SignInRequired::Consent,
            "approve this app's access",
        ),
    ];
    for (code, kind, sentence) in cases {
        let stack = stack().await;
        signed_in(&stack).await;
        stack.idp.tamper(Tamper::RefreshNeedsSignIn(code));
        let restarted = another_process(&stack);
        let err = restarted.restore().await.unwrap_err();
        assert!(
            matches!(&err, SessionError::SignInRequired(k) if *k == kind),
            "{code}: {err:?}"
        );
        assert!(err.to_string().contains(code), "{code}: {err}");
        ended_with(err, &restarted, sentence).await;
    }
}

#[tokio::test]
async fn an_outage_is_not_a_reason_to_sign_in_again() {
    let stack = stack().await;
    let (_, token) = signed_in(&stack).await;
    stack.idp.set_unavailable(true);
    let restarted = another_process(&stack);
    let restored = restarted.restore().await.unwrap();
    assert!(
        matches!(restored, latchkey_auth::Restored::Offline { .. }),
        "{restored:?}"
    );
    assert_eq!(
        restarted
            .store()
            .refresh_token()
            .await
            .unwrap()
            .unwrap()
            .secret(),
        &token,
        "kept for later"
    );
}
