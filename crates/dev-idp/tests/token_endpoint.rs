//! The dev IdP over HTTP, as a strict provider must behave: PKCE, redirect matching,
//! single-use codes, refresh rotation with reuse detection.

use latchkey_dev_idp::{DESKTOP_CLIENT_ID, DevIdp, Settings};
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use serde_json::Value;

mod common;

use common::{REDIRECT, authorize_url, form_tx, http};

/// Logs jemma in by hand; returns the code and the verifier.
async fn code_for_jemma(idp: &DevIdp) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let page = http()
        .get(authorize_url(idp, Some(challenge.as_str()), REDIRECT))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tx = form_tx(&page);
    let response = http()
        .post(format!("{}login", idp.issuer()))
        .form(&[
            ("tx", tx.as_str()),
            ("action", "login"),
            ("username", "jemma"),
            ("password", "todo"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT));
    let param = |k: &str| {
        location
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("st"));
    assert_eq!(param("iss").as_deref(), Some(idp.issuer()), "RFC 9207 iss");
    (param("code").expect("a code"), verifier.secret().clone())
}

async fn token(idp: &DevIdp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(format!("{}oauth/token", idp.issuer()))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn redeem(idp: &DevIdp, code: &str, verifier: &str) -> (u16, Value) {
    token(
        idp,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DESKTOP_CLIENT_ID),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(idp: &DevIdp, refresh_token: &str) -> (u16, Value) {
    token(
        idp,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DESKTOP_CLIENT_ID),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

#[tokio::test]
async fn codes_are_single_use_and_bound_to_the_pkce_verifier() {
    let idp = DevIdp::start(Settings::default()).await.unwrap();
    let (code, verifier) = code_for_jemma(&idp).await;
    let wrong = PkceCodeVerifier::new("a".repeat(43));
    let (status, body) = redeem(&idp, &code, wrong.secret()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (code, verifier2) = code_for_jemma(&idp).await;
    let _ = verifier;
    let (status, body) = redeem(&idp, &code, &verifier2).await;
    assert_eq!(status, 200, "{body}");
    let first_refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // Replaying the code fails and revokes what it issued (RFC 6749 §4.1.2).
    let (status, body) = redeem(&idp, &code, &verifier2).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(!idp.refresh_token_is_active(&first_refresh));
}

#[tokio::test]
async fn refresh_rotation_detects_reuse_and_revokes_the_family() {
    let idp = DevIdp::start(Settings::default()).await.unwrap();
    let (code, verifier) = code_for_jemma(&idp).await;
    let (_, body) = redeem(&idp, &code, &verifier).await;
    let r1 = body["refresh_token"].as_str().unwrap().to_owned();

    let (status, body) = refresh(&idp, &r1).await;
    assert_eq!(status, 200, "{body}");
    let r2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    assert!(body["id_token"].is_string());

    // r1 again: a stolen copy. The whole family dies, r2 included.
    let (status, body) = refresh(&idp, &r1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(&idp, &r2).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn unregistered_redirects_are_not_followed_and_pkce_is_required() {
    let idp = DevIdp::start(Settings::default()).await.unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    for redirect in [
        "http://localhost:49999/callback",
        "https://attacker.example/callback",
        "http://127.0.0.1:1/other",
    ] {
        let response = http()
            .get(authorize_url(&idp, Some(challenge.as_str()), redirect))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{redirect}");
        assert!(
            response.headers().get("location").is_none(),
            "{redirect}: never redirected"
        );
    }
    let response = http()
        .get(authorize_url(&idp, None, REDIRECT))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("error=invalid_request"), "{location}");
}

#[tokio::test]
async fn wrong_password_keeps_the_form_with_a_message() {
    let idp = DevIdp::start(Settings::default()).await.unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let page = http()
        .get(authorize_url(&idp, Some(challenge.as_str()), REDIRECT))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("not for production") || page.contains("Not for production"));
    let tx = form_tx(&page);
    let response = http()
        .post(format!("{}login", idp.issuer()))
        .form(&[
            ("tx", tx.as_str()),
            ("action", "login"),
            ("username", "jemma"),
            ("password", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );
}

#[tokio::test]
async fn sign_up_refuses_a_taken_name_and_a_weak_password_in_words_then_signs_in() {
    let idp = DevIdp::start(Settings::default()).await.unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}&screen_hint=signup",
        authorize_url(&idp, Some(challenge.as_str()), REDIRECT)
    );
    let page = http().get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("action=\"signup\""), "the sign-up screen");
    let tx = form_tx(&page);
    let attempt = |username: &'static str, password: &'static str| {
        let tx = tx.clone();
        let issuer = idp.issuer().to_owned();
        async move {
            http()
                .post(format!("{issuer}signup"))
                .form(&[
                    ("tx", tx.as_str()),
                    ("username", username),
                    ("name", ""),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let taken = attempt("paul", "longer1pass").await;
    assert_eq!(taken.status(), 422);
    assert!(
        taken
            .text()
            .await
            .unwrap()
            .contains("That username is taken")
    );
    let weak = attempt("newbie", "short").await;
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("at least 8 characters"));
    assert!(idp.user("newbie").is_none(), "nothing created by a refusal");
    let created = attempt("newbie", "longer1pass").await;
    let location = created
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        location.starts_with(REDIRECT) && location.contains("code="),
        "signed in straight away: {} {location}",
        created.status()
    );
    assert_eq!(idp.user("newbie").unwrap().name, "newbie");
}

/// A token request with a DPoP proof; the status, the body and the `DPoP-Nonce` answered.
async fn token_with_proof(
    idp: &DevIdp,
    form: &[(&str, &str)],
    proof: &str,
) -> (u16, Value, Option<String>) {
    let response = http()
        .post(format!("{}oauth/token", idp.issuer()))
        .header("DPoP", proof)
        .form(form)
        .send()
        .await
        .unwrap();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status().as_u16(),
        response.json().await.unwrap(),
        nonce,
    )
}

fn token_endpoint(idp: &DevIdp) -> String {
    format!("{}oauth/token", idp.issuer())
}

fn proof(key: &latchkey_dpop::ProofKey, idp: &DevIdp, nonce: Option<&str>) -> String {
    key.proof(
        "POST",
        &token_endpoint(idp),
        latchkey_dpop::unix_now(),
        None,
        nonce,
    )
}

fn payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn dpop_binds_the_tokens_to_the_key_and_a_copied_refresh_token_is_useless() {
    let idp = DevIdp::start(Settings::default()).await.unwrap();
    let discovery: Value = http()
        .get(format!("{}.well-known/openid-configuration", idp.issuer()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&"ES256".into())
    );
    let key = latchkey_dpop::ProofKey::generate();
    let (code, verifier) = code_for_jemma(&idp).await;
    let redeem_form = [
        ("grant_type", "authorization_code"),
        ("client_id", DESKTOP_CLIENT_ID),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body, _) = token_with_proof(&idp, &redeem_form, &proof(&key, &idp, None)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["cnf"]["jkt"], key.thumbprint());
    let stolen = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh_form = |token: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", DESKTOP_CLIENT_ID.to_owned()),
            ("refresh_token", token.to_owned()),
        ]
    };

    // The copy without the key: plain, or with a proof by the thief's own key.
    let (status, body) = refresh(&idp, &stolen).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let thief = latchkey_dpop::ProofKey::generate();
    let form = refresh_form(&stolen);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body, _) = token_with_proof(&idp, &form, &proof(&thief, &idp, None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(
        idp.counters()
            .dpop_key_mismatches
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );

    // The holder of the key still refreshes: the thief's tries spent nothing.
    let holder_proof = proof(&key, &idp, None);
    let (status, body, _) = token_with_proof(&idp, &form, &holder_proof).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let rotated = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, stolen);

    // A proof is good once, and only for this endpoint.
    let form = refresh_form(&rotated);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body, _) = token_with_proof(&idp, &form, &holder_proof).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "a replayed proof: {body}"
    );
    let elsewhere = key.proof(
        "POST",
        &format!("{}oauth/revoke", idp.issuer()),
        latchkey_dpop::unix_now(),
        None,
        None,
    );
    let (status, body, _) = token_with_proof(&idp, &form, &elsewhere).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "a proof for another URL: {body}"
    );
    let (status, body, _) = token_with_proof(&idp, &form, &proof(&key, &idp, None)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_provider_that_demands_dpop_nonces_names_one_and_takes_the_retry() {
    let idp = DevIdp::start(Settings {
        dpop_nonces: true,
        ..Settings::default()
    })
    .await
    .unwrap();
    let key = latchkey_dpop::ProofKey::generate();
    let (code, verifier) = code_for_jemma(&idp).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", DESKTOP_CLIENT_ID),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body, nonce) = token_with_proof(&idp, &form, &proof(&key, &idp, None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    let nonce = nonce.expect("a DPoP-Nonce with the challenge");
    // The code was not spent by the challenge: the retry with the nonce redeems it.
    let (status, body, _) = token_with_proof(&idp, &form, &proof(&key, &idp, Some(&nonce))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}
