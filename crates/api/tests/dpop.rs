//! DPoP-bound access tokens (RFC 9449 §7) at the API, against a real dev IdP's keys: the
//! proof that passes, and every way a stolen token or a copied proof is refused.

use latchkey_api::{AppState, Dpop, DpopPolicy, app};
use latchkey_dev_idp::{API_AUDIENCE, DevIdp, Settings};
use latchkey_dpop::{ProofKey, unix_now};
use serde_json::{Value, json};

const PATH: &str = "/api/messages/protected";

struct Api {
    idp: DevIdp,
    base: String,
    http: reqwest::Client,
}

async fn api(dpop: Dpop) -> Api {
    let idp = DevIdp::start(Settings::default())
        .await
        .expect("dev IdP starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(idp.issuer(), API_AUDIENCE).with_dpop(dpop);
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    Api {
        idp,
        base,
        http: reqwest::Client::new(),
    }
}

struct Answer {
    status: u16,
    challenges: Vec<String>,
    nonce: Option<String>,
    body: Value,
}

impl Api {
    /// An access token for jemma, bound to `key` when given.
    fn token(&self, key: Option<&ProofKey>) -> String {
        let now = unix_now();
        let mut claims = json!({
            "iss": self.idp.issuer(),
            "sub": "dev-idp|jemma",
            "aud": [API_AUDIENCE],
            "iat": now,
            "exp": now + 300,
        });
        if let Some(key) = key {
            claims["cnf"] = json!({ "jkt": key.thumbprint() });
        }
        self.idp.sign_claims(&claims).unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, authorization: Option<String>, proofs: &[String]) -> Answer {
        let mut request = self.http.get(self.url(PATH));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        for proof in proofs {
            request = request.header("dpop", proof);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenges = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let nonce = response
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            challenges,
            nonce,
            body,
        }
    }

    /// A DPoP call with `token` and `proof`.
    async fn dpop(&self, token: &str, proof: String) -> Answer {
        self.get(Some(format!("DPoP {token}")), &[proof]).await
    }
}

fn refused(answer: &Answer, error: &str, why: &str) {
    assert_eq!(answer.status, 401, "{why}: {}", answer.body);
    assert_eq!(answer.body["error"], error, "{why}: {}", answer.body);
    assert!(
        answer
            .challenges
            .iter()
            .any(|c| c.contains(&format!("error=\"{error}\""))),
        "{why}: {:?}",
        answer.challenges
    );
}

#[tokio::test]
async fn a_bound_token_with_a_fresh_proof_passes_once() {
    let api = api(Dpop::new(DpopPolicy::Allowed)).await;
    let key = ProofKey::generate();
    let token = api.token(Some(&key));
    let proof = key.proof("GET", &api.url(PATH), unix_now(), Some(&token), None);
    let answer = api.dpop(&token, proof.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["sub"], "dev-idp|jemma");
    // The same proof again: a copy of the request is refused.
    let again = api.dpop(&token, proof).await;
    refused(&again, "invalid_dpop_proof", "a replayed proof");
    assert!(
        again.body["message"]
            .as_str()
            .unwrap()
            .contains("used before"),
        "{}",
        again.body
    );
    // A new proof for the next request passes.
    let next = key.proof("GET", &api.url(PATH), unix_now(), Some(&token), None);
    assert_eq!(api.dpop(&token, next).await.status, 200);
}

#[tokio::test]
async fn a_stolen_token_or_a_proof_for_something_else_is_refused() {
    let api = api(Dpop::new(DpopPolicy::Allowed)).await;
    let key = ProofKey::generate();
    let token = api.token(Some(&key));
    let url = api.url(PATH);
    let now = unix_now();
    let cases = [
        (
            key.proof(
                "GET",
                &api.url("/api/messages/admin"),
                now,
                Some(&token),
                None,
            ),
            "another URL",
        ),
        (
            key.proof("POST", &url, now, Some(&token), None),
            "another method",
        ),
        (
            key.proof("GET", &url, now - 600, Some(&token), None),
            "too old",
        ),
        (
            key.proof("GET", &url, now, Some("another-token"), None),
            "another token's ath",
        ),
        (key.proof("GET", &url, now, None, None), "no ath"),
        // The thief has the token but not the key: a proof by their own key.
        (
            ProofKey::generate().proof("GET", &url, now, Some(&token), None),
            "another key",
        ),
    ];
    for (proof, why) in cases {
        refused(&api.dpop(&token, proof).await, "invalid_dpop_proof", why);
    }
    // No proof at all, or two.
    refused(
        &api.get(Some(format!("DPoP {token}")), &[]).await,
        "invalid_dpop_proof",
        "no proof",
    );
    let one = key.proof("GET", &url, now, Some(&token), None);
    let two = key.proof("GET", &url, now, Some(&token), None);
    refused(
        &api.get(Some(format!("DPoP {token}")), &[one, two]).await,
        "invalid_dpop_proof",
        "two proofs",
    );
    // The bound token as a plain bearer token: refused, the key is not proven.
    refused(
        &api.get(Some(format!("Bearer {token}")), &[]).await,
        "invalid_token",
        "a bound token as a bearer",
    );
    // An unbound token with a proof: nothing to bind it to.
    let unbound = api.token(None);
    let proof = key.proof("GET", &url, now, Some(&unbound), None);
    refused(
        &api.dpop(&unbound, proof).await,
        "invalid_dpop_proof",
        "an unbound token with a proof",
    );
}

#[tokio::test]
async fn bearer_tokens_keep_working_unless_the_api_requires_dpop() {
    let allowed = api(Dpop::new(DpopPolicy::Allowed)).await;
    let bearer = allowed.token(None);
    let answer = allowed.get(Some(format!("Bearer {bearer}")), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Without credentials both schemes are offered.
    let answer = allowed.get(None, &[]).await;
    assert_eq!(answer.status, 401);
    assert!(
        answer.challenges.iter().any(|c| c.starts_with("Bearer "))
            && answer
                .challenges
                .iter()
                .any(|c| c.starts_with("DPoP ") && c.contains("ES256")),
        "{:?}",
        answer.challenges
    );

    let required = api(Dpop::new(DpopPolicy::Required)).await;
    let bearer = required.token(None);
    let answer = required.get(Some(format!("Bearer {bearer}")), &[]).await;
    refused(
        &answer,
        "invalid_token",
        "a bearer token where DPoP is required",
    );
    assert!(
        answer.body["message"].as_str().unwrap().contains("DPoP"),
        "{}",
        answer.body
    );
    let key = ProofKey::generate();
    let token = required.token(Some(&key));
    let proof = key.proof("GET", &required.url(PATH), unix_now(), Some(&token), None);
    assert_eq!(required.dpop(&token, proof).await.status, 200);
}

#[tokio::test]
async fn an_api_that_demands_nonces_says_which_and_takes_the_retry() {
    let api = api(Dpop::new(DpopPolicy::Allowed).with_nonces(300)).await;
    let key = ProofKey::generate();
    let token = api.token(Some(&key));
    let url = api.url(PATH);
    let first = api
        .dpop(
            &token,
            key.proof("GET", &url, unix_now(), Some(&token), None),
        )
        .await;
    refused(&first, "use_dpop_nonce", "a proof without the nonce");
    let nonce = first.nonce.expect("a DPoP-Nonce header with the challenge");
    let made_up = api
        .dpop(
            &token,
            key.proof("GET", &url, unix_now(), Some(&token), Some("made-up")),
        )
        .await;
    refused(&made_up, "use_dpop_nonce", "a made-up nonce");
    let retry = api
        .dpop(
            &token,
            key.proof("GET", &url, unix_now(), Some(&token), Some(&nonce)),
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.body);
}
