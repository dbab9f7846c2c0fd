//! The device authorization grant (RFC 8628) against the dev IdP: approval, `slow_down`,
//! expiry, denial, and answers that must be refused rather than polled in a busy loop.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use latchkey_auth::{DeviceCode, LoginError, Restored, Session};
use latchkey_dev_idp::{Settings, Tamper};
use tokio::sync::mpsc;

fn quick(interval_secs: u64, ttl_secs: u64) -> Settings {
    Settings {
        device_interval: Duration::from_secs(interval_secs),
        device_code_ttl: Duration::from_secs(ttl_secs),
        ..Settings::default()
    }
}

/// Starts a device sign-in; returns it and the code it shows.
async fn start(
    session: &Session,
) -> (
    tokio::task::JoinHandle<Result<latchkey_auth::Profile, LoginError>>,
    DeviceCode,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = session.clone();
    let login = tokio::spawn(async move {
        s.login_device(move |code| {
            let _ = tx.send(code.clone());
        })
        .await
    });
    let code = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the code is shown")
        .expect("the sign-in runs");
    (login, code)
}

/// The person, on another device: opens the verification page, signs in, decides.
async fn decide(code: &DeviceCode, user: &str, decision: &str) -> String {
    let http = reqwest::Client::new();
    let page = http
        .get(code.verification_uri_complete.clone().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&code.user_code),
        "the page has the code filled in"
    );
    http.post(code.verification_uri.clone())
        .form(&[
            ("user_code", code.user_code.to_lowercase().as_str()),
            ("username", user),
            ("password", "todo"),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_device_sign_in_is_stored_and_restored_like_a_browser_sign_in() {
    let stack = stack_with(quick(1, 60)).await;
    let session = stack.session_without_browser();
    let (login, code) = start(&session).await;
    assert_eq!(code.interval, Duration::from_secs(1));
    assert!(code.verification_uri.as_str().ends_with("/activate"));
    // Two polls answered authorization_pending; the sign-in goes on (it ends signed in
    // below, not with an error).
    until("two device polls", || {
        stack.idp.counters().device_polls.load(Ordering::SeqCst) >= 2
    })
    .await;
    assert!(
        decide(&code, "jemma", "approve")
            .await
            .contains("Device connected")
    );
    let profile = login.await.unwrap().expect("signed in");
    assert_eq!(profile.display_name(), "Jemma Doe");
    assert!(stack.idp.counters().device_polls.load(Ordering::SeqCst) >= 2);
    assert!(session.store().refresh_token().await.unwrap().is_some());

    let restarted = stack.session_without_browser();
    assert!(matches!(
        restarted.restore().await,
        Ok(Restored::SignedIn(_))
    ));
    assert!(restarted.logout().await.revoked);
}

#[tokio::test]
async fn slow_down_makes_the_device_poll_five_seconds_slower() {
    let stack = stack_with(quick(2, 60)).await;
    stack.idp.tamper(Tamper::DeviceIntervalTooShort);
    let session = stack.session_without_browser();
    let (login, code) = start(&session).await;
    // First poll at once, the second after the advertised 1 s: slow_down.
    until("a slow_down answer", || {
        stack
            .idp
            .counters()
            .device_slow_downs
            .load(Ordering::SeqCst)
            == 1
    })
    .await;
    decide(&code, "paul", "approve").await;
    let profile = tokio::time::timeout(Duration::from_secs(15), login)
        .await
        .expect("polls again after 1 + 5 s")
        .unwrap()
        .unwrap();
    assert_eq!(profile.display_name(), "Paul Smith");
    assert_eq!(
        stack
            .idp
            .counters()
            .device_slow_downs
            .load(Ordering::SeqCst),
        1,
        "the slower pace was kept"
    );
}

#[tokio::test]
async fn a_denied_or_expired_code_ends_with_a_clear_message() {
    let stack = stack_with(quick(1, 3)).await;
    let session = stack.session_without_browser();
    let (login, code) = start(&session).await;
    assert!(decide(&code, "jemma", "deny").await.contains("denied"));
    let err = login.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("access was denied"), "{err}");

    let (login, _) = start(&session).await;
    let err = tokio::time::timeout(Duration::from_secs(10), login)
        .await
        .expect("ends when the code expires")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, LoginError::DeviceCodeExpired), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    assert!(!session.is_signed_in());
}

#[tokio::test]
async fn a_malformed_device_answer_is_refused_at_once_never_polled() {
    for (tamper, expected) in [
        (Tamper::DeviceAnswerWithoutUserCode, "user_code"),
        (Tamper::DeviceIntervalZero, "poll every 0 s"),
        (Tamper::DeviceIntervalHuge, "1 to 60 s is accepted"),
        (Tamper::DeviceExpiresHuge, "lifetime"),
    ] {
        let stack = stack_with(quick(1, 60)).await;
        stack.idp.tamper(tamper);
        let session = stack.session_without_browser();
        let err = tokio::time::timeout(Duration::from_secs(5), session.login_device(|_| {}))
            .await
            .unwrap_or_else(|_| panic!("{tamper:?}: no answer within 5 s"))
            .expect_err("refused");
        assert!(err.to_string().contains(expected), "{tamper:?}: {err}");
        assert_eq!(
            stack.idp.counters().device_polls.load(Ordering::SeqCst),
            0,
            "{tamper:?}: never polled"
        );
    }
}

#[tokio::test]
async fn a_device_answer_without_an_id_token_says_it_is_missing_and_signs_nobody_in() {
    let stack = stack_with(quick(1, 60)).await;
    let session = stack.session_without_browser();
    // A plain OAuth 2.0 device grant (django-oauth-toolkit's): tokens, but no ID token.
    stack.idp.tamper(Tamper::TokenWithoutIdToken);
    let (login, code) = start(&session).await;
    decide(&code, "jemma", "approve").await;
    let err = login.await.unwrap().expect_err("nobody is signed in");
    assert!(
        matches!(
            err,
            LoginError::Answer(latchkey_auth::TokenAnswerError::NoIdToken { grant: "device" })
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("returned no ID token"), "{message}");
    assert!(
        !message.contains("not valid"),
        "missing is not invalid: {message}"
    );
    assert!(!session.is_signed_in());
    assert!(session.store().refresh_token().await.unwrap().is_none());
}
