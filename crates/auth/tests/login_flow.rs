//! The sign-in flow end to end on loopback: scripted system browser, dev IdP, sample API.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use latchkey_auth::{ApiClient, LoginError, LoginOptions, RedirectMode, RedirectRejected};
use latchkey_dev_idp::Tamper;
use url::Url;

#[tokio::test]
async fn jemma_signs_in_and_gets_the_protected_but_not_the_admin_message() {
    let stack = stack().await;
    let session = stack.session();
    let mut announced = None;
    let profile = session
        .login(as_user("jemma"), |url| announced = Some(url.clone()))
        .await
        .expect("jemma signs in");
    assert_eq!(profile.name.as_deref(), Some("Jemma Doe"));
    assert_eq!(profile.email.as_deref(), Some("jemma@example.com"));
    assert!(
        profile
            .picture
            .as_deref()
            .unwrap()
            .ends_with("/avatars/jemma.svg")
    );
    assert_eq!(profile.claims["iss"], stack.idp.issuer());

    let url = announced.expect("the sign-in URL was exposed");
    assert_eq!(query(&url, "code_challenge_method"), "S256");
    assert_eq!(query(&url, "audience"), "urn:latchkey:sample-api");
    let redirect = query(&url, "redirect_uri");
    assert!(
        redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"),
        "{redirect}"
    );
    assert!(query(&url, "state").len() >= 16 && query(&url, "nonce").len() >= 16);

    let api = ApiClient::new(session.clone());
    let protected = api
        .get(&stack.api("/api/messages/protected"))
        .await
        .unwrap();
    assert_eq!(protected.status, 200, "{}", protected.body);
    assert!(protected.body.contains("successfully validated"));
    let admin = api.get(&stack.api("/api/messages/admin")).await.unwrap();
    assert_eq!(admin.status, 403, "{}", admin.body);

    let stored = session
        .store()
        .refresh_token()
        .await
        .expect("vault answers");
    assert!(stored.is_some(), "the refresh token is in the vault");
}

#[tokio::test]
async fn sebastian_gets_the_admin_message() {
    let stack = stack().await;
    let session = stack.session();
    session
        .login(as_user("sebastian"), |_| {})
        .await
        .expect("sebastian signs in");
    let admin = ApiClient::new(session)
        .get(&stack.api("/api/messages/admin"))
        .await
        .unwrap();
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert!(admin.body.contains("admin"));
}

#[tokio::test]
async fn requests_with_wrong_state_or_path_do_not_end_the_flow() {
    let stack = stack().await;
    let session = stack.session_without_browser();
    let (login, url) = start_login(&session, as_user("paul")).await;
    let redirect = query(&url, "redirect_uri");
    let base = redirect.trim_end_matches("/callback");
    let http = reqwest::Client::new();
    for (probe, status) in [
        (format!("{redirect}?code=stolen&state=guessed"), 400),
        (format!("{redirect}?code=stolen"), 400),
        (format!("{base}/favicon.ico"), 404),
    ] {
        assert_eq!(
            http.get(&probe).send().await.unwrap().status(),
            status,
            "{probe}"
        );
    }
    assert!(!login.is_finished(), "the flow is still waiting");
    browse(&url).await;
    let profile = login.await.unwrap().expect("paul still signs in");
    assert_eq!(profile.nickname.as_deref(), Some("paul"));
}

#[tokio::test]
async fn cancel_ends_the_flow_and_closes_the_listener() {
    let stack = stack().await;
    let session = stack.session_without_browser();
    let (login, url) = start_login(&session, LoginOptions::default()).await;
    assert!(session.cancel_login());
    assert!(matches!(login.await.unwrap(), Err(LoginError::Cancelled)));
    let redirect = query(&url, "redirect_uri");
    // The listener closes (waited for, not assumed after a pause).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while reqwest::get(&redirect).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the loopback listener still answers after the cancel"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_unanswered_flow_times_out() {
    let stack = stack().await;
    let session = stack.session_without_browser();
    let options = LoginOptions {
        timeout: Duration::from_millis(300),
        ..LoginOptions::default()
    };
    let err = session.login(options, |_| {}).await.unwrap_err();
    assert!(matches!(err, LoginError::TimedOut(_)), "{err}");
}

#[tokio::test]
async fn a_second_login_replaces_the_first() {
    let stack = stack().await;
    let session = stack.session_without_browser();
    let (first, first_url) = start_login(&session, LoginOptions::default()).await;
    let (second, second_url) = start_login(&session, as_user("jemma")).await;
    assert!(matches!(first.await.unwrap(), Err(LoginError::Replaced)));
    assert_ne!(query(&first_url, "state"), query(&second_url, "state"));
    browse(&second_url).await;
    assert!(second.await.unwrap().is_ok());
}

#[tokio::test]
async fn a_provider_error_becomes_a_clear_error() {
    let stack = stack().await;
    let session = stack.session_without_browser();
    let (login, url) = start_login(&session, LoginOptions::default()).await;
    let callback = format!(
        "{}?error=access_denied&error_description=User%20said%20no&state={}&iss={}",
        query(&url, "redirect_uri"),
        query(&url, "state"),
        stack.idp.issuer()
    );
    let page = reqwest::get(&callback).await.unwrap().text().await.unwrap();
    assert!(page.contains("Sign-in failed"), "{page}");
    let err = login.await.unwrap().unwrap_err();
    assert!(matches!(&err, LoginError::Provider { error, .. } if error == "access_denied"));
    assert!(err.to_string().contains("access was denied"), "{err}");
    assert!(!session.is_signed_in());
}

#[tokio::test]
async fn tampered_id_tokens_and_mixed_up_responses_are_rejected() {
    let stack = stack().await;
    let cases = [
        (Tamper::IdTokenBadSignature, "signature"),
        (Tamper::IdTokenAlgNone, "no signature"),
        (Tamper::IdTokenWrongIssuer, "issuer"),
        (Tamper::IdTokenWrongAudience, "audience"),
        (Tamper::IdTokenExpired, "expired"),
        (Tamper::IdTokenWrongNonce, "nonce"),
        (Tamper::ResponseWrongIss, "not the configured issuer"),
        (Tamper::ResponseWithoutIss, "lacks the iss parameter"),
    ];
    for (tamper, expected) in cases {
        stack.idp.tamper(tamper);
        let session = stack.session();
        let err = session
            .login(as_user("jemma"), |_| {})
            .await
            .expect_err(&format!("{tamper:?} must be rejected"));
        let message = err.to_string().to_lowercase();
        assert!(message.contains(expected), "{tamper:?}: {message}");
        assert!(!session.is_signed_in(), "{tamper:?}");
        assert!(
            session.store().refresh_token().await.unwrap().is_none(),
            "{tamper:?}: nothing stored"
        );
    }
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_once() {
    let stack = stack().await;
    let session = stack.session();
    session
        .login(as_user("jemma"), |_| {})
        .await
        .expect("first login");
    let before = stack.idp.counters().jwks_fetches.load(Ordering::SeqCst);
    stack.idp.rotate_keys().unwrap();
    session
        .login(as_user("jemma"), |_| {})
        .await
        .expect("login after rotation");
    let after = stack.idp.counters().jwks_fetches.load(Ordering::SeqCst);
    assert_eq!(after - before, 1, "one refetch for the unknown kid");
}

/// `url` with `key` set to `value` and the other parameters kept.
fn with_param(url: &Url, key: &str, value: &str) -> Url {
    let mut changed = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != key)
        .collect();
    changed
        .query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(key, value);
    changed
}

#[tokio::test]
async fn a_deep_link_answer_signs_in_only_with_the_state_of_the_sign_in() {
    let mut stack = stack().await;
    stack.config.redirect = RedirectMode::DeepLink;
    let session = stack.session_without_browser();
    let redirect = Url::parse("dev.latchkey.desktop:/callback").unwrap();
    session.accept_deep_links(redirect.clone());
    assert_eq!(
        session.deliver_redirect(&with_param(&redirect, "state", "x")),
        Err(RedirectRejected::NothingWaiting)
    );

    let (login, url) = start_login(&session, as_user("jemma")).await;
    assert_eq!(query(&url, "redirect_uri"), redirect.as_str());
    assert_eq!(query(&url, "code_challenge_method"), "S256");
    // The browser signs in and hands the provider's redirect to the OS; `echo` plays the app.
    require_scripted_browser();
    let browsed = tokio::process::Command::new("xdg-open")
        .arg(url.as_str())
        .env("SCRIPTED_BROWSER_SCHEME_HANDLER", "echo")
        .output()
        .await
        .expect("xdg-open runs");
    let said = String::from_utf8_lossy(&browsed.stderr);
    assert!(browsed.status.success(), "{said}");
    let link = Url::parse(String::from_utf8_lossy(&browsed.stdout).trim())
        .unwrap_or_else(|e| panic!("the browser handed on no deep link ({e}): {said}"));
    assert_eq!(query(&link, "state"), query(&url, "state"));

    // A forged answer (right code, wrong state) and links that are not the redirect are refused,
    // and the sign-in goes on waiting.
    let forged = with_param(&link, "state", "forged");
    assert_eq!(
        session.deliver_redirect(&forged),
        Err(RedirectRejected::WrongState)
    );
    let mut elsewhere = link.clone();
    elsewhere.set_path("/elsewhere");
    assert_eq!(
        session.deliver_redirect(&elsewhere),
        Err(RedirectRejected::NotARedirect)
    );
    // Refused answers do not end the sign-in: the real one, below, still signs in.
    session.deliver_redirect(&link).expect("the real answer");
    let profile = login.await.unwrap().expect("signed in by deep link");
    assert_eq!(profile.name.as_deref(), Some("Jemma Doe"));
    assert!(session.store().refresh_token().await.unwrap().is_some());
    assert_eq!(
        session.deliver_redirect(&link),
        Err(RedirectRejected::NothingWaiting),
        "an answer is taken once"
    );
}

#[tokio::test]
async fn a_front_end_without_deep_links_says_to_use_loopback() {
    let mut stack = stack().await;
    stack.config.redirect = RedirectMode::DeepLink;
    let err = stack
        .session_without_browser()
        .login(LoginOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, LoginError::RedirectModeUnsupported));
    assert!(
        err.to_string().contains("\"redirect\": \"loopback\""),
        "{err}"
    );
}

#[tokio::test]
async fn a_profile_missing_from_the_id_token_comes_from_userinfo_about_the_same_user() {
    let stack = stack().await;
    stack.idp.tamper(Tamper::IdTokenWithoutProfile);
    let session = stack.session();
    let profile = session.login(as_user("jemma"), |_| {}).await.unwrap();
    assert!(
        profile.claims.get("name").is_none() && profile.claims.get("email").is_none(),
        "the ID token itself carried no profile: {}",
        profile.claims
    );
    assert_eq!(profile.name.as_deref(), Some("Jemma Doe"));
    assert_eq!(profile.email.as_deref(), Some("jemma@example.com"));
}

#[tokio::test]
async fn a_userinfo_answer_about_another_user_is_discarded() {
    let stack = stack().await;
    stack.idp.tamper(Tamper::IdTokenWithoutProfile);
    stack.idp.tamper(Tamper::UserinfoOtherSubject);
    let session = stack.session();
    let profile = session.login(as_user("jemma"), |_| {}).await.unwrap();
    assert_eq!(profile.sub, "dev-idp|jemma");
    assert_eq!(profile.name, None, "no name from another user's answer");
    assert_eq!(profile.email, None);
    assert_eq!(
        profile.display_name(),
        "(no name from the provider)",
        "never the bare sub as if it were a name"
    );
}

#[tokio::test]
async fn another_account_asks_for_the_account_chooser_or_else_the_login_screen() {
    for (chooser, wanted) in [(true, "select_account"), (false, "login")] {
        let stack = stack_with(latchkey_dev_idp::Settings {
            account_chooser: chooser,
            ..Default::default()
        })
        .await;
        let session = stack.session_without_browser();
        let options = LoginOptions {
            force_login: true,
            ..LoginOptions::default()
        };
        let (login, url) = start_login(&session, options).await;
        let prompt = query(&url, "prompt");
        let values: Vec<&str> = prompt.split(' ').collect();
        assert!(
            values.contains(&wanted) && values.contains(&"select_account") == chooser,
            "prompt_values_supported with select_account: {chooser}; sent prompt={prompt}"
        );
        session.cancel_login();
        assert!(matches!(login.await.unwrap(), Err(LoginError::Cancelled)));
    }
}

/// Auth0, Okta and dex compare the redirect URI exactly, port included: an ephemeral port
/// ends at the provider's "redirect not registered" page, a configured port signs in.
#[tokio::test]
async fn a_provider_that_matches_the_port_exactly_signs_in_on_the_configured_port_list() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = latchkey_dev_idp::Settings::default();
    for client in &mut settings.clients {
        client.exact_redirects = true;
        client.redirect_uris = vec![format!("http://127.0.0.1:{port}/callback")];
    }
    let stack = stack_with(settings).await;

    let ephemeral = stack.session_without_browser();
    let (login, url) = start_login(&ephemeral, as_user("jemma")).await;
    let page = reqwest::get(url.clone()).await.unwrap();
    assert_eq!(page.status(), 400, "{url}");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("redirect_uri is not registered")
    );
    ephemeral.cancel_login();
    assert!(matches!(login.await.unwrap(), Err(LoginError::Cancelled)));

    let config = latchkey_auth::Config {
        loopback_ports: vec![port],
        ..stack.config.clone()
    };
    let session = stack.session_with(config, std::sync::Arc::new(latchkey_auth::SystemBrowser));
    require_scripted_browser();
    let mut announced = None;
    let profile = session
        .login(as_user("jemma"), |url| announced = Some(url.clone()))
        .await
        .expect("signs in on the registered port");
    assert_eq!(profile.display_name(), "Jemma Doe");
    let redirect = query(&announced.unwrap(), "redirect_uri");
    assert_eq!(redirect, format!("http://127.0.0.1:{port}/callback"));
}

/// A browser that only counts how often it was asked to open something.
#[derive(Default)]
struct CountingBrowser(std::sync::atomic::AtomicUsize);

impl latchkey_auth::BrowserLauncher for CountingBrowser {
    fn open(&self, _url: &Url) -> std::io::Result<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn with_every_loopback_port_taken_the_sign_in_fails_before_any_browser_opens() {
    let stack = stack().await;
    let held: Vec<std::net::TcpListener> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut config = stack.config.clone();
    config.loopback_ports = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let browser = std::sync::Arc::new(CountingBrowser::default());
    let session = stack.session_with(config.clone(), browser.clone());
    let mut shown = false;
    let err = session
        .login(LoginOptions::default(), |_| shown = true)
        .await
        .expect_err("no port to listen on");
    let message = err.to_string();
    for port in &config.loopback_ports {
        assert!(
            message.contains(&port.to_string()),
            "names {port}: {message}"
        );
    }
    assert_eq!(browser.0.load(Ordering::SeqCst), 0, "no browser was opened");
    assert!(!shown, "no sign-in URL was offered");
    drop(held);
}
