//! The API against a real dev IdP on loopback: what it accepts and how it refuses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use latchkey_api::{AppState, TokenValidator, app};
use latchkey_dev_idp::{API_AUDIENCE, DevIdp, Settings};
use serde_json::{Value, json};

struct Stack {
    idp: DevIdp,
    api: String,
    http: reqwest::Client,
    validator: Arc<TokenValidator>,
}

async fn stack() -> Stack {
    let idp = DevIdp::start(Settings::default())
        .await
        .expect("dev IdP starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(idp.issuer(), API_AUDIENCE);
    let validator = state.validator.clone();
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    Stack {
        idp,
        api,
        http: reqwest::Client::new(),
        validator,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Stack {
    fn claims(&self, permissions: &[&str]) -> Value {
        json!({
            "iss": self.idp.issuer(),
            "sub": "dev-idp|jemma",
            "aud": [API_AUDIENCE],
            "iat": now(),
            "exp": now() + 300,
            "permissions": permissions,
        })
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Option<String>, Value) {
        let mut request = self.http.get(format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, challenge, body)
    }

    async fn assert_invalid_token(&self, token: &str, why: &str) {
        let (status, challenge, body) = self.get("/api/messages/protected", Some(token)).await;
        assert_eq!(status, 401, "{why}: {body}");
        let challenge = challenge.unwrap_or_else(|| panic!("{why}: no WWW-Authenticate"));
        assert!(challenge.starts_with("Bearer "), "{why}: {challenge}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{why}: {challenge}"
        );
        assert_eq!(body["error"], "invalid_token", "{why}");
    }
}

#[tokio::test]
async fn public_message_needs_no_token() {
    let s = stack().await;
    let (status, _, body) = s.get("/api/messages/public", None).await;
    assert_eq!(status, 200);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("doesn't require")
    );
}

#[tokio::test]
async fn protected_message_accepts_a_valid_token() {
    let s = stack().await;
    let token = s.idp.sign_claims(&s.claims(&[])).unwrap();
    let (status, _, body) = s.get("/api/messages/protected", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], "dev-idp|jemma");
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_bearer_challenge() {
    let s = stack().await;
    let (status, challenge, body) = s.get("/api/messages/protected", None).await;
    assert_eq!(status, 401);
    let challenge = challenge.unwrap();
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "RFC 6750 §3.1: no error code without credentials"
    );
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn malformed_tokens_and_headers_are_401_not_500() {
    let s = stack().await;
    s.assert_invalid_token("not-a-jwt", "garbage").await;
    s.assert_invalid_token("a.b.c", "three garbage parts").await;
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    "] {
        let response = s
            .http
            .get(format!("{}/api/messages/protected", s.api))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
    }
}

#[tokio::test]
async fn a_verified_token_is_remembered_only_as_itself_and_a_refused_one_not_at_all() {
    let s = stack().await;
    let token = s.idp.sign_claims(&s.claims(&[])).unwrap();
    for _ in 0..3 {
        let (status, _, _) = s.get("/api/messages/protected", Some(&token)).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        s.validator.remembered_tokens(),
        1,
        "one token, remembered once"
    );
    // The remembered token's signature under another payload (the admin permission
    // smuggled in) is another token: checked in full, and refused.
    let (head_payload, signature) = token.rsplit_once('.').unwrap();
    let (head, _) = head_payload.split_once('.').unwrap();
    let admin_payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&s.claims(&["read:admin-messages"])).unwrap());
    let smuggled = format!("{head}.{admin_payload}.{signature}");
    for _ in 0..2 {
        let (status, _, _) = s.get("/api/messages/admin", Some(&smuggled)).await;
        assert_eq!(status, 401, "refused every time, never remembered");
    }
    let (status, _, _) = s.get("/api/messages/admin", Some(&token)).await;
    assert_eq!(
        status, 403,
        "the remembered token keeps its own permissions"
    );
    let mut expired = s.claims(&[]);
    expired["exp"] = json!(now() - 120);
    let expired = s.idp.sign_claims(&expired).unwrap();
    s.assert_invalid_token(&expired, "expired").await;
    s.assert_invalid_token(&expired, "expired, again").await;
    assert_eq!(
        s.validator.remembered_tokens(),
        1,
        "no refusal was remembered"
    );
}

#[tokio::test]
async fn bad_signature_is_rejected() {
    let s = stack().await;
    let token = s.idp.sign_claims(&s.claims(&[])).unwrap();
    let (head_payload, signature) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[10] ^= 0x55;
    let tampered = format!("{head_payload}.{}", URL_SAFE_NO_PAD.encode(sig));
    s.assert_invalid_token(&tampered, "flipped signature bits")
        .await;

    // A payload swapped under a valid signature: the admin permission smuggled in.
    let admin_payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&s.claims(&["read:admin-messages"])).unwrap());
    let (head, _) = head_payload.split_once('.').unwrap();
    let smuggled = format!("{head}.{admin_payload}.{signature}");
    let (status, _, _) = s.get("/api/messages/admin", Some(&smuggled)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let s = stack().await;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&s.claims(&[])).unwrap());
    s.assert_invalid_token(&format!("{header}.{payload}."), "alg none")
        .await;
}

#[tokio::test]
async fn wrong_issuer_audience_and_times_are_rejected() {
    let s = stack().await;
    let cases = [
        ("iss", json!("https://attacker.example/"), "wrong iss"),
        ("aud", json!(["urn:another:api"]), "wrong aud"),
        ("exp", json!(now() - 120), "expired"),
        ("nbf", json!(now() + 600), "not yet valid"),
    ];
    for (claim, value, why) in cases {
        let mut claims = s.claims(&[]);
        claims[claim] = value;
        let token = s.idp.sign_claims(&claims).unwrap();
        s.assert_invalid_token(&token, why).await;
    }
    let mut claims = s.claims(&[]);
    claims.as_object_mut().unwrap().remove("exp");
    s.assert_invalid_token(&s.idp.sign_claims(&claims).unwrap(), "no exp")
        .await;
}

#[tokio::test]
async fn admin_message_needs_the_permission() {
    let s = stack().await;
    let plain = s.idp.sign_claims(&s.claims(&[])).unwrap();
    let (status, challenge, body) = s.get("/api/messages/admin", Some(&plain)).await;
    assert_eq!(status, 403, "{body}");
    let challenge = challenge.unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"read:admin-messages\""),
        "{challenge}"
    );

    let admin = s
        .idp
        .sign_claims(&s.claims(&["read:admin-messages"]))
        .unwrap();
    let (status, _, body) = s.get("/api/messages/admin", Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_burst_of_unknown_kids_refetches_the_keys_at_most_once() {
    let s = stack().await;
    let first = s.idp.sign_claims(&s.claims(&[])).unwrap();
    assert_eq!(s.get("/api/messages/protected", Some(&first)).await.0, 200);
    let fetches = s
        .idp
        .counters()
        .jwks_fetches
        .load(std::sync::atomic::Ordering::SeqCst);

    // A token with a kid nobody published: refused, and at most one refetch for a burst of them.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"nobody-published-this"}"#);
    let (_, rest) = first.split_once('.').unwrap();
    let unknown = format!("{header}.{rest}");
    for _ in 0..5 {
        s.assert_invalid_token(&unknown, "unknown kid").await;
    }
    let after_burst = s
        .idp
        .counters()
        .jwks_fetches
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        after_burst - fetches <= 1,
        "{} JWKS fetches for one burst",
        after_burst - fetches
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_a_retired_one_forgotten_with_its_tokens() {
    let idp = DevIdp::start(Settings::default()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let mut state = AppState::new(idp.issuer(), API_AUDIENCE);
    // Every unknown kid may refetch at once, so the test needs no wait for the default 30 s.
    state.validator = Arc::new(
        TokenValidator::new(idp.issuer(), API_AUDIENCE).refetch_interval(std::time::Duration::ZERO),
    );
    let validator = state.validator.clone();
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let s = Stack {
        idp,
        api,
        http: reqwest::Client::new(),
        validator,
    };
    let fetches = || {
        s.idp
            .counters()
            .jwks_fetches
            .load(std::sync::atomic::Ordering::SeqCst)
    };

    let old = s.idp.sign_claims(&s.claims(&[])).unwrap();
    assert_eq!(s.get("/api/messages/protected", Some(&old)).await.0, 200);
    assert_eq!(s.validator.remembered_tokens(), 1);

    // The provider rotates: a token signed by the new key is accepted after one refetch,
    // and the old key, still published, keeps its tokens valid.
    s.idp.rotate_keys().unwrap();
    let before = fetches();
    let new = s.idp.sign_claims(&s.claims(&[])).unwrap();
    assert_eq!(s.get("/api/messages/protected", Some(&new)).await.0, 200);
    assert_eq!(fetches(), before + 1, "one refetch for the new kid");
    assert_eq!(s.get("/api/messages/protected", Some(&old)).await.0, 200);

    // Two more rotations retire the first key (the dev IdP publishes the last two besides the
    // current one). The next new kid refetches, which forgets every remembered token: the
    // old key's token, accepted a moment ago from memory, is refused now.
    s.idp.rotate_keys().unwrap();
    s.idp.rotate_keys().unwrap();
    let newest = s.idp.sign_claims(&s.claims(&[])).unwrap();
    assert!(s.validator.remembered_tokens() >= 2);
    assert_eq!(s.get("/api/messages/protected", Some(&newest)).await.0, 200);
    assert_eq!(
        s.validator.remembered_tokens(),
        1,
        "the keys changed: only the token verified since is remembered"
    );
    s.assert_invalid_token(&old, "a retired key's token").await;
}
