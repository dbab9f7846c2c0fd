//! The built desktop app in a real window (Xvfb), driven through WebDriver (tauri-driver +
//! WebKitWebDriver), signing in at the dev IdP through the scripted system browser, with the
//! real Secret Service. Run by `cargo xtask test`, which builds the app and sets the stage.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use latchkey_auth::{Session, SystemBrowser};
use latchkey_dev_idp::{DESKTOP_CLIENT_ID, DevIdp};
use latchkey_test_support::DevStack;
use serde_json::json;

mod window;
use window::*;

struct Stack {
    idp: DevIdp,
    config_path: PathBuf,
    api_url: String,
}

async fn stack() -> Stack {
    let stack = DevStack::start().await;
    let config_path = stack.write_config(&std::env::temp_dir());
    Stack {
        idp: stack.idp,
        config_path,
        api_url: stack.api_url,
    }
}

impl Stack {
    /// Calls the sample API directly as `user` (another device of theirs, or another user).
    async fn api_as(
        &self,
        user: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let token = self
            .idp
            .access_token(user, latchkey_dev_idp::API_AUDIENCE)
            .unwrap();
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.api_url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }
}

async fn launch(stack: &Stack) -> App {
    launch_with(|driver| {
        driver.env("LATCHKEY_CONFIG", &stack.config_path);
    })
    .await
}

/// The person's moment in the browser, ended by the test: the scripted browser waits for
/// this file before it acts, so the test sees the waiting window first, however slow the
/// machine.
struct Gate(PathBuf);

impl Gate {
    fn new(stack: &Stack) -> Self {
        let path = std::env::temp_dir().join(format!(
            "latchkey-e2e-gate-{}-{}",
            std::process::id(),
            stack.idp.addr().port()
        ));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }

    /// The person is done looking: the browser goes on.
    fn open(&self) {
        std::fs::write(&self.0, b"go").unwrap();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Latchkey with a browser that waits for `gate`.
async fn launch_gated(stack: &Stack, gate: &Gate) -> App {
    launch_with(|driver| {
        driver
            .env("LATCHKEY_CONFIG", &stack.config_path)
            .env("SCRIPTED_BROWSER_GATE", &gate.0);
    })
    .await
}

/// Starts Latchkey with the environment `setup` gives it (through tauri-driver).
async fn launch_with(setup: impl FnOnce(&mut tokio::process::Command)) -> App {
    let app = std::env::var("LATCHKEY_APP")
        .expect("LATCHKEY_APP names the built app: run `cargo xtask test`");
    require_scripted_browser();
    launch_app(&app, setup).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_session_in_the_window() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let gate = Gate::new(&stack);
    let app = launch_gated(&stack, &gate).await;

    app.text("#login", "Log in").await;
    app.screenshot("signed-out").await;

    app.click("#login").await;
    app.text("#waiting", "Continue in your browser").await;
    let url = app.sign_in_url().await;
    assert!(
        url.starts_with(&format!("{}authorize?", stack.idp.issuer())),
        "{url}"
    );
    app.screenshot("waiting").await;
    gate.open();

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
    let vault =
        latchkey_test_support::active_store(None, stack.idp.issuer(), DESKTOP_CLIENT_ID).await;
    let refresh = vault
        .refresh_token()
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
        vault.refresh_token().await.unwrap().is_none(),
        "log out deleted the vault entry"
    );
    assert!(
        !stack.idp.refresh_token_is_active(refresh.secret()),
        "and revoked the token"
    );
    // The provider's browser session ends too, when the person asks: RP-Initiated Logout
    // through the system browser, confirmed by the provider's redirect with the state.
    app.text("#provider-session", "may still be signed in")
        .await;
    app.screenshot("signed-out-provider-session").await;
    app.click("#end-provider-session").await;
    app.text("#provider-session", "signed out at the provider too")
        .await;
    assert!(
        !app.ipc_log().await.contains("id_token_hint"),
        "the end-session URL (it holds the ID token) never reached the web view"
    );
    app.screenshot("signed-out-everywhere").await;
    app.quit(&stack.idp.issued_refresh_tokens()).await;
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

    let app = launch(&stack).await;
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
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn use_another_account_asks_the_provider_for_its_account_chooser() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let app = launch(&stack).await;
    let asked_to_choose = |prompt: &Option<String>| {
        prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|v| v == "select_account"))
    };
    // The dev IdP lists select_account in prompt_values_supported: "Use another account"
    // asks for its chooser rather than a bare login screen.
    app.click("#login-other").await;
    app.text("#nav-user", "Jemma Doe").await;
    let prompts = stack.idp.prompts();
    assert!(
        prompts.last().is_some_and(asked_to_choose),
        "Use another account sent {prompts:?}"
    );
    // A plain "Log in" does not.
    app.click("#logout").await;
    app.text("#login", "Log in").await;
    app.click("#login").await;
    app.text("#nav-user", "Jemma Doe").await;
    let prompts = stack.idp.prompts();
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    assert!(!asked_to_choose(&prompts[1]), "Log in sent {prompts:?}");
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn visiting_profile_signed_out_signs_in_and_lands_on_profile() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let app = launch(&stack).await;
    app.text("#login", "Log in").await;
    app.click("#nav-profile").await;
    app.text("#profile-name", "Jemma Doe").await;
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_mistake_is_shown_by_name_and_can_be_fixed_in_place() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let good = std::fs::read_to_string(&stack.config_path).unwrap();
    // A person forgot the client id (and chose their own ports).
    std::fs::write(
        &stack.config_path,
        json!({
            "issuer": stack.idp.issuer(),
            "apiUrl": "http://127.0.0.1:1",
            "loopbackPorts": [50710, 50711],
        })
        .to_string(),
    )
    .unwrap();
    let app = launch(&stack).await;
    let message = app.text("#config-problem", "clientId").await;
    let urls = app.text("#callback-urls", "50710").await;
    assert_eq!(
        urls.lines().collect::<Vec<_>>(),
        [
            "http://127.0.0.1:50710/callback",
            "http://127.0.0.1:50711/callback"
        ],
        "the URLs for the file's own ports"
    );
    assert!(message.contains("is missing"), "{message}");
    assert!(
        message.contains("auth_config.json"),
        "names the file: {message}"
    );
    assert!(
        !app.exists("#login").await,
        "no sign-in button that cannot work"
    );
    // They fix the file and ask the window to look again: no restart needed.
    std::fs::write(&stack.config_path, good).unwrap();
    app.click("#reload-config").await;
    app.text("#login", "Log in").await;
    app.click("#login").await;
    app.text("#nav-user", "Jemma Doe").await;
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_configuration_the_first_window_explains_what_to_do() {
    let _one = ONE_WINDOW.lock().await;
    let home =
        std::env::temp_dir().join(format!("latchkey-e2e-unconfigured-{}", std::process::id()));
    let config_home = home.join("config");
    std::fs::create_dir_all(&config_home).unwrap();
    let app = launch_with(|driver| {
        driver
            .env_remove("LATCHKEY_CONFIG")
            .env("XDG_CONFIG_HOME", &config_home);
    })
    .await;
    let path = app.text("#config-path", "auth_config.json").await;
    assert_eq!(
        path.trim(),
        config_home
            .join("latchkey/auth_config.json")
            .display()
            .to_string(),
        "says exactly where the file goes"
    );
    let example = app.text("#config-example", "clientId").await;
    assert!(
        example.contains("127.0.0.1:6080"),
        "offers the dev stack: {example}"
    );
    assert!(
        !app.exists("#login").await,
        "never signs in against services nobody configured"
    );
    // Auth0 and Okta compare the callback URL exactly: the window says so, gives a file with
    // a port list, and the exact URLs to register, as the README and doctor do.
    let advice = app.text("#exact-port-advice", "port included").await;
    assert!(advice.contains("loopbackPorts"), "{advice}");
    let exact = app.text("#config-example-exact", "loopbackPorts").await;
    assert!(exact.contains("[53682, 53683, 53684]"), "{exact}");
    let urls = app.text("#callback-urls", "127.0.0.1").await;
    assert_eq!(
        urls.lines().collect::<Vec<_>>(),
        [
            "http://127.0.0.1:53682/callback",
            "http://127.0.0.1:53683/callback",
            "http://127.0.0.1:53684/callback"
        ]
    );
    app.text("#any-port-advice", "http://127.0.0.1/callback")
        .await;
    app.click("#copy-callback-urls").await;
    app.text("#copy-callback-urls", "Copied").await;
    app.screenshot("first-window-unconfigured").await;
    // No provider: nothing issued a refresh token, but no JWT may show up either.
    app.quit(&[]).await;
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread")]
async fn todos_are_private_and_change_in_place_with_rollback() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    use reqwest::Method;
    let (status, _) = stack
        .api_as(
            "paul",
            Method::POST,
            "/api/todos",
            Some(json!({ "title": "Paul's surprise party" })),
        )
        .await;
    assert_eq!(status, 201);
    let app = launch(&stack).await;
    app.click("#login").await;
    app.text("#nav-user", "Jemma Doe").await;
    app.click("#nav-todos").await;
    app.text("#todos-empty", "Nothing to do yet").await;

    app.type_into("#todo-new", "Buy milk").await;
    app.click("#todo-add").await;
    app.text("li.todo[data-title='Buy milk'] .todo-title", "Buy milk")
        .await;
    app.gone("li.todo[data-title='Buy milk'] .todo-toggle[disabled]")
        .await;
    app.type_into("#todo-new", "Water the plants").await;
    app.click("#todo-add").await;
    app.text(
        "li.todo[data-title='Water the plants'] .todo-title",
        "Water",
    )
    .await;
    app.gone(".todo-toggle[disabled]").await;

    app.click("li.todo[data-title='Buy milk'] .todo-toggle")
        .await;
    app.text("li.todo.done .todo-title", "Buy milk").await;
    app.click("li.todo[data-title='Water the plants'] .todo-rename")
        .await;
    app.type_into(".todo-title-input", "Water the ferns").await;
    app.click(".todo-save").await;
    app.text("li.todo[data-title='Water the ferns'] .todo-title", "ferns")
        .await;
    app.screenshot("todos").await;

    // What the window shows is what the API keeps, under jemma's name only.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mine = loop {
        let (_, mine) = stack.api_as("jemma", Method::GET, "/api/todos", None).await;
        if mine.to_string().contains("ferns") || Instant::now() > deadline {
            break mine;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let titles: Vec<(&str, bool)> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["title"].as_str().unwrap(), t["done"].as_bool().unwrap()))
        .collect();
    assert_eq!(titles, [("Buy milk", true), ("Water the ferns", false)]);
    let list = app.text("#todo-list", "Buy milk").await;
    assert!(
        !list.contains("Paul"),
        "paul's todo showed in jemma's window: {list}"
    );

    // Deleted meanwhile on another device: the window's delete fails, is undone, and says so.
    let ferns = mine[1]["id"].as_str().unwrap();
    let (status, _) = stack
        .api_as(
            "jemma",
            Method::DELETE,
            &format!("/api/todos/{ferns}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    app.click("li.todo[data-title='Water the ferns'] .todo-delete")
        .await;
    let notice = app.text("#todo-notice", "undone").await;
    assert!(notice.contains("Deleting “Water the ferns”"), "{notice}");
    app.text("li.todo[data-title='Water the ferns'] .todo-title", "ferns")
        .await;

    app.click("li.todo[data-title='Buy milk'] .todo-delete")
        .await;
    app.gone("li.todo[data-title='Buy milk']").await;
    let (_, left) = stack.api_as("jemma", Method::GET, "/api/todos", None).await;
    assert_eq!(left, json!([]), "both gone at the API");
    let (_, pauls) = stack.api_as("paul", Method::GET, "/api/todos", None).await;
    assert_eq!(pauls.as_array().unwrap().len(), 1, "paul's list untouched");
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_last_name_reaches_the_provider_and_the_profile_view() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let app = launch(&stack).await;
    app.click("#login").await;
    app.text("#nav-user", "Jemma Doe").await;
    app.click("#nav-profile").await;
    app.value("#profile-family-name", "Doe").await;
    app.value("#profile-given-name", "Jemma").await;
    app.type_into("#profile-family-name", "Lovelace").await;
    app.click("#profile-save").await;
    app.text("#profile-saved", "Saved").await;
    // The provider has it, in user_metadata, merged with what was there.
    let jemma = stack.idp.user("jemma").unwrap();
    assert_eq!(
        jemma.user_metadata.get("family_name"),
        Some(&json!("Lovelace"))
    );
    // The window shows the name from the refreshed ID token.
    app.text("#profile-name", "Jemma Lovelace").await;
    app.text("#nav-user", "Jemma Lovelace").await;
    let claims = app.text("#profile-claims", "family_name").await;
    assert!(claims.contains("Lovelace"), "{claims}");
    app.screenshot("profile-edited").await;
    let log = app.ipc_log().await;
    assert!(!log.contains("eyJ"), "no token reached the web view");
    assert!(!log.contains("client_secret") && !log.contains("clientSecret"));

    // A blank last name is refused with the field named, and nothing changes.
    app.type_into("#profile-family-name", " ").await;
    app.click("#profile-save").await;
    let error = app.text("#profile-error", "familyName").await;
    assert!(error.contains("must not be empty"), "{error}");
    assert_eq!(
        stack
            .idp
            .user("jemma")
            .unwrap()
            .user_metadata
            .get("family_name"),
        Some(&json!("Lovelace"))
    );
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_finds_a_user_and_nobody_else_sees_the_users_page() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    // jemma: no Users entry, her permissions say so, and the API refuses her the list.
    let app = launch(&stack).await;
    app.click("#login").await;
    app.text("#nav-user", "Jemma Doe").await;
    app.click("#nav-profile").await;
    app.text("#profile-permissions", "No permissions").await;
    assert!(!app.exists("#nav-users").await, "jemma sees no Users entry");
    let (status, refused) = stack
        .api_as(
            "jemma",
            reqwest::Method::GET,
            "/api/users?q=sebastian",
            None,
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    app.click("#logout").await;
    app.text("#login", "Log in").await;
    app.quit(&stack.idp.issued_refresh_tokens()).await;

    // sebastian: the entry, his permissions, a search for jemma that finds her.
    let app = launch_with(|driver| {
        driver
            .env("LATCHKEY_CONFIG", &stack.config_path)
            .env("SCRIPTED_BROWSER_USER", "sebastian");
    })
    .await;
    app.click("#login").await;
    app.text("#nav-user", "Sebastian Admin").await;
    app.click("#nav-profile").await;
    app.text("#profile-permissions", "read:users").await;
    app.click("#nav-users").await;
    app.text("#users-total", "of 3").await;
    app.type_into("#users-search", "jemma").await;
    app.click("#users-search-go").await;
    app.text("#users-total", "1–1 of 1").await;
    let listed = app.text("#users-list", "Jemma Doe").await;
    assert!(listed.contains("jemma@example.com"), "{listed}");
    assert!(
        listed.contains("signed in"),
        "when she last signed in: {listed}"
    );
    assert!(!listed.contains("Sebastian"), "only the match: {listed}");
    app.screenshot("users-search").await;
    let asked = stack.idp.user_queries().pop().unwrap_or_default();
    assert!(
        asked.contains("jemma"),
        "the provider was searched: {asked}"
    );
    let log = app.ipc_log().await;
    assert!(!log.contains("eyJ"), "no token reached the web view");
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_pages_through_a_long_user_list_and_back() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    // Twelve more people: fifteen in all, two pages of ten.
    for n in 1..=12 {
        stack
            .idp
            .sign_up(
                &format!("member{n:02}"),
                "paging-pass-1",
                &format!("Member {n:02}"),
            )
            .unwrap();
    }
    let app = launch_with(|driver| {
        driver
            .env("LATCHKEY_CONFIG", &stack.config_path)
            .env("SCRIPTED_BROWSER_USER", "sebastian");
    })
    .await;
    app.click("#login").await;
    app.text("#nav-user", "Sebastian Admin").await;
    app.click("#nav-users").await;
    app.text("#users-total", "1–10 of 15").await;
    let disabled = |id: &'static str| format!("return document.getElementById('{id}').disabled");
    assert_eq!(
        app.js(&disabled("users-prev")).await,
        json!(true),
        "no page before the first"
    );
    assert_eq!(app.js(&disabled("users-next")).await, json!(false));
    app.text("#users-list", "Member").await;
    const ROWS: &str =
        "return [...document.querySelectorAll('#users-list li')].map(e => e.textContent)";
    let rows = |value: serde_json::Value| -> Vec<String> {
        serde_json::from_value(value).expect("the rows' texts")
    };
    let first = rows(app.js(ROWS).await);
    assert_eq!(first.len(), 10, "{first:#?}");

    app.click("#users-next").await;
    app.text("#users-total", "11–15 of 15").await;
    let second = rows(app.js(ROWS).await);
    assert_eq!(second.len(), 5, "{second:#?}");
    for row in &second {
        assert!(!first.contains(row), "{row:?} is on both pages");
    }
    assert_eq!(
        app.js(&disabled("users-next")).await,
        json!(true),
        "no page after the last"
    );
    let asked = stack.idp.user_queries().pop().unwrap_or_default();
    assert!(
        asked.contains("page=1"),
        "the provider was asked for the second page: {asked}"
    );

    app.click("#users-prev").await;
    app.text("#users-total", "1–10 of 15").await;
    assert_eq!(rows(app.js(ROWS).await), first, "the first page again");
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_that_cannot_be_reached_shows_no_users_entry_and_says_why_on_the_profile() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    // The provider answers; the API's address has nobody listening.
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stack.config_path).unwrap()).unwrap();
    config["apiUrl"] = json!(format!("http://127.0.0.1:{}", free_port()));
    std::fs::write(&stack.config_path, config.to_string()).unwrap();
    let app = launch_with(|driver| {
        driver
            .env("LATCHKEY_CONFIG", &stack.config_path)
            .env("SCRIPTED_BROWSER_USER", "sebastian");
    })
    .await;
    app.click("#login").await;
    app.text("#nav-user", "Sebastian Admin").await;
    app.click("#nav-profile").await;
    let said = app
        .text("#profile-permissions", "could not say what you may do")
        .await;
    assert!(!said.contains("eyJ"), "{said}");
    app.screenshot("profile-api-unreachable").await;
    assert!(
        !app.exists("#nav-users").await,
        "no Users entry while the API cannot confirm read:users"
    );
    app.click("#logout").await;
    app.text("#login", "Log in").await;
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_signs_up_from_the_window_and_starts_with_no_todos() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let username = format!("newbie{}", stack.idp.addr().port());
    let app = launch_with(|driver| {
        driver
            .env("LATCHKEY_CONFIG", &stack.config_path)
            .env("SCRIPTED_BROWSER_USER", &username)
            .env("SCRIPTED_BROWSER_PASSWORD", "correct-horse-9");
    })
    .await;
    app.click("#signup").await;
    app.text("#nav-user", &username).await;
    assert!(
        stack.idp.user(&username).is_some(),
        "dev-idp created the user"
    );
    app.click("#nav-todos").await;
    app.text("#todos-empty", "Nothing to do yet").await;
    app.click("#nav-profile").await;
    let claims = app.text("#profile-claims", "sub").await;
    assert!(claims.contains(&format!("dev-idp|{username}")), "{claims}");
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

/// Starts a second Latchkey with `link`, as the OS does when a browser opens the app's
/// private-use scheme; returns whether it ended cleanly.
async fn second_instance(stack: &Stack, link: &str) -> bool {
    let app = std::env::var("LATCHKEY_APP").expect("LATCHKEY_APP");
    let mut second = tokio::process::Command::new(app)
        .arg(link)
        .env("LATCHKEY_CONFIG", &stack.config_path)
        .kill_on_drop(true)
        .spawn()
        .expect("a second instance starts");
    // It hands the link to the running window and ends; a second window would stay open.
    match tokio::time::timeout(Duration::from_secs(30), second.wait()).await {
        Ok(status) => status.is_ok_and(|s| s.success()),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deep_link_sign_in_arrives_through_a_second_launch_and_a_forged_one_is_refused() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stack.config_path).unwrap()).unwrap();
    config["redirect"] = json!("deep-link");
    std::fs::write(&stack.config_path, config.to_string()).unwrap();
    let app_binary = std::env::var("LATCHKEY_APP").expect("LATCHKEY_APP");
    // This test's own browser log: the run's shared one holds other tests' lines too.
    let browser_log = std::env::temp_dir().join(format!(
        "latchkey-e2e-deep-link-{}.log",
        stack.idp.addr().port()
    ));
    let _ = std::fs::remove_file(&browser_log);
    // The person takes a while in the browser; meanwhile a forged answer arrives.
    let gate = Gate::new(&stack);
    let app = launch_with(|driver| {
        driver
            .env("LATCHKEY_CONFIG", &stack.config_path)
            .env("SCRIPTED_BROWSER_LOG", &browser_log)
            .env("SCRIPTED_BROWSER_GATE", &gate.0)
            // What the OS does with a dev.latchkey.desktop: link: start Latchkey with it.
            .env("SCRIPTED_BROWSER_SCHEME_HANDLER", &app_binary);
    })
    .await;
    app.text("#login", "Log in").await;
    app.click("#login").await;
    app.text("#waiting", "Continue in your browser").await;
    let url = app.sign_in_url().await;
    assert!(
        url.contains("redirect_uri=dev.latchkey.desktop%3A%2Fcallback"),
        "the private-use scheme is the redirect: {url}"
    );

    assert!(
        second_instance(
            &stack,
            "dev.latchkey.desktop:/callback?code=stolen&state=forged"
        )
        .await,
        "the second launch hands over and ends"
    );
    let refused = app
        .text("#sign-in-refused", "does not belong to the sign-in")
        .await;
    assert!(
        !refused.contains("stolen"),
        "the link is not echoed: {refused}"
    );
    // WebKit's screenshot can lag the DOM by a frame.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot("deep-link-refused").await;
    assert!(app.exists("#waiting").await, "the real sign-in goes on");
    gate.open();

    // The browser finishes: the provider redirects to the scheme, the OS starts a second
    // Latchkey, and the running window signs in.
    app.text("#nav-user", "Jemma Doe").await;
    let log = std::fs::read_to_string(&browser_log).unwrap_or_default();
    assert!(
        log.contains("handing a dev.latchkey.desktop: link"),
        "the answer came by the scheme, in this test's own browser: {log}"
    );
    let _ = std::fs::remove_file(&browser_log);
    let vault =
        latchkey_test_support::active_store(None, stack.idp.issuer(), DESKTOP_CLIENT_ID).await;
    assert!(vault.refresh_token().await.unwrap().is_some());
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offline_start_shows_whose_session_it_is_and_signs_in_when_the_provider_answers() {
    let _one = ONE_WINDOW.lock().await;
    let mut stack = stack().await;
    // A session stored by an earlier run (the engine the app uses, through the scripted browser).
    let config = latchkey_auth::Config::load(&stack.config_path).unwrap();
    let earlier = Session::with_browser(config, std::sync::Arc::new(SystemBrowser));
    let login_hint = latchkey_auth::LoginOptions {
        login_hint: Some("jemma".into()),
        ..latchkey_auth::LoginOptions::default()
    };
    earlier.login(login_hint, |_| {}).await.unwrap();
    let stored =
        latchkey_test_support::active_store(None, stack.idp.issuer(), DESKTOP_CLIENT_ID).await;
    let token = stored.refresh_token().await.unwrap().unwrap();

    // The laptop is offline: the provider refuses connections.
    stack.idp.suspend().await;
    let app = launch(&stack).await;
    app.text("#offline", "Offline — reconnecting").await;
    app.text("#offline-whose", "Jemma Doe").await;
    app.text("#nav-user", "offline").await;
    assert!(!app.exists("#login").await, "not the signed-out view");
    // One calm sentence that names the provider; the error chain only behind "Details".
    let reason = app.text("#offline-reason", "cannot be reached").await;
    let host = stack.idp.addr().to_string();
    assert!(
        reason.contains(&host) && reason.contains("keeps trying"),
        "{reason}"
    );
    assert!(
        !reason.contains("os error") && !reason.contains("tcp connect"),
        "no developer's error chain in the sentence: {reason}"
    );
    let details = app
        .js("return document.querySelector('#offline-details pre').textContent")
        .await;
    assert!(
        details
            .as_str()
            .unwrap_or_default()
            .contains("Connection refused"),
        "the chain is there for support: {details}"
    );
    assert_eq!(
        app.js("return document.querySelector('#offline-details').open")
            .await,
        json!(false),
        "closed until asked for"
    );
    assert!(
        !app.exists(".notice.error").await,
        "no red banner for an expected state"
    );
    // A page that needs the network says so calmly instead of starting a sign-in; the item
    // under the mouse never looks selected beside the page's own.
    app.click("#nav-profile").await;
    app.text("#offline-page", "cannot be reached right now")
        .await;
    assert!(!app.exists("#waiting").await);
    assert!(!app.exists(".notice.error").await);
    app.hover("#nav-todos").await;
    assert_eq!(app.nav_items_that_look_selected().await, ["nav-profile"]);
    assert_eq!(
        app.js("return [...document.querySelectorAll('[aria-current=page]')].map(e => e.id)")
            .await,
        json!(["nav-profile"])
    );
    app.click("#offline-details summary").await;
    app.text("#offline-details pre", "Connection refused").await;
    let low = app.low_contrast().await;
    assert!(low.is_empty(), "the offline view: {low:#?}");
    app.screenshot("offline").await;
    assert_eq!(
        stored.refresh_token().await.unwrap().unwrap().secret(),
        token.secret(),
        "nothing deleted while offline"
    );

    // "Retry now" asks the plugin to try at once (the mock-runtime test proves that the
    // attempt follows with a backoff of an hour); the provider is still away, so the window
    // stays offline and says so.
    app.click("#retry-now").await;
    app.wait_until("#retry-now", "reached the plugin", async || {
        let log = app.ipc_log().await;
        if log.contains("invoked plugin:latchkey|retry_now") {
            Ok(())
        } else {
            Err(log.chars().rev().take(200).collect::<String>())
        }
    })
    .await;
    app.text("#offline", "Offline — reconnecting").await;

    // Back online: the window signs in by itself, no click, at its next attempt: at most
    // RECONNECT_MAX after the provider answers again (the backoff may have reached it while
    // the checks above ran), plus the attempt itself.
    stack.idp.resume().await.unwrap();
    let next_attempt = latchkey_auth::RECONNECT_MAX + Duration::from_secs(30);
    app.text_within("#nav-user", "Jemma Doe", next_attempt)
        .await;
    app.gone("#offline").await;
    app.click("#nav-profile").await;
    app.text("#profile-name", "Jemma Doe").await;
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

/// Signs `user` in with the engine the app uses (an earlier run of the app, as far as the
/// vault can tell); returns the stored refresh token.
async fn stored_session(stack: &Stack, user: &str) -> String {
    let config = latchkey_auth::Config::load(&stack.config_path).unwrap();
    let earlier = Session::with_browser(config, std::sync::Arc::new(SystemBrowser));
    let options = latchkey_auth::LoginOptions {
        login_hint: Some(user.into()),
        ..latchkey_auth::LoginOptions::default()
    };
    earlier.login(options, |_| {}).await.unwrap();
    let stored =
        latchkey_test_support::active_store(None, stack.idp.issuer(), DESKTOP_CLIENT_ID).await;
    stored
        .refresh_token()
        .await
        .unwrap()
        .unwrap()
        .secret()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_the_provider_ended_says_why_on_the_signed_out_view() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let token = stored_session(&stack, "jemma").await;
    // An administrator revokes it at the provider while the app is closed.
    let revoked = reqwest::Client::new()
        .post(format!("{}oauth/revoke", stack.idp.issuer()))
        .form(&[("token", token.as_str()), ("client_id", DESKTOP_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let app = launch(&stack).await;
    let why = app.text("#session-ended", "Please sign in again").await;
    assert!(
        why.contains("Your provider ended the session (it was revoked or has expired)"),
        "{why}"
    );
    assert!(!app.exists(".notice.error").await, "a reason, not an error");
    app.text("#login", "Log in").await;
    app.screenshot("session-ended").await;

    // The policy now wants a new sign-in: the window says which step, in a running window.
    app.click("#login").await;
    app.text("#nav-user", "Jemma Doe").await;
    stack
        .idp
        .tamper(latchkey_dev_idp::Tamper::RefreshNeedsSignIn(
            "consent_required",
        ));
    app.click("#nav-profile").await;
    app.text("#profile-name", "Jemma Doe").await;
    app.type_into("#profile-family-name", "Doe").await;
    app.click("#profile-save").await;
    let why = app.text("#session-ended", "consent_required").await;
    assert!(why.contains("approve this app's access"), "{why}");
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

/// Launches the app signed in as `user` with the GTK theme `theme` (WebKitGTK takes the
/// page's `prefers-color-scheme` from it, as from the desktop's own setting).
async fn launch_themed(stack: &Stack, theme: &str) -> App {
    let app = launch_with(|driver| {
        driver
            .env("LATCHKEY_CONFIG", &stack.config_path)
            .env("GTK_THEME", theme);
    })
    .await;
    app.text("#nav-user", "Paul Smith").await;
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn both_themes_keep_every_text_readable() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    stored_session(&stack, "paul").await;
    for (theme, dark) in [("Adwaita", false), ("Adwaita:dark", true)] {
        let app = launch_themed(&stack, theme).await;
        assert_eq!(
            app.js("return matchMedia('(prefers-color-scheme: dark)').matches")
                .await,
            json!(dark),
            "{theme}: the page follows the system's look"
        );
        let name = if dark { "dark" } else { "light" };
        for (nav, ready, page) in [
            ("#nav-home", ".hero", "home"),
            ("#nav-profile", "#profile-name", "profile"),
            ("#nav-todos", "#todo-new", "todos"),
            ("#nav-api", "#api-protected", "api"),
        ] {
            app.click(nav).await;
            app.element(ready).await;
            if page == "api" {
                app.click("#api-protected").await;
                app.text("#api-result", "successfully validated").await;
                let low = app.low_contrast().await;
                assert!(low.is_empty(), "{theme}, the API's answer: {low:#?}");
                app.click("#api-admin").await;
                app.text("#api-explanation", "not allowed").await;
            }
            if page == "todos" {
                app.type_into("#todo-new", "Check the contrast").await;
                app.click("#todo-add").await;
                app.gone("li.todo .todo-toggle[disabled]").await;
            }
            let low = app.low_contrast().await;
            assert!(low.is_empty(), "{theme}, {page}: {low:#?}");
            app.screenshot(&format!("theme-{name}-{page}")).await;
        }
        app.quit(&stack.idp.issued_refresh_tokens()).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_of_the_signed_in_pages_works_from_the_keyboard() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    stored_session(&stack, "paul").await;
    let app = launch_themed(&stack, "Adwaita").await;

    // Tab goes through the navigation with a visible focus ring on each stop.
    let mut seen = Vec::new();
    app.js("document.activeElement?.blur(); document.body.focus()")
        .await;
    for _ in 0..12 {
        app.press(TAB).await;
        if let Some((name, ring)) = app.focused().await {
            assert!(ring, "{name} shows no focus ring");
            seen.push(name);
        }
    }
    for stop in ["nav-home", "nav-profile", "nav-todos", "nav-api", "logout"] {
        assert!(
            seen.iter().any(|s| s == stop),
            "Tab never reached {stop}: {seen:?}"
        );
    }
    // The avatar and every button say what they are.
    let unnamed = app
        .js(
            "return [...document.querySelectorAll('button, img, input')]\
             .filter(e => !(e.getAttribute('aria-label') || e.getAttribute('alt') || \
               (e.tagName === 'BUTTON' && e.textContent.trim()) || e.closest('label')))\
             .filter(e => !e.closest('.brand'))\
             .map(e => e.outerHTML.slice(0, 80))",
        )
        .await;
    assert_eq!(unnamed, json!([]), "elements without an accessible name");
    let avatar = app
        .js("return document.querySelector('nav .avatar').getAttribute('alt')")
        .await;
    assert_eq!(avatar, json!("Paul Smith's picture"));

    // Enter on a navigation item opens its page; the page's actions take the keyboard too.
    app.js("document.getElementById('nav-todos').focus()").await;
    app.press(ENTER).await;
    app.element("#todo-new").await;
    app.js("document.getElementById('todo-new').focus()").await;
    app.press("Typed, not clicked").await;
    app.press(ENTER).await;
    app.text(
        "li.todo[data-title='Typed, not clicked'] .todo-title",
        "Typed",
    )
    .await;
    app.gone("li.todo .todo-toggle[disabled]").await;
    app.js(
        "document.querySelector(\"li.todo[data-title='Typed, not clicked'] .todo-toggle\").focus()",
    )
    .await;
    app.press(" ").await;
    app.element("li.todo.done[data-title='Typed, not clicked']")
        .await;

    app.js("document.getElementById('nav-api').focus()").await;
    app.press(ENTER).await;
    app.element("#api-protected").await;
    app.js("document.getElementById('api-protected').focus()")
        .await;
    app.press(ENTER).await;
    app.text("#api-result", "successfully validated").await;
    let (name, ring) = app.focused().await.expect("the button keeps the focus");
    assert!(ring, "{name}: the pressed button keeps its focus ring");
    app.screenshot("keyboard-focus").await;

    app.js("document.getElementById('logout').focus()").await;
    app.press(ENTER).await;
    app.text("#login", "Log in").await;
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_can_be_copied_and_cancelled_from_the_waiting_view() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    // The person takes their time in the browser: the window waits meanwhile.
    // (its gate never opens: the browser gives up on its own after the test)
    let gate = Gate::new(&stack);
    let app = launch_gated(&stack, &gate).await;
    app.click("#login").await;
    app.text("#waiting", "Continue in your browser").await;
    let url = app.sign_in_url().await;
    assert!(url.contains("/authorize?"), "{url}");
    app.click("#copy-url").await;
    app.text("#copy-url", "Copied").await;
    app.click("#cancel-login").await;
    app.gone("#waiting").await;
    app.text("#login", "Log in").await;
    assert!(
        !app.exists(".notice.error").await,
        "a cancel is not an error"
    );
    let vault =
        latchkey_test_support::active_store(None, stack.idp.issuer(), DESKTOP_CLIENT_ID).await;
    assert!(vault.refresh_token().await.unwrap().is_none());
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_out_the_provider_could_not_confirm_is_revoked_later_without_a_click() {
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    let token = stored_session(&stack, "jemma").await;
    let app = launch(&stack).await;
    app.text("#nav-user", "Jemma Doe").await;
    let vault =
        latchkey_test_support::active_store(None, stack.idp.issuer(), DESKTOP_CLIENT_ID).await;
    let live = vault
        .refresh_token()
        .await
        .unwrap()
        .unwrap()
        .secret()
        .clone();
    assert_ne!(live, token, "the start renewed (and rotated) the session");

    stack.idp.set_revocation_unavailable(true);
    app.click("#logout").await;
    app.text("#signed-out-message", "has not confirmed yet")
        .await;
    assert!(
        stack.idp.refresh_token_is_active(&live),
        "the provider could not revoke it"
    );
    // The provider recovers; the window's own retries revoke the token and say so.
    stack.idp.set_revocation_unavailable(false);
    app.text(
        "#signed-out-message",
        "Your provider confirmed the sign-out",
    )
    .await;
    assert!(!stack.idp.refresh_token_is_active(&live));
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_menu_switches_accounts_and_follows_the_cli() {
    use latchkey_auth::{LoginOptions, NoBrowser, Restored};
    use reqwest::Method;
    let _one = ONE_WINDOW.lock().await;
    let stack = stack().await;
    // Two accounts kept by an earlier run: jemma, then paul (the active one).
    let config = latchkey_auth::Config::load(&stack.config_path).unwrap();
    let earlier = Session::with_browser(config.clone(), std::sync::Arc::new(SystemBrowser));
    for (user, chooser) in [("jemma", false), ("paul", true)] {
        let options = LoginOptions {
            login_hint: Some(user.into()),
            force_login: chooser,
            ..LoginOptions::default()
        };
        earlier.login(options, |_| {}).await.unwrap();
    }
    let list = earlier.accounts().await.unwrap();
    let jemma = list.find("jemma@example.com").unwrap().entry.clone();
    let paul = list.find("paul@example.com").unwrap().entry.clone();
    drop(earlier);
    let (status, _) = stack
        .api_as(
            "jemma",
            Method::POST,
            "/api/todos",
            Some(json!({ "title": "Jemma's errand" })),
        )
        .await;
    assert_eq!(status, 201);

    let app = launch(&stack).await;
    app.text("#nav-user", "Paul Smith").await;
    app.click("#nav-todos").await;
    app.text("#todos-empty", "Nothing to do yet").await;

    // The menu: both accounts, paul marked active.
    app.click("#account-menu").await;
    app.text(
        "button.account[data-email='paul@example.com'][aria-checked='true']",
        "Active",
    )
    .await;
    app.text(
        "button.account[data-email='jemma@example.com'][aria-checked='false']",
        "Jemma Doe",
    )
    .await;
    app.text("#add-account", "Add account").await;
    app.text("#menu-logout", "Sign out of this account").await;
    app.text("#logout-all", "Sign out of all").await;
    app.screenshot("accounts-menu").await;

    // A click switches to jemma, without the browser: her todos, her profile, her token.
    let grants = stack.idp.counters().code_grants.load(Ordering::SeqCst);
    app.click("button.account[data-email='jemma@example.com']")
        .await;
    app.text("#nav-user", "Jemma Doe").await;
    app.text(
        "li.todo[data-title=\"Jemma's errand\"] .todo-title",
        "Jemma's errand",
    )
    .await;
    assert_eq!(
        stack.idp.counters().code_grants.load(Ordering::SeqCst),
        grants,
        "no sign-in in the browser"
    );
    app.click("#nav-profile").await;
    app.text("#profile-name", "Jemma Doe").await;
    app.click("#nav-api").await;
    app.click("#api-protected").await;
    let answer = app.text("#api-result", "successfully validated").await;
    assert!(answer.contains("dev-idp|jemma"), "{answer}");

    // The CLI (another process: the same engine here) switches to paul: the window follows.
    let cli = Session::with_browser(config.clone(), std::sync::Arc::new(NoBrowser));
    assert!(
        matches!(cli.restore().await.unwrap(), Restored::SignedIn(p) if p.sub == "dev-idp|jemma")
    );
    cli.switch_account(&paul).await.unwrap();
    app.text("#nav-user", "Paul Smith").await;
    app.click("#nav-todos").await;
    app.text("#todos-empty", "Nothing to do yet").await;
    // The window switches back; the CLI follows.
    app.click("#account-menu").await;
    app.click("button.account[data-email='jemma@example.com']")
        .await;
    app.text("#nav-user", "Jemma Doe").await;
    match cli.follow_accounts().await {
        Some(Ok(Restored::SignedIn(profile))) => assert_eq!(profile.sub, "dev-idp|jemma"),
        other => panic!("{other:?}"),
    }
    drop(cli);

    // Paul's session is revoked at the provider: switching to him says so, jemma stays.
    let paul_token = latchkey_auth::SessionStore::for_client(stack.idp.issuer(), DESKTOP_CLIENT_ID)
        .account("dev-idp|paul")
        .refresh_token()
        .await
        .unwrap()
        .unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}oauth/revoke", stack.idp.issuer()))
        .form(&[
            ("token", paul_token.secret().as_str()),
            ("client_id", DESKTOP_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    app.click("#account-menu").await;
    app.click("button.account[data-email='paul@example.com']")
        .await;
    app.text("#command-error", "needs a new sign-in").await;
    app.text("#nav-user", "Jemma Doe").await;
    app.click("#account-menu").await;
    app.text(
        "button.account[data-email='paul@example.com'] .badge.warn",
        "Sign in again",
    )
    .await;
    app.screenshot("accounts-revoked").await;

    // Signing out of jemma alone: her entry goes, paul's row stays to sign in again.
    app.click("#menu-logout").await;
    app.text("#login", "Log in").await;
    let accounts = Session::new(config).accounts().await.unwrap();
    assert!(accounts.get(&jemma).is_none(), "jemma left the list");
    assert!(accounts.get(&paul).is_some_and(|a| a.sign_in_again));
    app.quit(&stack.idp.issued_refresh_tokens()).await;
}
