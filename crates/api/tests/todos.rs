//! The todo API over real HTTP, with tokens from a real dev IdP: each user's list is their
//! own, bad input is refused with 4xx, and the same holds on PostgreSQL.
//!
//! SQLite always runs. PostgreSQL runs when `LATCHKEY_TEST_POSTGRES_URL` names a server the
//! tests may create databases on (`cargo xtask test` starts one); with
//! `LATCHKEY_REQUIRE_POSTGRES=1` a missing server is a failure, not a skip.

use latchkey_api::{AppState, Store, app};
use latchkey_dev_idp::{API_AUDIENCE, DevIdp, Settings};
use serde_json::{Value, json};

struct Api {
    idp: DevIdp,
    base: String,
    http: reqwest::Client,
}

/// Every storage this run can reach: a fresh SQLite file, and a fresh PostgreSQL database.
async fn stores(test: &str) -> Vec<(&'static str, Store)> {
    let dir = std::env::temp_dir().join(format!("latchkey-api-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut stores = vec![(
        "sqlite",
        Store::sqlite_file(&dir.join("todos.sqlite3"))
            .await
            .unwrap(),
    )];
    match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let name = format!("latchkey_{test}_{}", latchkey_dev_idp::random_token(6))
                .to_lowercase()
                .replace('-', "_");
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect(&url)
                .await
                .expect("PostgreSQL is reachable");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            let (base, _) = url.rsplit_once('/').expect("the URL names a database");
            stores.push((
                "postgres",
                Store::connect(&format!("{base}/{name}")).await.unwrap(),
            ));
        }
        _ => assert!(
            std::env::var_os("LATCHKEY_REQUIRE_POSTGRES").is_none(),
            "LATCHKEY_REQUIRE_POSTGRES is set but LATCHKEY_TEST_POSTGRES_URL is not"
        ),
    }
    stores
}

async fn api(store: Store) -> Api {
    let idp = DevIdp::start(Settings::default()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(idp.issuer(), API_AUDIENCE).with_store(store);
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    Api {
        idp,
        base,
        http: reqwest::Client::new(),
    }
}

impl Api {
    fn token(&self, user: &str) -> String {
        self.idp.access_token(user, API_AUDIENCE).unwrap()
    }

    async fn call(
        &self,
        user: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token(user));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn raw(
        &self,
        user: &str,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token(user))
            .body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn titles(&self, user: &str) -> Vec<String> {
        let (status, body) = self
            .call(user, reqwest::Method::GET, "/api/todos", None)
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect()
    }
}

use reqwest::Method;

#[tokio::test(flavor = "multi_thread")]
async fn each_user_sees_and_changes_only_their_own_todos() {
    for (backend, store) in stores("own").await {
        let api = api(store).await;
        let (status, jemmas) = api
            .call(
                "jemma",
                Method::POST,
                "/api/todos",
                Some(json!({ "title": "Buy milk" })),
            )
            .await;
        assert_eq!(status, 201, "{backend}: {jemmas}");
        let (_, pauls) = api
            .call(
                "paul",
                Method::POST,
                "/api/todos",
                Some(json!({ "title": "Paul's secret plan" })),
            )
            .await;
        let paul_path = format!("/api/todos/{}", pauls["id"].as_str().unwrap());

        assert_eq!(api.titles("jemma").await, ["Buy milk"], "{backend}");
        assert_eq!(
            api.titles("paul").await,
            ["Paul's secret plan"],
            "{backend}"
        );

        // Jemma knows Paul's todo id: reading, changing and deleting it all look like "no such todo".
        let (status, _) = api.call("jemma", Method::GET, &paul_path, None).await;
        assert_eq!(status, 404, "{backend}: read");
        let (status, _) = api
            .call(
                "jemma",
                Method::PATCH,
                &paul_path,
                Some(json!({ "title": "pwned", "done": true })),
            )
            .await;
        assert_eq!(status, 404, "{backend}: change");
        let (status, _) = api.call("jemma", Method::DELETE, &paul_path, None).await;
        assert_eq!(status, 404, "{backend}: delete");
        // Nor can she claim it by sending an owner of her choosing.
        let (status, body) = api
            .call(
                "jemma",
                Method::POST,
                "/api/todos",
                Some(json!({ "title": "x", "owner": "dev-idp|paul" })),
            )
            .await;
        assert_eq!(status, 422, "{backend}: {body}");

        let (status, still) = api.call("paul", Method::GET, &paul_path, None).await;
        assert_eq!(status, 200, "{backend}");
        assert_eq!(still["title"], "Paul's secret plan");
        assert_eq!(still["done"], false);

        // Paul's own changes work, and deleting really deletes.
        let (status, done) = api
            .call(
                "paul",
                Method::PATCH,
                &paul_path,
                Some(json!({ "done": true })),
            )
            .await;
        assert_eq!(
            (status, done["done"].clone()),
            (200, json!(true)),
            "{backend}"
        );
        let (status, _) = api.call("paul", Method::DELETE, &paul_path, None).await;
        assert_eq!(status, 204, "{backend}");
        assert!(api.titles("paul").await.is_empty(), "{backend}");
        assert_eq!(api.titles("jemma").await, ["Buy milk"], "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_4xx_and_the_api_keeps_working() {
    for (backend, store) in stores("input").await {
        let api = api(store).await;
        let cases = [
            (json!({ "title": "" }), 422, "must not be empty"),
            (json!({ "title": "   " }), 422, "must not be empty"),
            (json!({ "title": "x".repeat(201) }), 422, "at most 200"),
            (json!({ "title": "two\nlines" }), 422, "control characters"),
            (json!({ "title": 42 }), 422, "title"),
            (json!({}), 422, "title"),
            (json!({ "title": "ok", "priority": 1 }), 422, "priority"),
        ];
        for (body, status, words) in cases {
            let (got, answer) = api
                .call("jemma", Method::POST, "/api/todos", Some(body.clone()))
                .await;
            assert_eq!(got, status, "{backend}: {body} → {answer}");
            let message = answer["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(words),
                "{backend}: {body} → {message:?} should say {words:?}"
            );
        }
        let (status, _) = api
            .raw(
                "jemma",
                "/api/todos",
                Some("application/json"),
                "{ not json",
            )
            .await;
        assert_eq!(status, 400, "{backend}: syntax error");
        let (status, _) = api
            .raw("jemma", "/api/todos", None, r#"{"title":"x"}"#)
            .await;
        assert_eq!(status, 415, "{backend}: no content type");
        let (status, _) = api
            .raw(
                "jemma",
                "/api/todos",
                Some("application/json"),
                &"x".repeat(100_000),
            )
            .await;
        assert!(
            (400..500).contains(&status),
            "{backend}: huge body → {status}"
        );

        for path in [
            "/api/todos/1",
            "/api/todos/not-a-uuid",
            "/api/todos/00000000-0000-0000-0000-000000000000",
        ] {
            let (status, _) = api.call("jemma", Method::GET, path, None).await;
            assert_eq!(status, 404, "{backend}: {path}");
        }
        let (_, todo) = api
            .call(
                "jemma",
                Method::POST,
                "/api/todos",
                Some(json!({ "title": "  Water plants " })),
            )
            .await;
        assert_eq!(todo["title"], "Water plants", "{backend}: trimmed");
        let path = format!("/api/todos/{}", todo["id"].as_str().unwrap());
        for (body, words) in [
            (json!({}), "nothing to change"),
            (json!({ "done": "yes" }), "done"),
            (json!({ "title": "" }), "must not be empty"),
        ] {
            let (status, answer) = api
                .call("jemma", Method::PATCH, &path, Some(body.clone()))
                .await;
            assert_eq!(status, 422, "{backend}: {body}");
            assert!(
                answer["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(words),
                "{backend}: {answer}"
            );
        }
        // Without a token nothing is listed.
        let status = api
            .http
            .get(format!("{}/api/todos", api.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "{backend}");
        // Still working, nothing half-written.
        assert_eq!(api.titles("jemma").await, ["Water plants"], "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sqlite_file_is_created_on_first_run_and_keeps_the_todos() {
    let dir = std::env::temp_dir().join(format!("latchkey-api-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("nested/todos.sqlite3");
    let first = api(Store::sqlite_file(&path).await.unwrap()).await;
    assert!(path.exists(), "created on first run");
    first
        .call(
            "jemma",
            Method::POST,
            "/api/todos",
            Some(json!({ "title": "Survive a restart" })),
        )
        .await;
    drop(first);
    let second = api(Store::sqlite_file(&path).await.unwrap()).await;
    assert_eq!(second.titles("jemma").await, ["Survive a restart"]);
    let _ = std::fs::remove_dir_all(&dir);
}
