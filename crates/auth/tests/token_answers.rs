//! One acceptance path for every grant: the same bad token answer is refused the same way
//! whether it answers the browser sign-in, the device grant or a refresh, and nothing of it
//! is kept.

mod common;

use std::time::Duration;

use common::*;
use latchkey_auth::{DeviceCode, LoginError, Session};
use latchkey_dev_idp::{Settings, Tamper};

/// Bad answers and the words each refusal must have, whatever the grant.
const BAD_ANSWERS: [(Tamper, &str); 5] = [
    (
        Tamper::EmptyAccessToken,
        "the token answer has an empty access token",
    ),
    (
        Tamper::HugeAccessToken,
        "the token answer's access token is 102400 bytes, more than the 65536 accepted",
    ),
    (
        Tamper::TokenType("mac"),
        "the token answer's token_type is \"mac\", not Bearer",
    ),
    (
        Tamper::IdTokenBadSignature,
        "the provider's ID token is not valid",
    ),
    (
        Tamper::IdTokenWrongAudience,
        "the provider's ID token is not valid",
    ),
];

/// A device sign-in as jemma, approved on "another device".
async fn device_sign_in(session: &Session) -> Result<latchkey_auth::Profile, LoginError> {
    let (tx, rx) = tokio::sync::oneshot::channel::<DeviceCode>();
    let s = session.clone();
    let login = tokio::spawn(async move {
        s.login_device(move |code| {
            let _ = tx.send(code.clone());
        })
        .await
    });
    let code = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("the code is shown")
        .expect("the sign-in runs");
    let approved = reqwest::Client::new()
        .post(code.verification_uri.clone())
        .form(&[
            ("user_code", code.user_code.as_str()),
            ("username", "jemma"),
            ("password", "todo"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success());
    login.await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_bad_answer_is_refused_alike_by_the_browser_the_device_and_refresh_grants() {
    let stack = stack_with(Settings {
        device_interval: Duration::from_secs(1),
        ..Settings::default()
    })
    .await;
    for (tamper, expected) in BAD_ANSWERS {
        // The browser sign-in: refused, nobody signed in, nothing in the vault.
        let session = stack.session();
        stack.idp.tamper(tamper);
        let err = session
            .login(as_user("jemma"), |_| {})
            .await
            .expect_err("the answer is refused");
        let browser = err.to_string();
        assert!(browser.contains(expected), "{tamper:?}, browser: {browser}");
        assert!(!session.is_signed_in());
        assert!(session.store().refresh_token().await.unwrap().is_none());

        // The device grant: the same refusal, the same nothing kept.
        let session = stack.session_without_browser();
        stack.idp.tamper(tamper);
        let err = device_sign_in(&session)
            .await
            .expect_err("the answer is refused");
        let device = err.to_string();
        assert!(device.contains(expected), "{tamper:?}, device: {device}");
        assert!(!session.is_signed_in());
        assert!(session.store().refresh_token().await.unwrap().is_none());

        // A refresh of a good session: the same refusal; the vault keeps what it had and
        // the session its profile.
        let session = stack.session();
        session.login(as_user("jemma"), |_| {}).await.unwrap();
        let before = session.store().refresh_token().await.unwrap().unwrap();
        let (_, generation) = session.access_token().await.unwrap();
        stack.idp.tamper(tamper);
        let err = session
            .refresh(generation)
            .await
            .expect_err("the answer is refused");
        let refresh = err.to_string();
        assert!(refresh.contains(expected), "{tamper:?}, refresh: {refresh}");
        let after = session.store().refresh_token().await.unwrap().unwrap();
        assert_eq!(
            before.secret(),
            after.secret(),
            "{tamper:?}: nothing of the refused answer reached the vault"
        );
        assert_eq!(session.profile().unwrap().sub, "dev-idp|jemma");
        session.logout().await;
    }
}
