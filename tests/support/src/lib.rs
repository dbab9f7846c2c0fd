//! The local dev stack for one test: a dev IdP and the sample API, each on an ephemeral
//! loopback port, and the `auth_config.json` that points Latchkey at them.

use std::path::{Path, PathBuf};

use latchkey_dev_idp::{API_AUDIENCE, DESKTOP_CLIENT_ID, DevIdp, Settings};
use serde_json::{Value, json};

pub struct DevStack {
    pub idp: DevIdp,
    /// The sample API's base URL, `http://127.0.0.1:{port}`.
    pub api_url: String,
}

/// The vault entry of the account active for `client_id` at `issuer` under `app` (Latchkey's
/// when `None`), as another process finds it through the list of accounts; the first entry
/// when no account is kept.
pub async fn active_store(
    app: Option<&latchkey_auth::AppIdentity>,
    issuer: &str,
    client_id: &str,
) -> latchkey_auth::SessionStore {
    let config =
        json!({ "issuer": issuer, "clientId": client_id, "apiUrl": "http://127.0.0.1:9/" })
            .to_string();
    let config = latchkey_auth::Config::parse(&config, "the test").expect("a valid config");
    let app = app
        .cloned()
        .unwrap_or_else(latchkey_auth::AppIdentity::latchkey);
    let session = latchkey_auth::Session::builder(config).app(app).build();
    match session.accounts().await.ok().and_then(|list| list.active) {
        Some(entry) => session.for_account(&entry).store(),
        None => session.store(),
    }
}

/// A port is reused across a run's tests: the sessions an earlier test left for this issuer
/// in Latchkey's vault entries, and its list of accounts, are not this test's. (Errors: no
/// vault, nothing to clear.)
async fn forget_earlier_sessions(issuer: &str) {
    let base = latchkey_auth::SessionStore::for_client(issuer, DESKTOP_CLIENT_ID);
    let _ = base.vault().delete().await;
    let config =
        json!({ "issuer": issuer, "clientId": DESKTOP_CLIENT_ID, "apiUrl": "http://127.0.0.1:9/" })
            .to_string();
    let Ok(config) = latchkey_auth::Config::parse(&config, "the test stack") else {
        return;
    };
    let session = latchkey_auth::Session::new(config);
    if let Ok(list) = session.accounts().await {
        for account in list.accounts {
            let _ = session
                .for_account(&account.entry)
                .store()
                .vault()
                .delete()
                .await;
        }
    }
    if let Some(file) = session.accounts_file() {
        let _ = std::fs::remove_file(file);
    }
}

impl DevStack {
    pub async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    /// The stack with `settings` for the provider (a management client is added when the
    /// settings have none), the API's todos in a fresh SQLite file.
    pub async fn start_with(settings: Settings) -> Self {
        let (settings, management) = match settings.management.clone() {
            Some(client) => (settings, client),
            None => settings.with_management(),
        };
        let idp = DevIdp::start(settings).await.expect("the dev IdP starts");
        forget_earlier_sessions(idp.issuer()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let api_url = format!("http://{}", listener.local_addr().expect("bound"));
        let db = std::env::temp_dir().join(format!(
            "latchkey-stack-{}/todos.sqlite3",
            idp.addr().port()
        ));
        let _ = std::fs::remove_file(&db);
        let store = latchkey_api::Store::sqlite_file(&db)
            .await
            .expect("the todo database opens");
        let state = latchkey_api::AppState::new(idp.issuer(), API_AUDIENCE)
            .with_store(store)
            .with_management(latchkey_api::ManagementConfig {
                issuer: idp.issuer().to_owned(),
                client_id: management.client_id,
                client_secret: oauth2::ClientSecret::new(management.client_secret),
                audience: None,
            });
        tokio::spawn(async move { axum::serve(listener, latchkey_api::app(state)).await });
        Self { idp, api_url }
    }

    /// `auth_config.json` for this stack.
    pub fn config_json(&self) -> Value {
        json!({
            "issuer": self.idp.issuer(),
            "clientId": DESKTOP_CLIENT_ID,
            "audience": API_AUDIENCE,
            "apiUrl": self.api_url,
            "redirect": "loopback",
        })
    }

    /// Writes `auth_config.json` into a fresh directory of `parent`; returns its path.
    pub fn write_config(&self, parent: &Path) -> PathBuf {
        let dir = parent.join(format!("latchkey-stack-{}", self.idp.addr().port()));
        std::fs::create_dir_all(&dir).expect("a config directory");
        let path = dir.join("auth_config.json");
        std::fs::write(&path, self.config_json().to_string()).expect("the config is written");
        path
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_url)
    }
}
