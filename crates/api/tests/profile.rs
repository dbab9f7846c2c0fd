//! `/api/profile` through dev-idp's management API: names land in `user_metadata`, merged
//! not replaced; the API alone holds the management credentials; mistakes are 4xx or a
//! clear 503, never a leaked secret.

use latchkey_api::{AppState, ManagementConfig, app};
use latchkey_dev_idp::{API_AUDIENCE, DevIdp, ManagementClient, Settings};
use reqwest::Method;
use serde_json::{Value, json};

struct Api {
    idp: DevIdp,
    base: String,
    http: reqwest::Client,
    secret: String,
}

/// The API is given `secret` for the management client the provider registered.
async fn api(wrong_secret: bool) -> Api {
    let (settings, client) = Settings::default().with_management();
    let idp = DevIdp::start(settings).await.unwrap();
    let ManagementClient {
        client_id,
        client_secret,
    } = client;
    let given = if wrong_secret {
        "not-the-secret".to_owned()
    } else {
        client_secret.clone()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(idp.issuer(), API_AUDIENCE).with_management(ManagementConfig {
        issuer: idp.issuer().to_owned(),
        client_id,
        client_secret: oauth2::ClientSecret::new(given),
        audience: None,
    });
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    Api {
        idp,
        base,
        http: reqwest::Client::new(),
        secret: client_secret,
    }
}

impl Api {
    fn token(&self, user: &str) -> String {
        self.idp.access_token(user, API_AUDIENCE).unwrap()
    }

    async fn call(&self, method: Method, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/api/profile", self.base))
            .bearer_auth(self.token("jemma"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn names_are_stored_in_user_metadata_and_merged() {
    let api = api(false).await;
    let (status, form) = api.call(Method::GET, None).await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(form["givenName"], "Jemma");
    assert_eq!(form["familyName"], "Doe");
    assert_eq!(form["emailEditable"], true, "a password account");

    let (status, form) = api
        .call(Method::PATCH, Some(json!({ "familyName": "Lovelace" })))
        .await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(form["familyName"], "Lovelace");
    let (status, _) = api
        .call(Method::PATCH, Some(json!({ "givenName": "  Ada " })))
        .await;
    assert_eq!(status, 200);

    let jemma = api.idp.user("jemma").unwrap();
    assert_eq!(
        jemma.user_metadata.get("family_name"),
        Some(&json!("Lovelace")),
        "the first change survives the second: merged, not replaced"
    );
    assert_eq!(jemma.user_metadata.get("given_name"), Some(&json!("Ada")));
    assert_eq!(jemma.display_name(), "Ada Lovelace");
    // Paul is untouched.
    assert!(api.idp.user("paul").unwrap().user_metadata.is_empty());

    let (status, form) = api
        .call(Method::PATCH, Some(json!({ "email": "ada@example.org" })))
        .await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(api.idp.user("jemma").unwrap().email, "ada@example.org");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_changes_are_refused_with_the_field_named() {
    let api = api(false).await;
    for (body, words) in [
        (json!({ "familyName": "" }), "familyName: must not be empty"),
        (
            json!({ "givenName": "x".repeat(101) }),
            "givenName: at most 100",
        ),
        (json!({ "nickname": "hacker" }), "nickname"),
        (json!({}), "nothing to change"),
        (json!({ "email": "not-an-email" }), "email"),
    ] {
        let (status, answer) = api.call(Method::PATCH, Some(body.clone())).await;
        assert!(status == 422 || status == 400, "{body}: {status} {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(words),
            "{body}: {message:?} lacks {words:?}"
        );
    }
    assert!(api.idp.user("jemma").unwrap().user_metadata.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_management_secret_is_a_clear_503_that_leaks_nothing() {
    let api = api(true).await;
    let (status, answer) = api.call(Method::GET, None).await;
    assert_eq!(status, 503, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("management client"), "{message}");
    assert!(!answer.to_string().contains(&api.secret));
    assert!(!answer.to_string().contains("not-the-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_management_api_takes_only_management_tokens() {
    let api = api(false).await;
    let url = format!(
        "{}users/{}",
        api.idp.management_audience(),
        "dev-idp%7Cjemma"
    );
    // A user's access token for the sample API is not a management token.
    let status = api
        .http
        .get(&url)
        .bearer_auth(api.token("jemma"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let status = api
        .http
        .patch(&url)
        .json(&json!({ "user_metadata": { "family_name": "x" } }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "no token at all");
    // A client-credentials grant with a wrong secret gets nothing.
    let token_url = format!("{}oauth/token", api.idp.issuer());
    let refused = api
        .http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "latchkey-sample-api"),
            ("client_secret", "guess"),
            ("audience", &api.idp.management_audience()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert!(api.idp.user("jemma").unwrap().user_metadata.is_empty());
}
