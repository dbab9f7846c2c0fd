//! The API client: the bearer token goes only under apiUrl, never across a redirect to
//! another origin, and one 401 triggers one refresh-and-retry.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use common::*;
use latchkey_auth::{ApiClient, SystemBrowser};
use url::Url;

/// Serves `router` on an ephemeral loopback port; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test]
async fn the_token_stays_inside_the_allow_list_even_across_redirects() {
    let stack = stack().await;
    let seen_elsewhere: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = seen_elsewhere.clone();
    let elsewhere = serve(Router::new().route(
        "/steal",
        get(move |headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            seen.lock().unwrap().push(auth.unwrap_or_default());
            "stolen?"
        }),
    ))
    .await;
    let target = format!("{elsewhere}/steal");
    let api = serve(
        Router::new()
            .route(
                "/api/away",
                get(move || async move { Redirect::temporary(&target) }),
            )
            .route(
                "/api/inside",
                get(|| async { Redirect::temporary("/api/echo") }),
            )
            .route(
                "/api/echo",
                get(|headers: HeaderMap| async move {
                    format!("bearer={}", headers.contains_key("authorization"))
                }),
            ),
    )
    .await;

    let mut config = stack.config.clone();
    config.api_url = Url::parse(&format!("{api}/api")).unwrap();
    require_scripted_browser();
    let session = stack.session_with(config, Arc::new(SystemBrowser));
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let client = ApiClient::new(session);

    let away = client.get(&format!("{api}/api/away")).await.unwrap();
    assert_eq!(
        away.status, 307,
        "the cross-origin redirect is not followed"
    );
    assert!(
        seen_elsewhere.lock().unwrap().is_empty(),
        "the other origin was never called"
    );

    let inside = client.get(&format!("{api}/api/inside")).await.unwrap();
    assert_eq!(
        (inside.status, inside.body.as_str()),
        (200, "bearer=true"),
        "same-origin redirect followed"
    );

    let outside = client.get(&format!("{elsewhere}/steal")).await.unwrap();
    assert!(!outside.authorized);
    assert_eq!(
        seen_elsewhere.lock().unwrap().as_slice(),
        [""],
        "called, but without a token"
    );
}

#[tokio::test]
async fn one_401_refreshes_and_retries_once() {
    let stack = stack().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let api = serve(Router::new().route(
        "/api/flaky",
        get(move || async move {
            // The first call is refused, as if the token had been revoked early.
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                StatusCode::UNAUTHORIZED.into_response()
            } else {
                "ok".into_response()
            }
        }),
    ))
    .await;
    let mut config = stack.config.clone();
    config.api_url = Url::parse(&api).unwrap();
    require_scripted_browser();
    let session = stack.session_with(config, Arc::new(SystemBrowser));
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let response = ApiClient::new(session)
        .get(&format!("{api}/api/flaky"))
        .await
        .unwrap();
    assert_eq!((response.status, response.body.as_str()), (200, "ok"));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "exactly one retry");
    assert_eq!(
        stack.idp.counters().refresh_grants.load(Ordering::SeqCst),
        1,
        "one refresh"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_switch_while_a_call_is_in_flight_never_sends_the_other_accounts_token() {
    use latchkey_auth::{LoginOptions, SessionError};
    let stack = stack().await;
    // The API refuses the first call, but only once the test has switched accounts; every
    // Authorization header it sees is kept.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (switched_tx, switched_rx) = tokio::sync::watch::channel(false);
    let record = seen.clone();
    let api = serve(Router::new().route(
        "/api/slow",
        get(move |headers: HeaderMap| {
            let record = record.clone();
            let mut switched = switched_rx.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let first = {
                    let mut seen = record.lock().unwrap();
                    seen.push(auth);
                    seen.len() == 1
                };
                if first {
                    let _ = switched.wait_for(|done| *done).await;
                    StatusCode::UNAUTHORIZED.into_response()
                } else {
                    "ok".into_response()
                }
            }
        }),
    ))
    .await;
    let mut config = stack.config.clone();
    config.api_url = Url::parse(&api).unwrap();
    require_scripted_browser();
    let session = stack.session_with(config, Arc::new(SystemBrowser));
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let add_paul = LoginOptions {
        force_login: true,
        ..as_user("paul")
    };
    session.login(add_paul, |_| {}).await.unwrap();
    let paul_token = session.access_token().await.unwrap().0.secret().clone();

    // Paul's call is on its way; meanwhile the person switches to jemma.
    let call = tokio::spawn({
        let client = ApiClient::new(session.clone());
        let url = format!("{api}/api/slow");
        async move { client.get(&url).await }
    });
    while seen.lock().unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let jemma = session
        .accounts()
        .await
        .unwrap()
        .find("jemma@example.com")
        .unwrap()
        .entry
        .clone();
    session.switch_account(&jemma).await.unwrap();
    switched_tx.send(true).unwrap();

    let err = call.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            latchkey_auth::ApiError::Session(SessionError::AccountSwitched)
        ),
        "{err}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        1,
        "not sent again as jemma: {} calls",
        seen.len()
    );
    assert!(
        seen[0].ends_with(&paul_token),
        "the one call carried paul's token"
    );
}
