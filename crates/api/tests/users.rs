//! `/api/me` and `/api/users` through dev-idp's management API: the permission decides, the
//! search and the page reach the provider as Auth0's parameters, bad input is a 4xx, and
//! the management token shows up in no answer and no log line.

use std::sync::{Arc, Mutex, OnceLock};

use latchkey_api::{AppState, ManagementConfig, app};
use latchkey_dev_idp::{API_AUDIENCE, DevIdp, ManagementClient, Settings};
use serde_json::Value;

/// Every log line of this test binary.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Writer(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buffer
    })
    .clone()
}

struct Writer(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Api {
    idp: DevIdp,
    base: String,
    http: reqwest::Client,
}

async fn api() -> Api {
    logs();
    let (
        settings,
        ManagementClient {
            client_id,
            client_secret,
        },
    ) = Settings::default().with_management();
    let idp = DevIdp::start(settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(idp.issuer(), API_AUDIENCE).with_management(ManagementConfig {
        issuer: idp.issuer().to_owned(),
        client_id,
        client_secret: oauth2::ClientSecret::new(client_secret),
        audience: None,
    });
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    Api {
        idp,
        base,
        http: reqwest::Client::new(),
    }
}

impl Api {
    async fn get(&self, user: &str, path_and_query: &str) -> (u16, Value, String) {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(self.idp.access_token(user, API_AUDIENCE).unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn me_says_what_the_token_allows() {
    let api = api().await;
    let (status, me, _) = api.get("sebastian", "/api/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["sub"], "dev-idp|sebastian");
    let permissions: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(permissions.contains(&"read:users"), "{me}");
    assert!(permissions.contains(&"read:admin-messages"), "{me}");
    let (_, me, _) = api.get("jemma", "/api/me").await;
    assert_eq!(me["permissions"], serde_json::json!([]));
    let response = api
        .http
        .get(format!("{}/api/me", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "no token, no answer");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_searches_and_pages_and_the_provider_gets_auth0s_parameters() {
    let api = api().await;
    let (status, page, text) = api.get("sebastian", "/api/users?q=jemma").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["users"][0]["name"], "Jemma Doe");
    assert_eq!(page["users"][0]["email"], "jemma@example.com");
    assert!(
        page["users"][0]["picture"]
            .as_str()
            .unwrap()
            .ends_with("jemma.svg")
    );
    // The test's tokens come from no sign-in: jemma has never signed in.
    assert!(page["users"][0]["lastLogin"].is_null(), "{page}");
    let asked = api.idp.user_queries().pop().unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(asked.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("q"), Some("(name:jemma* OR email:jemma*)"), "{asked}");
    assert_eq!(get("search_engine"), Some("v3"));
    assert_eq!(get("page"), Some("0"));
    assert_eq!(get("per_page"), Some("10"));
    assert_eq!(get("include_totals"), Some("true"));

    let (status, all, _) = api.get("sebastian", "/api/users").await;
    assert_eq!(status, 200);
    assert_eq!(all["total"], 3, "{all}");
    assert_eq!(all["users"].as_array().unwrap().len(), 3);
    let (status, beyond, _) = api.get("sebastian", "/api/users?page=1").await;
    assert_eq!(status, 200);
    assert_eq!(beyond["page"], 1);
    assert_eq!(
        beyond["users"],
        serde_json::json!([]),
        "page 2 of 3 users is empty"
    );
    let asked = api.idp.user_queries().pop().unwrap();
    assert!(asked.contains("page=1"), "{asked}");
    assert!(!asked.contains("q="), "no search, no q: {asked}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_permission_or_with_bad_input_the_answer_is_4xx() {
    let api = api().await;
    let (status, body, _) = api.get("jemma", "/api/users?q=sebastian").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("read:users"),
        "{body}"
    );
    assert!(
        api.idp.user_queries().is_empty(),
        "nothing reached the provider"
    );
    for (query, words) in [
        ("page=-1", "page:"),
        ("page=abc", "page:"),
        ("page=100", "page:"),
        ("page=99999999999", "page:"),
        ("q=name:*%20OR%20x", "q:"),
        ("q=%22", "q:"),
        (&format!("q={}", "x".repeat(65)), "q: at most 64"),
    ] {
        let (status, body, _) = api.get("sebastian", &format!("/api/users?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(words), "{query}: {message}");
    }
    assert!(
        api.idp.user_queries().is_empty(),
        "no bad input reached the provider"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_management_token_is_in_no_answer_and_no_log_line() {
    let api = api().await;
    let (status, _, text) = api.get("sebastian", "/api/users?q=paul").await;
    assert_eq!(status, 200);
    let (_, _, me) = api.get("sebastian", "/api/me").await;
    let logged = String::from_utf8(logs().lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("fetched the issuer's signing keys"),
        "the logs were captured: {logged}"
    );
    for (what, said) in [
        ("the answer", &text),
        ("/api/me", &me),
        ("the logs", &logged),
    ] {
        assert!(!said.contains("eyJ"), "a JWT appears in {what}: {said}");
    }
}
