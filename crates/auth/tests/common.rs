//! A dev stack on ephemeral loopback ports for one test: dev IdP, sample API, and a config.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use latchkey_auth::{
    AppIdentity, BrowserLauncher, Config, LoginOptions, NoBrowser, Session, SessionStore,
    SystemBrowser,
};
use latchkey_dev_idp::{DevIdp, Settings};
use tokio::sync::mpsc;
use url::Url;

use latchkey_test_support::DevStack;

pub struct Stack {
    pub idp: DevIdp,
    pub api_url: String,
    pub config: Config,
    /// This test's own vault service and lock directory: no other test of the run, and no
    /// earlier test that had the same ephemeral port, shares its entry.
    pub app: AppIdentity,
}

/// A vault namespace no other stack of this run has.
fn test_identity(port: u16) -> AppIdentity {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    AppIdentity::latchkey()
        .with_vault_service(format!("Latchkey test {}-{n}-{port}", std::process::id()))
}

pub async fn stack() -> Stack {
    stack_with(Settings::default()).await
}

pub async fn stack_with(settings: Settings) -> Stack {
    let stack = DevStack::start_with(settings).await;
    let config =
        Config::parse(&stack.config_json().to_string(), "test config").expect("valid config");
    let app = test_identity(stack.idp.addr().port());
    Stack {
        idp: stack.idp,
        api_url: stack.api_url,
        config,
        app,
    }
}

/// The scripted browser must be the system browser, or a test would open a real one.
pub fn require_scripted_browser() {
    assert!(
        std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").is_some(),
        "this test signs in through the system browser: run it with `cargo xtask test`, which puts \
         the scripted browser first on PATH as xdg-open"
    );
}

impl Stack {
    /// A session whose browser is the system one (the scripted browser under `cargo xtask test`).
    pub fn session(&self) -> Session {
        require_scripted_browser();
        self.session_with(self.config.clone(), Arc::new(SystemBrowser))
    }

    /// A session that opens nothing; the test plays the browser.
    pub fn session_without_browser(&self) -> Session {
        self.session_with(self.config.clone(), Arc::new(NoBrowser))
    }

    /// A session of this test's own namespace, for `config` (this stack's, changed), opening
    /// sign-in pages with `browser`: another process, as far as the vault can tell.
    pub fn session_with(&self, config: Config, browser: Arc<dyn BrowserLauncher>) -> Session {
        Session::builder(config)
            .app(self.app.clone())
            .browser(browser)
            .build()
    }

    /// The first entry (`client@issuer`), beside which each account's is kept.
    pub fn base(&self) -> SessionStore {
        SessionStore::for_app(&self.app, self.idp.issuer(), &self.config.client_id)
    }

    /// The active account's vault entry, as another process would find it (through the
    /// list of accounts); the first entry when no account is kept.
    pub async fn store(&self) -> SessionStore {
        let session = self.session_without_browser();
        match session.accounts().await.ok().and_then(|list| list.active) {
            Some(entry) => session.for_account(&entry).store(),
            None => SessionStore::for_app(&self.app, self.idp.issuer(), &self.config.client_id),
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_url)
    }
}

pub fn as_user(user: &str) -> LoginOptions {
    LoginOptions {
        login_hint: Some(user.to_owned()),
        ..LoginOptions::default()
    }
}

/// Starts a login in the background; returns its handle and the sign-in URL.
pub async fn start_login(
    session: &Session,
    options: LoginOptions,
) -> (
    tokio::task::JoinHandle<Result<latchkey_auth::Profile, latchkey_auth::LoginError>>,
    Url,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = session.clone();
    let handle = tokio::spawn(async move {
        s.login(options, move |url| {
            let _ = tx.send(url.clone());
        })
        .await
    });
    let url = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the sign-in URL is announced")
        .expect("login is running");
    (handle, url)
}

pub fn query(url: &Url, key: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{key} missing from {url}"))
}

/// Runs the scripted browser on `url`, as the system launcher would.
pub async fn browse(url: &Url) {
    require_scripted_browser();
    let status = tokio::process::Command::new("xdg-open")
        .arg(url.as_str())
        .status()
        .await
        .expect("xdg-open runs");
    assert!(status.success());
}

/// Waits until `happened` (an event at the dev IdP), failing with `what` after 30 s.
pub async fn until(what: &str, happened: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !happened() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
