//! A provider that answers badly — or something answering in its place — never crashes
//! Latchkey and never costs the person their stored session: each malformed answer becomes a
//! clear error naming what was wrong, and the refresh token stays in the real vault.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_auth::{
    Binding, CachedProfile, Config, LoopbackListener, MAX_ANSWER_LEN, MAX_HEADER_BYTES,
    MAX_HEADER_FIELDS, MAX_LINK_LEN, MAX_PROVIDER_ANSWER, MAX_REQUEST_TARGET, NoBrowser,
    PageOutcome, RedirectRejected, RefreshToken, Restored, Session, SessionStore, StoredEntry,
    StoredSession, parse_link,
};
use serde_json::json;

const CLIENT_ID: &str = "hostile-test";

/// What each endpoint of the hostile provider answers: status and body.
type Answers = Arc<Mutex<HashMap<&'static str, (StatusCode, Vec<u8>)>>>;

struct Hostile {
    issuer: String,
    answers: Answers,
}

impl Hostile {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/", listener.local_addr().unwrap());
        let answers: Answers = Arc::default();
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}authorize"),
            "token_endpoint": format!("{issuer}answer/token"),
            "device_authorization_endpoint": format!("{issuer}answer/device"),
            "jwks_uri": format!("{issuer}answer/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        });
        {
            let mut map = answers.lock().unwrap();
            map.insert("discovery", (StatusCode::OK, discovery.to_string().into()));
            map.insert("jwks", (StatusCode::OK, br#"{"keys": []}"#.to_vec()));
            map.insert("token", (StatusCode::OK, token(json!(3600)).into()));
            map.insert("device", (StatusCode::NOT_FOUND, Vec::new()));
        }
        let served = answers.clone();
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(answer_discovery))
            .route("/answer/{name}", get(answer).post(answer))
            .with_state(served);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { issuer, answers }
    }

    fn set(&self, endpoint: &'static str, status: StatusCode, body: impl Into<Vec<u8>>) {
        self.answers
            .lock()
            .unwrap()
            .insert(endpoint, (status, body.into()));
    }

    fn config(&self) -> Config {
        Config::parse(
            &json!({"issuer": self.issuer, "clientId": CLIENT_ID, "apiUrl": "http://127.0.0.1:9/api"})
                .to_string(),
            "test config",
        )
        .unwrap()
    }

    fn store(&self) -> SessionStore {
        SessionStore::for_client(&self.issuer, CLIENT_ID)
    }

    /// Stores a session for this provider, as an earlier sign-in would have.
    async fn stored_session(&self, token: &str) {
        let entry = StoredEntry {
            session: Some(StoredSession {
                refresh_token: RefreshToken::new(token.to_owned()),
                binding: Some(Binding {
                    issuer: self.issuer.clone(),
                    client_id: CLIENT_ID.into(),
                    sub: "user-1".into(),
                    auth_time: None,
                    audiences: vec![CLIENT_ID.into()],
                    nonce: None,
                }),
                profile: Some(CachedProfile {
                    name: Some("Hostile Test".into()),
                    email: None,
                    picture: None,
                }),
                dpop_key: None,
            }),
            to_revoke: Vec::new(),
        };
        self.store()
            .save(&entry)
            .await
            .expect("the vault takes the entry");
    }

    async fn still_stored(&self) -> Option<String> {
        let entry = self.store().load().await.expect("the vault reads");
        entry.session.map(|s| s.refresh_token.secret().clone())
    }
}

fn token(expires_in: serde_json::Value) -> String {
    json!({"access_token": "at", "token_type": "Bearer", "expires_in": expires_in}).to_string()
}

async fn answer_discovery(State(answers): State<Answers>) -> Response {
    serve(&answers, "discovery")
}

async fn answer(State(answers): State<Answers>, Path(name): Path<String>) -> Response {
    let key = match name.as_str() {
        "token" => "token",
        "jwks" => "jwks",
        "device" => "device",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    serve(&answers, key)
}

fn serve(answers: &Answers, key: &'static str) -> Response {
    let (status, body) = answers.lock().unwrap()[key].clone();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Restores with the stored session and the provider as set; returns the outcome in words.
async fn restore(hostile: &Hostile) -> String {
    let session = Session::with_browser(hostile.config(), Arc::new(NoBrowser));
    match session.restore().await {
        Ok(Restored::Offline {
            reason, details, ..
        }) => format!("offline: {reason}: {details}"),
        Ok(Restored::SignedIn(_)) => "signed in".into(),
        Ok(Restored::NothingStored) => "nothing stored".into(),
        Err(err) => format!("error: {err}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_discovery_documents_are_named_and_the_session_is_kept() {
    let hostile = Hostile::start().await;
    hostile.stored_session("kept-through-discovery").await;
    let huge = format!(
        "{{\"issuer\": \"{}\", \"x\": \"{}\"}}",
        hostile.issuer,
        "a".repeat(MAX_PROVIDER_ANSWER)
    );
    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "HTML with a JSON content type",
            b"<html>login</html>".to_vec(),
            "is not usable",
        ),
        (
            "missing fields",
            json!({"issuer": hostile.issuer}).to_string().into(),
            "is not usable",
        ),
        (
            "wrong types",
            json!({"issuer": 7, "jwks_uri": []}).to_string().into(),
            "is not usable",
        ),
        (
            "another issuer",
            json!({
                "issuer": "https://elsewhere.example/",
                "authorization_endpoint": "https://elsewhere.example/a",
                "jwks_uri": "https://elsewhere.example/j",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            })
            .to_string()
            .into(),
            "is not usable",
        ),
        ("larger than the cap", huge.into(), "larger than"),
        ("empty", Vec::new(), "is not usable"),
    ];
    for (what, body, expected) in cases {
        hostile.set("discovery", StatusCode::OK, body);
        let outcome = restore(&hostile).await;
        assert!(outcome.contains(expected), "{what}: {outcome}");
        assert!(
            !outcome.contains("login</html>"),
            "{what}: the body is not quoted"
        );
        assert_eq!(
            hostile.still_stored().await.as_deref(),
            Some("kept-through-discovery"),
            "{what}: the stored session is kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_token_answers_are_named_and_the_session_is_kept() {
    let hostile = Hostile::start().await;
    hostile.stored_session("kept-through-token").await;
    let huge = format!(
        "{{\"access_token\": \"{}\"}}",
        "a".repeat(MAX_PROVIDER_ANSWER)
    );
    let cases: [(&str, StatusCode, Vec<u8>, &str); 10] = [
        (
            "negative expires_in",
            StatusCode::OK,
            token(json!(-5)).into(),
            "token endpoint",
        ),
        (
            "fractional expires_in",
            StatusCode::OK,
            token(json!(3.5)).into(),
            "token endpoint",
        ),
        (
            "expires_in past u64",
            StatusCode::OK,
            token(json!(1e30)).into(),
            "token endpoint",
        ),
        (
            "not JSON",
            StatusCode::OK,
            b"<html>sorry</html>".to_vec(),
            "token endpoint",
        ),
        (
            "no access token",
            StatusCode::OK,
            json!({"token_type": "Bearer"}).to_string().into(),
            "token endpoint",
        ),
        (
            "access token of the wrong type",
            StatusCode::OK,
            json!({"access_token": 5, "token_type": "Bearer"})
                .to_string()
                .into(),
            "token endpoint",
        ),
        (
            "larger than the cap",
            StatusCode::OK,
            huge.into(),
            "larger than",
        ),
        (
            "a 500 with HTML",
            StatusCode::INTERNAL_SERVER_ERROR,
            b"<html>down</html>".to_vec(),
            "having problems",
        ),
        (
            "a 502 with JSON",
            StatusCode::BAD_GATEWAY,
            br#"{"error":"server_error"}"#.to_vec(),
            "answer/token answered HTTP 502",
        ),
        (
            "an error without a code",
            StatusCode::BAD_REQUEST,
            b"{}".to_vec(),
            "token endpoint",
        ),
    ];
    for (what, status, body, expected) in cases {
        hostile.set("token", status, body);
        let outcome = restore(&hostile).await;
        assert!(outcome.contains(expected), "{what}: {outcome}");
        assert!(
            !outcome.contains("</html>"),
            "{what}: the body is not quoted: {outcome}"
        );
        assert_eq!(
            hostile.still_stored().await.as_deref(),
            Some("kept-through-token"),
            "{what}: the stored session is kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_token_answer_keeps_its_tokens_out_of_every_error_form() {
    let hostile = Hostile::start().await;
    hostile.stored_session("kept-through-token").await;
    // Parseable up to a field of the wrong type: the bytes carry a token all the same.
    let body = json!({
        "access_token": "ACCESS-TOKEN-IN-A-BAD-ANSWER",
        "refresh_token": "REFRESH-TOKEN-IN-A-BAD-ANSWER",
        "token_type": "Bearer",
        "expires_in": {"soon": true},
    });
    hostile.set("token", StatusCode::OK, body.to_string());
    let session = Session::with_browser(hostile.config(), Arc::new(NoBrowser));
    let _ = session.restore().await;
    let err = session.access_token().await.expect_err("no usable answer");
    let mut forms = vec![err.to_string(), format!("{err:?}")];
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        forms.push(format!("{cause} / {cause:?}"));
        source = cause.source();
    }
    // As text, and as the bytes a Debug of the raw answer would print.
    let as_bytes = format!("{:?}", b"IN-A-BAD-ANSWER".to_vec());
    let as_bytes = as_bytes.trim_start_matches('[').trim_end_matches(']');
    for form in &forms {
        assert!(
            !form.contains("IN-A-BAD-ANSWER") && !form.contains(as_bytes),
            "a token of the answer is in {form}"
        );
    }
    assert!(forms[0].contains("token endpoint"), "{forms:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn any_lifetime_a_provider_gives_signs_in_without_a_crash() {
    let hostile = Hostile::start().await;
    for expires_in in [
        json!(0),
        json!(1),
        json!(u64::MAX),
        json!(i64::MAX),
        json!(null),
    ] {
        hostile.stored_session("lifetime").await;
        let body = if expires_in.is_null() {
            json!({"access_token": "at", "token_type": "Bearer"}).to_string()
        } else {
            token(expires_in.clone())
        };
        hostile.set("token", StatusCode::OK, body);
        let session = Session::with_browser(hostile.config(), Arc::new(NoBrowser));
        let restored = session.restore().await;
        assert!(
            matches!(restored, Ok(Restored::SignedIn(_))),
            "expires_in {expires_in}: {restored:?}"
        );
        let (access, _) = session.access_token().await.expect("an access token");
        assert_eq!(access.secret(), "at", "expires_in {expires_in}");
        assert_eq!(hostile.still_stored().await.as_deref(), Some("lifetime"));
    }
    hostile.store().save(&StoredEntry::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_loopback_listener_refuses_what_no_browser_sends_and_still_takes_the_answer() {
    let listener = LoopbackListener::bind().await.unwrap();
    let base = format!("http://{}", listener.local_addr());
    let mut server = listener.serve(openidconnect::CsrfToken::new("the-state".into()));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let long = format!(
        "{base}/callback?code=c&state=the-state&pad={}",
        "x".repeat(MAX_REQUEST_TARGET)
    );
    let answer_too_long = format!(
        "{base}/callback?code=c&state=the-state&pad={}",
        "x".repeat(MAX_ANSWER_LEN)
    );
    let repeated = format!("{base}/callback?code=c&state=the-state&code=d");
    for (what, url, status) in [
        ("an oversize request target", long.as_str(), 414),
        ("an oversize answer", answer_too_long.as_str(), 400),
        ("a repeated code", repeated.as_str(), 400),
        (
            "an odd encoding",
            &format!("{base}/callback?code=%ff%&state=%E2%82"),
            400,
        ),
    ] {
        let response = http.get(url).send().await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Start the sign-in again"),
            "{what}"
        );
    }
    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..(MAX_HEADER_FIELDS + 1) {
        let name = reqwest::header::HeaderName::try_from(format!("x-filler-{i}")).unwrap();
        many.insert(name, "1".parse().unwrap());
    }
    let response = http
        .get(format!("{base}/callback?code=c&state=the-state"))
        .headers(many)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431, "too many header fields");
    let big = "y".repeat(MAX_HEADER_BYTES);
    let response = http
        .get(format!("{base}/callback?code=c&state=the-state"))
        .header("x-big", big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431, "too many header bytes");

    let browser = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/callback?code=the-code&state=the-state");
        async move { http.get(url).send().await.unwrap() }
    });
    let callback = server
        .callback()
        .await
        .expect("the real answer still arrives");
    assert_eq!(callback.params["code"], "the-code");
    callback.respond(PageOutcome::SignedIn);
    assert_eq!(browser.await.unwrap().status(), 303);
    server.close().await;
}

#[test]
fn deep_links_of_any_length_or_encoding_are_read_or_refused_without_a_crash() {
    let redirect = "dev.latchkey.desktop:/callback";
    assert!(parse_link(&format!("{redirect}?code=c&state=s")).is_some());
    assert!(parse_link(&format!("{redirect}?state={}", "s".repeat(MAX_LINK_LEN))).is_none());
    for text in [
        "",
        ":",
        "https://evil.example/callback?code=c&state=s",
        "file:///etc/passwd",
        "dev.latchkey.desktop:/callback?%",
        "dev.latchkey.desktop:/callback?\u{0}",
        "\u{202e}dev.latchkey.desktop:/callback",
        "dev.latchkey.desktop:%ZZ",
    ] {
        if let Some(url) = parse_link(text) {
            assert!(
                !matches!(url.scheme(), "http" | "https" | "file"),
                "{text:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_deep_link_is_refused_and_says_why() {
    let hostile = Hostile::start().await;
    let session = Session::with_browser(hostile.config(), Arc::new(NoBrowser));
    let redirect = url::Url::parse("dev.latchkey.desktop:/callback").unwrap();
    session.accept_deep_links(redirect.clone());
    let long = url::Url::parse(&format!(
        "{redirect}?code=c&state={}",
        "s".repeat(MAX_ANSWER_LEN)
    ))
    .unwrap();
    let repeated = url::Url::parse(&format!("{redirect}?code=c&state=s&state=t")).unwrap();
    for link in [long, repeated] {
        let refused = session.deliver_redirect(&link).unwrap_err();
        assert!(
            matches!(refused, RedirectRejected::Malformed(_)),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("malformed sign-in answer"),
            "{refused}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_endpoint_that_fails_is_named_with_its_status() {
    let hostile = Hostile::start().await;
    hostile.set(
        "device",
        StatusCode::INTERNAL_SERVER_ERROR,
        b"<html>Server Error (500)</html>".to_vec(),
    );
    let session = Session::with_browser(hostile.config(), Arc::new(NoBrowser));
    let err = session.login_device(|_| {}).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "{}answer/device answered HTTP 500",
            hostile.issuer
        )),
        "names the endpoint and its status: {message}"
    );
    assert!(!message.contains("expected value"), "{message}");
    assert!(!message.contains("</html>"), "{message}");
}
