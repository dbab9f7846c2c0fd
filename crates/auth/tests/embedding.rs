//! The engine in another app: its own identity (name, vault service, lock directory) keeps
//! its sessions apart from Latchkey's, and its name is what the browser pages show.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use latchkey_auth::{AppIdentity, BrowserLauncher, Session, SessionStore};
use url::Url;

/// The scripted browser, logging what it saw to a file of this test's own.
struct LoggedBrowser {
    log: PathBuf,
}

impl BrowserLauncher for LoggedBrowser {
    fn open(&self, url: &Url) -> std::io::Result<()> {
        std::process::Command::new(std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").unwrap())
            .arg(url.as_str())
            .env("SCRIPTED_BROWSER_LOG", &self.log)
            .spawn()
            .map(|_| ())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedding_app_keeps_its_own_vault_entry_and_lock_and_its_name_on_the_pages() {
    require_scripted_browser();
    let stack = stack().await;
    let dir = std::env::temp_dir().join(format!("latchkey-embedding-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let acme = AppIdentity::new("Acme Notes")
        .with_vault_service("Acme Notes (tests)")
        .with_lock_dir(dir.join("locks"));
    let log = dir.join("browser.log");
    std::fs::create_dir_all(&dir).unwrap();
    let session = Session::builder(stack.config.clone())
        .app(acme.clone())
        .browser(Arc::new(LoggedBrowser { log: log.clone() }))
        .build();

    let profile = session.login(as_user("jemma"), |_| {}).await.unwrap();
    assert_eq!(profile.sub, "dev-idp|jemma");

    // Its refresh token is under its own vault service, and Latchkey's entry for the same
    // provider and client holds nothing.
    let own = SessionStore::for_app(&acme, stack.idp.issuer(), &stack.config.client_id)
        .account("dev-idp|jemma");
    assert!(own.refresh_token().await.unwrap().is_some());
    let latchkey = SessionStore::for_client(stack.idp.issuer(), &stack.config.client_id)
        .account("dev-idp|jemma");
    assert!(latchkey.refresh_token().await.unwrap().is_none());
    assert!(
        own.lock().path().unwrap().starts_with(dir.join("locks")),
        "{:?}",
        own.lock().path()
    );
    // A refresh takes the lock in the app's own directory.
    let (_, generation) = session.access_token().await.unwrap();
    session.refresh(generation).await.unwrap();
    assert!(dir.join("locks").read_dir().unwrap().next().is_some());

    // The page the browser ended on names the app, not Latchkey.
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(
        seen.contains("You are signed in · Acme Notes"),
        "the browser's last page: {seen}"
    );
    assert!(!seen.contains("Latchkey"), "{seen}");

    // A second session of the same app restores it; Latchkey's does not see it.
    let again = Session::builder(stack.config.clone()).app(acme).build();
    assert!(matches!(
        again.restore().await.unwrap(),
        latchkey_auth::Restored::SignedIn(_)
    ));
    let other = Session::builder(stack.config.clone()).build();
    assert!(matches!(
        other.restore().await.unwrap(),
        latchkey_auth::Restored::NothingStored
    ));
    assert!(again.logout().await.revoked);
    let _ = std::fs::remove_dir_all(&dir);
}
