//! The built desktop app in a real window (Xvfb), driven through WebDriver (tauri-driver +
//! WebKitWebDriver), signing in at the dev IdP through the scripted system browser, with the
//! real Secret Service. Run by `cargo xtask test`, which builds the app and sets the stage.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use latchkey_auth::{Session, SystemBrowser, Vault};
use latchkey_dev_idp::{DESKTOP_CLIENT_ID, DevIdp};
use latchkey_test_support::DevStack;
use serde_json::json;

/// One app window at a time: they share the display and the driver's ports.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Stack {
    idp: DevIdp,
    config_path: PathBuf,
}

async fn stack() -> Stack {
    let stack = DevStack::start().await;
    let config_path = stack.write_config(&std::env::temp_dir());
    Stack {
        idp: stack.idp,
        config_path,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The app under tauri-driver; dropping it ends both.
struct App {
    client: Client,
    _driver: tokio::process::Child,
}

async fn launch(stack: &Stack, browser_delay_ms: u64) -> App {
    let app = std::env::var("LATCHKEY_APP")
        .expect("LATCHKEY_APP names the built app: run `cargo xtask test`");
    assert!(
        std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").is_some(),
        "run with `cargo xtask test`"
    );
    // reqwest brings ring and jsonwebtoken brings aws-lc-rs: name the one WebDriver uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (port, native_port) = (free_port(), free_port());
    let driver = tokio::process::Command::new("tauri-driver")
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("LATCHKEY_CONFIG", &stack.config_path)
        .env("SCRIPTED_BROWSER_DELAY_MS", browser_delay_ms.to_string())
        .kill_on_drop(true)
        .spawn()
        .expect("tauri-driver runs (cargo xtask test installs it)");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("tauri:options".into(), json!({ "application": app }));
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        let attempt = ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => break client,
            Err(err) if Instant::now() > deadline => panic!("no WebDriver session: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    App {
        client,
        _driver: driver,
    }
}

impl App {
    /// Waits until `css` exists and its text contains `wanted`; returns the text.
    async fn text(&self, css: &str, wanted: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                last = el.text().await.unwrap_or_default();
                if last.contains(wanted) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never showed {wanted:?} (last text: {last:?})");
    }

    async fn click(&self, css: &str) {
        let el = self
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"));
        el.click().await.unwrap();
    }

    async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    async fn screenshot(&self, name: &str) {
        let dir = std::env::var_os("LATCHKEY_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("latchkey-screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn ipc_log(&self) -> String {
        let log = self
            .client
            .execute("return window.__latchkeyIpcLog || []", vec![])
            .await
            .unwrap();
        log.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn quit(self) {
        let _ = self.client.close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_session_in_the_window() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let app = launch(&stack, 1500).await;

    app.text("#login", "Log in").await;
    app.screenshot("signed-out").await;

    app.click("#login").await;
    app.text("#waiting", "Continue in your browser").await;
    let url = app
        .client
        .find(Locator::Css("#sign-in-url"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(
        url.starts_with(&format!("{}authorize?", stack.idp.issuer())),
        "{url}"
    );
    app.screenshot("waiting").await;

    // The scripted browser signs jemma in; the window follows.
    app.text("#nav-user", "Jemma Doe").await;
    app.click("#nav-profile").await;
    app.text("#profile-name", "Jemma Doe").await;
    app.text("#profile-email", "jemma@example.com").await;
    let claims = app.text("#profile-claims", "\"sub\"").await;
    assert!(claims.contains("dev-idp|jemma"), "{claims}");
    let picture = app
        .client
        .find(Locator::Css("#profile-picture"))
        .await
        .unwrap()
        .attr("src")
        .await
        .unwrap();
    assert!(picture.unwrap_or_default().ends_with("/avatars/jemma.svg"));
    app.screenshot("profile").await;

    app.click("#nav-api").await;
    app.click("#api-protected").await;
    app.text("#api-result", "successfully validated").await;
    app.screenshot("api").await;
    app.click("#api-admin").await;
    app.text("#api-explanation", "not allowed").await;

    // Nothing secret ever reached the web view.
    let vault = Vault::for_client(stack.idp.issuer(), DESKTOP_CLIENT_ID);
    let refresh = vault
        .load()
        .await
        .unwrap()
        .expect("the app stored the refresh token");
    let log = app.ipc_log().await;
    assert!(
        log.contains("Jemma Doe"),
        "the log recorded the session views: {:?}",
        log.chars().take(300).collect::<String>()
    );
    assert!(
        !log.contains(refresh.secret().as_str()),
        "a refresh token reached the web view"
    );
    assert!(
        !log.contains("eyJ"),
        "a JWT (access or ID token) reached the web view"
    );
    for key in [
        "access_token",
        "refresh_token",
        "id_token",
        "accessToken",
        "refreshToken",
        "idToken",
    ] {
        assert!(!log.contains(key), "{key} reached the web view");
    }

    app.click("#logout").await;
    app.text("#login", "Log in").await;
    assert!(
        vault.load().await.unwrap().is_none(),
        "log out deleted the vault entry"
    );
    assert!(
        !stack.idp.refresh_token_is_active(refresh.secret()),
        "and revoked the token"
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_session_goes_from_loading_straight_to_signed_in() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let config = latchkey_auth::Config::load(&stack.config_path).unwrap();
    let earlier = Session::with_browser(config, std::sync::Arc::new(SystemBrowser));
    let options = latchkey_auth::LoginOptions {
        login_hint: Some("paul".into()),
        ..Default::default()
    };
    earlier
        .login(options, |_| {})
        .await
        .expect("an earlier sign-in stored a refresh token");
    let logins = stack.idp.counters().code_grants.load(Ordering::SeqCst);

    let app = launch(&stack, 0).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            !app.exists("#login").await,
            "the signed-out view flashed before the session was restored"
        );
        if app.exists("#nav-user").await {
            break;
        }
        assert!(Instant::now() < deadline, "never signed in");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.text("#nav-user", "Paul Smith").await;
    assert_eq!(
        stack.idp.counters().code_grants.load(Ordering::SeqCst),
        logins,
        "no new login"
    );
    assert!(
        stack.idp.counters().refresh_grants.load(Ordering::SeqCst) >= 1,
        "restored by refresh"
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn visiting_profile_signed_out_signs_in_and_lands_on_profile() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let app = launch(&stack, 0).await;
    app.text("#login", "Log in").await;
    app.click("#nav-profile").await;
    app.text("#profile-name", "Jemma Doe").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_mistake_is_shown_in_the_window_by_name() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    // A person forgot the client id.
    std::fs::write(
        &stack.config_path,
        json!({ "issuer": stack.idp.issuer(), "apiUrl": "http://127.0.0.1:1" }).to_string(),
    )
    .unwrap();
    let app = launch(&stack, 0).await;
    let message = app.text("#signed-out-message", "clientId").await;
    assert!(message.contains("is missing"), "{message}");
    assert!(
        message.contains("auth_config.json"),
        "names the file: {message}"
    );
    app.click("#login").await;
    let error = app.text("#command-error", "clientId").await;
    assert!(error.contains("is missing"), "{error}");
    app.quit().await;
}
