//! "The rotated refresh token reaches the vault before the new access token is used": the OS
//! vault (the real Secret Service) wrapped so that, after sign-in, every write fails and is
//! recorded, and an API that records each bearer in the same log. A refresh that rotates the
//! token must try the vault first; only then may the new access token go out (the session
//! then lives in memory and says that the vault could not keep it).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use keyring_core::api::{CredentialApi, CredentialStoreApi};
use keyring_core::{Credential, Entry};
use latchkey_auth::{ApiClient, SessionStore, Vault, native_vault_store};

#[derive(Clone, Debug, PartialEq)]
enum Event {
    /// A write of the vault entry, refused while `failing`.
    VaultWrite { refused: bool },
    /// A request at the API, with its bearer.
    ApiCall { bearer: String },
}

type Log = Arc<Mutex<Vec<Event>>>;

/// The OS vault's store, with writes refused (and recorded) while `failing` is set.
struct Failing {
    inner: latchkey_auth::VaultStore,
    failing: Arc<AtomicBool>,
    log: Log,
}

struct FailingCredential {
    entry: Entry,
    failing: Arc<AtomicBool>,
    log: Log,
}

impl CredentialStoreApi for Failing {
    fn vendor(&self) -> String {
        self.inner.vendor()
    }
    fn id(&self) -> String {
        self.inner.id()
    }
    fn build(
        &self,
        service: &str,
        user: &str,
        modifiers: Option<&HashMap<&str, &str>>,
    ) -> keyring_core::Result<Entry> {
        let entry = self.inner.build(service, user, modifiers)?;
        let credential: Arc<Credential> = Arc::new(FailingCredential {
            entry,
            failing: self.failing.clone(),
            log: self.log.clone(),
        });
        Ok(Entry::new_with_credential(credential))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl CredentialApi for FailingCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring_core::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            // A vault that takes its time: an engine that wrote in the background would
            // have used the new token meanwhile.
            std::thread::sleep(std::time::Duration::from_millis(300));
            self.log
                .lock()
                .unwrap()
                .push(Event::VaultWrite { refused: true });
            return Err(keyring_core::Error::NoStorageAccess(
                "writes refused by the test".into(),
            ));
        }
        self.entry.set_secret(secret)
    }
    fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
        self.entry.get_secret()
    }
    fn delete_credential(&self) -> keyring_core::Result<()> {
        self.entry.delete_credential()
    }
    fn get_credential(&self) -> keyring_core::Result<Option<Arc<Credential>>> {
        Ok(None)
    }
    fn get_specifiers(&self) -> Option<(String, String)> {
        self.entry.get_specifiers()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An API that records each access token (bearer or DPoP-bound) and refuses the first one (401), as an API does when a
/// token was revoked early: the client refreshes and retries.
async fn recording_api(log: Log) -> String {
    use axum::http::{HeaderMap, StatusCode};
    let refused_once = Arc::new(AtomicBool::new(false));
    let app = axum::Router::new().route(
        "/api/whoami",
        axum::routing::get(move |headers: HeaderMap| {
            let (log, refused_once) = (log.clone(), refused_once.clone());
            async move {
                let bearer = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        v.strip_prefix("Bearer ")
                            .or_else(|| v.strip_prefix("DPoP "))
                    })
                    .unwrap_or_default()
                    .to_owned();
                log.lock().unwrap().push(Event::ApiCall { bearer });
                if refused_once.swap(true, Ordering::SeqCst) {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_refresh_token_is_written_to_the_vault_before_the_new_access_token_is_used() {
    require_scripted_browser();
    let stack = stack().await;
    let log: Log = Arc::default();
    let failing = Arc::new(AtomicBool::new(false));
    let api = recording_api(log.clone()).await;
    let mut config = stack.config.clone();
    config.api_url = url::Url::parse(&api).unwrap();
    let store = native_vault_store().expect("the Secret Service");
    let vault = Vault::for_app(&stack.app, stack.idp.issuer(), &config.client_id).with_store(
        Arc::new(Failing {
            inner: store,
            failing: failing.clone(),
            log: log.clone(),
        }),
    );
    let entry =
        SessionStore::for_app(&stack.app, stack.idp.issuer(), &config.client_id).with_vault(vault);
    let session = latchkey_auth::Session::builder(config)
        .app(stack.app.clone())
        .store(entry)
        .build();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let (first, _) = session.access_token().await.unwrap();
    let stored = stack.store().await.refresh_token().await.unwrap().unwrap();

    // From now on the vault refuses every write.
    failing.store(true, Ordering::SeqCst);
    log.lock().unwrap().clear();
    let answer = ApiClient::new(session.clone())
        .get(&format!("{api}/api/whoami"))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);

    let events = log.lock().unwrap().clone();
    let bearer = |event: &Event| match event {
        Event::ApiCall { bearer } => Some(bearer.clone()),
        Event::VaultWrite { .. } => None,
    };
    let first_write = events
        .iter()
        .position(|e| matches!(e, Event::VaultWrite { refused: true }))
        .expect("the rotated refresh token was offered to the vault");
    let first_new_call = events
        .iter()
        .position(|e| bearer(e).is_some_and(|b| b != first.secret().as_str()))
        .expect("the call was retried with a new access token");
    // Compared, never printed: a failure must not put a token in the test log.
    assert!(
        bearer(&events[0]).as_deref() == Some(first.secret().as_str()),
        "the first call carried the first access token"
    );
    assert!(
        first_write < first_new_call,
        "the new access token went out before the vault was written: {:?}",
        events
            .iter()
            .map(|e| match e {
                Event::ApiCall { .. } => "api call",
                Event::VaultWrite { .. } => "vault write",
            })
            .collect::<Vec<_>>()
    );
    // The session goes on in memory, and says that the vault could not keep it; the vault
    // still holds the token from before (no half-written entry).
    assert!(
        session.vault_problem().is_some(),
        "the vault problem is reported"
    );
    let still = stack.store().await.refresh_token().await.unwrap().unwrap();
    assert_eq!(still.secret(), stored.secret());
}
